/**
 * The source page (a camera's tracked objects): its query, which lives whole in its URL,
 *
 *   /sources/cam-gate?last=24h
 *   /sources/cam-gate?from=2026-11-25-04:00&to=2026-11-25-05:00
 *
 * (the range of the search and compare pages: `last`, or `from`/`to`, UTC, `to` excluded), and the geometry and
 * wording of what it draws: a line's "in" direction, a zone's middle, its timeline's hours, short track ids,
 * dwell times. Pure: unit-tested.
 */
import type { LineCount, RelativeLine, SourceHour, ZoneCount } from "./records";
import { type TimeRange, noRange, parseRange, rangeEntries, serialize } from "./search";

/** The range when the URL gives none (the endpoint's default too). */
export const DEFAULT_SOURCE_LAST = "24h";

/** A source's name (imgassets/core/layout.py SOURCE_NAME): a path segment of the endpoint and a key of the bucket. */
const SOURCE_NAME = /^[A-Za-z0-9][A-Za-z0-9._:@-]{0,63}$/;

/** Whether `name` can be a source's name; anything else is refused before asking the endpoint. */
export function isSourceName(name: string): boolean {
  return SOURCE_NAME.test(name);
}

/** The range of a source page's URL, or of its form's submission (blank fields; a preset wins over from/to). */
export function parseSourceRange(params: URLSearchParams): TimeRange {
  return parseRange(params);
}

/** The canonical query string of a source page's range ("" for the default range). */
export function sourceString(range: TimeRange): string {
  return serialize(rangeEntries(range));
}

/** Whether `params` already are `range`'s canonical form (else the page redirects there). */
export function isCanonicalSource(params: URLSearchParams, range: TimeRange): boolean {
  return serialize(params) === sourceString(range);
}

/** The query endpoint's parameters for `range` (GET /sources/{name}; the name is in the path). */
export function sourceParams(range: TimeRange): URLSearchParams {
  return new URLSearchParams(rangeEntries(noRange(range) ? { last: DEFAULT_SOURCE_LAST, from: null, to: null } : range));
}

/** The range of one hour (a partition, 2026-11-25-04:00) and the next: a source page of that hour's tracks. */
export function hourRange(partition: string, next: string): TimeRange {
  return { last: null, from: partition, to: next };
}

// ---------------------------------------------------------------------------------------------------------------
// Geometry. Lines and zones are image-relative (0..1, x to the right, y down); they are drawn in a frame's pixels.

export type Point = readonly [number, number];

/**
 * Which side of the line `start` → `end` `point` is on: the sign of the cross product, as imgassets/core/sources.py
 * `side` computes it (positive, negative, or 0 on the line). Scaling x and y by positive factors (relative points
 * → pixels) keeps the sign.
 */
export function side(start: Point, end: Point, point: Point): number {
  return (end[0] - start[0]) * (point[1] - start[1]) - (end[1] - start[1]) * (point[0] - start[0]);
}

/**
 * The unit vector across the line `start` → `end` pointing to the side `inSide` is on: the way an object moves
 * when it crosses "in". [0, 0] for a degenerate line or an `inSide` on the line (sources.toml refuses both).
 */
export function inwardNormal(start: Point, end: Point, inSide: Point): Point {
  const dx = end[0] - start[0];
  const dy = end[1] - start[1];
  const length = Math.hypot(dx, dy);
  const sign = Math.sign(side(start, end, inSide));
  if (length === 0 || sign === 0) return [0, 0];
  // (-dy, dx) is on the positive side: its cross product with the line is dx² + dy² > 0.
  return [(-dy / length) * sign, (dx / length) * sign];
}

/** A relative point in the pixels of a `width` × `height` frame. */
export function toPixels(point: Point, width: number, height: number): Point {
  return [point[0] * width, point[1] * height];
}

