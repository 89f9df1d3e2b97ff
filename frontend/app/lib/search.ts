/**
 * The search page's query, which lives whole in its URL so a search can be shared and reloaded:
 *
 *   /search?last=7d&class=person:3&class=bus:1&min_confidence=0.5&source=cam-1&page=2
 *   /search?from=2026-11-25T04:00&to=2026-11-26T00:00&class=dog:1
 *
 * The page's form submits class conditions as rows (`label`, `count`); the loader redirects such a URL to this
 * canonical form. Values are passed to the query endpoint as they are: the endpoint validates them (a bad class
 * condition, range or confidence comes back as its message). Pure: unit-tested.
 */
import { PAGE_SIZE } from "./grid";

/** A range preset of a form: a `last` value of the endpoint (the current hour included), and its name. */
export interface RangePreset {
  last: string;
  label: string;
}

/** The range presets of the form. */
export const RANGE_PRESETS: readonly RangePreset[] = [
  { last: "1h", label: "last hour" },
  { last: "1d", label: "last day" },
  { last: "7d", label: "last week" },
  { last: "30d", label: "last month" },
];
/** The range when the URL gives none. */
export const DEFAULT_LAST = "7d";

/**
 * The range presets of the pages over hourly results (compare: the versions' comparisons; source: its tracks), from
 * 6 hours up: one list, so that both pages offer the same ranges.
 */
export const HOURLY_PRESETS: readonly RangePreset[] = [
  { last: "6h", label: "last 6 hours" },
  { last: "24h", label: "last 24 hours" },
  { last: "7d", label: "last week" },
  { last: "30d", label: "last month" },
];

/** At least `count` detections of class `label` ("person:3"); `count` kept as typed, the endpoint checks it. */
export interface Condition {
  label: string;
  count: string;
}

/** The upload hours of a query (search, comparison), as the query endpoint takes them. */
export interface TimeRange {
  /** an age back from now (6h, 7d, 2w), or null for `from`/`to` */
  last: string | null;
  /** as typed: 2026-11-25, 2026-11-25T04:00 or 2026-11-25-04:00; UTC; `to` exclusive (null: now) */
  from: string | null;
  to: string | null;
}

export interface SearchQuery extends TimeRange {
  /** all must hold (AND) */
  conditions: Condition[];
  minConfidence: string | null;
  source: string | null;
  page: number;
}

/** A search of `fields`, everything else unset (the default range, no condition, page 1). */
export function newSearch(fields: Partial<SearchQuery> = {}): SearchQuery {
  return { last: null, from: null, to: null, conditions: [], minConfidence: null, source: null, page: 1, ...fields };
}

export function conditionText({ label, count }: Condition): string {
  return `${label}:${count}`;
}

/** `person:3`; a bare `person` means at least one. */
function parseCondition(text: string): Condition | null {
  const trimmed = text.trim();
  if (trimmed === "") return null;
  const colon = trimmed.lastIndexOf(":");
  if (colon < 0) return { label: trimmed, count: "1" };
  return { label: trimmed.slice(0, colon).trim(), count: trimmed.slice(colon + 1).trim() || "1" };
}

/** A whole number >= 1 of a URL, else 1. */
export function positiveInt(value: string | null): number {
  const parsed = value === null || value.trim() === "" ? NaN : Number(value);
  return Number.isSafeInteger(parsed) && parsed >= 1 ? parsed : 1;
}

/** A trimmed, non-blank parameter of a URL or form, else null. */
export function textParam(params: URLSearchParams, name: string): string | null {
  return params.get(name)?.trim() || null;
}

/** The range of a URL or form submission (the range select's empty value means from/to): a preset wins. */
export function parseRange(params: URLSearchParams): TimeRange {
  const last = textParam(params, "last");
  return {
    last,
    from: last === null ? textParam(params, "from") : null,
    to: last === null ? textParam(params, "to") : null,
  };
}

/** Whether `range` gives no range at all (the page's default applies). */
export function noRange(range: TimeRange): boolean {
  return range.last === null && range.from === null && range.to === null;
}

/** The URL parameters of `range`, in their canonical order. */
export function rangeEntries(range: TimeRange): [string, string][] {
  const found: [string, string][] = [];
  if (range.last !== null) found.push(["last", range.last]);
  if (range.from !== null) found.push(["from", range.from]);
  if (range.to !== null) found.push(["to", range.to]);
  return found;
}

/**
 * The query of a search URL, or of the form's submission (rows of `label` and `count`; the range select's empty
 * value means from/to). A preset (`last`) wins over `from`/`to`.
 */
export function parseSearchQuery(params: URLSearchParams): SearchQuery {
  const text = (name: string) => textParam(params, name);
  const conditions = params
    .getAll("class")
    .map(parseCondition)
    .filter((condition): condition is Condition => condition !== null);
  const counts = params.getAll("count");
  params.getAll("label").forEach((label, index) => {
    if (label.trim() !== "") conditions.push({ label: label.trim(), count: counts[index]?.trim() || "1" });
  });
  return {
    ...parseRange(params),
    conditions,
    minConfidence: text("min_confidence"),
    source: text("source"),
    page: positiveInt(params.get("page")),
  };
}

