import { describe, expect, it } from "vitest";
import { PAGE_SIZE, filterImages, gridSearch, paginate, parseGridQuery } from "./grid";
import type { ImageResult } from "./records";

function image(index: number, counts: Record<string, number>): ImageResult {
  return {
    image_key: `images/2026/11/25/04/${index.toString(16).padStart(12, "0")}-x.jpg`,
    detection_key: "",
    width: 640,
    height: 480,
    counts,
    objects: Object.values(counts).reduce((a, b) => a + b, 0),
    processed_at: "2026-11-25T04:10:00Z",
  };
}

const IMAGES = [image(1, { person: 3, dog: 1 }), image(2, { person: 1 }), image(3, {}), image(4, { dog: 5 })];

describe("parseGridQuery", () => {
  it("reads class, min and page", () => {
    expect(parseGridQuery(new URLSearchParams("class=person&min=3&page=2"))).toEqual({
      label: "person",
      min: 3,
      page: 2,
    });
  });

  it("falls back to defaults on junk", () => {
    expect(parseGridQuery(new URLSearchParams("class=&min=-1&page=abc"))).toEqual({ label: null, min: 0, page: 1 });
    expect(parseGridQuery(new URLSearchParams("min=1.5&page=0"))).toEqual({ label: null, min: 0, page: 1 });
  });
});

describe("filterImages", () => {
  it("keeps everything without a filter", () => {
    expect(filterImages(IMAGES, { label: null, min: 0, page: 1 })).toHaveLength(4);
  });

  it("filters by class (at least one) and by minimum count of that class", () => {
    expect(filterImages(IMAGES, { label: "person", min: 0, page: 1 }).map((i) => i.objects)).toEqual([4, 1]);
    expect(filterImages(IMAGES, { label: "person", min: 3, page: 1 })).toHaveLength(1);
    expect(filterImages(IMAGES, { label: "cat", min: 0, page: 1 })).toHaveLength(0);
  });

  it("filters by total objects without a class", () => {
    expect(filterImages(IMAGES, { label: null, min: 4, page: 1 })).toHaveLength(2);
  });
});

describe("paginate", () => {
  const many = Array.from({ length: 1000 }, (_, i) => i);

  it("cuts pages of 48", () => {
    const page = paginate(many, 2);
    expect(page).toMatchObject({ page: 2, pageCount: 21, total: 1000 });
    expect(page.items).toEqual(many.slice(PAGE_SIZE, 2 * PAGE_SIZE));
    expect(paginate(many, 21).items).toHaveLength(1000 - 20 * PAGE_SIZE);
  });

  it("clamps the page into range", () => {
    expect(paginate(many, 99).page).toBe(21);
    expect(paginate([], 3)).toEqual({ items: [], page: 1, pageCount: 1, total: 0 });
  });

  it("builds clean query strings", () => {
    expect(gridSearch({ label: null, min: 0, page: 1 })).toBe("");
    expect(gridSearch({ label: "dog", min: 2, page: 1 }, { page: 3 })).toBe("?class=dog&min=2&page=3");
  });
});
