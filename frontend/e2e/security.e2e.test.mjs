// Browser tests of who gets in (docs/security.md), self-contained: they start the built viewer (npm run build) in
// login, proxy and open mode, and the query endpoint (`imgassets serve-queries`), on free loopback ports, with no
// S3 behind them. Whatever they show comes from the query endpoint's detector versions, which need no S3.
//
//   IMGASSETS_CLI=../.venv/bin/imgassets node --test e2e/security.e2e.test.mjs
//
// Proven: a page redirects to the login page; a wrong password is refused with a message, the right one gets in
// (a signed, HttpOnly cookie), signing out ends it, failed logins are rate-limited (429, Retry-After); every answer
// carries the security headers and the page's scripts run under its nonce'd CSP; a viewer that would listen beyond
// loopback without its login settings refuses to start; proxy mode admits a request carrying the proxy's user
// header and refuses one without; the query endpoint refuses a missing or wrong token and an unknown Host, and a
// viewer with the wrong token shows why.
import assert from "node:assert/strict";
import { execFileSync, spawn } from "node:child_process";
import { mkdirSync } from "node:fs";
import http from "node:http";
import net from "node:net";
import { fileURLToPath } from "node:url";
import { after, before, describe, it } from "node:test";
import { chromium } from "playwright-core";

const FRONTEND = fileURLToPath(new URL("..", import.meta.url));
const CLI = process.env.IMGASSETS_CLI ?? fileURLToPath(new URL("../../.venv/bin/imgassets", import.meta.url));
const SERVE = fileURLToPath(new URL("../node_modules/@react-router/serve/dist/cli.js", import.meta.url));
const BUILD = fileURLToPath(new URL("../build/server/index.js", import.meta.url));
const ARTIFACTS = new URL("../test-artifacts/", import.meta.url);

const USER = "alice";
const PASSWORD = "correct horse battery staple";
const TOKEN = "query-token-for-the-security-tests";
const SECRET = "session-secret-for-the-security-tests-0123456789";
/** A detector version of the project's detector-versions.toml, which the query endpoint lists without S3. */
const KNOWN_VERSION = "conf03";
/** A page whose data all comes from the query endpoint: the version chooser and its refusal of an unknown name. */
const COMPARE = "/compare?version=nosuch";

/** Base environment of every server: no .env, no S3 (port 9 refuses), nothing inherited from IMGASSETS_*. */
function baseEnv() {
  const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith("IMGASSETS_")));
  return {
    ...env,
    IMGASSETS_ENV_FILE: "/dev/null",
    IMGASSETS_S3_ENDPOINT_URL: "http://127.0.0.1:9",
    IMGASSETS_S3_ACCESS_KEY_ID: "none",
    IMGASSETS_S3_SECRET_ACCESS_KEY: "none",
    IMGASSETS_S3_MAX_ATTEMPTS: "1",
    NODE_ENV: "production",
  };
}

function freePort() {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

const children = [];

/** Starts `argv` with `env`; resolves once GET `health` answers 200, with the process and its output so far. */
async function start(name, argv, env, health) {
  const child = spawn(argv[0], argv.slice(1), { cwd: FRONTEND, env, stdio: ["ignore", "pipe", "pipe"] });
  children.push(child);
  let output = "";
  child.stdout.on("data", (chunk) => (output += chunk));
  child.stderr.on("data", (chunk) => (output += chunk));
  const deadline = Date.now() + 30_000;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`${name} exited ${child.exitCode}:\n${output}`);
    try {
      if ((await fetch(health)).status === 200) return { child, output: () => output };
    } catch {
      // not listening yet
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`${name} did not answer ${health} within 30 s:\n${output}`);
}

/** A viewer (the production build, react-router-serve) on a free loopback port with `settings`; its URL. */
async function startViewer(settings) {
  const port = await freePort();
  const env = { ...baseEnv(), PORT: String(port), HOST: "127.0.0.1", IMGASSETS_QUERY_URL: queryUrl, ...settings };
  const url = `http://127.0.0.1:${port}`;
  const viewer = await start(`viewer ${JSON.stringify(settings)}`, [process.execPath, SERVE, BUILD], env, `${url}/healthz`);
  return { url, output: viewer.output };
}

