import { afterEach, describe, expect, it, vi } from "vitest";
import { readConfig } from "./config.server";
import { guard } from "./http.server";
import { InvalidKey } from "./layout";
import { serveMedia } from "./media.server";
import * as s3 from "./s3.server";

afterEach(() => {
  vi.restoreAllMocks();
});

describe("readConfig", () => {
  it("has the backend's defaults", () => {
    expect(readConfig({})).toEqual({
      s3: {
        endpoint: "http://127.0.0.1:8333",
        region: "us-east-1",
        bucket: "imgassets",
        credentials: undefined,
        forcePathStyle: true,
      },
      dagsterUrl: "http://127.0.0.1:3000",
      queryUrl: "http://127.0.0.1:3002",
      queryToken: undefined,
    });
  });

  it("reads IMGASSETS_* variables", () => {
    const config = readConfig({
      IMGASSETS_S3_ENDPOINT_URL: "https://fsn1.example.com",
      IMGASSETS_S3_ACCESS_KEY_ID: "id",
      IMGASSETS_S3_SECRET_ACCESS_KEY: "secret",
      IMGASSETS_S3_ADDRESSING_STYLE: "virtual",
      IMGASSETS_DAGSTER_URL: "http://dagster:3000/",
      IMGASSETS_QUERY_URL: " http://query:3002/ ",
    });
    expect(config.s3.credentials).toEqual({ accessKeyId: "id", secretAccessKey: "secret" });
    expect(config.s3.forcePathStyle).toBe(false);
    expect(config.dagsterUrl).toBe("http://dagster:3000");
    expect(config.queryUrl).toBe("http://query:3002");
  });

  it("refuses an unknown addressing style", () => {
    expect(() => readConfig({ IMGASSETS_S3_ADDRESSING_STYLE: "sideways" })).toThrow(/ADDRESSING_STYLE/);
  });
});

describe("toStorageError", () => {
  it("maps missing objects to 404 and everything else to 503", () => {
    vi.spyOn(console, "error").mockImplementation(() => {});
    expect(s3.toStorageError({ name: "NoSuchKey", $metadata: { httpStatusCode: 404 } }).status).toBe(404);
    expect(s3.toStorageError({ name: "NotModified", $metadata: { httpStatusCode: 304 } }).status).toBe(304);
    expect(s3.toStorageError({ name: "NoSuchBucket", $metadata: { httpStatusCode: 404 } }).status).toBe(503);
    expect(s3.toStorageError(Object.assign(new Error("connect ECONNREFUSED"), { code: "ECONNREFUSED" })).status).toBe(503);
  });
});

describe("serveMedia", () => {
  const request = new Request("http://viewer/media");

  it.each(["../summaries/2026/11/25/04.json", "summaries/2026/11/25/04.json", "images/2026/11/25/04/../x", undefined])(
    "answers 400 for %s without touching S3",
    async (splat) => {
      const get = vi.spyOn(s3, "getObject");
      expect((await serveMedia(request, "original", splat)).status).toBe(400);
      expect(get).not.toHaveBeenCalled();
    },
  );

  it("reads the derived thumbnail key and sets headers", async () => {
    const get = vi.spyOn(s3, "getObject").mockResolvedValue({
      body: new Response("jpeg").body!,
      contentType: "binary/octet-stream",
      contentLength: 4,
      etag: '"e"',
      lastModified: new Date(0),
    });
    const response = await serveMedia(request, "thumbnail", "images/2026/11/25/04/abc123def456-dog.png");
    expect(get).toHaveBeenCalledWith("thumbnails/2026/11/25/04/abc123def456-dog.png.jpg", undefined);
    expect(response.headers.get("Content-Type")).toBe("image/jpeg");
    expect(response.headers.get("ETag")).toBe('"e"');
    expect(await response.text()).toBe("jpeg");
  });

  it("never serves active content inline", async () => {
    vi.spyOn(s3, "getObject").mockResolvedValue({
      body: new Response("<svg/>").body!,
      contentType: "image/svg+xml",
      contentLength: 6,
      etag: undefined,
      lastModified: undefined,
    });
    const response = await serveMedia(request, "original", "images/2026/11/25/04/abc123def456-x.svg");
    expect(response.headers.get("Content-Type")).toBe("application/octet-stream");
    expect(response.headers.get("Content-Disposition")).toBe("attachment");
  });

  it("maps a missing object to 404", async () => {
    vi.spyOn(s3, "getObject").mockRejectedValue(new s3.StorageError(404, "no such object"));
    expect((await serveMedia(request, "original", "images/2026/11/25/04/abc123def456-dog.jpg")).status).toBe(404);
  });
});

describe("guard", () => {
  const statusOf = async (error: unknown) => {
    try {
      await guard(() => Promise.reject(error));
    } catch (thrown) {
      return (thrown as { init?: { status?: number } }).init?.status;
    }
    throw new Error("guard did not throw");
  };

  it("turns key and storage failures into 400, 404 and 503 responses", async () => {
    expect(await statusOf(new InvalidKey("bad"))).toBe(400);
    expect(await statusOf(new s3.StorageError(404, "missing"))).toBe(404);
    expect(await statusOf(new s3.StorageError(503, "down"))).toBe(503);
  });
});
