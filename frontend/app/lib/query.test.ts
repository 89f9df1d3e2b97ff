import { afterEach, describe, expect, it, vi } from "vitest";
import { loader as hourLoader } from "../routes/hour";
import { loader as downloadLoader } from "../routes/search.download";
import { loader as searchLoader } from "../routes/search";
import { config } from "./config.server";
import { PAGE_SIZE } from "./grid";
import { guard } from "./http.server";
import { QueryEndpointError, downloadMatches, hourImages, searchImages } from "./query.server";
import type { Summary } from "./records";
import * as summaries from "./summaries.server";

const json = (body: unknown, status = 200) =>
  new Response(JSON.stringify(body), { status, headers: { "Content-Type": "application/json" } });

const SEARCH = {
  from: "2026-11-18T16:00:00+00:00",
  to: "2026-11-25T16:00:00+00:00",
  total: 50,
  page: 1,
  page_size: PAGE_SIZE,
  bucket: "day",
  histogram: [{ bucket: "2026-11-25T00:00:00+00:00", matches: 50 }],
  images: [],
};

/** The query endpoint's answers, by path; records every URL asked. */
function endpoint(answer: (url: URL) => Response | Promise<Response>) {
  const asked: URL[] = [];
  vi.stubGlobal(
    "fetch",
    vi.fn(async (input: string | URL, init?: RequestInit) => {
      const url = new URL(String(input));
      asked.push(url);
      init?.signal?.throwIfAborted();
      return answer(url);
    }),
  );
  return asked;
}

// Loaders get more arguments than these; they read only request and params.
const args = (url: string, params: Record<string, string> = {}) =>
  ({ request: new Request(`http://viewer${url}`), params, context: {} }) as never;

async function caught(promise: unknown): Promise<unknown> {
  try {
    await promise;
  } catch (thrown) {
    return thrown;
  }
  throw new Error("did not throw");
}

afterEach(() => {
  vi.useRealTimers();
  vi.unstubAllGlobals();
  vi.restoreAllMocks();
});

describe("query endpoint client", () => {
  it("asks the configured endpoint and reads its JSON", async () => {
    const asked = endpoint(() => json(SEARCH));
    const found = await searchImages(new URLSearchParams("last=7d&class=person:3"));
    expect(found.total).toBe(50);
    expect(asked[0].origin + asked[0].pathname).toBe(`${config().queryUrl}/search`);
    expect(asked[0].searchParams.getAll("class")).toEqual(["person:3"]);
    await hourImages("2026-11-25-04:00", new URLSearchParams("page=1"));
    expect(asked[1].pathname).toBe("/hours/2026-11-25-04%3A00");
  });

  it("passes the endpoint's refusal on as a 400 with its message", async () => {
    endpoint(() => json({ error: "a class condition is label:count with count >= 1, e.g. person:3, not 'x:0'" }, 400));
    const error = await caught(searchImages(new URLSearchParams("class=x:0")));
    expect(error).toBeInstanceOf(QueryEndpointError);
    expect(error).toMatchObject({ status: 400, message: expect.stringContaining("not 'x:0'") });
  });

  it("answers 503 when the endpoint fails, is down, is slow or talks nonsense", async () => {
    vi.spyOn(console, "error").mockImplementation(() => {});
    endpoint(() => json({ error: "the tables cannot be read: OSError" }, 503));
    expect(await caught(searchImages(new URLSearchParams()))).toMatchObject({
      status: 503,
      message: expect.stringContaining("answered 503: the tables cannot be read"),
    });

    endpoint(() => Promise.reject(new TypeError("fetch failed", { cause: { code: "ECONNREFUSED" } })));
    expect(await caught(searchImages(new URLSearchParams()))).toMatchObject({
      status: 503,
      message: expect.stringContaining("cannot be reached (ECONNREFUSED)"),
    });

    endpoint(() => new Response("<html>", { headers: { "Content-Type": "text/html" } }));
    expect(await caught(searchImages(new URLSearchParams()))).toMatchObject({ status: 503 });

    vi.useFakeTimers();
    vi.stubGlobal(
      "fetch",
      vi.fn(
        (_: unknown, init: RequestInit) =>
          new Promise((_resolve, reject) => init.signal?.addEventListener("abort", () => reject(init.signal?.reason))),
      ),
    );
    const slow = caught(searchImages(new URLSearchParams()));
    await vi.advanceTimersByTimeAsync(20_000);
    expect(await slow).toMatchObject({ status: 503, message: expect.stringContaining("did not answer within 20 s") });
  });

  it("becomes the route's 400 or 503 through guard", async () => {
    const statusOf = async (error: unknown) =>
      ((await caught(guard(() => Promise.reject(error)))) as { init?: { status?: number } }).init?.status;
    expect(await statusOf(new QueryEndpointError(400, "bad"))).toBe(400);
    expect(await statusOf(new QueryEndpointError(503, "down"))).toBe(503);
  });

  it("streams a download with the endpoint's type and file name", async () => {
    const asked = endpoint(
      () =>
        new Response("image_key\nimages/x\n", {
          headers: {
            "Content-Type": "text/csv; charset=utf-8",
            "Content-Disposition": 'attachment; filename="imgassets-matches.csv"',
          },
        }),
    );
    const response = await downloadMatches("csv", new URLSearchParams("last=30d&class=dog:1"));
    expect(asked[0].pathname).toBe("/search.csv");
    expect(response.headers.get("Content-Type")).toBe("text/csv; charset=utf-8");
    expect(response.headers.get("Content-Disposition")).toBe('attachment; filename="imgassets-matches.csv"');
    expect(await response.text()).toBe("image_key\nimages/x\n");
  });
});

