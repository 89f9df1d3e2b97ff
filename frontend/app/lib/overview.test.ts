import { describe, expect, it } from "vitest";
import { buildOverview, classTotals, sourceTotals, timelineRange } from "./overview";
import type { Summary } from "./records";

/** The summary of an hour whose images have these counts (one object per image). */
function summary(partition: string, images: Record<string, number>[], rejected = 0, sources?: Record<string, number>): Summary {
  const classCounts: Record<string, number> = {};
  const withClass: Record<string, number> = {};
  for (const counts of images) {
    for (const [label, count] of Object.entries(counts)) {
      classCounts[label] = (classCounts[label] ?? 0) + count;
      withClass[label] = (withClass[label] ?? 0) + 1;
    }
  }
  return {
    schema: "imgassets.summary.v2",
    partition,
    generated_at: "2026-11-25T05:00:00+00:00",
    image_count: images.length,
    rejected_count: rejected,
    total_objects: Object.values(classCounts).reduce((a, b) => a + b, 0),
    class_counts: classCounts,
    images_with_class: withClass,
    ...(sources === undefined ? {} : { source_counts: sources }),
    rejected: [],
    runs: ["r1"],
  };
}

const NEWEST = summary("2026-11-25-04:00", [{ person: 2, dog: 1 }, { person: 1 }], 0, { "cam-1": 1, "cam-2": 1 });
// Written before summaries counted sources.
const OLDEST = summary("2026-11-25-01:00", [{ dog: 4 }], 2);
const MIDDLE = summary("2026-11-25-02:00", [{}], 0, { "cam-2": 1 });

describe("buildOverview", () => {
  const overview = buildOverview([NEWEST, OLDEST]);

  it("makes a continuous timeline with empty hours", () => {
    expect(overview.hours.map((h) => [h.partition, h.objects, h.summarized])).toEqual([
      ["2026-11-25-01:00", 4, true],
      ["2026-11-25-02:00", 0, false],
      ["2026-11-25-03:00", 0, false],
      ["2026-11-25-04:00", 4, true],
    ]);
  });

  it("adds up totals and classes", () => {
    expect(overview.totals).toEqual({ hours: 2, images: 3, objects: 8, rejected: 2 });
    expect(overview.classes).toEqual([
      { label: "dog", objects: 5, images: 2 },
      { label: "person", objects: 3, images: 2 },
    ]);
  });

  it("adds up sources where the summaries count them", () => {
    expect(buildOverview([NEWEST, MIDDLE, OLDEST]).sources).toEqual([
      { source: "cam-2", images: 2 },
      { source: "cam-1", images: 1 },
    ]);
    expect(sourceTotals([OLDEST])).toEqual([]);
    expect(classTotals([MIDDLE])).toEqual([]);
  });

  it("spans the timeline's hours for the search (end exclusive)", () => {
    expect(timelineRange(overview.hours)).toEqual({ from: "2026-11-25-01:00", to: "2026-11-25-05:00" });
    expect(timelineRange([])).toBeNull();
  });

  it("is empty without summaries", () => {
    expect(buildOverview([])).toEqual({
      hours: [],
      totals: { hours: 0, images: 0, objects: 0, rejected: 0 },
      classes: [],
      sources: [],
    });
  });
});
