import { describe, expect, it } from "vitest";
import { PAGE_SIZE, gridSearch, hourParams, pageCount, parseGridQuery } from "./grid";

describe("parseGridQuery", () => {
  it("reads class, min, source and page", () => {
    expect(parseGridQuery(new URLSearchParams("class=person&min=3&source=cam-1&page=2"))).toEqual({
      label: "person",
      min: 3,
      source: "cam-1",
      page: 2,
    });
  });

  it("falls back to defaults on junk", () => {
    expect(parseGridQuery(new URLSearchParams("class=&min=-1&source=%20&page=abc"))).toEqual({
      label: null,
      min: 0,
      source: null,
      page: 1,
    });
    expect(parseGridQuery(new URLSearchParams("min=1.5&page=0"))).toEqual({ label: null, min: 0, source: null, page: 1 });
  });
});

describe("gridSearch", () => {
  it("builds clean query strings", () => {
    expect(gridSearch({ label: null, min: 0, source: null, page: 1 })).toBe("");
    expect(gridSearch({ label: "dog", min: 2, source: null, page: 1 }, { page: 3 })).toBe("?class=dog&min=2&page=3");
    expect(gridSearch({ label: null, min: 0, source: "cam 2", page: 4 }, { page: 1 })).toBe("?source=cam+2");
  });
});

describe("hourParams", () => {
  it("pushes class, minimum count, source and paging down to the query endpoint", () => {
    const params = hourParams({ label: "person", min: 3, source: "cam-1", page: 2 });
    expect(Object.fromEntries(params)).toEqual({
      class: "person",
      min: "3",
      source: "cam-1",
      page: "2",
      page_size: String(PAGE_SIZE),
    });
  });

  it("asks for at least one of a class, and sends no minimum without one", () => {
    expect(hourParams({ label: "dog", min: 0, source: null, page: 1 }).get("min")).toBe("1");
    expect(Object.fromEntries(hourParams({ label: null, min: 4, source: null, page: 1 }, 3))).toEqual({
      page: "3",
      page_size: String(PAGE_SIZE),
    });
  });
});

describe("pageCount", () => {
  it("counts pages of 48, at least one", () => {
    expect(pageCount(0)).toBe(1);
    expect(pageCount(48)).toBe(1);
    expect(pageCount(49)).toBe(2);
    expect(pageCount(1000)).toBe(21);
    expect(pageCount(10, 3)).toBe(4);
  });
});