describe("search routes", () => {
  const noSummaries = () => vi.spyOn(summaries, "loadRecentSummaries").mockResolvedValue([]);

  it("redirects a form submission to the canonical, shareable URL", async () => {
    const fetch = endpoint(() => json(SEARCH));
    const thrown = (await caught(searchLoader(args("/search?last=7d&count=3&label=person&min_confidence=&source=")))) as Response;
    expect(thrown.status).toBe(302);
    expect(thrown.headers.get("Location")).toBe("/search?last=7d&class=person:3");
    expect(fetch).toHaveLength(0);
  });

  it("searches, charts and pages", async () => {
    noSummaries();
    const asked = endpoint(() => json(SEARCH));
    const result = (await searchLoader(args("/search?last=7d&class=person:3&page=2"))) as {
      result: { total: number; pageCount: number; bars: { matches: number }[] };
    };
    expect(asked[0].searchParams.get("page")).toBe("2");
    expect(result.result.total).toBe(50);
    expect(result.result.pageCount).toBe(2);
    expect(result.result.bars).toHaveLength(8);
    expect(result.result.bars.reduce((sum, bar) => sum + bar.matches, 0)).toBe(50);
  });

  it("shows the endpoint's refusal on the page, with status 400", async () => {
    noSummaries();
    endpoint(() => json({ error: "a class condition is label:count with count >= 1, e.g. person:3, not 'person:0'" }, 400));
    const answer = (await searchLoader(args("/search?last=7d&class=person:0"))) as unknown as {
      data: { error: string; result: null };
      init: { status: number };
    };
    expect(answer.init.status).toBe(400);
    expect(answer.data.error).toContain("not 'person:0'");
    expect(answer.data.result).toBeNull();
  });

  it("sends a page past the end to the last page", async () => {
    noSummaries();
    endpoint(() => json({ ...SEARCH, page: 9 }));
    const thrown = (await caught(searchLoader(args("/search?last=7d&page=9")))) as Response;
    expect(thrown.headers.get("Location")).toBe("/search?last=7d&page=2");
  });

  it("downloads csv or parquet only, with the search's parameters and no paging", async () => {
    const asked = endpoint(() => new Response("PAR1", { headers: { "Content-Type": "application/vnd.apache.parquet" } }));
    const bad = await downloadLoader(args("/search/download/xlsx?last=7d", { format: "xlsx" }));
    expect(bad.status).toBe(404);
    expect(asked).toHaveLength(0);
    const good = await downloadLoader(args("/search/download/parquet?last=30d&class=dog:1&page=3", { format: "parquet" }));
    expect(good.status).toBe(200);
    expect(asked[0].pathname).toBe("/search.parquet");
    expect([...asked[0].searchParams]).toEqual([
      ["last", "30d"],
      ["class", "dog:1"],
    ]);

    endpoint(() => json({ error: "min confidence must be between 0 and 1" }, 400));
    const refused = await downloadLoader(args("/search/download/csv?last=7d&min_confidence=2", { format: "csv" }));
    expect(refused.status).toBe(400);
    expect(await refused.text()).toContain("min confidence must be between 0 and 1");
  });
});

