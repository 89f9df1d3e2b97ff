import { describe, expect, it } from "vitest";
import { localTarget, loginPath, pageOf } from "./auth.server";
import { isLoopback, readAccess, readConfig } from "./config.server";
import { checkLogin, hashPassword, parsePasswordHash, verifyPassword } from "./password.server";
import { clientKey } from "./peer.server";
import { LoginLimiter } from "./rate-limit.server";
import { RESOURCE_POLICY, isSameOrigin, pagePolicy, withSecurityHeaders } from "./security.server";
import {
  cookieValue,
  readSession,
  secureCookie,
  sessionCookie,
  sessionKey,
  signSession,
} from "./session.server";

// Made by the pipeline's side (imgassets/core/settings.py hash_viewer_password, fixed salts); imgassets_tests/
// test_viewer_security.py checks the same two vectors, so both sides read the one format alike.
const VECTORS = [
  {
    password: "correct horse battery staple",
    hash: "scrypt:N=32768,r=8,p=1:AAECAwQFBgcICQoLDA0ODw:eo40JB24mNWRdcaWU4xBdGepdf_laQaEJfFhiNMVnFg",
  },
  {
    password: "pässwörd ✓",
    hash: "scrypt:N=32768,r=8,p=1:EBESExQVFhcYGRobHB0eHw:mc7MQMnDsi5hR5ycjq0wTFpvIaXZSzRX5v2R6w3ggoI",
  },
];
const HASH = VECTORS[0].hash;
const SECRET = "a-session-secret-of-32-characters-or-more";

describe("password hash", () => {
  it.each(VECTORS)("verifies the pipeline's hash of $password", async ({ password, hash }) => {
    const parsed = parsePasswordHash(hash);
    expect(await verifyPassword(password, parsed)).toBe(true);
    expect(await verifyPassword(`${password} `, parsed)).toBe(false);
    expect(await verifyPassword("", parsed)).toBe(false);
  });

  it("compares composed and decomposed accents alike (NFC)", async () => {
    expect(await verifyPassword("pa\u0308sswo\u0308rd ✓", parsePasswordHash(VECTORS[1].hash))).toBe(true);
  });

  it("verifies its own hashes (fresh salts)", async () => {
    const a = await hashPassword("another password", 2 ** 14);
    const b = await hashPassword("another password", 2 ** 14);
    expect(a).not.toBe(b);
    expect(await verifyPassword("another password", parsePasswordHash(a))).toBe(true);
  });

  it.each([
    ["empty", ""],
    ["bcrypt", "$2b$12$abcdefghijklmnopqrstuuO0kJ8lJm6v1m0x8s3tq3o3b0o1sJxGy"],
    ["N too small", HASH.replace("N=32768", "N=1024")],
    ["N not a power of two", HASH.replace("N=32768", "N=30000")],
    ["memory beyond 256 MiB", HASH.replace("N=32768,r=8", "N=1048576,r=8")],
    ["salt too short", "scrypt:N=32768,r=8,p=1:AAECAwQFBgc:eo40JB24mNWRdcaWU4xBdGepdf_laQaEJfFhiNMVnFg"],
    ["no key", "scrypt:N=32768,r=8,p=1:AAECAwQFBgcICQoLDA0ODw:"],
  ])("refuses %s", (_, text) => {
    expect(() => parsePasswordHash(text)).toThrow(/imgassets viewer-password/);
  });

  it("checks user name and password both", async () => {
    const wanted = { user: "alice", passwordHash: parsePasswordHash(HASH) };
    const password = VECTORS[0].password;
    expect(await checkLogin({ user: "alice", password }, wanted)).toBe(true);
    expect(await checkLogin({ user: "alice", password: "wrong" }, wanted)).toBe(false);
    expect(await checkLogin({ user: "mallory", password }, wanted)).toBe(false);
    expect(await checkLogin({ user: "Alice", password }, wanted)).toBe(false);
  });
});