/** GET with a chosen Host header (fetch would not send it). */
function rawGet(url, headers) {
  const { hostname, port, pathname } = new URL(url);
  return new Promise((resolve, reject) => {
    const req = http.request({ host: hostname, port, path: pathname, headers }, (res) => {
      let body = "";
      res.on("data", (chunk) => (body += chunk));
      res.on("end", () => resolve({ status: res.statusCode, headers: res.headers, body }));
    });
    req.on("error", reject);
    req.end();
  });
}

/** The four headers every answer of the viewer carries; `page`: a page's nonce'd policy, else the strict one. */
function assertSecurityHeaders(headers, what, page = false) {
  const policy = headers["content-security-policy"] ?? "";
  assert.match(policy, /frame-ancestors 'none'/, `${what}: CSP ${policy}`);
  if (page) {
    assert.match(policy, /script-src 'self' 'nonce-[A-Za-z0-9+/=]{16,}'/, `${what}: CSP ${policy}`);
    assert.doesNotMatch(policy, /script-src[^;]*'unsafe-inline'/, `${what}: CSP ${policy}`);
  }
  assert.equal(headers["x-frame-options"], "DENY", what);
  assert.equal(headers["x-content-type-options"], "nosniff", what);
  assert.equal(headers["referrer-policy"], "same-origin", what);
}

let queryUrl;
let hash;
let browser;

before(async () => {
  mkdirSync(ARTIFACTS, { recursive: true });
  // The hash as the documentation says to make it: Python writes it, the viewer checks it with Node's crypto.
  hash = execFileSync(CLI, ["viewer-password"], { input: `${PASSWORD}\n`, encoding: "utf8", env: baseEnv() }).trim();
  assert.match(hash, /^scrypt:N=\d+,r=\d+,p=\d+:/);
  const port = await freePort();
  queryUrl = `http://127.0.0.1:${port}`;
  await start(
    "query endpoint",
    [CLI, "serve-queries", "--port", String(port)],
    { ...baseEnv(), IMGASSETS_QUERY_TOKEN: TOKEN, IMGASSETS_QUERY_URL: queryUrl },
    `${queryUrl}/health`,
  );
  browser = await chromium.launch({
    executablePath: process.env.CHROMIUM_PATH || "/usr/bin/chromium",
    args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--no-first-run"],
  });
});

after(async () => {
  await browser?.close();
  for (const child of children) if (child.exitCode === null) child.kill("SIGTERM");
});

/** A fresh browser context (no cookies) with its page; CSP violations of its pages are collected. */
async function freshPage(options = {}) {
  const context = await browser.newContext({ viewport: { width: 1280, height: 900 }, ...options });
  const page = await context.newPage();
  page.consoleErrors = [];
  page.on("console", (m) => m.type() === "error" && page.consoleErrors.push(m.text()));
  await page.addInitScript(() => {
    window.__cspViolations = [];
    document.addEventListener("securitypolicyviolation", (e) =>
      window.__cspViolations.push(`${e.violatedDirective} ${e.blockedURI}`),
    );
  });
  return { context, page };
}

describe("the query endpoint", () => {
  it("refuses a request without the token, with a wrong one, and with an unknown Host; /health stays open", async () => {
    const missing = await fetch(`${queryUrl}/versions`);
    assert.equal(missing.status, 401);
    assert.match((await missing.json()).error, /bearer token/);
    assert.equal(missing.headers.get("x-content-type-options"), "nosniff");
    const wrong = await fetch(`${queryUrl}/versions`, { headers: { Authorization: "Bearer not-the-token" } });
    assert.equal(wrong.status, 401);
    const right = await fetch(`${queryUrl}/versions`, { headers: { Authorization: `Bearer ${TOKEN}` } });
    assert.equal(right.status, 200);
    assert.ok((await right.json()).versions.some((v) => v.name === KNOWN_VERSION));
    const rebound = await rawGet(`${queryUrl}/versions`, { Host: "attacker.example", Authorization: `Bearer ${TOKEN}` });
    assert.equal(rebound.status, 400);
    assert.equal((await fetch(`${queryUrl}/health`)).status, 200);
  });
});

