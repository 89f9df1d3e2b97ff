/**
 * Configuration from the same IMGASSETS_* variables as the backend (imgassets/core/settings.py). A `.env` file is read
 * too (IMGASSETS_ENV_FILE, else ./.env, else the repository root's ../.env) without overriding real variables.
 */
import { existsSync } from "node:fs";
import { isIP } from "node:net";
import { resolve } from "node:path";
import dotenv from "dotenv";
import { type PasswordHash, parsePasswordHash } from "./password.server";
import { SETTINGS } from "./settings.generated";

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
  /** The bearer token it asks for (IMGASSETS_QUERY_TOKEN); it refuses requests without. */
  queryToken: string | undefined;
}

export const AUTH_SETTINGS = SETTINGS.IMGASSETS_VIEWER_AUTH.choices;
export type AuthSetting = (typeof AUTH_SETTINGS)[number];

/** Who may use the viewer (docs/security.md); the defaults are imgassets/core/settings.py's. */
export interface Access {
  /** IMGASSETS_VIEWER_AUTH */
  setting: AuthSetting;
  /** In effect: `auto` is `login` unless the server listens on loopback only, then `none`. */
  mode: "login" | "proxy" | "none";
  /** The address the server listens on (HOST; react-router-serve listens on every address without it). */
  listen: string;
  /** Login mode: the one user, its password's hash (and that hash's text), the session cookie's secret. */
  login: { user: string; passwordHash: PasswordHash; passwordHashText: string; sessionSecret: string } | undefined;
  sessionHours: number;
  /** The session cookie's Secure flag; undefined: when the request came over https. */
  cookieSecure: boolean | undefined;
  /** Proxy mode: the header naming the user, set by the authenticating proxy. */
  proxyUserHeader: string;
  /** Failed logins per client address per minute. */
  loginAttempts: number;
}

const ADDRESSING_STYLES = SETTINGS.IMGASSETS_S3_ADDRESSING_STYLE.choices;
/** A setting's default, as imgassets/core/settings.py defines it (contract/viewer-settings.json). */
const DEFAULT = <Name extends keyof typeof SETTINGS>(name: Name): (typeof SETTINGS)[Name]["default"] =>
  SETTINGS[name].default;

function loadEnvFile(): void {
  const candidates = [process.env.IMGASSETS_ENV_FILE, resolve(".env"), resolve("..", ".env")];
  const file = candidates.find((path): path is string => path !== undefined && existsSync(path));
  if (file !== undefined) {
    dotenv.config({ path: file, override: false, quiet: true });
  }
}

export function readConfig(env: NodeJS.ProcessEnv): Config {
  const get = (name: keyof typeof SETTINGS): string => env[name]?.trim() || String(DEFAULT(name));
  const style = get("IMGASSETS_S3_ADDRESSING_STYLE").toLowerCase();
  if (!(ADDRESSING_STYLES as readonly string[]).includes(style)) {
    throw new Error(`IMGASSETS_S3_ADDRESSING_STYLE must be one of ${ADDRESSING_STYLES.join(", ")}`);
  }
  const accessKeyId = env.IMGASSETS_S3_ACCESS_KEY_ID;
  const secretAccessKey = env.IMGASSETS_S3_SECRET_ACCESS_KEY;
  return {
    s3: {
      endpoint: get("IMGASSETS_S3_ENDPOINT_URL"),
      region: get("IMGASSETS_S3_REGION"),
      bucket: get("IMGASSETS_S3_BUCKET"),
      // Without both keys the SDK's default chain (AWS_* variables, profiles…) applies, as in boto3.
      credentials: accessKeyId && secretAccessKey ? { accessKeyId, secretAccessKey } : undefined,
      forcePathStyle: style === "path",
    },
    dagsterUrl: get("IMGASSETS_DAGSTER_URL").replace(/\/+$/, ""),
    queryUrl: get("IMGASSETS_QUERY_URL").replace(/\/+$/, ""),
    queryToken: env.IMGASSETS_QUERY_TOKEN?.trim() || undefined,
  };
}

/** Whether `host` (HOST) names only this machine: localhost, 127.0.0.0/8 or ::1. */
export function isLoopback(host: string): boolean {
  const bare = host.trim().toLowerCase().replace(/^\[(.*)\]$/, "$1");
  if (bare === "localhost" || bare.endsWith(".localhost")) return true;
  if (isIP(bare) === 4) return bare.startsWith("127.");
  if (isIP(bare) === 6) return bare === "::1" || /^::ffff:127\./.test(bare);
  return false;
}

const TRUE = ["1", "true", "yes", "on", "t", "y"];
const FALSE = ["0", "false", "no", "off", "f", "n"];