/** A counting line as drawn on a frame: its ends, its middle, and an arrow from the middle towards "in". */
export interface DrawnLine {
  start: Point;
  end: Point;
  middle: Point;
  /** unit vector towards the "in" side, in pixels ([0, 0]: none) */
  inward: Point;
  /** the arrow's shaft: from the middle to its tip, `arrow` pixels towards "in" */
  arrowTip: Point;
  /** the arrow's head: a triangle at the tip */
  arrowHead: [Point, Point, Point];
  /** where to write "in" (past the tip) and "out" (as far on the other side) */
  inLabel: Point;
  outLabel: Point;
}

const round = (value: number) => Math.round(value * 100) / 100;
const at = (from: Point, direction: Point, distance: number): Point => [
  round(from[0] + direction[0] * distance),
  round(from[1] + direction[1] * distance),
];

/**
 * `line` drawn on a `width` × `height` frame, with an arrow `arrow` pixels long from its middle towards the side
 * that contains `in_side` (computed in pixels, so the arrow is square to the line as drawn).
 */
export function drawLine(line: RelativeLine, width: number, height: number, arrow: number): DrawnLine {
  const start = toPixels(line.start, width, height);
  const end = toPixels(line.end, width, height);
  const inward = inwardNormal(start, end, toPixels(line.in_side, width, height));
  const middle: Point = [round((start[0] + end[0]) / 2), round((start[1] + end[1]) / 2)];
  const tip = at(middle, inward, arrow);
  const head = arrow * 0.4;
  const across: Point = [-inward[1], inward[0]];
  const base = at(middle, inward, arrow - head);
  return {
    start: [round(start[0]), round(start[1])],
    end: [round(end[0]), round(end[1])],
    middle,
    inward,
    arrowTip: tip,
    arrowHead: [tip, at(base, across, head / 2), at(base, across, -head / 2)],
    inLabel: at(middle, inward, arrow * 1.5),
    outLabel: at(middle, inward, -arrow * 0.9),
  };
}

/** A zone's polygon as the `points` attribute of an SVG polygon on a `width` × `height` frame. */
export function polygonPoints(points: readonly Point[], width: number, height: number): string {
  return points
    .map((point) => toPixels(point, width, height))
    .map(([x, y]) => `${round(x)},${round(y)}`)
    .join(" ");
}

/** The centroid of a polygon (where its name is written); the mean of its points when it has no area. */
export function centroid(points: readonly Point[]): Point {
  if (points.length === 0) return [0, 0];
  let area = 0;
  let cx = 0;
  let cy = 0;
  points.forEach(([x0, y0], index) => {
    const [x1, y1] = points[(index + 1) % points.length];
    const cross = x0 * y1 - x1 * y0;
    area += cross;
    cx += (x0 + x1) * cross;
    cy += (y0 + y1) * cross;
  });
  if (Math.abs(area) < 1e-12) {
    return [
      points.reduce((sum, [x]) => sum + x, 0) / points.length,
      points.reduce((sum, [, y]) => sum + y, 0) / points.length,
    ];
  }
  return [cx / (3 * area), cy / (3 * area)];
}

// ---------------------------------------------------------------------------------------------------------------
// Wording and the timeline.

/** The first characters of a track id, enough to tell the tracks of a frame apart. */
export function shortTrackId(trackId: string): string {
  return trackId.slice(0, 6);
}

/** Seconds of dwell time: 12.5 s, 2 min 5 s, 1 h 3 min. */
export function formatDwell(seconds: number): string {
  if (!Number.isFinite(seconds) || seconds < 0) return "—";
  const tenths = Number(seconds.toFixed(1));
  if (tenths < 60) return `${tenths} s`;
  const whole = Math.round(seconds);
  if (whole < 3600) return `${Math.floor(whole / 60)} min${whole % 60 ? ` ${whole % 60} s` : ""}`;
  const minutes = Math.round(whole / 60);
  return `${Math.floor(minutes / 60)} h${minutes % 60 ? ` ${minutes % 60} min` : ""}`;
}

