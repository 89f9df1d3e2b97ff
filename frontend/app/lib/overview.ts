/** Aggregates hour summaries into what the overview page shows (pure: unit-tested). */
import { shiftPartition } from "./layout";
import type { Summary } from "./records";

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

export interface SourceTotal {
  source: string;
  images: number;
}

export interface Overview {
  hours: HourBar[];
  totals: { hours: number; images: number; objects: number; rejected: number };
  classes: ClassTotal[];
  sources: SourceTotal[];
}

/** Objects and images per class over `summaries`, most objects first. */
export function classTotals(summaries: Summary[]): ClassTotal[] {
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
  return [...objects]
    .map(([label, count]) => ({ label, objects: count, images: images.get(label) ?? 0 }))
    .sort((a, b) => b.objects - a.objects || a.label.localeCompare(b.label));
}

/** Images per source (camera, site) over `summaries` (those written before sources had none), most first. */
export function sourceTotals(summaries: Summary[]): SourceTotal[] {
  const images = new Map<string, number>();
  for (const summary of summaries) {
    for (const [source, count] of Object.entries(summary.source_counts ?? {})) {
      images.set(source, (images.get(source) ?? 0) + count);
    }
  }
  return [...images]
    .map(([source, count]) => ({ source, images: count }))
    .sort((a, b) => b.images - a.images || a.source.localeCompare(b.source));
}

/**
 * `summaries` newest first (as loadRecentSummaries returns them). The timeline is continuous: hours without a
 * summary between the oldest and the newest one are empty bars.
 */
export function buildOverview(summaries: Summary[]): Overview {
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
  return {
    hours,
    totals: {
      hours: summaries.length,
      images: summaries.reduce((sum, s) => sum + s.image_count, 0),
      objects: summaries.reduce((sum, s) => sum + s.total_objects, 0),
      rejected: summaries.reduce((sum, s) => sum + s.rejected_count, 0),
    },
    classes: classTotals(summaries),
    sources: sourceTotals(summaries),
  };
}

/**
 * The upload hours the timeline spans, as the search's `from` and (exclusive) `to` partition keys; null when it is
 * empty. The overview's latest images and its links to the search page use it.
 */
export function timelineRange(hours: HourBar[]): { from: string; to: string } | null {
  if (hours.length === 0) return null;
  return { from: hours[0].partition, to: shiftPartition(hours[hours.length - 1].partition, 1) };
}
