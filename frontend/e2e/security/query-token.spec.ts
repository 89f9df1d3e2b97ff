// A viewer whose query token is not the endpoint's: refused, and the page says why (and never logs the token).
import { screenshot } from "../support/artifacts";
import { truthy } from "../support/assert";
import { COMPARE, expect, freshPage, startViewer, test } from "../support/security";

test.describe("a viewer with the wrong query token", () => {
  test("is refused by the query endpoint, and the page says why", async ({ browser, processes, queryEndpoint }) => {
    const viewer = await startViewer(processes, queryEndpoint, {
      IMGASSETS_QUERY_TOKEN: "a-wrong-token-for-the-query-endpoint",
    });
    const { context, page } = await freshPage(browser);
    const response = await page.goto(`${viewer.url}${COMPARE}`);
    truthy(response, `no response for ${COMPARE}`);
    expect(response.status()).toBe(503);
    expect(await page.locator(".error").innerText()).toMatch(
      /refused this viewer's token: the viewer and the query endpoint need the same IMGASSETS_QUERY_TOKEN/,
    );
    // Open on loopback (auto): no login page.
    expect(new URL(page.url()).pathname).toBe("/compare");
    expect(viewer.output(), "the token is never logged").not.toMatch(/a-wrong-token/);
    await screenshot(page, "security-wrong-token.png");
    await context.close();
  });
});
