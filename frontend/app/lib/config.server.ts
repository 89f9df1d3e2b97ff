/**
 * Configuration from the same IMGASSETS_* variables as the backend (imgassets/settings.py). A `.env` file is read
 * too (IMGASSETS_ENV_FILE, else ./.env, else the repository root's ../.env) without overriding real variables.
 */
import { existsSync } from "node:fs";
import { resolve } from "node:path";
import dotenv from "dotenv";

export interface Config {
  s3: {
    endpoint: string;
    region: string;
    bucket: string;
    credentials: { accessKeyId: string; secretAccessKey: string } | undefined;
    forcePathStyle: boolean;
  };
  dagsterUrl: string;
  /** The query endpoint (`imgassets serve-queries`) this server calls for search, downloads and hour grids. */
  queryUrl: string;
}

const ADDRESSING_STYLES = ["path", "virtual", "auto"] as const;

function loadEnvFile(): void {
  const candidates = [process.env.IMGASSETS_ENV_FILE, resolve(".env"), resolve("..", ".env")];
  const file = candidates.find((path): path is string => path !== undefined && existsSync(path));
  if (file !== undefined) {
    dotenv.config({ path: file, override: false, quiet: true });
  }
}

export function readConfig(env: NodeJS.ProcessEnv): Config {
  const get = (name: string, fallback: string): string => env[`IMGASSETS_${name}`]?.trim() || fallback;
  const style = get("S3_ADDRESSING_STYLE", "path").toLowerCase();
  if (!(ADDRESSING_STYLES as readonly string[]).includes(style)) {
    throw new Error(`IMGASSETS_S3_ADDRESSING_STYLE must be one of ${ADDRESSING_STYLES.join(", ")}`);
  }
  const accessKeyId = env.IMGASSETS_S3_ACCESS_KEY_ID;
  const secretAccessKey = env.IMGASSETS_S3_SECRET_ACCESS_KEY;
  return {
    s3: {
      endpoint: get("S3_ENDPOINT_URL", "http://127.0.0.1:8333"),
      region: get("S3_REGION", "us-east-1"),
      bucket: get("S3_BUCKET", "imgassets"),
      // Without both keys the SDK's default chain (AWS_* variables, profiles…) applies, as in boto3.
      credentials: accessKeyId && secretAccessKey ? { accessKeyId, secretAccessKey } : undefined,
      forcePathStyle: style === "path",
    },
    dagsterUrl: get("DAGSTER_URL", "http://127.0.0.1:3000").replace(/\/+$/, ""),
    queryUrl: get("QUERY_URL", "http://127.0.0.1:3002").replace(/\/+$/, ""),
  };
}

let cached: Config | undefined;

export function config(): Config {
  if (cached === undefined) {
    loadEnvFile();
    cached = readConfig(process.env);
  }
  return cached;
}