describe("login mode", () => {
  let viewer;
  let context;
  let page;

  before(async () => {
    viewer = await startViewer({
      IMGASSETS_VIEWER_AUTH: "login",
      IMGASSETS_VIEWER_USER: USER,
      IMGASSETS_VIEWER_PASSWORD_HASH: hash,
      IMGASSETS_VIEWER_SESSION_SECRET: SECRET,
      IMGASSETS_QUERY_TOKEN: TOKEN,
    });
    ({ context, page } = await freshPage());
  });

  after(async () => {
    await context?.close();
  });

  it("refuses to start beyond loopback without its login settings", async () => {
    const port = await freePort();
    const env = { ...baseEnv(), PORT: String(port), HOST: "0.0.0.0", IMGASSETS_QUERY_URL: queryUrl };
    const child = spawn(process.execPath, [SERVE, BUILD], { cwd: FRONTEND, env, stdio: ["ignore", "pipe", "pipe"] });
    children.push(child);
    let output = "";
    child.stdout.on("data", (chunk) => (output += chunk));
    child.stderr.on("data", (chunk) => (output += chunk));
    const code = await new Promise((resolve) => child.on("exit", resolve));
    assert.notEqual(code, 0);
    assert.match(output, /cannot start: the viewer listens on 0\.0\.0\.0 \(HOST\), beyond loopback/);
    assert.match(output, /IMGASSETS_VIEWER_USER, IMGASSETS_VIEWER_PASSWORD_HASH, IMGASSETS_VIEWER_SESSION_SECRET/);
    assert.doesNotMatch(output, /react-router-serve\] http/, "it must not have listened");
  });

  it("sends a page to the login page, which comes back to it", async () => {
    const response = await page.goto(`${viewer.url}${COMPARE}`);
    assert.equal(new URL(page.url()).pathname, "/login");
    assert.equal(new URL(page.url()).searchParams.get("next"), COMPARE);
    assert.equal(response.status(), 200);
    assertSecurityHeaders(response.headers(), "the login page", true);
    assert.equal(response.headers()["cache-control"], "no-store");
    // The first answer was the redirect, with the headers too.
    const redirect = await fetch(`${viewer.url}${COMPARE}`, { redirect: "manual" });
    assert.equal(redirect.status, 302);
    assertSecurityHeaders(Object.fromEntries(redirect.headers), "the redirect");
    await page.locator('input[name="user"]').waitFor();
  });

  it("refuses a wrong password with a message", async () => {
    await page.locator('input[name="user"]').fill(USER);
    await page.locator('input[name="password"]').fill("not the password");
    const [response] = await Promise.all([
      page.waitForResponse((r) => r.request().method() === "POST"),
      page.locator('button[type="submit"]').click(),
    ]);
    assert.equal(response.status(), 401);
    await page.locator(".login-error").waitFor();
    assert.equal(await page.locator(".login-error").innerText(), "Wrong user name or password.");
    assert.equal(new URL(page.url()).pathname, "/login");
    assert.deepEqual((await context.cookies()).map((c) => c.name), []);
    // Nothing behind the login is reachable without the cookie.
    for (const path of ["/", "/search/download/csv?last=1d", "/media/thumbnail/images/2026/11/25/04/5a9522051c3c-dog.jpg"]) {
      const answer = await fetch(`${viewer.url}${path}`, { redirect: "manual" });
      assert.equal(answer.status, 302, path);
      assert.match(answer.headers.get("location"), path === "/" ? /^\/login$/ : /^\/login\?next=%2F/, path);
    }
    await page.screenshot({ path: new URL("security-login-refused.png", ARTIFACTS).pathname });
  });

  it("lets the right password in, with a signed HttpOnly cookie, to the page asked for", async () => {
    await page.locator('input[name="user"]').fill(USER);
    await page.locator('input[name="password"]').fill(PASSWORD);
    await Promise.all([page.waitForURL((url) => url.pathname === "/compare"), page.locator('button[type="submit"]').click()]);
    assert.equal(new URL(page.url()).searchParams.get("version"), "nosuch");
    const [cookie] = await context.cookies();
    assert.equal(cookie.name, "imgassets_session");
    assert.equal(cookie.httpOnly, true);
    assert.equal(cookie.sameSite, "Lax");
    assert.ok(cookie.expires > Date.now() / 1000 + 11 * 3600, "a session lasts IMGASSETS_VIEWER_SESSION_HOURS (12)");
    assert.equal(await page.locator(".who .user").innerText(), USER);
    // The page's data came from the query endpoint, which accepted the viewer's token.
    assert.match(await page.locator('[data-testid="compare-error"]').innerText(), /no detector version 'nosuch'/);
    assert.ok((await page.locator('[data-testid="version-select"] option').allInnerTexts()).some((t) => t.includes(KNOWN_VERSION)));
    await page.screenshot({ path: new URL("security-signed-in.png", ARTIFACTS).pathname });
  });

  it("runs the page's scripts under its CSP: no violation, hydrated, navigates in the browser", async () => {
    const response = await page.goto(`${viewer.url}${COMPARE}`);
    const headers = response.headers();
    assertSecurityHeaders(headers, "a page", true);
    const nonce = /'nonce-([^']+)'/.exec(headers["content-security-policy"])[1];
    const scripts = await page.locator("script").evaluateAll((nodes) => nodes.map((s) => s.nonce));
    assert.ok(scripts.length > 0 && scripts.every((n) => n === nonce), "every inline script carries the nonce");
    // Client-side navigation (a data request, not a new document) works: the scripts ran.
    await page.waitForFunction(() => window.__reactRouterRouteModules !== undefined);
    const documents = [];
    page.on("request", (r) => r.resourceType() === "document" && documents.push(r.url()));
    const data = page.waitForResponse((r) => r.url().includes(".data"));
    await page.locator(".topnav a", { hasText: "Search" }).click();
    await page.waitForURL((url) => url.pathname === "/search");
    assertSecurityHeaders((await data).headers(), "a data request");
    assert.deepEqual(documents, [], "the navigation stayed in the page");
    assert.deepEqual(await page.evaluate(() => window.__cspViolations), []);
    const blocked = page.consoleErrors.filter((text) => /Content Security Policy|hydrat/i.test(text));
    assert.deepEqual(blocked, []);
  });

  it("sends the headers with media and downloads too", async () => {
    for (const path of ["/media/thumbnail/images/2026/11/25/04/5a9522051c3c-dog.jpg", "/search/download/csv?last=1d"]) {
      const answer = await page.request.get(`${viewer.url}${path}`, { maxRedirects: 0 });
      assert.notEqual(answer.status(), 302, `${path}: signed in, no redirect to the login`);
      assertSecurityHeaders(answer.headers(), path);
    }
  });

  it("takes a login form sent through a TLS proxy, and refuses one sent from another site", async () => {
    const form = (origin) =>
      fetch(`${viewer.url}/login`, {
        method: "POST",
        redirect: "manual",
        headers: { Origin: origin, "Content-Type": "application/x-www-form-urlencoded" },
        body: new URLSearchParams({ user: USER, password: PASSWORD, next: "/" }),
      });
    // The browser's origin is https, the server behind the proxy sees http: the same host is what counts.
    const proxied = await form(viewer.url.replace("http:", "https:"));
    assert.equal(proxied.status, 302);
    assert.match(proxied.headers.get("set-cookie"), /^imgassets_session=[^;]+\.[^;]+; Path=\/; Max-Age=43200; HttpOnly; SameSite=Lax/);
    const forged = await form("https://attacker.example");
    assert.equal(forged.status, 403);
    assert.equal(forged.headers.get("set-cookie"), null);
    assertSecurityHeaders(Object.fromEntries(forged.headers), "a refused form");
  });

  it("signs out", async () => {
    await page.goto(`${viewer.url}${COMPARE}`);
    await Promise.all([page.waitForURL((url) => url.pathname === "/login"), page.locator(".who button").click()]);
    assert.deepEqual((await context.cookies()).map((c) => c.name), []);
    await page.goto(`${viewer.url}/`);
    assert.equal(new URL(page.url()).pathname, "/login");
  });

  it("refuses more than 5 failed logins a minute from one address (429, Retry-After), the right password too", async () => {
    const attempt = async (password) => {
      await page.goto(`${viewer.url}/login`);
      await page.locator('input[name="user"]').fill(USER);
      await page.locator('input[name="password"]').fill(password);
      const [response] = await Promise.all([
        page.waitForResponse((r) => r.request().method() === "POST"),
        page.locator('button[type="submit"]').click(),
      ]);
      await page.waitForLoadState();
      return response;
    };
    for (let i = 0; i < 5; i++) assert.equal((await attempt(`wrong ${i}`)).status(), 401);
    const refused = await attempt(PASSWORD);
    assert.equal(refused.status(), 429);
    const wait = Number(refused.headers()["retry-after"]);
    assert.ok(wait >= 1 && wait <= 60, `Retry-After ${wait}`);
    assert.match(await page.locator(".login-error").innerText(), /Too many failed sign-ins .* Try again in \d+ s\./);
    assert.deepEqual((await context.cookies()).map((c) => c.name), []);
  });
});