describe("session cookie", () => {
  const key = sessionKey(SECRET, HASH);
  const now = Date.UTC(2026, 10, 25, 4);

  it("reads back what it signed until it expires", () => {
    const value = signSession("alice", now + 3600_000, key);
    expect(readSession(value, key, now)).toBe("alice");
    expect(readSession(value, key, now + 3600_000)).toBeNull();
  });

  it("refuses a changed, unsigned or foreign cookie", () => {
    const value = signSession("alice", now + 3600_000, key);
    const [payload, mac] = value.split(".");
    const forged = Buffer.from(JSON.stringify({ u: "mallory", e: now / 1000 + 3600 })).toString("base64url");
    expect(readSession(`${forged}.${mac}`, key, now)).toBeNull();
    expect(readSession(`${payload}.${mac.slice(0, -2)}AA`, key, now)).toBeNull();
    expect(readSession(payload, key, now)).toBeNull();
    expect(readSession(`${payload}.`, key, now)).toBeNull();
    expect(readSession(undefined, key, now)).toBeNull();
    expect(readSession("x".repeat(5000), key, now)).toBeNull();
    // Another secret, or a new password: every session ends.
    expect(readSession(value, sessionKey(`${SECRET}!`, HASH), now)).toBeNull();
    expect(readSession(value, sessionKey(SECRET, VECTORS[1].hash), now)).toBeNull();
  });

  it("is HttpOnly, SameSite=Lax, for the whole site, Secure when asked", () => {
    expect(sessionCookie("v", { maxAge: 43200, secure: false })).toBe(
      "imgassets_session=v; Path=/; Max-Age=43200; HttpOnly; SameSite=Lax",
    );
    expect(sessionCookie("", { maxAge: 0, secure: true })).toBe(
      "imgassets_session=; Path=/; Max-Age=0; HttpOnly; SameSite=Lax; Secure",
    );
  });

  it("is Secure when configured, else over https (directly or per X-Forwarded-Proto)", () => {
    const plain = new Request("http://viewer/");
    const proxied = new Request("http://viewer/", { headers: { "X-Forwarded-Proto": "https" } });
    expect(secureCookie(plain, undefined)).toBe(false);
    expect(secureCookie(new Request("https://viewer/"), undefined)).toBe(true);
    expect(secureCookie(proxied, undefined)).toBe(true);
    expect(secureCookie(plain, true)).toBe(true);
    expect(secureCookie(proxied, false)).toBe(false);
  });

  it("finds its cookie among others", () => {
    const request = new Request("http://viewer/", { headers: { Cookie: "a=1; imgassets_session=x.y; b=2" } });
    expect(cookieValue(request, "imgassets_session")).toBe("x.y");
    expect(cookieValue(request, "session")).toBeUndefined();
  });
});

describe("login rate limit", () => {
  it("allows `limit` failures a minute per client, then answers how long to wait", () => {
    let now = 1_000_000;
    const limiter = new LoginLimiter(5, 60_000, () => now);
    for (let i = 0; i < 5; i++) {
      expect(limiter.retryAfter("10.0.0.1")).toBe(0);
      limiter.failed("10.0.0.1");
      now += 1000;
    }
    expect(limiter.retryAfter("10.0.0.1")).toBe(55); // the first failure leaves the window at 1 060 000
    expect(limiter.retryAfter("10.0.0.2")).toBe(0);
    now += 55_000;
    expect(limiter.retryAfter("10.0.0.1")).toBe(0);
    limiter.failed("10.0.0.1");
    expect(limiter.retryAfter("10.0.0.1")).toBe(1);
  });

  it("forgets a client's failures when it signs in", () => {
    const limiter = new LoginLimiter(2, 60_000, () => 0);
    limiter.failed("c");
    limiter.failed("c");
    expect(limiter.retryAfter("c")).toBe(60);
    limiter.succeeded("c");
    expect(limiter.retryAfter("c")).toBe(0);
  });

  it("keeps at most maxClients addresses", () => {
    let now = 0;
    const limiter = new LoginLimiter(5, 60_000, () => now, 100);
    for (let i = 0; i < 1000; i++) {
      limiter.failed(`client-${i}`);
      now += 1;
    }
    expect(limiter.clients).toBeLessThanOrEqual(101);
    expect(limiter.retryAfter("client-999")).toBe(0);
  });

  it("keys IPv4 by address and IPv6 by its /64", () => {
    expect(clientKey("203.0.113.7")).toBe("203.0.113.7");
    expect(clientKey("::ffff:203.0.113.7")).toBe("203.0.113.7");
    expect(clientKey("2001:db8:1:2:aaaa::1")).toBe("2001:db8:1:2::/64");
    expect(clientKey("2001:db8:1:2:ffff:ffff:ffff:ffff")).toBe("2001:db8:1:2::/64");
    expect(clientKey("2001:db8::1")).toBe("2001:db8:0:0::/64");
    expect(clientKey("::1")).toBe("0:0:0:0::/64");
  });
});

