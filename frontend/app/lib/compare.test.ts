import { describe, expect, it } from "vitest";
import {
  COMPARE_SORTS,
  compareImageString,
  compareParams,
  compareString,
  firstComparable,
  isCanonicalComparison,
  isVersionName,
  newComparison,
  parseCompareQuery,
  parseShown,
  parseSort,
  percent,
  sameExcept,
  signedDifference,
} from "./compare";
import { PAGE_SIZE } from "./grid";

const params = (text: string) => new URLSearchParams(text);

describe("parseCompareQuery", () => {
  it("reads a shared compare URL and writes it back the same", () => {
    const text = "version=conf03&from=2026-11-25-04:00&to=2026-11-26-00:00&sort=only_b&page=2";
    const query = parseCompareQuery(params(text));
    expect(query).toEqual({
      version: "conf03",
      last: null,
      from: "2026-11-25-04:00",
      to: "2026-11-26-00:00",
      sort: "only_b",
      page: 2,
    });
    expect(compareString(query)).toBe(`?${text}`);
    expect(isCanonicalComparison(params(text), query)).toBe(true);
  });

  it("reads the form: blank fields, a preset over from/to, the default order", () => {
    const form = params("version=+conf03+&last=24h&from=2026-11-25T04%3A00&to=&sort=difference");
    const query = parseCompareQuery(form);
    expect(query).toEqual(newComparison({ version: "conf03", last: "24h" }));
    expect(isCanonicalComparison(form, query)).toBe(false);
    expect(compareString(query)).toBe("?version=conf03&last=24h");
    const custom = parseCompareQuery(params("version=conf03&last=&from=2026-11-25T04%3A00&to="));
    expect(compareString(custom)).toBe("?version=conf03&from=2026-11-25T04:00");
  });

  it("falls back to defaults for an unknown order and a bad page", () => {
    expect(parseCompareQuery(params("sort=random&page=-2"))).toEqual(newComparison());
    expect(parseCompareQuery(params(""))).toEqual(newComparison());
    expect(compareString(newComparison())).toBe("");
  });

  it("changes fields: a new order starts at page 1", () => {
    const query = newComparison({ version: "conf03", last: "7d", page: 3 });
    expect(compareString(query, { sort: "only_a", page: 1 })).toBe("?version=conf03&last=7d&sort=only_a");
    expect(compareString(query, { page: 4 })).toBe("?version=conf03&last=7d&page=4");
  });
});

describe("parseSort", () => {
  it.each(COMPARE_SORTS.map((sort) => [sort]))("knows %s", (sort) => {
    expect(parseSort(sort)).toBe(sort);
    expect(parseSort(` ${sort} `)).toBe(sort);
  });

  it("defaults to the difference", () => {
    expect(parseSort(null)).toBe("difference");
    expect(parseSort("ONLY_B")).toBe("difference");
    expect(parseSort("")).toBe("difference");
  });
});

describe("compareParams", () => {
  it("asks for the last 7 days without a range, and always for the order and page", () => {
    expect(Object.fromEntries(compareParams(newComparison({ version: "conf03" })))).toEqual({
      last: "7d",
      sort: "difference",
      page: "1",
      page_size: String(PAGE_SIZE),
    });
  });

  it("passes a range as it is, the version staying out (it is in the path)", () => {
    const query = newComparison({ version: "conf03", from: "2026-11-25-04:00", sort: "image", page: 2 });
    expect([...compareParams(query, 10)]).toEqual([
      ["from", "2026-11-25-04:00"],
      ["sort", "image"],
      ["page", "2"],
      ["page_size", "10"],
    ]);
  });
});

describe("compare image query", () => {
  it("keeps the comparison it came from, and what it shows", () => {
    const query = newComparison({ version: "conf03", last: "7d", sort: "only_b", page: 2 });
    expect(compareImageString(query)).toBe("?version=conf03&last=7d&sort=only_b&page=2");
    expect(compareImageString(query, "b")).toBe("?version=conf03&last=7d&sort=only_b&page=2&show=b");
    expect(parseShown(params("version=conf03&show=a"))).toBe("a");
    expect(parseShown(params("show=both"))).toBe("both");
    expect(parseShown(params("show=c"))).toBe("both");
    expect(parseShown(params(""))).toBe("both");
  });

  it("tells a change of what is shown from a change of data", () => {
    const url = (text: string) => new URL(`http://viewer${text}`);
    const here = "/compare/images/images/2026/11/25/04/5a9522051c3c-dog.jpg";
    expect(sameExcept(url(`${here}?version=conf03`), url(`${here}?version=conf03&show=b`), "show")).toBe(true);
    expect(sameExcept(url(`${here}?version=conf03&show=a`), url(`${here}?version=conf03&show=b`), "show")).toBe(true);
    expect(sameExcept(url(`${here}?version=conf03`), url(`${here}?version=input608&show=b`), "show")).toBe(false);
    expect(sameExcept(url(`${here}?version=conf03`), url(`/compare?version=conf03`), "show")).toBe(false);
  });
});

describe("versions", () => {
  it("chooses the first version that is not the active one", () => {
    const versions = [
      { name: "conf03", active: false },
      { name: "default", active: true },
      { name: "input608", active: false },
    ];
    expect(firstComparable(versions)).toBe("conf03");
    expect(firstComparable(versions.slice(1))).toBe("input608");
    expect(firstComparable([{ name: "default", active: true }])).toBeNull();
    expect(firstComparable([])).toBeNull();
  });

  it("accepts the pipeline's version names only", () => {
    expect(isVersionName("conf03")).toBe(true);
    expect(isVersionName("input_608")).toBe(true);
    for (const bad of ["", "Conf03", "3d", "a/b", "..", "a.b", "a".repeat(33)]) expect(isVersionName(bad)).toBe(false);
  });
});

describe("figures", () => {
  it("shows ratios as percentages, none as a dash", () => {
    expect(percent(0.8731)).toBe("87.3%");
    expect(percent(1)).toBe("100.0%");
    expect(percent(0)).toBe("0.0%");
    expect(percent(null)).toBe("—");
  });

  it("signs B − A", () => {
    expect(signedDifference(3, 5)).toBe("+2");
    expect(signedDifference(5, 3)).toBe("−2");
    expect(signedDifference(4, 4)).toBe("0");
  });
});
