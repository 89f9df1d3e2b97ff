import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import {
  InvalidKey,
  parseImageKey,
  parsePartition,
  partitionKey,
  partitionOfSummaryKey,
  shiftPartition,
  summaryKey,
} from "./layout";

const KEY = "images/2026/11/25/04/abc123def456-dog.jpg";

describe("parseImageKey", () => {
  it("derives the other keys of an image", () => {
    expect(parseImageKey(KEY)).toEqual({
      key: KEY,
      hourPath: "2026/11/25/04",
      file: "abc123def456-dog.jpg",
      partition: "2026-11-25-04:00",
      detectionKey: "detections/2026/11/25/04/abc123def456-dog.jpg.json",
      rejectionKey: "rejections/2026/11/25/04/abc123def456-dog.jpg.json",
      thumbnailKey: "thumbnails/2026/11/25/04/abc123def456-dog.jpg.jpg",
    });
  });

  it.each([
    ["traversal", "images/2026/11/25/04/../../summaries/x.json"],
    ["dot-dot in the name", "images/2026/11/25/04/abc123def456-a..jpg"],
    ["foreign prefix", "summaries/2026/11/25/04.json"],
    ["other bucket", "../other-bucket/images/2026/11/25/04/abc123def456-dog.jpg"],
    ["leading slash", `/${KEY}`],
    ["double slash", "images/2026/11/25//04/abc123def456-dog.jpg"],
    ["upper-case hash", "images/2026/11/25/04/ABC123DEF456-dog.jpg"],
    ["short hash", "images/2026/11/25/04/abc123-dog.jpg"],
    ["impossible hour", "images/2026/13/25/04/abc123def456-dog.jpg"],
    ["hour 24", "images/2026/11/25/24/abc123def456-dog.jpg"],
    ["trailing newline", `${KEY}\n`],
    ["encoded dots", "images/2026/11/25/04/abc123def456-%2e%2e"],
    ["name too long", `images/2026/11/25/04/abc123def456-${"a".repeat(97)}`],
    ["empty", ""],
  ])("refuses %s", (_, key) => {
    expect(() => parseImageKey(key)).toThrow(InvalidKey);
  });

  it("accepts the longest name layout.py allows", () => {
    expect(parseImageKey(`images/2026/11/25/04/abc123def456-${"a".repeat(96)}`).file).toHaveLength(109);
  });
});

describe("partitions", () => {
  it("parses and maps to the summary key", () => {
    expect(parsePartition("2026-11-25-04:00").toISOString()).toBe("2026-11-25T04:00:00.000Z");
    expect(summaryKey("2026-11-25-04:00")).toBe("summaries/2026/11/25/04.json");
    expect(partitionOfSummaryKey("summaries/2026/11/25/04.json")).toBe("2026-11-25-04:00");
  });

  it.each(["2026-11-25-04:30", "2026-02-30-04:00", "2026-11-25", "../x", "2026-11-25-04:00/.."])(
    "refuses %s",
    (partition) => {
      expect(() => summaryKey(partition)).toThrow(InvalidKey);
    },
  );

  it("ignores foreign keys under summaries/", () => {
    expect(partitionOfSummaryKey("summaries/2026/11/25/04.json.tmp")).toBeNull();
    expect(partitionOfSummaryKey("summaries/notes.txt")).toBeNull();
  });

  it("shifts across days and years", () => {
    expect(shiftPartition("2026-12-31-23:00", 1)).toBe("2027-01-01-00:00");
    expect(shiftPartition("2026-03-01-00:00", -1)).toBe("2026-02-28-23:00");
  });
});

// The shared vectors (contract/layout-vectors.json), also checked against imgassets/core/layout.py, the reference.
interface Vectors {
  image_keys: {
    valid: {
      why: string;
      key: string;
      hour: string;
      file: string;
      partition: string;
      detection_key: string;
      rejection_key: string;
      thumbnail_key: string;
    }[];
    invalid: { why: string; key: string }[];
  };
  partitions: {
    valid: { partition: string; hour: string; summary_key: string }[];
    invalid: { why: string; partition: string }[];
  };
  summary_keys: {
    valid: { key: string; partition: string }[];
    invalid: { why: string; key: string }[];
  };
}

const vectors = JSON.parse(
  readFileSync(new URL("../../../contract/layout-vectors.json", import.meta.url), "utf8"),
) as Vectors;
const isoHour = (date: Date) => date.toISOString().replace(".000Z", "Z");

describe("layout vectors shared with imgassets/core/layout.py", () => {
  it.each(vectors.image_keys.valid.map((v) => [v.why, v] as const))("image key: %s", (_, v) => {
    const parsed = parseImageKey(v.key);
    expect({
      file: parsed.file,
      hourPath: parsed.hourPath,
      partition: parsed.partition,
      detection_key: parsed.detectionKey,
      rejection_key: parsed.rejectionKey,
      thumbnail_key: parsed.thumbnailKey,
      hour: isoHour(parsePartition(parsed.partition)),
    }).toEqual({
      file: v.file,
      hourPath: v.hour.slice(0, 13).replaceAll("-", "/").replace("T", "/"),
      partition: v.partition,
      detection_key: v.detection_key,
      rejection_key: v.rejection_key,
      thumbnail_key: v.thumbnail_key,
      hour: v.hour,
    });
  });

  it.each(vectors.image_keys.invalid.map((v) => [v.why, v.key] as const))("refuses image key: %s", (_, key) => {
    expect(() => parseImageKey(key)).toThrow(InvalidKey);
  });

  it.each(vectors.partitions.valid.map((v) => [v.partition, v] as const))("partition %s", (_, v) => {
    expect(isoHour(parsePartition(v.partition))).toBe(v.hour);
    expect(partitionKey(parsePartition(v.partition))).toBe(v.partition);
    expect(summaryKey(v.partition)).toBe(v.summary_key);
  });

  it.each(vectors.partitions.invalid.map((v) => [v.why, v.partition] as const))("refuses partition: %s", (_, p) => {
    expect(() => parsePartition(p)).toThrow(InvalidKey);
    expect(() => summaryKey(p)).toThrow(InvalidKey);
  });

  it.each(vectors.summary_keys.valid.map((v) => [v.key, v.partition] as const))("summary key %s", (key, partition) => {
    expect(partitionOfSummaryKey(key)).toBe(partition);
    expect(summaryKey(partition)).toBe(key);
  });

  it.each(vectors.summary_keys.invalid.map((v) => [v.why, v.key] as const))("ignores summary key: %s", (_, key) => {
    expect(partitionOfSummaryKey(key)).toBeNull();
  });
});