function entries(query: SearchQuery, paged: boolean): [string, string][] {
  const found = rangeEntries(query);
  for (const condition of query.conditions) found.push(["class", conditionText(condition)]);
  if (query.minConfidence !== null) found.push(["min_confidence", query.minConfidence]);
  if (query.source !== null) found.push(["source", query.source]);
  if (paged && query.page > 1) found.push(["page", String(query.page)]);
  return found;
}

/**
 * A query string that keeps `:` readable (`class=person:3`, `from=2026-11-25-04:00`); URLSearchParams reads it
 * back the same. "" for no pairs.
 */
export function serialize(pairs: Iterable<[string, string]>): string {
  const encode = (value: string) => encodeURIComponent(value).replace(/%3A/gi, ":");
  const text = [...pairs].map(([name, value]) => `${encode(name)}=${encode(value)}`).join("&");
  return text === "" ? "" : `?${text}`;
}

/** The canonical query string of `query` with some fields changed ("" for the default search). */
export function searchString(query: SearchQuery, change: Partial<SearchQuery> = {}): string {
  return serialize(entries({ ...query, ...change }, true));
}

/** The query string of a download of every match of `query` (no page). */
export function downloadString(query: SearchQuery): string {
  return serialize(entries(query, false));
}

/** Whether `params` already are `query`'s canonical form (else the loader redirects there). */
export function isCanonical(params: URLSearchParams, query: SearchQuery): boolean {
  return serialize(params) === searchString(query);
}

/** The query endpoint's parameters for `query` (GET /search; `page` null: no paging, for the downloads). */
export function endpointParams(query: SearchQuery, page: number | null = query.page, size = PAGE_SIZE): URLSearchParams {
  const params = new URLSearchParams(entries(noRange(query) ? { ...query, last: DEFAULT_LAST } : query, false));
  if (page !== null) {
    params.set("page", String(page));
    params.set("page_size", String(size));
  }
  return params;
}

/** `2026-11-25 04:00` for a time with offset (UTC), to show a range; "" for something else. */
export function readableMinute(iso: string): string {
  return utcMinute(iso).replace("T", " ");
}

/** `2026-11-25T04:00` (what a datetime-local input holds, read as UTC) for a time with offset, else "". */
export function utcMinute(iso: string): string {
  const time = Date.parse(iso);
  return Number.isNaN(time) ? "" : new Date(time).toISOString().slice(0, 16);
}

/** A `from`/`to` as typed, for a datetime-local input: 2026-11-25, 2026-11-25-04:00 → 2026-11-25T00:00, …T04:00. */
export function inputMinute(text: string | null): string {
  if (text === null) return "";
  const partition = /^(\d{4}-\d{2}-\d{2})-(\d{2}):00$/.exec(text);
  if (partition) return `${partition[1]}T${partition[2]}:00`;
  if (/^\d{4}-\d{2}-\d{2}$/.test(text)) return `${text}T00:00`;
  const minute = /^(\d{4}-\d{2}-\d{2})[T ](\d{2}:\d{2})/.exec(text);
  return minute ? `${minute[1]}T${minute[2]}` : "";
}

export type Bucket = "hour" | "day";

export interface ChartBar {
  /** the bucket's first hour and the next bucket's, UTC, as 2026-11-25T04:00 */
  start: string;
  end: string;
  matches: number;
}

const STEP_MS: Record<Bucket, number> = { hour: 3_600_000, day: 86_400_000 };
const MAX_BARS = 800;

/**
 * One bar per hour or day of the range [`from`, `to`) (ISO times with offset, as the endpoint answers), with the
 * histogram's matches and 0 where it has none.
 */
export function chartBars(
  from: string,
  to: string,
  bucket: Bucket,
  histogram: readonly { bucket: string; matches: number }[],
): ChartBar[] {
  const step = STEP_MS[bucket];
  const floor = (time: number) => time - (((time % step) + step) % step);
  const matches = new Map<number, number>();
  for (const { bucket: start, matches: count } of histogram) {
    const time = floor(Date.parse(start));
    if (!Number.isNaN(time)) matches.set(time, (matches.get(time) ?? 0) + count);
  }
  const times = new Set<number>(matches.keys());
  const first = floor(Date.parse(from));
  const end = Date.parse(to);
  if (!Number.isNaN(first) && !Number.isNaN(end)) {
    for (let time = first; time < end && times.size < MAX_BARS; time += step) times.add(time);
  }
  const minute = (time: number) => new Date(time).toISOString().slice(0, 16);
  return [...times]
    .sort((a, b) => a - b)
    .map((time) => ({ start: minute(time), end: minute(time + step), matches: matches.get(time) ?? 0 }));
}
