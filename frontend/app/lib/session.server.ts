/**
 * The login session: a cookie holding the user and an expiry, signed with HMAC-SHA256. Nothing is kept on the
 * server; signing out removes the cookie. The signing key is derived from IMGASSETS_VIEWER_SESSION_SECRET and the
 * password's hash, so a new secret or a new password ends every session.
 *
 *   imgassets_session=<base64url of {"u": user, "e": expiry in epoch seconds}>.<base64url of its HMAC>
 */
import { createHmac, timingSafeEqual } from "node:crypto";

export const SESSION_COOKIE = "imgassets_session";

export function sessionKey(secret: string, passwordHash: string): Buffer {
  return createHmac("sha256", secret).update(`imgassets viewer session\0${passwordHash.trim()}`, "utf8").digest();
}

function mac(key: Buffer, payload: string): Buffer {
  return createHmac("sha256", key).update(payload, "utf8").digest();
}

/** The cookie's value for `user`, valid until `expires` (ms since the epoch). */
export function signSession(user: string, expires: number, key: Buffer): string {
  const payload = Buffer.from(JSON.stringify({ u: user, e: Math.floor(expires / 1000) }), "utf8").toString(
    "base64url",
  );
  return `${payload}.${mac(key, payload).toString("base64url")}`;
}

/** The user of a cookie value signed with `key` and not expired at `now` (ms), else null. */
export function readSession(value: string | undefined, key: Buffer, now: number = Date.now()): string | null {
  if (value === undefined || value.length > 4096) return null;
  const dot = value.lastIndexOf(".");
  if (dot <= 0) return null;
  const payload = value.slice(0, dot);
  const given = Buffer.from(value.slice(dot + 1), "base64url");
  const wanted = mac(key, payload);
  if (given.length !== wanted.length || !timingSafeEqual(given, wanted)) return null;
  try {
    const session = JSON.parse(Buffer.from(payload, "base64url").toString("utf8")) as { u?: unknown; e?: unknown };
    if (typeof session.u !== "string" || typeof session.e !== "number") return null;
    return session.e * 1000 > now ? session.u : null;
  } catch {
    return null;
  }
}

export interface CookieOptions {
  /** seconds; 0 removes the cookie */
  maxAge: number;
  secure: boolean;
}

/** A Set-Cookie value: HttpOnly, SameSite=Lax, Path=/, Secure when asked. */
export function sessionCookie(value: string, { maxAge, secure }: CookieOptions): string {
  return [
    `${SESSION_COOKIE}=${value}`,
    "Path=/",
    `Max-Age=${maxAge}`,
    "HttpOnly",
    "SameSite=Lax",
    ...(secure ? ["Secure"] : []),
  ].join("; ");
}

/** The value of cookie `name` in the request's Cookie header. */
export function cookieValue(request: Request, name: string): string | undefined {
  for (const part of (request.headers.get("Cookie") ?? "").split(";")) {
    const eq = part.indexOf("=");
    if (eq > 0 && part.slice(0, eq).trim() === name) return part.slice(eq + 1).trim();
  }
  return undefined;
}

/**
 * Whether the cookie gets the Secure flag: IMGASSETS_VIEWER_COOKIE_SECURE when set, else when the request came
 * over https, directly or through a proxy that says so (X-Forwarded-Proto).
 */
export function secureCookie(request: Request, configured: boolean | undefined): boolean {
  if (configured !== undefined) return configured;
  const forwarded = request.headers.get("X-Forwarded-Proto")?.split(",")[0]?.trim().toLowerCase();
  return new URL(request.url).protocol === "https:" || forwarded === "https";
}
