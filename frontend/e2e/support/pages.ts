// What the viewer's pages show, read in the browser; shared by the suites.
import type { Locator, Page } from "@playwright/test";
import type { Box } from "../../app/lib/records";

/** A box as an overlay draws it (a `rect.box`): its label, confidence and pixel geometry, as the record has them. */
export interface DrawnBox extends Box {
  label: string | undefined;
  confidence: number;
}

/** The boxes `locator` (`rect.box` elements of an overlay) draws. */
export function drawnBoxes(locator: Locator): Promise<DrawnBox[]> {
  return locator.evaluateAll((nodes) =>
    nodes.map((r) => ({
      label: r.dataset.label,
      confidence: Number(r.dataset.confidence),
      x: Number(r.getAttribute("x")),
      y: Number(r.getAttribute("y")),
      w: Number(r.getAttribute("width")),
      h: Number(r.getAttribute("height")),
    })),
  );
}

/** Per label, how many boxes the page's overlay draws (as a record's `counts`). */
export async function drawnLabelCounts(page: Page): Promise<Record<string, number>> {
  const labels = await page.locator(".overlay rect.box").evaluateAll((rects) => rects.map((r) => r.dataset.label));
  const counts: Record<string, number> = {};
  for (const label of labels) counts[String(label)] = (counts[String(label)] ?? 0) + 1;
  return counts;
}

/** The image keys of the grid's cards, in the page's order. */
export function gridKeys(page: Page): Promise<(string | undefined)[]> {
  return page.locator(".grid .card").evaluateAll((cards) => cards.map((c) => c.dataset.imageKey));
}

/** Waits until the grid's thumbnails (its first `limit`, else all) have loaded. */
export async function waitForGridImages(page: Page, limit?: number): Promise<void> {
  await page.waitForFunction(
    (first) =>
      [...document.querySelectorAll<HTMLImageElement>(".grid .card img")]
        .slice(0, first)
        .every((img) => img.complete && img.naturalWidth > 0),
    limit,
  );
}

/** Waits until the overlay's image has loaded. */
export async function waitForOverlayImage(page: Page): Promise<void> {
  await page.waitForFunction(() => {
    const img = document.querySelector<HTMLImageElement>(".overlay img");
    return img?.complete && img.naturalWidth > 0;
  });
}
