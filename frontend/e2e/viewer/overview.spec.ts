// The overview (/): the totals, hours and classes of the summaries in S3, and the latest uploads from the tables.
import { screenshot } from "../support/artifacts";
import { expect, number, test, VIEWER_URL } from "../support/viewer";

test.describe("overview", () => {
  test("shows the totals, hours and classes of the summaries", async ({ page, pipeline }) => {
    const { summaries, tabledImages } = pipeline;
    const response = await page.goto(`${VIEWER_URL}/`);
    expect(response?.status()).toBe(200);
    const stat = async (name: string) => number(await page.locator(`[data-stat="${name}"] b`).innerText());
    const sum = (field: "image_count" | "total_objects" | "rejected_count") =>
      summaries.reduce((total, s) => total + s[field], 0);
    expect(await stat("hours")).toBe(summaries.length);
    expect(await stat("images")).toBe(sum("image_count"));
    expect(await stat("objects")).toBe(sum("total_objects"));
    expect(await stat("rejected")).toBe(sum("rejected_count"));

    for (const summary of summaries) {
      const row = page.locator(`table.hours tr[data-partition="${summary.partition}"]`);
      expect(number(await row.locator('[data-field="images"]').innerText())).toBe(summary.image_count);
      expect(number(await row.locator('[data-field="objects"]').innerText())).toBe(summary.total_objects);
      expect(number(await row.locator('[data-field="rejected"]').innerText())).toBe(summary.rejected_count);
      const bar = page.locator(`.chart [data-partition="${summary.partition}"]`);
      expect(Number(await bar.getAttribute("data-objects"))).toBe(summary.total_objects);
    }

    const classes = new Map<string, number>();
    for (const summary of summaries) {
      for (const [label, count] of Object.entries(summary.class_counts)) {
        classes.set(label, (classes.get(label) ?? 0) + count);
      }
    }
    const rows = await page
      .locator("table.top-classes tbody tr")
      .evaluateAll((trs) => trs.map((tr): [string | undefined, number] => [tr.dataset.label, Number(tr.dataset.objects)]));
    expect(rows.length > 0 || classes.size === 0).toBe(true);
    for (const [label, objects] of rows) expect(objects, label).toBe(classes.get(String(label)));
    const top = Math.max(0, ...classes.values());
    if (rows.length) expect(rows[0][1], "the first class is the most frequent").toBe(top);

    // The latest uploads come from the tables of the same hours.
    const latest = await page.locator(".latest .card").count();
    expect(latest).toBe(Math.min(12, tabledImages));
    await screenshot(page, "overview.png", { fullPage: true });
  });

  test("revalidates by itself", async ({ page }) => {
    await page.goto(`${VIEWER_URL}/`);
    const request = await page.waitForRequest((req) => req.url().includes(".data"), { timeout: 12_000 });
    expect(request.url().startsWith(VIEWER_URL)).toBe(true);
  });
});