describe("access settings", () => {
  const login = {
    IMGASSETS_VIEWER_USER: "alice",
    IMGASSETS_VIEWER_PASSWORD_HASH: HASH,
    IMGASSETS_VIEWER_SESSION_SECRET: SECRET,
  };

  it("asks for a login beyond loopback (auto), none on loopback", () => {
    expect(readAccess({ HOST: "127.0.0.1" }).mode).toBe("none");
    expect(readAccess({ HOST: "::1" }).mode).toBe("none");
    expect(readAccess({ HOST: "localhost" }).mode).toBe("none");
    expect(readAccess({ HOST: "0.0.0.0", ...login }).mode).toBe("login");
    expect(readAccess({ HOST: "192.168.1.20", ...login }).mode).toBe("login");
    // react-router-serve listens on every address without HOST.
    expect(readAccess({ ...login }).mode).toBe("login");
    expect(readAccess({ NODE_ENV: "development" }).mode).toBe("none");
  });

  it("refuses to run open: login without its settings names what is missing", () => {
    expect(() => readAccess({ HOST: "0.0.0.0" })).toThrow(
      /listens on 0\.0\.0\.0 \(HOST\), beyond loopback.*IMGASSETS_VIEWER_USER, IMGASSETS_VIEWER_PASSWORD_HASH, IMGASSETS_VIEWER_SESSION_SECRET are not set/,
    );
    expect(() => readAccess({ HOST: "127.0.0.1", IMGASSETS_VIEWER_AUTH: "login", ...login, IMGASSETS_VIEWER_USER: "" })).toThrow(
      /IMGASSETS_VIEWER_AUTH=login, but IMGASSETS_VIEWER_USER is not set/,
    );
    expect(() => readAccess({ ...login, IMGASSETS_VIEWER_PASSWORD_HASH: "hunter2" })).toThrow(
      /IMGASSETS_VIEWER_PASSWORD_HASH: expected the output of `imgassets viewer-password`/,
    );
    expect(() => readAccess({ ...login, IMGASSETS_VIEWER_SESSION_SECRET: "short" })).toThrow(/32 or more/);
    expect(() => readAccess({ ...login, IMGASSETS_VIEWER_SESSION_SECRET: `CHANGE_ME${SECRET}` })).toThrow(/32 or more/);
    expect(() => readAccess({ IMGASSETS_VIEWER_AUTH: "maybe" })).toThrow(/IMGASSETS_VIEWER_AUTH must be one of/);
  });

  it("has the backend's defaults", () => {
    const settings = readAccess({ HOST: "0.0.0.0", ...login });
    expect(settings).toMatchObject({
      setting: "auto",
      mode: "login",
      sessionHours: 12,
      cookieSecure: undefined,
      proxyUserHeader: "X-Forwarded-User",
      loginAttempts: 5,
    });
    expect(settings.login?.user).toBe("alice");
  });

  it("reads proxy mode and the other settings", () => {
    const settings = readAccess({
      HOST: "0.0.0.0",
      IMGASSETS_VIEWER_AUTH: "proxy",
      IMGASSETS_VIEWER_PROXY_USER_HEADER: "X-Auth-Request-Email",
      IMGASSETS_VIEWER_COOKIE_SECURE: "true",
      IMGASSETS_VIEWER_SESSION_HOURS: "2",
      IMGASSETS_VIEWER_LOGIN_ATTEMPTS: "10",
    });
    expect(settings).toMatchObject({
      mode: "proxy",
      login: undefined,
      proxyUserHeader: "X-Auth-Request-Email",
      cookieSecure: true,
      sessionHours: 2,
      loginAttempts: 10,
    });
    expect(() => readAccess({ IMGASSETS_VIEWER_AUTH: "proxy", IMGASSETS_VIEWER_PROXY_USER_HEADER: "X User" })).toThrow(
      /PROXY_USER_HEADER/,
    );
    expect(() => readAccess({ HOST: "::1", IMGASSETS_VIEWER_SESSION_HOURS: "0" })).toThrow(/SESSION_HOURS/);
  });

  it("knows loopback addresses", () => {
    for (const host of ["127.0.0.1", "127.1.2.3", "::1", "[::1]", "localhost", "LOCALHOST", "app.localhost"]) {
      expect(isLoopback(host), host).toBe(true);
    }
    for (const host of ["0.0.0.0", "::", "10.0.0.1", "example.com", "128.0.0.1"]) {
      expect(isLoopback(host), host).toBe(false);
    }
  });

  it("reads the query token", () => {
    expect(readConfig({ IMGASSETS_QUERY_TOKEN: " t0ken " }).queryToken).toBe("t0ken");
    expect(readConfig({}).queryToken).toBeUndefined();
  });
});

