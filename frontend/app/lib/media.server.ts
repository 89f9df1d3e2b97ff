/** Streams an image or thumbnail from S3 through the server (resource routes under /media/). */
import { plain } from "./http.server";
import { InvalidKey, parseImageKey } from "./layout";
import { StorageError, getObject } from "./s3.server";

export type MediaKind = "original" | "thumbnail";

// Only raster types a browser renders inertly; anything else (an .svg or .html upload) is served as a download.
const IMAGE_TYPES: Record<string, string> = {
  jpg: "image/jpeg",
  jpeg: "image/jpeg",
  png: "image/png",
  webp: "image/webp",
  gif: "image/gif",
  bmp: "image/bmp",
  tif: "image/tiff",
  tiff: "image/tiff",
  avif: "image/avif",
};

function contentType(key: string): string {
  const ext = key.slice(key.lastIndexOf(".") + 1).toLowerCase();
  return IMAGE_TYPES[ext] ?? "application/octet-stream";
}

/**
 * `splat` is the image key after /media/<kind>/. It is validated with layout.ts's pattern (which mirrors
 * imgassets/core/layout.py); only the image object itself or its derived thumbnail key are ever read.
 */
export async function serveMedia(request: Request, kind: MediaKind, splat: string | undefined): Promise<Response> {
  let key: string;
  try {
    const image = parseImageKey(splat ?? "");
    key = kind === "original" ? image.key : image.thumbnailKey;
  } catch (error) {
    if (error instanceof InvalidKey) return plain(400, "Bad request: not an image key of this pipeline.\n");
    throw error;
  }
  try {
    const object = await getObject(key, request.headers.get("If-None-Match") ?? undefined);
    const type = kind === "thumbnail" ? "image/jpeg" : contentType(key);
    const headers = new Headers({
      "Content-Type": type,
      // Image keys carry their content hash and thumbnails are derived from them: cacheable for long, by the
      // browser only (private: a shared cache would hand them to whoever asks, past the login).
      "Cache-Control": kind === "original" ? "private, max-age=31536000, immutable" : "private, max-age=86400",
      "X-Content-Type-Options": "nosniff",
      "Content-Security-Policy": "default-src 'none'; sandbox",
    });
    if (type === "application/octet-stream") headers.set("Content-Disposition", "attachment");
    if (object.contentLength !== undefined) headers.set("Content-Length", String(object.contentLength));
    if (object.etag !== undefined) headers.set("ETag", object.etag);
    if (object.lastModified !== undefined) headers.set("Last-Modified", object.lastModified.toUTCString());
    return new Response(object.body, { status: 200, headers });
  } catch (error) {
    if (error instanceof StorageError) {
      if (error.status === 304) return new Response(null, { status: 304 });
      if (error.status === 404) return plain(404, "Not found.\n");
      return plain(503, "Object storage unavailable.\n");
    }
    throw error;
  }
}