/** A whole-number setting, within the bounds imgassets/core/settings.py gives it. */
function whole(
  env: NodeJS.ProcessEnv,
  name: "IMGASSETS_VIEWER_SESSION_HOURS" | "IMGASSETS_VIEWER_LOGIN_ATTEMPTS",
): number {
  const { default: fallback, min, max } = SETTINGS[name];
  const raw = env[name]?.trim();
  if (!raw) return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new Error(`${name} must be a whole number from ${min} to ${max}, not ${JSON.stringify(raw)}`);
  }
  return value;
}

/**
 * The viewer's access settings. Throws, naming the variables, when they cannot work: login mode (asked for, or
 * `auto` on an address beyond loopback) without its user, password hash and session secret; the server then
 * refuses to start (entry.server.tsx) rather than run open.
 */
export function readAccess(env: NodeJS.ProcessEnv): Access {
  const setting = (env.IMGASSETS_VIEWER_AUTH?.trim().toLowerCase() || DEFAULT("IMGASSETS_VIEWER_AUTH")) as AuthSetting;
  if (!AUTH_SETTINGS.includes(setting)) {
    throw new Error(`IMGASSETS_VIEWER_AUTH must be one of ${AUTH_SETTINGS.join(", ")}`);
  }
  // react-router-serve listens on every address without HOST; `react-router dev` on localhost.
  const listen = env.HOST?.trim() || (env.NODE_ENV === "development" ? "localhost" : "0.0.0.0");
  const mode = setting === "auto" ? (isLoopback(listen) ? "none" : "login") : setting;
  const secureRaw = env.IMGASSETS_VIEWER_COOKIE_SECURE?.trim().toLowerCase();
  if (secureRaw && !TRUE.includes(secureRaw) && !FALSE.includes(secureRaw)) {
    throw new Error("IMGASSETS_VIEWER_COOKIE_SECURE must be true or false (unset: when the request came over https)");
  }
  const proxyUserHeader =
    env.IMGASSETS_VIEWER_PROXY_USER_HEADER?.trim() || DEFAULT("IMGASSETS_VIEWER_PROXY_USER_HEADER");
  if (!new RegExp(SETTINGS.IMGASSETS_VIEWER_PROXY_USER_HEADER.pattern).test(proxyUserHeader)) {
    throw new Error("IMGASSETS_VIEWER_PROXY_USER_HEADER must be a header name (letters, digits, -)");
  }
  const access: Access = {
    setting,
    mode,
    listen,
    login: undefined,
    sessionHours: whole(env, "IMGASSETS_VIEWER_SESSION_HOURS"),
    cookieSecure: secureRaw ? TRUE.includes(secureRaw) : undefined,
    proxyUserHeader,
    loginAttempts: whole(env, "IMGASSETS_VIEWER_LOGIN_ATTEMPTS"),
  };
  if (mode !== "login") return access;

  const user = env.IMGASSETS_VIEWER_USER?.trim();
  const hash = env.IMGASSETS_VIEWER_PASSWORD_HASH?.trim();
  const secret = env.IMGASSETS_VIEWER_SESSION_SECRET?.trim();
  const missing = [
    ...(user ? [] : ["IMGASSETS_VIEWER_USER"]),
    ...(hash ? [] : ["IMGASSETS_VIEWER_PASSWORD_HASH"]),
    ...(secret ? [] : ["IMGASSETS_VIEWER_SESSION_SECRET"]),
  ];
  const why =
    setting === "login"
      ? "IMGASSETS_VIEWER_AUTH=login"
      : `the viewer listens on ${listen} (HOST), beyond loopback, so it asks for a login (IMGASSETS_VIEWER_AUTH=auto)`;
  if (missing.length > 0) {
    throw new Error(
      `${why}, but ${missing.join(", ")} ${missing.length === 1 ? "is" : "are"} not set. Set them (the hash: ` +
        "`imgassets viewer-password`; the secret: 32+ random characters), or put the viewer behind an " +
        "authenticating proxy with IMGASSETS_VIEWER_AUTH=proxy, or listen on 127.0.0.1 (docs/security.md).",
    );
  }
  let passwordHash: PasswordHash;
  try {
    passwordHash = parsePasswordHash(hash as string);
  } catch (error) {
    throw new Error(`IMGASSETS_VIEWER_PASSWORD_HASH: ${(error as Error).message}`);
  }
  if ((secret as string).length < 32 || (secret as string).includes("CHANGE_ME")) {
    throw new Error("IMGASSETS_VIEWER_SESSION_SECRET must be 32 or more random characters");
  }
  access.login = {
    user: user as string,
    passwordHash,
    passwordHashText: hash as string,
    sessionSecret: secret as string,
  };
  return access;
}

let cached: Config | undefined;
let cachedAccess: Access | undefined;

export function config(): Config {
  if (cached === undefined) {
    loadEnvFile();
    cached = readConfig(process.env);
  }
  return cached;
}

export function access(): Access {
  if (cachedAccess === undefined) {
    loadEnvFile();
    cachedAccess = readAccess(process.env);
  }
  return cachedAccess;
}
