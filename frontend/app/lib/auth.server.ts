/**
 * Who may use the viewer (docs/security.md): root.tsx's middleware runs these for every page, data request,
 * medium and download.
 *
 * - login: a signed session cookie (session.server.ts) from the login page (routes/login.tsx); without one, a
 *   page redirects there;
 * - proxy: the user an authenticating reverse proxy (oauth2-proxy) names in IMGASSETS_VIEWER_PROXY_USER_HEADER;
 *   without it, 401;
 * - none: everyone (`auto` on loopback).
 */
import { type MiddlewareFunction, createContext, data, redirect } from "react-router";
import { type Access, access } from "./config.server";
import type { ErrorData } from "./http.server";
import { checkLogin } from "./password.server";
import { LoginLimiter } from "./rate-limit.server";
import { isSameOrigin, withSecurityHeaders } from "./security.server";
import {
  SESSION_COOKIE,
  cookieValue,
  readSession,
  secureCookie,
  sessionCookie,
  sessionKey,
  signSession,
} from "./session.server";
import { viewerPath } from "./viewer-routes";

/** The signed-in user (login), the proxy's user (proxy), or null (none). */
export const userContext = createContext<string | null>(null);

/** Paths answered whoever asks: the login page itself, signing out, the health check. */
export const OPEN_PATHS: ReadonlySet<string> = new Set([viewerPath("login"), viewerPath("logout"), viewerPath("health")]);

/** Longest user name a proxy header may carry. */
const MAX_USER = 200;

let key: Buffer | undefined;
function signingKey(login: NonNullable<Access["login"]>): Buffer {
  key ??= sessionKey(login.sessionSecret, login.passwordHashText);
  return key;
}

/** The user of the request's session cookie (login mode), or null. */
export function sessionUser(request: Request, settings: Access = access()): string | null {
  if (settings.login === undefined) return null;
  const user = readSession(cookieValue(request, SESSION_COOKIE), signingKey(settings.login));
  // A session of another user name (the setting changed) is no session.
  return user === settings.login.user ? user : null;
}

/** The page a data request (/search.data?_routes=…) is for: where to come back to after the login. */
export function pageOf(url: URL): string {
  let path = url.pathname;
  if (path.endsWith(".data")) {
    path = path.slice(0, -".data".length);
    if (path === "/_root") path = "/";
  }
  const params = new URLSearchParams(url.search);
  params.delete("_routes");
  const query = params.toString();
  return `${path}${query ? `?${query}` : ""}`;
}

const HERE = "http://viewer.invalid";

/**
 * `next` as a path of this site, else the overview. It is resolved as a browser would (which drops tabs and line
 * breaks and reads \ as /), so `//elsewhere`, `/\elsewhere` or `/<tab>/elsewhere` cannot lead off the site.
 */
export function localTarget(next: string | null | undefined): string {
  if (!next?.startsWith("/")) return viewerPath("overview");
  let url: URL;
  try {
    url = new URL(next, HERE);
  } catch {
    return viewerPath("overview");
  }
  if (url.origin !== HERE || OPEN_PATHS.has(url.pathname)) return viewerPath("overview");
  return `${url.pathname}${url.search}${url.hash}`;
}

export function loginPath(next: string): string {
  const target = localTarget(next);
  return target === viewerPath("overview") ? viewerPath("login") : `${viewerPath("login")}?next=${encodeURIComponent(target)}`;
}

/** Outermost: every answer gets the security headers (security.server.ts), refusals and redirects included. */
export const securityHeaders: MiddlewareFunction<Response> = async (_args, next) => withSecurityHeaders(await next());

const MUTATIONS = new Set(["POST", "PUT", "PATCH", "DELETE"]);

/**
 * Lets the request through in the access mode in effect, with its user in `userContext`, or refuses it. A form
 * submission (signing in or out) must come from this site's own pages (security.server.ts `isSameOrigin`).
 */
export const requireAccess: MiddlewareFunction<Response> = async ({ request, context }, next) => {
  const settings = access();
  const url = new URL(request.url);
  if (MUTATIONS.has(request.method.toUpperCase()) && !isSameOrigin(request)) {
    throw data<ErrorData>({ message: "This form was sent from another site." }, { status: 403 });
  }
  if (settings.mode === "none" || OPEN_PATHS.has(url.pathname)) return next();
  if (settings.mode === "proxy") {
    const user = request.headers.get(settings.proxyUserHeader)?.trim();
    if (!user || user.length > MAX_USER) {
      throw data<ErrorData>(
        { message: "Sign in through the site's login (the authenticating proxy in front of this viewer)." },
        { status: 401 },
      );
    }
    context.set(userContext, user);
    return next();
  }
  const user = sessionUser(request, settings);
  if (user === null) throw redirect(loginPath(pageOf(url)));
  context.set(userContext, user);
  return next();
};

let limiter: LoginLimiter | undefined;
export function loginLimiter(settings: Access = access()): LoginLimiter {
  limiter ??= new LoginLimiter(settings.loginAttempts);
  return limiter;
}

export type LoginOutcome =
  | { ok: true; cookie: string }
  | { ok: false; status: 401 | 429; message: string; retryAfter?: number };

/** One login attempt of `client` (its rate-limit key): a session cookie, or why not. */
export async function attemptLogin(
  request: Request,
  client: string,
  given: { user: string; password: string },
  settings: Access = access(),
): Promise<LoginOutcome> {
  const login = settings.login;
  if (login === undefined) throw new Error("not in login mode");
  const limit = loginLimiter(settings);
  const wait = limit.retryAfter(client);
  if (wait > 0) {
    return {
      ok: false,
      status: 429,
      retryAfter: wait,
      message: `Too many failed sign-ins from your address. Try again in ${wait} s.`,
    };
  }
  if (!(await checkLogin(given, login))) {
    limit.failed(client);
    return { ok: false, status: 401, message: "Wrong user name or password." };
  }
  limit.succeeded(client);
  const maxAge = settings.sessionHours * 3600;
  const value = signSession(login.user, Date.now() + maxAge * 1000, signingKey(login));
  return { ok: true, cookie: sessionCookie(value, { maxAge, secure: secureCookie(request, settings.cookieSecure) }) };
}

/** The Set-Cookie that signs out. */
export function signOutCookie(request: Request, settings: Access = access()): string {
  return sessionCookie("", { maxAge: 0, secure: secureCookie(request, settings.cookieSecure) });
}
