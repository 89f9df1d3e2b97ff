/**
 * An hour page's image grid query: `?class=person&min=3&source=cam-1&page=2` in the viewer's URL, pushed down to
 * the query endpoint's /hours/{partition} (which filters and pages). Pure: unit-tested.
 */

export const PAGE_SIZE = 48;

export interface GridQuery {
  /** only images with this class (null: any) */
  label: string | null;
  /** at least this many objects of `label` (the endpoint counts at least 1 with a class; ignored without one) */
  min: number;
  /** only images of this source (camera, site; null: any) */
  source: string | null;
  page: number;
}

function nonNegativeInt(value: string | null, fallback: number): number {
  const parsed = value === null || value.trim() === "" ? NaN : Number(value);
  return Number.isSafeInteger(parsed) && parsed >= 0 ? parsed : fallback;
}

/** `?class=person&min=3&source=cam-1&page=2`; unknown values fall back to defaults instead of failing. */
export function parseGridQuery(params: URLSearchParams): GridQuery {
  return {
    label: params.get("class")?.trim() || null,
    min: nonNegativeInt(params.get("min"), 0),
    source: params.get("source")?.trim() || null,
    page: Math.max(1, nonNegativeInt(params.get("page"), 1)),
  };
}

/** The query string for `query` with some fields changed (defaults omitted for clean URLs). */
export function gridSearch(query: GridQuery, change: Partial<GridQuery> = {}): string {
  const next = { ...query, ...change };
  const params = new URLSearchParams();
  if (next.label !== null) params.set("class", next.label);
  if (next.min > 0) params.set("min", String(next.min));
  if (next.source !== null) params.set("source", next.source);
  if (next.page > 1) params.set("page", String(next.page));
  const search = params.toString();
  return search === "" ? "" : `?${search}`;
}

/** The query endpoint's parameters for page `page` of `query` (GET /hours/{partition}). */
export function hourParams(query: GridQuery, page = query.page, size = PAGE_SIZE): URLSearchParams {
  const params = new URLSearchParams();
  if (query.label !== null) {
    params.set("class", query.label);
    params.set("min", String(Math.max(1, query.min)));
  }
  if (query.source !== null) params.set("source", query.source);
  params.set("page", String(page));
  params.set("page_size", String(size));
  return params;
}

/** Pages needed for `total` items (at least one, empty). */
export function pageCount(total: number, size = PAGE_SIZE): number {
  return Math.max(1, Math.ceil(total / size));
}
