import { describe, expect, it } from "vitest";
import type { RelativeLine, SourceHour } from "./records";
import {
  type Point,
  captureTime,
  centroid,
  drawLine,
  featureNames,
  formatDwell,
  hourRange,
  inwardNormal,
  isCanonicalSource,
  isSourceName,
  lineCount,
  parseSourceRange,
  plural,
  polygonPoints,
  shortTrackId,
  side,
  sourceParams,
  sourceString,
  timelineHours,
  toPixels,
  zoneCount,
} from "./sources";

const close = (actual: Point, expected: Point, digits = 6) => {
  expect(actual[0]).toBeCloseTo(expected[0], digits);
  expect(actual[1]).toBeCloseTo(expected[1], digits);
};

describe("source names", () => {
  it("accepts what imgassets/core/layout.py SOURCE_NAME accepts", () => {
    for (const name of ["cam-gate", "site:north@2", "a", "Cam_1.front", "0", "x".repeat(64)]) {
      expect(isSourceName(name), name).toBe(true);
    }
  });

  it("refuses the rest before asking the endpoint", () => {
    for (const name of ["", "-cam", ".hidden", "a/b", "../x", "a b", "cam\n", "é", "x".repeat(65), "a?b", "a%2Fb"]) {
      expect(isSourceName(name), JSON.stringify(name)).toBe(false);
    }
  });
});

describe("source page query", () => {
  it("takes the range of a URL or of the form, a preset winning", () => {
    expect(parseSourceRange(new URLSearchParams("last=7d&from=2026-11-25"))).toEqual({ last: "7d", from: null, to: null });
    expect(parseSourceRange(new URLSearchParams("last=&from=2026-11-25T04%3A00&to="))).toEqual({
      last: null,
      from: "2026-11-25T04:00",
      to: null,
    });
  });

  it("has a canonical, readable URL", () => {
    const form = new URLSearchParams("last=&from=2026-11-25T04%3A00&to=");
    const range = parseSourceRange(form);
    expect(isCanonicalSource(form, range)).toBe(false);
    expect(sourceString(range)).toBe("?from=2026-11-25T04:00");
    expect(isCanonicalSource(new URLSearchParams(sourceString(range)), range)).toBe(true);
    expect(sourceString({ last: null, from: null, to: null })).toBe("");
    expect(isCanonicalSource(new URLSearchParams(""), parseSourceRange(new URLSearchParams("")))).toBe(true);
    expect(sourceString(hourRange("2026-11-25-04:00", "2026-11-25-05:00"))).toBe(
      "?from=2026-11-25-04:00&to=2026-11-25-05:00",
    );
  });

  it("asks the endpoint for the last 24 hours when the URL gives no range", () => {
    expect(sourceParams({ last: null, from: null, to: null }).toString()).toBe("last=24h");
    expect(Object.fromEntries(sourceParams({ last: null, from: "2026-11-25", to: "2026-11-26" }))).toEqual({
      from: "2026-11-25",
      to: "2026-11-26",
    });
    expect(sourceParams({ last: "7d", from: null, to: null }).toString()).toBe("last=7d");
  });
});

