import { afterEach, describe, expect, it, vi } from "vitest";
import type { Summary } from "./records";
import * as s3 from "./s3.server";
import { MAX_CACHED_BYTES, loadSummary, summaryCacheStats } from "./summaries.server";

afterEach(() => {
  vi.restoreAllMocks();
});

function summary(partition: string): Summary {
  return {
    schema: "imgassets.summary.v1",
    partition,
    generated_at: "2026-11-25T08:00:00Z",
    image_count: 0,
    rejected_count: 0,
    total_objects: 0,
    class_counts: {},
    images_with_class: {},
    images: [],
    rejected: [],
    runs: [],
  } as unknown as Summary;
}

describe("summary cache", () => {
  it("stays within its byte budget, keeping the most recent summaries", async () => {
    const size = Math.floor(MAX_CACHED_BYTES / 3) + 1; // three of these do not fit
    const read = vi.spyOn(s3, "getJson").mockImplementation(async (key: string) => ({
      value: summary(key),
      etag: `"${key}"`,
      bytes: size,
    }));
    const hours = ["2026-11-25-01:00", "2026-11-25-02:00", "2026-11-25-03:00", "2026-11-25-04:00"];
    for (const hour of hours) {
      expect((await loadSummary(hour))?.partition).toContain("2026/11/25");
    }
    const stats = summaryCacheStats();
    expect(stats.bytes).toBeLessThanOrEqual(MAX_CACHED_BYTES);
    expect(stats.entries).toBe(2);
    expect(read).toHaveBeenCalledTimes(4);
    // The newest one is served from the cache; an evicted one is read again.
    await loadSummary(hours[3]);
    expect(read).toHaveBeenCalledTimes(4);
    await loadSummary(hours[0]);
    expect(read).toHaveBeenCalledTimes(5);
  });

  it("always keeps the summary it is serving, even one larger than the budget", async () => {
    vi.spyOn(s3, "getJson").mockImplementation(async (key: string) => ({
      value: summary(key),
      etag: `"${key}"`,
      bytes: MAX_CACHED_BYTES * 2,
    }));
    expect(await loadSummary("2026-11-25-05:00")).not.toBeNull();
    expect(summaryCacheStats().entries).toBe(1);
  });
});
