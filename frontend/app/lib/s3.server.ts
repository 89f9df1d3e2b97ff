/**
 * The only module that talks to S3 (server-side only: the browser never sees credentials). Errors become
 * StorageError with the HTTP status the viewer should answer: 404 for a missing object, 503 when S3 is unreachable
 * or refuses us.
 */
import { GetObjectCommand, ListObjectsV2Command, S3Client } from "@aws-sdk/client-s3";
import { config } from "./config.server";

export class StorageError extends Error {
  override name = "StorageError";
  constructor(
    readonly status: 304 | 404 | 503,
    message: string,
  ) {
    super(message);
  }
}

export interface StoredObject {
  body: ReadableStream<Uint8Array>;
  contentType: string | undefined;
  contentLength: number | undefined;
  etag: string | undefined;
  lastModified: Date | undefined;
}

export interface ListedObject {
  key: string;
  etag: string | undefined;
}

let client: S3Client | undefined;

function s3(): S3Client {
  if (client === undefined) {
    const { endpoint, region, credentials, forcePathStyle } = config().s3;
    client = new S3Client({
      endpoint,
      region,
      credentials,
      forcePathStyle,
      maxAttempts: 2,
      requestHandler: { connectionTimeout: 2_000, requestTimeout: 15_000 },
    });
  }
  return client;
}

const MISSING = new Set(["NoSuchKey", "NotFound"]);

export function toStorageError(error: unknown): StorageError {
  const err = error as { name?: string; message?: string; $metadata?: { httpStatusCode?: number } };
  const status = err.$metadata?.httpStatusCode;
  if (status === 304 || err.name === "NotModified") {
    return new StorageError(304, "not modified");
  }
  if ((status === 404 && err.name !== "NoSuchBucket") || MISSING.has(err.name ?? "")) {
    return new StorageError(404, "no such object");
  }
  // Name and message only: neither carries credentials.
  console.error(`S3 request failed: ${err.name ?? "Error"}: ${err.message ?? ""}`);
  return new StorageError(503, "The object storage (S3) is unreachable or refused the request.");
}

export async function getObject(key: string, ifNoneMatch?: string): Promise<StoredObject> {
  try {
    const out = await s3().send(
      new GetObjectCommand({ Bucket: config().s3.bucket, Key: key, IfNoneMatch: ifNoneMatch }),
    );
    if (out.Body === undefined) {
      throw new StorageError(404, "empty object");
    }
    return {
      body: out.Body.transformToWebStream() as ReadableStream<Uint8Array>,
      contentType: out.ContentType,
      contentLength: out.ContentLength,
      etag: out.ETag,
      lastModified: out.LastModified,
    };
  } catch (error) {
    throw error instanceof StorageError ? error : toStorageError(error);
  }
}

/** A JSON document, its ETag and its size in bytes; StorageError(304) if `ifNoneMatch` still matches. */
export async function getJson<T>(
  key: string,
  ifNoneMatch?: string,
): Promise<{ value: T; etag: string | undefined; bytes: number }> {
  const object = await getObject(key, ifNoneMatch);
  try {
    const text = await new Response(object.body).text();
    return { value: JSON.parse(text) as T, etag: object.etag, bytes: object.contentLength ?? text.length };
  } catch (error) {
    throw error instanceof SyntaxError ? new StorageError(503, `${key} is not valid JSON`) : toStorageError(error);
  }
}

export async function listObjects(prefix: string): Promise<ListedObject[]> {
  const objects: ListedObject[] = [];
  let token: string | undefined;
  try {
    do {
      const page = await s3().send(
        new ListObjectsV2Command({ Bucket: config().s3.bucket, Prefix: prefix, ContinuationToken: token }),
      );
      for (const item of page.Contents ?? []) {
        if (item.Key !== undefined) {
          objects.push({ key: item.Key, etag: item.ETag });
        }
      }
      token = page.IsTruncated ? page.NextContinuationToken : undefined;
    } while (token !== undefined);
  } catch (error) {
    throw toStorageError(error);
  }
  return objects;
}