describe("a counting line's in direction", () => {
  const line = (start: Point, end: Point, inSide: Point): RelativeLine => ({
    start: [...start] as [number, number],
    end: [...end] as [number, number],
    in_side: [...inSide] as [number, number],
  });

  it("uses imgassets/core/sources.py's side: the sign of the cross product", () => {
    // y down: below a line drawn left to right is the positive side.
    expect(side([0, 0.5], [1, 0.5], [0.5, 0.9])).toBeGreaterThan(0);
    expect(side([0, 0.5], [1, 0.5], [0.5, 0.1])).toBeLessThan(0);
    expect(side([0, 0.5], [1, 0.5], [0.3, 0.5])).toBe(0);
  });

  it("points across the line to the side holding in_side", () => {
    close(inwardNormal([0, 50], [100, 50], [50, 90]), [0, 1]);
    close(inwardNormal([0, 50], [100, 50], [50, 10]), [0, -1]);
    // The same line drawn the other way: the same in side.
    close(inwardNormal([100, 50], [0, 50], [50, 10]), [0, -1]);
    // A vertical line: left or right.
    close(inwardNormal([50, 0], [50, 100], [90, 20]), [1, 0]);
    close(inwardNormal([50, 100], [50, 0], [10, 20]), [-1, 0]);
  });

  it("has no direction for a degenerate line or an in_side on the line", () => {
    expect(inwardNormal([10, 10], [10, 10], [0, 0])).toEqual([0, 0]);
    expect(inwardNormal([0, 0], [10, 10], [5, 5])).toEqual([0, 0]);
  });

  it("is computed in the frame's pixels, square to the line as drawn", () => {
    // A diagonal of a 200×100 frame, "in" towards the top right corner.
    const drawn = drawLine(line([0, 0], [1, 1], [1, 0]), 200, 100, 10);
    close(drawn.start, [0, 0]);
    close(drawn.end, [200, 100]);
    close(drawn.middle, [100, 50]);
    close(drawn.inward, [100 / Math.hypot(100, 200), -200 / Math.hypot(100, 200)]);
    // square to the drawn line (in relative units it would be (1, -1)/√2, which is not)
    expect(drawn.inward[0] * 200 + drawn.inward[1] * 100).toBeCloseTo(0, 9);
    // (drawn coordinates are rounded to hundredths of a pixel)
    close(drawn.arrowTip, [100 + 10 * drawn.inward[0], 50 + 10 * drawn.inward[1]], 2);
    expect(drawn.arrowHead[0]).toEqual(drawn.arrowTip);
  });

  it("puts the arrow, its head and the word in on the in side, out on the other", () => {
    const cases: [Point, Point, Point, number, number][] = [
      [[0.1, 0.5], [0.9, 0.5], [0.5, 0.8], 1280, 720],
      [[0.9, 0.2], [0.2, 0.7], [0.1, 0.1], 640, 480],
      [[0.5, 0.05], [0.5, 0.95], [0.95, 0.5], 1920, 1080],
      [[0.3, 0.9], [0.7, 0.1], [0.9, 0.9], 300, 900],
    ];
    for (const [start, end, inSide, width, height] of cases) {
      const drawn = drawLine(line(start, end, inSide), width, height, 40);
      const inward = Math.sign(side(toPixels(start, width, height), toPixels(end, width, height), toPixels(inSide, width, height)));
      const sideOf = (point: Point) => Math.sign(side(drawn.start, drawn.end, point));
      expect(sideOf(drawn.arrowTip)).toBe(inward);
      expect(sideOf(drawn.inLabel)).toBe(inward);
      expect(sideOf(drawn.outLabel)).toBe(-inward);
      for (const corner of drawn.arrowHead) expect(sideOf(corner)).toBe(inward);
      // Relative and pixel coordinates agree on the side (scaling by positive factors keeps the sign).
      expect(Math.sign(side(start, end, inSide))).toBe(inward);
      expect(Math.hypot(...drawn.inward)).toBeCloseTo(1, 9);
    }
  });
});

describe("zones", () => {
  it("are drawn in the frame's pixels", () => {
    expect(polygonPoints([[0, 0], [0.5, 0], [0.5, 1], [0, 1]], 640, 480)).toBe("0,0 320,0 320,480 0,480");
  });

  it("are named at their centroid", () => {
    close(centroid([[0, 0], [0.5, 0], [0.5, 1], [0, 1]]), [0.25, 0.5]);
    // clockwise or counter-clockwise alike
    close(centroid([[0, 1], [0.5, 1], [0.5, 0], [0, 0]]), [0.25, 0.5]);
    close(centroid([[0, 0], [0.9, 0], [0, 0.9]]), [0.3, 0.3]);
    // An L shape: its centroid is not the mean of its points.
    close(centroid([[0, 0], [2, 0], [2, 1], [1, 1], [1, 2], [0, 2]]), [5 / 6, 5 / 6]);
    // No area: the mean of the points.
    close(centroid([[0, 0], [1, 1], [2, 2]]), [1, 1]);
    expect(centroid([])).toEqual([0, 0]);
  });

  it("and lines list every configured one, counted or not", () => {
    expect(featureNames({ gate: { in: 1 } }, { gate: {}, door: {} })).toEqual(["door", "gate"]);
    expect(featureNames({ old: {} }, {})).toEqual(["old"]);
    expect(lineCount(undefined)).toEqual({ in: 0, out: 0 });
    expect(lineCount({ in: 3 })).toEqual({ in: 3, out: 0 });
    expect(zoneCount({ visits: 4 })).toEqual({ visits: 4, dwell_s: 0 });
  });
});

