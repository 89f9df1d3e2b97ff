/** Aggregates hour summaries into what the overview page shows (pure: unit-tested). */
import { shiftPartition } from "./layout";
import type { ImageResult, Summary } from "./records";

/** The overview covers the newest this many hours (a week). */
export const TIMELINE_HOURS = 168;

export interface HourBar {
  partition: string;
  images: number;
  objects: number;
  rejected: number;
  counts: Record<string, number>;
  /** false for an hour inside the timeline without a summary */
  summarized: boolean;
}

export interface ClassTotal {
  label: string;
  objects: number;
  images: number;
}

export interface Overview {
  hours: HourBar[];
  totals: { hours: number; images: number; objects: number; rejected: number };
  classes: ClassTotal[];
  latest: (ImageResult & { partition: string })[];
}

/**
 * `summaries` newest first (as loadRecentSummaries returns them). The timeline is continuous: hours without a
 * summary between the oldest and the newest one are empty bars.
 */
export function buildOverview(summaries: Summary[], latestCount: number): Overview {
  const byPartition = new Map(summaries.map((summary) => [summary.partition, summary]));
  const hours: HourBar[] = [];
  if (summaries.length > 0) {
    const newest = summaries[0].partition;
    const oldest = summaries[summaries.length - 1].partition;
    for (let partition = oldest; partition <= newest; partition = shiftPartition(partition, 1)) {
      const summary = byPartition.get(partition);
      hours.push({
        partition,
        images: summary?.image_count ?? 0,
        objects: summary?.total_objects ?? 0,
        rejected: summary?.rejected_count ?? 0,
        counts: summary?.class_counts ?? {},
        summarized: summary !== undefined,
      });
    }
  }
  const objects = new Map<string, number>();
  const images = new Map<string, number>();
  for (const summary of summaries) {
    for (const [label, count] of Object.entries(summary.class_counts)) {
      objects.set(label, (objects.get(label) ?? 0) + count);
    }
    for (const [label, count] of Object.entries(summary.images_with_class)) {
      images.set(label, (images.get(label) ?? 0) + count);
    }
  }
  const classes = [...objects]
    .map(([label, count]) => ({ label, objects: count, images: images.get(label) ?? 0 }))
    .sort((a, b) => b.objects - a.objects || a.label.localeCompare(b.label));
  return {
    hours,
    totals: {
      hours: summaries.length,
      images: summaries.reduce((sum, s) => sum + s.image_count, 0),
      objects: summaries.reduce((sum, s) => sum + s.total_objects, 0),
      rejected: summaries.reduce((sum, s) => sum + s.rejected_count, 0),
    },
    classes,
    latest: latestImages(summaries, latestCount),
  };
}

/** The `count` most recently processed images; summaries newest first, each one's images newest first. */
function latestImages(summaries: Summary[], count: number): Overview["latest"] {
  const picked: Overview["latest"] = [];
  for (const summary of summaries) {
    picked.push(...summary.images.slice(0, count).map((image) => ({ ...image, partition: summary.partition })));
    if (picked.length >= count) break;
  }
  return picked
    .sort((a, b) => Date.parse(b.processed_at) - Date.parse(a.processed_at) || b.image_key.localeCompare(a.image_key))
    .slice(0, count);
}
