// Login mode, in one browser session (serial): a page sends to the login page, which comes back to it; a wrong
// password is refused with a message, the right one gets in (a signed, HttpOnly cookie); every answer carries the
// security headers and the page's scripts run under its nonce'd CSP; signing out ends it; failed logins are
// rate-limited (429, Retry-After). And a viewer that would listen beyond loopback without its login settings
// refuses to start.
import type { BrowserContext, Page } from "@playwright/test";
import { screenshot } from "../support/artifacts";
import { truthy } from "../support/assert";
import {
  COMPARE,
  expect,
  expectSecurityHeaders,
  freshPage,
  KNOWN_VERSION,
  PASSWORD,
  SECRET,
  spawnViewer,
  startViewer,
  test,
  THUMBNAIL,
  TOKEN,
  USER,
  type Viewer,
} from "../support/security";

test.describe("login mode", () => {
  test.describe.configure({ mode: "serial" });

  let viewer: Viewer;
  let context: BrowserContext;
  let page: Page;
  /** The page's console errors. */
  let consoleErrors: string[];

  test.beforeAll(async ({ browser, processes, queryEndpoint }) => {
    viewer = await startViewer(processes, queryEndpoint, {
      IMGASSETS_VIEWER_AUTH: "login",
      IMGASSETS_VIEWER_USER: USER,
      IMGASSETS_VIEWER_PASSWORD_HASH: queryEndpoint.hash,
      IMGASSETS_VIEWER_SESSION_SECRET: SECRET,
      IMGASSETS_QUERY_TOKEN: TOKEN,
    });
    ({ context, page, consoleErrors } = await freshPage(browser));
  });

  test.afterAll(async () => {
    await context?.close();
  });

  test("refuses to start beyond loopback without its login settings", async ({ processes, queryEndpoint }) => {
    const { child, output } = await spawnViewer(processes, queryEndpoint, "0.0.0.0");
    const code = await new Promise<number | null>((resolve) => child.on("exit", resolve));
    expect(code).not.toBe(0);
    expect(output()).toMatch(/cannot start: the viewer listens on 0\.0\.0\.0 \(HOST\), beyond loopback/);
    expect(output()).toMatch(/IMGASSETS_VIEWER_USER, IMGASSETS_VIEWER_PASSWORD_HASH, IMGASSETS_VIEWER_SESSION_SECRET/);
    expect(output(), "it must not have listened").not.toMatch(/react-router-serve\] http/);
  });

  test("sends a page to the login page, which comes back to it", async () => {
    const response = await page.goto(`${viewer.url}${COMPARE}`);
    truthy(response, `no response for ${COMPARE}`);
    expect(new URL(page.url()).pathname).toBe("/login");
    expect(new URL(page.url()).searchParams.get("next")).toBe(COMPARE);
    expect(response.status()).toBe(200);
    expectSecurityHeaders(response.headers(), "the login page", true);
    expect(response.headers()["cache-control"]).toBe("no-store");
    // The first answer was the redirect, with the headers too.
    const redirect = await fetch(`${viewer.url}${COMPARE}`, { redirect: "manual" });
    expect(redirect.status).toBe(302);
    expectSecurityHeaders(Object.fromEntries(redirect.headers), "the redirect");
    await page.locator('input[name="user"]').waitFor();
  });

  test("refuses a wrong password with a message", async () => {
    await page.locator('input[name="user"]').fill(USER);
    await page.locator('input[name="password"]').fill("not the password");
    const [response] = await Promise.all([
      page.waitForResponse((r) => r.request().method() === "POST"),
      page.locator('button[type="submit"]').click(),
    ]);
    expect(response.status()).toBe(401);
    await page.locator(".login-error").waitFor();
    expect(await page.locator(".login-error").innerText()).toBe("Wrong user name or password.");
    expect(new URL(page.url()).pathname).toBe("/login");
    expect((await context.cookies()).map((c) => c.name)).toStrictEqual([]);
    // Nothing behind the login is reachable without the cookie.
    for (const path of ["/", "/search/download/csv?last=1d", THUMBNAIL]) {
      const answer = await fetch(`${viewer.url}${path}`, { redirect: "manual" });
      expect(answer.status, path).toBe(302);
      expect(answer.headers.get("location"), path).toMatch(path === "/" ? /^\/login$/ : /^\/login\?next=%2F/);
    }
    await screenshot(page, "security-login-refused.png");
  });

  test("lets the right password in, with a signed HttpOnly cookie, to the page asked for", async () => {
    await page.locator('input[name="user"]').fill(USER);
    await page.locator('input[name="password"]').fill(PASSWORD);
    await Promise.all([
      page.waitForURL((url) => url.pathname === "/compare"),
      page.locator('button[type="submit"]').click(),
    ]);
    expect(new URL(page.url()).searchParams.get("version")).toBe("nosuch");
    const [cookie] = await context.cookies();
    expect(cookie.name).toBe("imgassets_session");
    expect(cookie.httpOnly).toBe(true);
    expect(cookie.sameSite).toBe("Lax");
    expect(
      cookie.expires > Date.now() / 1000 + 11 * 3600,
      "a session lasts IMGASSETS_VIEWER_SESSION_HOURS (12)",
    ).toBe(true);
    expect(await page.locator(".who .user").innerText()).toBe(USER);
    // The page's data came from the query endpoint, which accepted the viewer's token.
    expect(await page.locator('[data-testid="compare-error"]').innerText()).toMatch(/no detector version 'nosuch'/);
    expect(
      (await page.locator('[data-testid="version-select"] option').allInnerTexts()).some((t) =>
        t.includes(KNOWN_VERSION),
      ),
    ).toBe(true);
    await screenshot(page, "security-signed-in.png");
  });

  test("runs the page's scripts under its CSP: no violation, hydrated, navigates in the browser", async () => {
    const response = await page.goto(`${viewer.url}${COMPARE}`);
    truthy(response, `no response for ${COMPARE}`);
    const headers = response.headers();
    expectSecurityHeaders(headers, "a page", true);
    const nonce = /'nonce-([^']+)'/.exec(headers["content-security-policy"])?.[1];
    const scripts = await page.locator("script").evaluateAll((nodes) => nodes.map((s) => s.nonce));
    expect(
      scripts.length > 0 && scripts.every((n) => n === nonce),
      "every inline script carries the nonce",
    ).toBe(true);
    // Client-side navigation (a data request, not a new document) works: the scripts ran.
    await page.waitForFunction(() => window.__reactRouterRouteModules !== undefined);
    const documents: string[] = [];
    page.on("request", (r) => r.resourceType() === "document" && documents.push(r.url()));
    const data = page.waitForResponse((r) => r.url().includes(".data"));
    await page.locator(".topnav a", { hasText: "Search" }).click();
    await page.waitForURL((url) => url.pathname === "/search");
    expectSecurityHeaders((await data).headers(), "a data request");
    expect(documents, "the navigation stayed in the page").toStrictEqual([]);
    expect(await page.evaluate(() => window.__cspViolations)).toStrictEqual([]);
    const blocked = consoleErrors.filter((text) => /Content Security Policy|hydrat/i.test(text));
    expect(blocked).toStrictEqual([]);
  });

  test("sends the headers with media and downloads too", async () => {
    for (const path of [THUMBNAIL, "/search/download/csv?last=1d"]) {
      const answer = await page.request.get(`${viewer.url}${path}`, { maxRedirects: 0 });
      expect(answer.status(), `${path}: signed in, no redirect to the login`).not.toBe(302);
      expectSecurityHeaders(answer.headers(), path);
    }
  });

  test("takes a login form sent through a TLS proxy, and refuses one sent from another site", async () => {
    const form = (origin: string) =>
      fetch(`${viewer.url}/login`, {
        method: "POST",
        redirect: "manual",
        headers: { Origin: origin, "Content-Type": "application/x-www-form-urlencoded" },
        body: new URLSearchParams({ user: USER, password: PASSWORD, next: "/" }),
      });
    // The browser's origin is https, the server behind the proxy sees http: the same host is what counts.
    const proxied = await form(viewer.url.replace("http:", "https:"));
    expect(proxied.status).toBe(302);
    expect(proxied.headers.get("set-cookie")).toMatch(
      /^imgassets_session=[^;]+\.[^;]+; Path=\/; Max-Age=43200; HttpOnly; SameSite=Lax/,
    );
    const forged = await form("https://attacker.example");
    expect(forged.status).toBe(403);
    expect(forged.headers.get("set-cookie")).toBe(null);
    expectSecurityHeaders(Object.fromEntries(forged.headers), "a refused form");
  });

  test("signs out", async () => {
    await page.goto(`${viewer.url}${COMPARE}`);
    await Promise.all([page.waitForURL((url) => url.pathname === "/login"), page.locator(".who button").click()]);
    expect((await context.cookies()).map((c) => c.name)).toStrictEqual([]);
    await page.goto(`${viewer.url}/`);
    expect(new URL(page.url()).pathname).toBe("/login");
  });

  test("refuses more than 5 failed logins a minute from one address (429, Retry-After), the right password too", async () => {
    const attempt = async (password: string) => {
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
    for (let i = 0; i < 5; i++) expect((await attempt(`wrong ${i}`)).status()).toBe(401);
    const refused = await attempt(PASSWORD);
    expect(refused.status()).toBe(429);
    const wait = Number(refused.headers()["retry-after"]);
    expect(wait >= 1 && wait <= 60, `Retry-After ${wait}`).toBe(true);
    expect(await page.locator(".login-error").innerText()).toMatch(/Too many failed sign-ins .* Try again in \d+ s\./);
    expect((await context.cookies()).map((c) => c.name)).toStrictEqual([]);
  });
});
