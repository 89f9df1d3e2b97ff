// Dagster's UI: the assets of the imgassets code location, the sensor's runs, the user's hour materialized again
// from the Materialize dialog; and the compare pages of the versions the user backfilled and added. Serial, on one
// page: Dagster greets a new browser with a dialog once, which the first test dismisses.
import type { Page } from "@playwright/test";
import { expect, graphql, poll, screenshot, sql, test } from "../support/journey";
import { partitionOfImageKey } from "../support/partitions";

/** A run as Dagster's GraphQL API lists it. */
interface Run {
  runId: string;
  status: string;
  creationTime: number;
  tags: { key: string; value: string }[];
}

test.describe("Dagster's UI", () => {
  test.describe.configure({ mode: "serial" });

  let page: Page;

  test.beforeAll(async ({ browser }) => {
    page = await browser.newPage({ viewport: { width: 1280, height: 860 } });
  });

  test.afterAll(async () => {
    await page.close();
  });

  test("shows the assets of the imgassets code location and the sensor's runs", async ({ journey }) => {
    const { dagsterUrl } = journey;
    await page.goto(`${dagsterUrl}/locations/imgassets/asset-groups/image_analytics`);
    // Dagster's UI greets a new browser with a community dialog once.
    const skip = page.getByRole("button", { name: "Skip" });
    await skip.waitFor({ timeout: 10_000 }).then(
      () => skip.click(),
      () => undefined,
    );
    await page.getByText("detection_summary").first().waitFor({ timeout: 60_000 });
    expect(await page.locator("body").innerText()).toMatch(/Asset Group in\s+imgassets\n/);
    await page.waitForTimeout(1_500); // the graph's layout settles
    await screenshot(page, journey, "dagster-assets.png");
    await page.goto(`${dagsterUrl}/runs`);
    await page.getByText("imgassets/trigger: kafka").first().waitFor({ timeout: 60_000 });
    await screenshot(page, journey, "dagster-runs.png");
  });

  test("materializes the user's hour again from the Materialize dialog, and the source stays", async ({ journey }) => {
    // Up to four minutes for the run, after the dialog.
    test.setTimeout(420_000);
    const { dagsterUrl, source, keys } = journey;
    const hour = partitionOfImageKey(keys[0]);
    const launched = Date.now() / 1000;
    await page.goto(`${dagsterUrl}/locations/imgassets/asset-groups/image_analytics`);
    await page.getByRole("button", { name: /Materialize all/ }).click();
    const partitions = page.getByPlaceholder("No matching partitions");
    await partitions.fill(hour);
    await partitions.press("Enter");
    // In the dialog: behind it, on the day's first hour, each asset of the graph also reads "1 partition".
    await page.getByRole("dialog").getByText("1 partition", { exact: true }).waitFor();
    await page.getByRole("button", { name: /^Launch (1 run|backfill)$/ }).click();
    const run = await poll(
      async () => {
        const { runsOrError } = await graphql<{ runsOrError: { results: Run[] } }>(
          journey,
          `query ($hour: String!) { runsOrError(filter: {tags: [{key: "dagster/partition", value: $hour}]}) {
             ... on Runs { results { runId status creationTime tags { key value } } } } }`,
          { hour },
        );
        return runsOrError.results.find(
          (r) => r.creationTime >= launched && !r.tags.some((t) => t.key === "imgassets/trigger"),
        );
      },
      (found) => ["SUCCESS", "FAILURE", "CANCELED"].includes(found?.status ?? ""),
      240_000,
    );
    expect(run?.status, JSON.stringify(run)).toBe("SUCCESS");
    // The run read every image of the hour from S3, without Kafka: the name came from the stored image.
    const rows = sql<{ image_key: string; source: string; run_id: string }>(
      `SELECT image_key, source, run_id FROM images WHERE source = '${source}' ORDER BY 1`,
    );
    const inHour = rows.filter((row) => partitionOfImageKey(row.image_key) === hour);
    expect(inHour.map((row) => row.image_key)).toStrictEqual(keys.filter((key) => partitionOfImageKey(key) === hour));
    expect(
      inHour.every((row) => row.run_id === run?.runId),
      "the hour's table was rewritten by that run",
    ).toBe(true);
  });

  test("leads from a version's backfill to its compare page", async ({ journey }) => {
    const { viewerUrl, version } = journey;
    await page.goto(`${viewerUrl}/compare?version=${version}&last=1d`);
    expect(await page.locator('[data-testid="compare-title"]').innerText()).toMatch(
      new RegExp(`^Compare ${version} with`),
    );
    expect(Number(await page.locator(".result-total").getAttribute("data-hours")) >= 1, "no hour compared").toBe(true);
    await screenshot(page, journey, "viewer-compare.png");
  });

  test("compares a model added with `versions add` with the active version", async ({ journey }) => {
    const { viewerUrl, added } = journey;
    await page.goto(`${viewerUrl}/compare?version=${added.name}&last=1d`);
    const title = await page.locator('[data-testid="compare-title"]').innerText();
    expect(title).toMatch(new RegExp(`^Compare ${added.name} with default`));
    const described = await page.getByText(`layout ${added.layout}, weights ${added.model}`).count();
    expect(
      described >= 1,
      `the page does not describe ${added.name} as its ${added.layout} model ${added.model}`,
    ).toBe(true);
    expect(Number(await page.locator(".result-total").getAttribute("data-hours")) >= 1, "no hour compared").toBe(true);
    for (const name of ["precision", "recall"]) {
      const value = Number(await page.locator(`[data-stat="${name}"]`).first().getAttribute("data-value"));
      // The same network read as a YOLOv8 export with letterboxing: close to the active version, not equal.
      expect(value > 0.5 && value <= 1, `${name} ${value}`).toBe(true);
    }
  });
});
