import { describe, expect, it } from "vitest";
import { PAGE_SIZE } from "./grid";
import {
  chartBars,
  downloadString,
  endpointParams,
  inputMinute,
  isCanonical,
  newSearch,
  parseSearchQuery,
  searchString,
  utcMinute,
} from "./search";

const params = (text: string) => new URLSearchParams(text);

describe("parseSearchQuery", () => {
  it("reads a shared search URL", () => {
    const query = parseSearchQuery(
      params("last=7d&class=person:3&class=bus:1&min_confidence=0.5&source=cam-1&page=2"),
    );
    expect(query).toEqual({
      last: "7d",
      from: null,
      to: null,
      conditions: [
        { label: "person", count: "3" },
        { label: "bus", count: "1" },
      ],
      minConfidence: "0.5",
      source: "cam-1",
      page: 2,
    });
    expect(searchString(query)).toBe("?last=7d&class=person:3&class=bus:1&min_confidence=0.5&source=cam-1&page=2");
  });

  it("reads the form: condition rows, blank fields, a custom range", () => {
    const form = params(
      "last=&from=2026-11-25T04%3A00&to=&count=3&label=person&count=1&label=+bus+&count=&label=dog&count=2&label=" +
        "&min_confidence=&source=",
    );
    const query = parseSearchQuery(form);
    expect(query).toEqual(
      newSearch({
        from: "2026-11-25T04:00",
        conditions: [
          { label: "person", count: "3" },
          { label: "bus", count: "1" },
          { label: "dog", count: "1" },
        ],
      }),
    );
    expect(isCanonical(form, query)).toBe(false);
    expect(searchString(query)).toBe("?from=2026-11-25T04:00&class=person:3&class=bus:1&class=dog:1");
    expect(isCanonical(params(searchString(query).slice(1)), query)).toBe(true);
  });

  it("lets a preset win over from/to", () => {
    const query = parseSearchQuery(params("last=1d&from=2026-11-25T04:00&to=2026-11-26T00:00"));
    expect([query.last, query.from, query.to]).toEqual(["1d", null, null]);
  });

  it("reads a bare class as at least one and keeps bad values for the endpoint to refuse", () => {
    const query = parseSearchQuery(params("class=person&class=bus:0&class=car:x&class=&page=-3"));
    expect(query.conditions).toEqual([
      { label: "person", count: "1" },
      { label: "bus", count: "0" },
      { label: "car", count: "x" },
    ]);
    expect(query.page).toBe(1);
  });

  it("keeps class names readable and round-trips odd characters", () => {
    const query = newSearch({ conditions: [{ label: "traffic light", count: "2" }], source: "a&b=c" });
    const text = searchString(query);
    expect(text).toBe("?class=traffic%20light:2&source=a%26b%3Dc");
    expect(parseSearchQuery(params(text.slice(1)))).toEqual(query);
    expect(isCanonical(params(text.slice(1)), query)).toBe(true);
    expect(isCanonical(params("source=a%26b%3Dc&class=traffic+light:2"), query)).toBe(false);
  });
});

describe("endpointParams", () => {
  it("searches the last week when the URL names no range", () => {
    expect(Object.fromEntries(endpointParams(newSearch()))).toEqual({
      last: "7d",
      page: "1",
      page_size: String(PAGE_SIZE),
    });
  });

  it("passes every field on, paged or not", () => {
    const query = parseSearchQuery(params("from=2026-11-25&to=2026-11-26&class=dog:2&min_confidence=0.4&source=cam-2&page=3"));
    expect([...endpointParams(query)]).toEqual([
      ["from", "2026-11-25"],
      ["to", "2026-11-26"],
      ["class", "dog:2"],
      ["min_confidence", "0.4"],
      ["source", "cam-2"],
      ["page", "3"],
      ["page_size", String(PAGE_SIZE)],
    ]);
    expect(endpointParams(query, null).has("page")).toBe(false);
    expect(endpointParams(newSearch({ to: "2026-11-26" })).get("last")).toBeNull();
    expect(Object.fromEntries(endpointParams(newSearch({ last: "30d" }), 1, 12))).toMatchObject({ page_size: "12" });
  });

  it("downloads every match: no page", () => {
    expect(downloadString(parseSearchQuery(params("last=30d&class=dog:1&page=4")))).toBe("?last=30d&class=dog:1");
    expect(downloadString(newSearch())).toBe("");
  });
});

describe("times", () => {
  it("turns the endpoint's times and typed ones into datetime-local values (UTC)", () => {
    expect(utcMinute("2026-11-25T16:00:00+00:00")).toBe("2026-11-25T16:00");
    expect(utcMinute("2026-11-25T16:00:00+02:00")).toBe("2026-11-25T14:00");
    expect(utcMinute("junk")).toBe("");
    expect(inputMinute("2026-11-25-04:00")).toBe("2026-11-25T04:00");
    expect(inputMinute("2026-11-25")).toBe("2026-11-25T00:00");
    expect(inputMinute("2026-11-25T04:30:12")).toBe("2026-11-25T04:30");
    expect(inputMinute("yesterday")).toBe("");
    expect(inputMinute(null)).toBe("");
  });
});

describe("chartBars", () => {
  it("has one bar per day of the range, empty days included", () => {
    const bars = chartBars("2026-10-26T16:00:00+00:00", "2026-11-25T16:00:00+00:00", "day", [
      { bucket: "2026-11-01T00:00:00+00:00", matches: 5 },
      { bucket: "2026-11-25T00:00:00+00:00", matches: 88 },
    ]);
    expect(bars).toHaveLength(31);
    expect(bars[0]).toEqual({ start: "2026-10-26T00:00", end: "2026-10-27T00:00", matches: 0 });
    expect(bars.at(-1)).toEqual({ start: "2026-11-25T00:00", end: "2026-11-26T00:00", matches: 88 });
    expect(bars.reduce((sum, bar) => sum + bar.matches, 0)).toBe(93);
  });

  it("has one bar per hour, and keeps a bucket outside the range rather than lose its matches", () => {
    const bars = chartBars("2026-11-25T13:00:00+00:00", "2026-11-25T16:00:00+00:00", "hour", [
      { bucket: "2026-11-25T14:00:00+00:00", matches: 3 },
      { bucket: "2026-11-25T20:00:00+00:00", matches: 1 },
    ]);
    expect(bars.map((bar) => [bar.start, bar.matches])).toEqual([
      ["2026-11-25T13:00", 0],
      ["2026-11-25T14:00", 3],
      ["2026-11-25T15:00", 0],
      ["2026-11-25T20:00", 1],
    ]);
  });
});
