// The query endpoint answers only the viewer's server: its bearer token and a known Host.
import type { VersionList } from "../../app/lib/records";
import { rawGet } from "../support/http";
import { expect, KNOWN_VERSION, test, TOKEN } from "../support/security";

test.describe("the query endpoint", () => {
  test("refuses a request without the token, with a wrong one, and with an unknown Host; /health stays open", async ({
    queryEndpoint,
  }) => {
    const queryUrl = queryEndpoint.url;
    const missing = await fetch(`${queryUrl}/versions`);
    expect(missing.status).toBe(401);
    expect(((await missing.json()) as { error: string }).error).toMatch(/bearer token/);
    expect(missing.headers.get("x-content-type-options")).toBe("nosniff");
    const wrong = await fetch(`${queryUrl}/versions`, { headers: { Authorization: "Bearer not-the-token" } });
    expect(wrong.status).toBe(401);
    const right = await fetch(`${queryUrl}/versions`, { headers: { Authorization: `Bearer ${TOKEN}` } });
    expect(right.status).toBe(200);
    expect(((await right.json()) as VersionList).versions.some((v) => v.name === KNOWN_VERSION)).toBe(true);
    const rebound = await rawGet(queryUrl, "/versions", { Host: "attacker.example", Authorization: `Bearer ${TOKEN}` });
    expect(rebound.status).toBe(400);
    expect((await fetch(`${queryUrl}/health`)).status).toBe(200);
  });
});
