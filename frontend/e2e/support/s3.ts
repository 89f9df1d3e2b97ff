// The pipeline's bucket, read as the viewer's server reads it: with the S3 settings (IMGASSETS_S3_ENDPOINT_URL and
// the others below; the local stack's defaults otherwise).
import { GetObjectCommand, ListObjectsV2Command, S3Client } from "@aws-sdk/client-s3";

export const BUCKET = process.env.IMGASSETS_S3_BUCKET || "imgassets";

/** Whether an S3 error says the object is not there. */
function isNotFound(error: unknown): boolean {
  if (typeof error !== "object" || error === null) return false;
  const { name, $metadata } = error as { name?: unknown; $metadata?: { httpStatusCode?: number } };
  return name === "NoSuchKey" || $metadata?.httpStatusCode === 404;
}

export class Bucket {
  readonly client = new S3Client({
    endpoint: process.env.IMGASSETS_S3_ENDPOINT_URL || "http://127.0.0.1:8333",
    region: process.env.IMGASSETS_S3_REGION || "us-east-1",
    forcePathStyle: (process.env.IMGASSETS_S3_ADDRESSING_STYLE || "path") === "path",
    credentials: process.env.IMGASSETS_S3_ACCESS_KEY_ID
      ? {
          accessKeyId: process.env.IMGASSETS_S3_ACCESS_KEY_ID,
          secretAccessKey: process.env.IMGASSETS_S3_SECRET_ACCESS_KEY ?? "",
        }
      : undefined,
  });

  constructor(readonly name: string = BUCKET) {}

  /** The JSON object at `key`, typed as the caller knows it (a record type of app/lib/records). */
  async readJson<T>(key: string): Promise<T> {
    const out = await this.client.send(new GetObjectCommand({ Bucket: this.name, Key: key }));
    if (out.Body === undefined) throw new Error(`s3://${this.name}/${key} has no body`);
    return JSON.parse(await out.Body.transformToString()) as T;
  }

  /** A JSON object of the bucket, or null when there is none. */
  async readOptional<T>(key: string): Promise<T | null> {
    try {
      return await this.readJson<T>(key);
    } catch (error) {
      if (isNotFound(error)) return null;
      throw error;
    }
  }

  /** Every key under `prefix` that `pattern` matches, in the listing's order. */
  async listKeys(prefix: string, pattern: RegExp): Promise<string[]> {
    const keys: string[] = [];
    let token: string | undefined;
    do {
      const listed = await this.client.send(
        new ListObjectsV2Command({ Bucket: this.name, Prefix: prefix, ContinuationToken: token }),
      );
      for (const item of listed.Contents ?? []) if (item.Key && pattern.test(item.Key)) keys.push(item.Key);
      token = listed.IsTruncated ? listed.NextContinuationToken : undefined;
    } while (token);
    return keys;
  }

  destroy(): void {
    this.client.destroy();
  }
}