describe("hour route", () => {
  const SUMMARY: Summary = {
    schema: "imgassets.summary.v2",
    partition: "2026-11-25-04:00",
    generated_at: "2026-11-25T05:00:00+00:00",
    image_count: 60,
    rejected_count: 0,
    total_objects: 90,
    class_counts: { person: 90 },
    images_with_class: { person: 60 },
    source_counts: { "cam-1": 30, "cam-2": 30 },
    rejected: [],
    runs: ["r1"],
  };
  const HOUR = { partition: "2026-11-25-04:00", total: 30, page: 1, page_size: PAGE_SIZE, sources: ["cam-1", "cam-2"] };

  it("pushes class, minimum count, source and page down to the endpoint", async () => {
    vi.spyOn(summaries, "loadSummary").mockResolvedValue(SUMMARY);
    const asked = endpoint(() => json({ ...HOUR, images: [] }));
    const page = (await hourLoader(
      args("/hours/2026-11-25-04:00?class=person&min=2&source=cam-1", { partition: "2026-11-25-04:00" }),
    )) as { page: { total: number }; sources: string[]; sourceCounts: Record<string, number> };
    expect(asked[0].pathname).toBe("/hours/2026-11-25-04%3A00");
    expect(Object.fromEntries(asked[0].searchParams)).toEqual({
      class: "person",
      min: "2",
      source: "cam-1",
      page: "1",
      page_size: String(PAGE_SIZE),
    });
    expect(page.page.total).toBe(30);
    expect(page.sources).toEqual(["cam-1", "cam-2"]);
    expect(page.sourceCounts).toEqual({ "cam-1": 30, "cam-2": 30 });
    expect(page).toMatchObject({ noTable: false });
  });

  it("tells an hour without tables from one whose images do not match", async () => {
    vi.spyOn(summaries, "loadSummary").mockResolvedValue(SUMMARY);
    endpoint(() => json({ ...HOUR, total: 0, sources: [], images: [] }));
    expect(await hourLoader(args("/hours/2026-11-25-04:00", { partition: "2026-11-25-04:00" }))).toMatchObject({
      noTable: true,
    });
    endpoint(() => json({ ...HOUR, total: 0, images: [] }));
    expect(
      await hourLoader(args("/hours/2026-11-25-04:00?source=cam-9", { partition: "2026-11-25-04:00" })),
    ).toMatchObject({ noTable: false });
  });

  it("answers 404 without a summary, whatever the endpoint says", async () => {
    vi.spyOn(summaries, "loadSummary").mockResolvedValue(null);
    endpoint(() => Promise.reject(new TypeError("fetch failed", { cause: { code: "ECONNREFUSED" } })));
    vi.spyOn(console, "error").mockImplementation(() => {});
    const thrown = (await caught(hourLoader(args("/hours/2026-11-25-04:00", { partition: "2026-11-25-04:00" })))) as {
      init: { status: number };
    };
    expect(thrown.init.status).toBe(404);
  });
});