/** `1 visit`, `4 visits`. */
export function plural(count: number, word: string): string {
  return `${count.toLocaleString("en-US")} ${word}${count === 1 ? "" : "s"}`;
}

/** A frame's capture time for its caption: 04:12:33 (UTC), with tenths when it has them (video frames). */
export function captureTime(iso: string): string {
  const time = Date.parse(iso);
  if (Number.isNaN(time)) return "";
  const text = new Date(time).toISOString();
  const tenths = Math.floor((time % 1000) / 100);
  return `${text.slice(11, 19)}${time % 1000 === 0 ? "" : `.${tenths}`}`;
}

/** In and out of a line's count (the endpoint leaves out zeros). */
export function lineCount(count: LineCount | undefined): { in: number; out: number } {
  return { in: count?.in ?? 0, out: count?.out ?? 0 };
}

/** Visits and dwell of a zone's count. */
export function zoneCount(count: ZoneCount | undefined): { visits: number; dwell_s: number } {
  return { visits: count?.visits ?? 0, dwell_s: count?.dwell_s ?? 0 };
}

/** The names of `counted` and of `drawn`, sorted: a line or zone is shown (with 0) even when nothing crossed it. */
export function featureNames(counted: Record<string, unknown>, drawn: Record<string, unknown>): string[] {
  return [...new Set([...Object.keys(counted), ...Object.keys(drawn)])].sort();
}

/** One hour of the timeline, with every count filled in (0 for an hour without tracks). */
export interface TimelineHour {
  partition: string;
  /** whether the hour has tracks of the source (a summary) */
  tracked: boolean;
  frames: number;
  unique: Record<string, number>;
  /** distinct objects of every class */
  objects: number;
  crossings: Record<string, { in: number; out: number }>;
  in: number;
  out: number;
}

/** At most this many hours are drawn with the empty ones between them; beyond, only the hours with tracks. */
const MAX_TIMELINE_HOURS = 800;
const HOUR_MS = 3_600_000;
const partitionOf = (time: number) => {
  const iso = new Date(time).toISOString();
  return `${iso.slice(0, 10)}-${iso.slice(11, 13)}:00`;
};

function timelineHour(hour: SourceHour): TimelineHour {
  const unique = { ...(hour.unique_objects ?? {}) };
  const crossings = Object.fromEntries(
    Object.entries(hour.crossings ?? {}).map(([name, count]) => [name, lineCount(count)]),
  );
  const lines = Object.values(crossings);
  return {
    partition: hour.partition,
    tracked: true,
    frames: hour.frames ?? 0,
    unique,
    objects: Object.values(unique).reduce((sum, count) => sum + count, 0),
    crossings,
    in: lines.reduce((sum, count) => sum + count.in, 0),
    out: lines.reduce((sum, count) => sum + count.out, 0),
  };
}

/**
 * Every hour of [`from`, `to`) (ISO times with offset, as the endpoint answers), oldest first: the endpoint's hours
 * with their counts, the others with none. Only the endpoint's hours when the range has too many to draw.
 */
export function timelineHours(from: string, to: string, hours: readonly SourceHour[]): TimelineHour[] {
  const found = new Map(hours.map((hour) => [hour.partition, timelineHour(hour)]));
  const start = Date.parse(from);
  const end = Date.parse(to);
  if (!Number.isNaN(start) && !Number.isNaN(end) && (end - start) / HOUR_MS <= MAX_TIMELINE_HOURS) {
    for (let time = start - (((start % HOUR_MS) + HOUR_MS) % HOUR_MS); time < end; time += HOUR_MS) {
      const partition = partitionOf(time);
      if (!found.has(partition)) {
        found.set(partition, {
          partition,
          tracked: false,
          frames: 0,
          unique: {},
          objects: 0,
          crossings: {},
          in: 0,
          out: 0,
        });
      }
    }
  }
  // Partitions (2026-11-25-04:00) sort as their hours do.
  return [...found.values()].sort((a, b) => (a.partition < b.partition ? -1 : a.partition > b.partition ? 1 : 0));
}
