// The compare pages (/compare: a detector version against the active one over a range of hours;
// /compare/images/…: both versions' boxes on one image), against the comparisons and detection records in S3.
import type { Page } from "@playwright/test";
import type { Comparison, DetectionRecord, ImageDisagreement, VersionList } from "../../app/lib/records";
import { screenshot } from "../support/artifacts";
import { truthy } from "../support/assert";
import { drawnBoxes, waitForOverlayImage } from "../support/pages";
import { shiftHour } from "../support/partitions";
import {
  expect,
  number,
  PAGE_SIZE,
  queryGet,
  recentComparisons,
  type Refusal,
  test,
  VERSION,
  VIEWER_URL,
} from "../support/viewer";

/** A figure of the comparison's totals. */
const stat = (page: Page, name: string) => page.locator(`[data-stat="${name}"]`);
/** The boxes of one version the overlay draws: A, the active one; B, the version compared. */
const boxes = (page: Page, layer: "a" | "b") => page.locator(`.overlay rect.box[data-layer="${layer}"]`);

test.describe("compare page", () => {
  /** The comparisons read from S3: the newest one and those of the week before it, oldest first. */
  let comparisons: Comparison[];
  let from: string;
  let to: string;
  /** Every disagreement of those hours, and the page's URL for them. */
  let disagreements: ImageDisagreement[];
  let compareUrl: string;

  test.beforeAll(async ({ bucket }) => {
    comparisons = await recentComparisons(bucket);
    from = comparisons[0].partition;
    to = shiftHour(comparisons[comparisons.length - 1].partition, 1);
    disagreements = comparisons.flatMap((c) => c.disagreements);
    compareUrl = `${VIEWER_URL}/compare?version=${VERSION}&from=${from}&to=${to}`;
  });

  test("is in the navigation, and opens on a version other than the active one", async ({ page }) => {
    const { active, versions } = (await (await queryGet("/versions")).json()) as VersionList;
    await page.goto(`${VIEWER_URL}/`);
    await page.locator(".topnav a", { hasText: "Compare" }).click();
    await page.waitForURL((url) => url.pathname === "/compare" && url.searchParams.has("version"));
    const chosen = new URL(page.url()).searchParams.get("version");
    expect(chosen).not.toBe(active);
    expect(
      versions.some((version) => version.name === chosen && !version.active),
      String(chosen),
    ).toBe(true);
    await page.locator('[data-testid="compare-title"]').waitFor();
    expect(await page.locator('[data-testid="compare-title"]').innerText()).toMatch(
      new RegExp(`with ${active} \\(active\\)`),
    );
  });

  test("shows the totals, classes and both timelines of the comparisons in S3", async ({ page }) => {
    const response = await page.goto(compareUrl);
    expect(response?.status()).toBe(200);
    const sum = (field: "images" | "objects_a" | "objects_b" | "matched") =>
      comparisons.reduce((total, c) => total + c[field], 0);
    const value = async (name: string) => stat(page, name).getAttribute("data-value");
    for (const field of ["images", "objects_a", "objects_b", "matched"] as const) {
      expect(Number(await value(field)), field).toBe(sum(field));
      expect(number(await stat(page, field).locator("b").innerText()), field).toBe(sum(field));
    }
    expect(Number(await value("disagreements"))).toBe(disagreements.length);
    // Precision and recall of the whole range: B's matched boxes over B's, over A's ("—" when there are none).
    for (const [name, whole] of [
      ["precision", sum("objects_b")],
      ["recall", sum("objects_a")],
    ] as const) {
      if (whole === 0) {
        expect(await value(name)).toBe("");
        expect(await stat(page, name).locator("b").innerText()).toBe("—");
      } else {
        expect(Math.abs(Number(await value(name)) - sum("matched") / whole) < 1e-3, name).toBe(true);
      }
    }
    expect(await page.locator('[data-testid="compare-title"]').innerText()).toMatch(
      new RegExp(`Compare ${VERSION} with`),
    );
    // Each side's detector, as configured now (the comparisons keep the one they were made with).
    expect((await page.locator('[data-field="detector_a"]').innerText()).trim()).not.toBe("");
    expect((await page.locator('[data-field="detector_b"]').innerText()).trim()).not.toBe("");

    // One pair of bars per hour compared, each linking to its hour.
    const bars = await page.locator(".compare-chart [data-partition]").evaluateAll((links) =>
      links.map((a) => ({
        partition: a.dataset.partition,
        a: Number(a.dataset.objectsA),
        b: Number(a.dataset.objectsB),
        href: a.getAttribute("href"),
      })),
    );
    expect(bars.length).toBe(comparisons.length);
    expect(bars).toStrictEqual(
      comparisons.map((c) => ({ partition: c.partition, a: c.objects_a, b: c.objects_b, href: `/hours/${c.partition}` })),
    );
    expect(await page.locator(".compare-chart rect.series-a").count()).toBe(comparisons.length);
    expect(await page.locator(".compare-chart rect.series-b").count()).toBe(comparisons.length);

    const classes = new Map<string, { a: number; b: number; matched: number }>();
    for (const agreement of comparisons.flatMap((c) => c.classes)) {
      const total = classes.get(agreement.label) ?? { a: 0, b: 0, matched: 0 };
      for (const field of ["a", "b", "matched"] as const) total[field] += agreement[field];
      classes.set(agreement.label, total);
    }
    const rows = await page.locator("table.compare-classes tbody tr").evaluateAll((trs) =>
      trs.map((tr): [string | undefined, { a: number; b: number; matched: number }] => [
        tr.dataset.label,
        { a: Number(tr.dataset.a), b: Number(tr.dataset.b), matched: Number(tr.dataset.matched) },
      ]),
    );
    expect(new Map(rows)).toStrictEqual(classes);

    // The first page of disagreements, largest difference first.
    const differences = await page.locator('table.disagreements td[data-field="difference"]').allInnerTexts();
    expect(differences.map(Number)).toStrictEqual(
      disagreements
        .map((d) => d.difference)
        .sort((x, y) => y - x)
        .slice(0, PAGE_SIZE),
    );
    await screenshot(page, "compare.png", { fullPage: true });
  });

  test("sorts the disagreements by the boxes only the version has", async ({ page }) => {
    test.skip(
      disagreements.length === 0,
      `${VERSION} agrees with the active version on every image of ${from} … ${to}`,
    );
    await page.goto(`${compareUrl}&page=2`);
    await page.locator('[data-testid="sort-only_b"]').click();
    await page.waitForURL((url) => url.searchParams.get("sort") === "only_b");
    expect(new URL(page.url()).searchParams.get("page"), "a new order starts at page 1").toBe(null);
    // Client-side navigation changes the URL before React commits the new page.
    await page.locator('table.disagreements[data-sort="only_b"][data-page="1"]').waitFor();
    const onlyB = (await page.locator('table.disagreements td[data-field="only_b"]').allInnerTexts()).map(Number);
    expect(onlyB.length).toBe(Math.min(PAGE_SIZE, disagreements.length));
    expect(
      onlyB.every((value, index) => index === 0 || onlyB[index - 1] >= value),
      `not descending: ${onlyB.join(",")}`,
    ).toBe(true);
    expect(onlyB).toStrictEqual(
      disagreements
        .map((d) => d.only_b)
        .sort((x, y) => y - x)
        .slice(0, PAGE_SIZE),
    );
    const rows = await page
      .locator('[data-testid="disagreement"]')
      .evaluateAll((trs) =>
        trs.map((tr): [string | undefined, number] => [
          tr.dataset.imageKey,
          Number(tr.querySelector('[data-field="only_b"]')?.textContent),
        ]),
      );
    const expected = new Map(disagreements.map((d) => [d.image_key, d.only_b]));
    for (const [key, shown] of rows) expect(shown, key).toBe(expected.get(String(key)));
    await screenshot(page, "compare-sorted.png", { fullPage: true });
  });

  test("draws both versions' boxes of a disagreement, and hides either set", async ({ page, bucket }) => {
    test.skip(
      disagreements.length === 0,
      `${VERSION} agrees with the active version on every image of ${from} … ${to}`,
    );
    await page.goto(compareUrl);
    const first = page.locator('[data-testid="disagreement"]').first();
    const key = await first.getAttribute("data-image-key");
    truthy(key !== null, "the disagreement names no image key");
    await first.locator('[data-testid="disagreement-link"]').click();
    await page.waitForURL((url) => url.pathname === `/compare/images/${key}`);
    expect(new URL(page.url()).searchParams.get("version")).toBe(VERSION);

    const detectionKey = `${key.replace(/^images\//, "detections/")}.json`;
    const [recordA, recordB] = await Promise.all([
      bucket.readOptional<DetectionRecord>(detectionKey),
      bucket.readOptional<DetectionRecord>(`versions/${VERSION}/${detectionKey}`),
    ]);
    const sized = recordA ?? recordB;
    truthy(sized, `neither version has a record of ${key}`);
    const drawn = (record: DetectionRecord | null) =>
      (record?.detections ?? []).map((d) => ({ label: d.label, confidence: d.confidence, ...d.box }));
    const a = drawn(recordA);
    const b = drawn(recordB);
    await page.locator(".overlay svg").waitFor();
    expect(await page.locator(".overlay svg").getAttribute("viewBox")).toBe(
      `0 0 ${sized.image_width} ${sized.image_height}`,
    );
    expect(await drawnBoxes(boxes(page, "a"))).toStrictEqual(a);
    expect(await drawnBoxes(boxes(page, "b"))).toStrictEqual(b);
    // Two styles: B's boxes are dashed, A's are not.
    expect(await page.locator(".overlay rect.box.dashed:not([data-layer='b'])").count()).toBe(0);
    expect(await page.locator(".overlay rect.box.dashed[data-layer='b']").count()).toBe(b.length);
    for (const [side, record] of [
      ["a", recordA],
      ["b", recordB],
    ] as const) {
      const list = page.locator(`[data-testid="detections-${side}"]`);
      if (record === null) {
        expect(await list.locator(`[data-testid="no-record-${side}"]`).count(), side).toBe(1);
      } else {
        expect(await list.locator("tbody tr").count(), side).toBe(record.detections.length);
      }
    }
    await waitForOverlayImage(page);
    await screenshot(page, "compare-image.png", { fullPage: true });

    /** Waits until the page draws `countA` boxes of A and `countB` of B (the toggle's links navigate). */
    const drawsBoxes = async (countA: number, countB: number) => {
      await page
        .waitForFunction(
          ([wantA, wantB]) =>
            document.querySelectorAll('.overlay rect.box[data-layer="a"]').length === wantA &&
            document.querySelectorAll('.overlay rect.box[data-layer="b"]').length === wantB,
          [countA, countB],
          { timeout: 5_000 },
        )
        .catch(() => {});
      expect([await boxes(page, "a").count(), await boxes(page, "b").count()]).toStrictEqual([countA, countB]);
    };
    await page.locator('[data-testid="show-a"]').click();
    await page.waitForURL((url) => url.searchParams.get("show") === "a");
    await drawsBoxes(a.length, 0);
    await page.locator('[data-testid="show-b"]').click();
    await page.waitForURL((url) => url.searchParams.get("show") === "b");
    await drawsBoxes(0, b.length);
    await screenshot(page, "compare-image-b.png", { fullPage: true });
    await page.locator('[data-testid="show-both"]').click();
    await page.waitForURL((url) => !url.searchParams.has("show"));
    await drawsBoxes(a.length, b.length);

    // Back to the same comparison, and on to the image's own page.
    const back = new URL(String(await page.locator('[data-testid="back-to-compare"]').getAttribute("href")), VIEWER_URL);
    expect(back.pathname).toBe("/compare");
    expect(back.searchParams.get("version")).toBe(VERSION);
    expect(back.searchParams.get("from")).toBe(from);
    expect(await page.locator('[data-testid="image-page"]').getAttribute("href")).toBe(`/images/${key}`);
  });

  test("shows the endpoint's message for the active version", async ({ page }) => {
    const { active } = (await (await queryGet("/versions")).json()) as VersionList;
    const refusal = await queryGet(`/versions/${active}/compare?last=7d`);
    expect(refusal.status).toBe(400);
    const { error } = (await refusal.json()) as Refusal;
    const response = await page.goto(`${VIEWER_URL}/compare?version=${active}&last=7d`);
    expect(response?.status()).toBe(400);
    expect(await page.locator('[data-testid="compare-error"]').innerText()).toBe(error);
    expect(await page.locator("[data-stat]").count()).toBe(0);
    // The chooser still offers the versions to compare.
    const offered = await page
      .locator('[data-testid="version-select"] option')
      .evaluateAll((options: HTMLOptionElement[]) => options.map((o) => o.value));
    expect(offered.includes(VERSION), offered.join(", ")).toBe(true);
    await screenshot(page, "compare-refused.png", { fullPage: true });
  });
});
