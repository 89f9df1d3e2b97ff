// Proxy mode: the proxy in front signs users in and names them in a header; the viewer admits a request carrying
// it and refuses one without.
import { truthy } from "../support/assert";
import {
  COMPARE,
  expect,
  expectSecurityHeaders,
  freshPage,
  startViewer,
  test,
  THUMBNAIL,
  TOKEN,
  type Viewer,
} from "../support/security";

test.describe("proxy mode", () => {
  let viewer: Viewer;

  test.beforeAll(async ({ processes, queryEndpoint }) => {
    viewer = await startViewer(processes, queryEndpoint, { IMGASSETS_VIEWER_AUTH: "proxy", IMGASSETS_QUERY_TOKEN: TOKEN });
  });

  test("admits a request carrying the proxy's user header", async ({ browser }) => {
    const { context, page } = await freshPage(browser, { extraHTTPHeaders: { "X-Forwarded-User": "bob@example.com" } });
    const response = await page.goto(`${viewer.url}${COMPARE}`);
    truthy(response, `no response for ${COMPARE}`);
    expectSecurityHeaders(response.headers(), "a page in proxy mode", true);
    expect(await page.locator(".who .user").innerText()).toBe("bob@example.com");
    expect(await page.locator(".who button").count(), "the proxy signs out, not the viewer").toBe(0);
    expect(await page.locator('[data-testid="compare-error"]').innerText()).toMatch(/no detector version 'nosuch'/);
    await context.close();
  });

  test("refuses one without it", async ({ browser }) => {
    const { context, page } = await freshPage(browser);
    const response = await page.goto(`${viewer.url}${COMPARE}`);
    truthy(response, `no response for ${COMPARE}`);
    expect(response.status()).toBe(401);
    expectSecurityHeaders(response.headers(), "a refusal in proxy mode", true);
    expect(await page.locator(".error h1").innerText()).toMatch(/401 Sign-in required/);
    expect(await page.locator('[data-testid="version-select"]').count()).toBe(0);
    const media = await fetch(`${viewer.url}${THUMBNAIL}`);
    expect(media.status).toBe(401);
    expectSecurityHeaders(Object.fromEntries(media.headers), "a medium refused in proxy mode");
    // A header that is present but empty is no user either.
    expect((await fetch(`${viewer.url}/`, { headers: { "X-Forwarded-User": " " } })).status).toBe(401);
    await context.close();
  });
});
