/**
 * The compare page's query, which lives whole in its URL so a comparison can be shared and reloaded:
 *
 *   /compare?version=conf03&last=7d&sort=only_b&page=2
 *   /compare?version=conf03&from=2026-11-25-04:00&to=2026-11-26-00:00
 *   /compare/images/images/2026/11/25/04/5a9522051c3c-dog.jpg?version=conf03&last=7d&show=b
 *
 * `version` is the detector version (B) compared with the active one (A); the range is the search page's
 * (`last`, or `from`/`to`, UTC, `to` excluded); `sort` orders the disagreements. The image page takes the same
 * query (to link back to the same list) and `show`: which boxes it draws. The query endpoint validates the values
 * (an unknown version or a bad range come back as its message). Pure: unit-tested.
 */
import { PAGE_SIZE } from "./grid";
import type { ComparePage } from "./records";
import { type TimeRange, noRange, parseRange, positiveInt, rangeEntries, serialize, textParam } from "./search";

/** How the disagreements are ordered (the endpoint's `sort`): most first, or by image key. */
export type CompareSort = ComparePage["sort"];
export const COMPARE_SORTS: readonly CompareSort[] = ["difference", "only_a", "only_b", "image"];
export const DEFAULT_SORT: CompareSort = "difference";

/** The range when the URL gives none (the endpoint's default too). */
export const DEFAULT_COMPARE_LAST = "7d";

export interface CompareQuery extends TimeRange {
  /** the version compared with the active one (null: not chosen yet) */
  version: string | null;
  sort: CompareSort;
  page: number;
}

/** A comparison of `fields`, everything else unset (no version, the default range and order, page 1). */
export function newComparison(fields: Partial<CompareQuery> = {}): CompareQuery {
  return { version: null, last: null, from: null, to: null, sort: DEFAULT_SORT, page: 1, ...fields };
}

/**
 * Whether `name` can be a detector version's name (imgassets/detector/versions.py NAME_PATTERN): it is a path
 * segment of the endpoint, so anything else is refused before asking.
 */
export function isVersionName(name: string): boolean {
  return /^[a-z][a-z0-9_]{0,31}$/.test(name);
}

/** One of the sort orders; anything else is the default. */
export function parseSort(value: string | null): CompareSort {
  const text = value?.trim() ?? "";
  return COMPARE_SORTS.find((sort) => sort === text) ?? DEFAULT_SORT;
}

/** The query of a compare URL, or of the compare form's submission (blank fields; a preset wins over from/to). */
export function parseCompareQuery(params: URLSearchParams): CompareQuery {
  return {
    version: textParam(params, "version"),
    ...parseRange(params),
    sort: parseSort(params.get("sort")),
    page: positiveInt(params.get("page")),
  };
}

function entries(query: CompareQuery, paged: boolean): [string, string][] {
  const found: [string, string][] = [];
  if (query.version !== null) found.push(["version", query.version]);
  found.push(...rangeEntries(query));
  if (query.sort !== DEFAULT_SORT) found.push(["sort", query.sort]);
  if (paged && query.page > 1) found.push(["page", String(query.page)]);
  return found;
}

/** The canonical query string of `query` with some fields changed ("" for the default comparison). */
export function compareString(query: CompareQuery, change: Partial<CompareQuery> = {}): string {
  return serialize(entries({ ...query, ...change }, true));
}

/** Whether `params` already are `query`'s canonical form (else the compare page redirects there). */
export function isCanonicalComparison(params: URLSearchParams, query: CompareQuery): boolean {
  return serialize(params) === compareString(query);
}

/** The query endpoint's parameters for `query` (GET /versions/{version}/compare; the version is in the path). */
export function compareParams(query: CompareQuery, size = PAGE_SIZE): URLSearchParams {
  const range = noRange(query) ? { last: DEFAULT_COMPARE_LAST, from: null, to: null } : query;
  const params = new URLSearchParams(rangeEntries(range));
  params.set("sort", query.sort);
  params.set("page", String(query.page));
  params.set("page_size", String(size));
  return params;
}

/** Which boxes the compare image page draws: both versions', the active one's (A) or the compared one's (B). */
export type Shown = "both" | "a" | "b";
export const SHOWN: readonly Shown[] = ["both", "a", "b"];

export function parseShown(params: URLSearchParams): Shown {
  const text = params.get("show")?.trim() ?? "";
  return SHOWN.find((shown) => shown === text) ?? "both";
}

/** The compare image page's query string: the comparison it came from (paged like there), and what it shows. */
export function compareImageString(query: CompareQuery, shown: Shown = "both"): string {
  return serialize([...entries(query, true), ...(shown === "both" ? [] : [["show", shown] as [string, string]])]);
}

/** Whether two URLs differ at most in `name` (a view setting the server does not need: no new data to load). */
export function sameExcept(current: URL, next: URL, name: string): boolean {
  if (current.pathname !== next.pathname) return false;
  const rest = (url: URL) => serialize([...url.searchParams].filter(([key]) => key !== name));
  return rest(current) === rest(next);
}

/** 0.8731 → "87.3%"; null (that version found nothing) → "—". */
export function percent(ratio: number | null): string {
  return ratio === null ? "—" : `${(ratio * 100).toFixed(1)}%`;
}

/** B − A with its sign: "+3", "−2", "0". */
export function signedDifference(a: number, b: number): string {
  const difference = b - a;
  return difference > 0 ? `+${difference}` : difference < 0 ? `−${-difference}` : "0";
}

/**
 * The version to compare when the URL names none: the first that is not the active one (the endpoint lists them
 * by name), or null when only the active version is configured.
 */
export function firstComparable(versions: readonly { name: string; active: boolean }[]): string | null {
  return versions.find((version) => !version.active)?.name ?? null;
}