describe("where a login goes back to", () => {
  it("is the page a data request was for", () => {
    expect(pageOf(new URL("http://v/search.data?last=7d&_routes=routes%2Fsearch"))).toBe("/search?last=7d");
    expect(pageOf(new URL("http://v/_root.data"))).toBe("/");
    expect(pageOf(new URL("http://v/hours/2026-11-25-04:00?page=2"))).toBe("/hours/2026-11-25-04:00?page=2");
  });

  it("stays on this site", () => {
    expect(localTarget("/search?last=7d")).toBe("/search?last=7d");
    const away = ["https://evil.example/", "//evil.example/", "/\\evil.example", "/\t/evil.example", "/\n/evil.example"];
    for (const next of [...away, "javascript:alert(1)", "", null]) {
      expect(localTarget(next)).toBe("/");
    }
    expect(localTarget("/login?next=/x")).toBe("/");
    expect(loginPath("/compare?version=a")).toBe("/login?next=%2Fcompare%3Fversion%3Da");
    expect(loginPath("/")).toBe("/login");
  });
});

describe("security headers", () => {
  it("go on every answer; a page keeps its own policy, others get the strict one", () => {
    const page = withSecurityHeaders(
      new Response("<p>", { headers: { "Content-Security-Policy": pagePolicy("abc") } }),
    );
    expect(page.headers.get("Content-Security-Policy")).toBe(pagePolicy("abc"));
    expect(pagePolicy("abc")).toContain("script-src 'self' 'nonce-abc'");
    expect(pagePolicy("abc")).toContain("frame-ancestors 'none'");
    const data = withSecurityHeaders(Response.json({}));
    expect(data.headers.get("Content-Security-Policy")).toBe(RESOURCE_POLICY);
    for (const response of [page, data]) {
      expect(response.headers.get("X-Frame-Options")).toBe("DENY");
      expect(response.headers.get("X-Content-Type-Options")).toBe("nosniff");
      expect(response.headers.get("Referrer-Policy")).toBe("same-origin");
    }
  });

  it("add frame-ancestors to a medium's own policy, and copy an answer whose headers are locked", async () => {
    const medium = withSecurityHeaders(
      new Response("x", { headers: { "Content-Security-Policy": "default-src 'none'; sandbox" } }),
    );
    expect(medium.headers.get("Content-Security-Policy")).toBe("default-src 'none'; sandbox; frame-ancestors 'none'");
    const locked = Response.redirect("http://viewer/login", 302); // immutable headers, as a fetch's
    const copy = withSecurityHeaders(locked);
    expect(copy.status).toBe(302);
    expect(copy.headers.get("Location")).toBe("http://viewer/login");
    expect(copy.headers.get("X-Frame-Options")).toBe("DENY");
  });
});

describe("form submissions", () => {
  const post = (headers: Record<string, string>) =>
    new Request("http://viewer.example.com/login", { method: "POST", headers: { Host: "viewer.example.com", ...headers } });

  it("are accepted from this site's pages, also when TLS ends at a proxy", () => {
    expect(isSameOrigin(post({ Origin: "http://viewer.example.com" }))).toBe(true);
    expect(isSameOrigin(post({ Origin: "https://viewer.example.com" }))).toBe(true);
    expect(isSameOrigin(post({ Origin: "https://public.example.com", "X-Forwarded-Host": "public.example.com" }))).toBe(true);
    expect(isSameOrigin(post({ "Sec-Fetch-Site": "same-origin" }))).toBe(true);
    expect(isSameOrigin(post({}))).toBe(true); // no browser: no CSRF victim
  });

  it("are refused from other sites", () => {
    expect(isSameOrigin(post({ Origin: "https://evil.example" }))).toBe(false);
    expect(isSameOrigin(post({ Origin: "https://viewer.example.com.evil.example" }))).toBe(false);
    expect(isSameOrigin(post({ Origin: "http://viewer.example.com:8080" }))).toBe(false);
    expect(isSameOrigin(post({ Origin: "null" }))).toBe(false);
    expect(isSameOrigin(post({ "Sec-Fetch-Site": "cross-site" }))).toBe(false);
    expect(isSameOrigin(post({ "Sec-Fetch-Site": "same-site" }))).toBe(false);
  });
});