describe("proxy mode", () => {
  let viewer;

  before(async () => {
    viewer = await startViewer({ IMGASSETS_VIEWER_AUTH: "proxy", IMGASSETS_QUERY_TOKEN: TOKEN });
  });

  it("admits a request carrying the proxy's user header", async () => {
    const { context, page } = await freshPage({ extraHTTPHeaders: { "X-Forwarded-User": "bob@example.com" } });
    const response = await page.goto(`${viewer.url}${COMPARE}`);
    assertSecurityHeaders(response.headers(), "a page in proxy mode", true);
    assert.equal(await page.locator(".who .user").innerText(), "bob@example.com");
    assert.equal(await page.locator(".who button").count(), 0, "the proxy signs out, not the viewer");
    assert.match(await page.locator('[data-testid="compare-error"]').innerText(), /no detector version 'nosuch'/);
    await context.close();
  });

  it("refuses one without it", async () => {
    const { context, page } = await freshPage();
    const response = await page.goto(`${viewer.url}${COMPARE}`);
    assert.equal(response.status(), 401);
    assertSecurityHeaders(response.headers(), "a refusal in proxy mode", true);
    assert.match(await page.locator(".error h1").innerText(), /401 Sign-in required/);
    assert.equal(await page.locator('[data-testid="version-select"]').count(), 0);
    const media = await fetch(`${viewer.url}/media/thumbnail/images/2026/11/25/04/5a9522051c3c-dog.jpg`);
    assert.equal(media.status, 401);
    assertSecurityHeaders(Object.fromEntries(media.headers), "a medium refused in proxy mode");
    // A header that is present but empty is no user either.
    assert.equal((await fetch(`${viewer.url}/`, { headers: { "X-Forwarded-User": " " } })).status, 401);
    await context.close();
  });
});

describe("a viewer with the wrong query token", () => {
  it("is refused by the query endpoint, and the page says why", async () => {
    const viewer = await startViewer({ IMGASSETS_QUERY_TOKEN: "a-wrong-token-for-the-query-endpoint" });
    const { context, page } = await freshPage();
    const response = await page.goto(`${viewer.url}${COMPARE}`);
    assert.equal(response.status(), 503);
    assert.match(
      await page.locator(".error").innerText(),
      /refused this viewer's token: the viewer and the query endpoint need the same IMGASSETS_QUERY_TOKEN/,
    );
    // Open on loopback (auto): no login page.
    assert.equal(new URL(page.url()).pathname, "/compare");
    assert.doesNotMatch(viewer.output(), /a-wrong-token/, "the token is never logged");
    await page.screenshot({ path: new URL("security-wrong-token.png", ARTIFACTS).pathname });
    await context.close();
  });
});
