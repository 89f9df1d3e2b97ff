/** Filtering and pagination of an hour's image grid, all from the one summary JSON (pure: unit-tested). */
import type { ImageResult } from "./records";

export const PAGE_SIZE = 48;

export interface GridQuery {
  /** only images with this class (null: any) */
  label: string | null;
  /** minimum objects of `label` (or of any class when label is null) */
  min: number;
  page: number;
}

function nonNegativeInt(value: string | null, fallback: number): number {
  const parsed = value === null || value.trim() === "" ? NaN : Number(value);
  return Number.isSafeInteger(parsed) && parsed >= 0 ? parsed : fallback;
}

/** `?class=person&min=3&page=2`; unknown values fall back to defaults instead of failing. */
export function parseGridQuery(params: URLSearchParams): GridQuery {
  const label = params.get("class")?.trim() || null;
  return {
    label,
    min: nonNegativeInt(params.get("min"), 0),
    page: Math.max(1, nonNegativeInt(params.get("page"), 1)),
  };
}

export function filterImages(images: ImageResult[], { label, min }: GridQuery): ImageResult[] {
  if (label === null) {
    return min === 0 ? images : images.filter((image) => image.objects >= min);
  }
  const atLeast = Math.max(1, min);
  return images.filter((image) => (image.counts[label] ?? 0) >= atLeast);
}

export interface Page<T> {
  items: T[];
  page: number;
  pageCount: number;
  total: number;
}

/** One page of `items` (`page` clamped into range: past the end shows the last page). */
export function paginate<T>(items: T[], page: number, size = PAGE_SIZE): Page<T> {
  const pageCount = Math.max(1, Math.ceil(items.length / size));
  const current = Math.min(Math.max(1, page), pageCount);
  return { items: items.slice((current - 1) * size, current * size), page: current, pageCount, total: items.length };
}

/** The query string for `query` with some fields changed (defaults omitted for clean URLs). */
export function gridSearch(query: GridQuery, change: Partial<GridQuery> = {}): string {
  const next = { ...query, ...change };
  const params = new URLSearchParams();
  if (next.label !== null) params.set("class", next.label);
  if (next.min > 0) params.set("min", String(next.min));
  if (next.page > 1) params.set("page", String(next.page));
  const search = params.toString();
  return search === "" ? "" : `?${search}`;
}