describe("wording", () => {
  it("shortens track ids to 6 characters", () => {
    expect(shortTrackId("3f9a1c0b7d2e4455")).toBe("3f9a1c");
    expect(shortTrackId("ab")).toBe("ab");
  });

  it("writes dwell times in seconds, minutes or hours", () => {
    expect(formatDwell(12.5)).toBe("12.5 s");
    expect(formatDwell(12)).toBe("12 s");
    expect(formatDwell(0)).toBe("0 s");
    expect(formatDwell(0.04)).toBe("0 s");
    expect(formatDwell(59.96)).toBe("1 min");
    expect(formatDwell(120)).toBe("2 min");
    expect(formatDwell(125.4)).toBe("2 min 5 s");
    expect(formatDwell(3600)).toBe("1 h");
    expect(formatDwell(3725)).toBe("1 h 2 min");
    expect(formatDwell(-1)).toBe("—");
    expect(formatDwell(Number.NaN)).toBe("—");
  });

  it("writes capture times in UTC, with tenths for video frames", () => {
    expect(captureTime("2026-11-25T04:12:33+00:00")).toBe("04:12:33");
    expect(captureTime("2026-11-25T05:12:33+01:00")).toBe("04:12:33");
    expect(captureTime("2026-11-25T04:12:33.500000+00:00")).toBe("04:12:33.5");
    expect(captureTime("not a time")).toBe("");
  });

  it("counts in words", () => {
    expect(plural(1, "visit")).toBe("1 visit");
    expect(plural(4, "visit")).toBe("4 visits");
    expect(plural(1200, "frame")).toBe("1,200 frames");
  });
});

describe("timeline", () => {
  const HOURS: SourceHour[] = [
    {
      partition: "2026-11-25-04:00",
      frames: 120,
      unique_objects: { person: 3, truck: 1 },
      crossings: { gate: { in: 3, out: 2 }, door: { in: 1 } },
      zones: { "left-half": { visits: 4, dwell_s: 12.5 } },
    },
    { partition: "2026-11-25-02:00", frames: 10 },
  ];

  it("has every hour of the range, oldest first, the ones without tracks empty", () => {
    const hours = timelineHours("2026-11-25T01:00:00+00:00", "2026-11-25T06:00:00+00:00", HOURS);
    expect(hours.map((hour) => hour.partition)).toEqual([
      "2026-11-25-01:00",
      "2026-11-25-02:00",
      "2026-11-25-03:00",
      "2026-11-25-04:00",
      "2026-11-25-05:00",
    ]);
    expect(hours.map((hour) => hour.tracked)).toEqual([false, true, false, true, false]);
    expect(hours[3]).toEqual({
      partition: "2026-11-25-04:00",
      tracked: true,
      frames: 120,
      unique: { person: 3, truck: 1 },
      objects: 4,
      crossings: { gate: { in: 3, out: 2 }, door: { in: 1, out: 0 } },
      in: 4,
      out: 2,
    });
    expect(hours[1]).toMatchObject({ frames: 10, objects: 0, in: 0, out: 0, crossings: {} });
    expect(hours[0]).toMatchObject({ frames: 0, objects: 0, unique: {} });
  });

  it("starts at the hour of a range that does not start on one", () => {
    const hours = timelineHours("2026-11-25T03:30:00+00:00", "2026-11-25T05:00:00+00:00", HOURS);
    expect(hours.map((hour) => hour.partition)).toEqual(["2026-11-25-02:00", "2026-11-25-03:00", "2026-11-25-04:00"]);
  });

  it("keeps only the hours with tracks of a range too long to draw", () => {
    const hours = timelineHours("2020-01-01T00:00:00+00:00", "2026-12-01T00:00:00+00:00", HOURS);
    expect(hours.map((hour) => hour.partition)).toEqual(["2026-11-25-02:00", "2026-11-25-04:00"]);
    expect(timelineHours("nonsense", "", HOURS)).toHaveLength(2);
  });
});
