// Each kind of page at a phone's width: nothing scrolls sideways, and the header's links stay in view.
import { screenshot } from "../support/artifacts";
import { truthy } from "../support/assert";
import { shiftHour, summaryKeyOf } from "../support/partitions";
import { expect, recentComparisons, test, VERSION, VIEWER_URL } from "../support/viewer";

const PHONE = { width: 390, height: 844 };
const KINDS = ["overview", "hour", "image", "search", "compare", "compare image", "empty hour", "not found"] as const;
type Kind = (typeof KINDS)[number];

/** An area of the window, as `boundingBox` gives one. */
interface Area {
  x: number;
  y: number;
  width: number;
  height: number;
}

const within = (box: Area, area: Area) =>
  box.x >= area.x &&
  box.y >= area.y &&
  box.x + box.width <= area.x + area.width &&
  box.y + box.height <= area.y + area.height;

test.describe("phone width", () => {
  test.use({ viewport: PHONE });

  /** Per kind of page: its path, the element it has once rendered, and its status. */
  let kinds: Record<Kind, { path: string; ready: string; status?: number }>;

  test.beforeAll(async ({ bucket, pipeline }) => {
    const { summaries, tabled, sample } = pipeline;
    const comparisons = await recentComparisons(bucket);
    const [disagreement] = comparisons.flatMap((c) => c.disagreements);
    const compared = `from=${comparisons[0].partition}&to=${shiftHour(comparisons[comparisons.length - 1].partition, 1)}`;
    // An hour with images of a class, searched for that class over that hour: one result at least.
    const searched = tabled.find((s) => Object.keys(s.images_with_class).length > 0);
    truthy(searched, "no class detected in any recent hour");
    const [label] = Object.keys(searched.images_with_class);
    const minute = (partition: string) => `${partition.slice(0, 10)}T${partition.slice(11)}`;
    const searchRange = `from=${minute(searched.partition)}&to=${minute(shiftHour(searched.partition, 1))}`;
    // The newest hour without a summary before the newest one with.
    let empty = shiftHour(summaries[0].partition, -1);
    while ((await bucket.readOptional(summaryKeyOf(empty))) !== null) empty = shiftHour(empty, -1);
    kinds = {
      overview: { path: "/", ready: '[data-stat="images"]' },
      hour: { path: `/hours/${tabled[0].partition}`, ready: ".result-count" },
      image: { path: `/images/${sample.image_key}`, ready: ".overlay svg" },
      search: { path: `/search?${searchRange}&class=${encodeURIComponent(label)}:1`, ready: ".grid .card" },
      compare: { path: `/compare?version=${VERSION}&${compared}`, ready: '[data-testid="compare-title"]' },
      "compare image": {
        path: `/compare/images/${disagreement?.image_key ?? sample.image_key}?version=${VERSION}&${compared}`,
        ready: ".overlay svg",
      },
      "empty hour": { path: `/hours/${empty}`, ready: '[data-testid="empty-hour"]' },
      "not found": { path: "/no/such/page", ready: ".error", status: 404 },
    };
  });

  for (const kind of KINDS) {
    test(`shows the ${kind} page without scrolling sideways, with the navigation in view`, async ({ page }) => {
      const { path, ready, status = 200 } = kinds[kind];
      const response = await page.goto(`${VIEWER_URL}${path}`, { waitUntil: "load" });
      expect(response?.status(), `${kind}: ${path}`).toBe(status);
      await page.locator(ready).first().waitFor();
      const { scrollWidth, innerWidth } = await page.evaluate(() => ({
        scrollWidth: document.documentElement.scrollWidth,
        innerWidth: window.innerWidth,
      }));
      expect(
        scrollWidth <= innerWidth,
        `the ${kind} page (${path}) is ${scrollWidth} px wide in a ${innerWidth} px wide window`,
      ).toBe(true);

      // Every link of the header within the window, and on the header (its text is light on the header's dark).
      const header = await page.locator(".topbar").boundingBox();
      truthy(header, "the page has no header");
      const links = page.locator(".topnav a");
      expect(await links.allInnerTexts()).toStrictEqual(["Overview", "Search", "Compare"]);
      for (const link of await links.all()) {
        const [name, box] = [await link.innerText(), await link.boundingBox()];
        expect(await link.isVisible(), `${kind}: ${name} is hidden`).toBe(true);
        truthy(box, `${kind}: the ${name} link has no box`);
        expect(
          within(box, { x: 0, y: 0, ...PHONE }),
          `${kind}: the ${name} link (${JSON.stringify(box)}) is not inside the ${innerWidth}×${PHONE.height} window`,
        ).toBe(true);
        expect(
          within(box, header),
          `${kind}: the ${name} link is outside the header (${JSON.stringify(header)})`,
        ).toBe(true);
      }
      if (kind === "empty hour") {
        expect(await page.locator('[data-testid="empty-hour"]').innerText()).toMatch(/No images in this hour/);
        expect(await page.locator(".crumbs a[rel=prev], .crumbs a[rel=next]").count()).toBe(2);
      }
      await screenshot(page, `phone-${kind.replace(" ", "-")}.png`, { fullPage: true });
    });
  }
});
