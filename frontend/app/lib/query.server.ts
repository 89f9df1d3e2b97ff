/**
 * The server's client of the query endpoint (`imgassets serve-queries`, imgassets/reading/server.py): DuckDB over
 * the hours' Parquet tables in S3, for the search page, its downloads, the hour grids and the overview's latest
 * images; the detector versions' comparisons (imgassets/reading/compare_pages.py), for the compare pages; and a source's
 * tracked objects (imgassets/reading/source_pages.py), for the source pages. Only this server calls it
 * (IMGASSETS_QUERY_URL); the browser never does.
 *
 * Every call sends `Authorization: Bearer <IMGASSETS_QUERY_TOKEN>`: the endpoint answers nobody else.
 *
 * Failures become a `QueryEndpointError`: 400 when the endpoint refused the request (its message is meant for the
 * user, e.g. "a class condition is label:count with count >= 1…"), 503 when it is down, slow, cannot read the
 * tables or refuses this server's token. `guard` (http.server.ts) turns it into the route's error response.
 */
import { config } from "./config.server";
import type {
  ComparePage,
  HourPage,
  ImageComparison,
  ImageRow,
  SearchPage,
  SourcePage,
  VersionInfo,
  VersionList,
} from "./records.generated";
import type { TimeRange } from "./search";
import { sourceParams } from "./sources";
import { encodeSplat } from "./viewer-routes";

// The endpoint's answers are part of the contract (imgassets/reading/search.py → contract/records.schema.json →
// records.generated.ts): the same names on both sides.
/** One image as the endpoint lists it; fits `ImageCard`. */
export type QueryImage = ImageRow;
/** GET /search */
export type SearchResponse = SearchPage;
/** GET /hours/{partition} */
export type HourResponse = HourPage;
/** GET /versions/{version}/compare */
export type CompareResponse = ComparePage;
/** GET /versions/{version}/images/{image key} */
export type ImageCompareResponse = ImageComparison;
/** One detector version: its name, what it changes (`detector`), whether it is the active one. */
export type DetectorVersion = VersionInfo;
/** GET /versions: every detector version, by name, and the active one's name. */
export type VersionsResponse = VersionList;
/** GET /sources/{name} */
export type SourceResponse = SourcePage;

export type DownloadFormat = "csv" | "parquet";
export const DOWNLOAD_FORMATS: readonly DownloadFormat[] = ["csv", "parquet"];

export class QueryEndpointError extends Error {
  override name = "QueryEndpointError";

  constructor(
    /** 400: the request was refused (message for the user); 503: the endpoint is unavailable */
    readonly status: 400 | 503,
    message: string,
  ) {
    super(message);
  }
}

/** Until the JSON answer has been read. */
const JSON_TIMEOUT_MS = 20_000;
/** Until a download's headers arrive (the endpoint builds the whole file first); its body then streams freely. */
const DOWNLOAD_TIMEOUT_MS = 120_000;

function reason(error: unknown): string {
  const cause = (
    error as { cause?: { code?: unknown; message?: unknown } } | undefined
  )?.cause;
  if (typeof cause?.code === "string") return cause.code;
  if (typeof cause?.message === "string") return cause.message;
  return error instanceof Error ? error.message : String(error);
}

async function errorText(response: Response): Promise<string | undefined> {
  try {
    const body: unknown = await response.json();
    const message = (body as { error?: unknown } | null)?.error;
    return typeof message === "string" && message.trim() !== ""
      ? message
      : undefined;
  } catch {
    return undefined;
  }
}

interface Call {
  response: Response;
  /** ends the timeout: once the body has been read (JSON) or once the headers are in (downloads) */
  done: () => void;
}

/**
 * GET `path` with `params`. `signal` is the viewer's request: when its client goes away the call is abandoned.
 * Resolves only for a 2xx answer.
 */
async function call(
  path: string,
  params: URLSearchParams,
  timeoutMs: number,
  signal?: AbortSignal,
): Promise<Call> {
  const { queryUrl: base, queryToken } = config();
  const query = params.toString();
  const url = `${base}${path}${query === "" ? "" : `?${query}`}`;
  const controller = new AbortController();
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    controller.abort(new Error(`no answer within ${timeoutMs / 1000} s`));
  }, timeoutMs);
  const onAbort = () => controller.abort(signal?.reason);
  signal?.addEventListener("abort", onAbort, { once: true });
  const done = () => {
    clearTimeout(timer);
    signal?.removeEventListener("abort", onAbort);
  };
  let response: Response;
  try {
    response = await fetch(url, {
      signal: controller.signal,
      headers: {
        Accept: "application/json, */*",
        ...(queryToken === undefined ? {} : { Authorization: `Bearer ${queryToken}` }),
      },
    });
  } catch (error) {
    done();
    if (signal?.aborted) throw error;
    const why = timedOut
      ? `did not answer within ${timeoutMs / 1000} s`
      : `cannot be reached (${reason(error)})`;
    console.error(`query endpoint: GET ${url}: ${why}`);
    throw new QueryEndpointError(503, `The query endpoint (${base}) ${why}.`);
  }
  if (response.ok) return { response, done };
  const message = await errorText(response);
  done();
  if (response.status === 400) {
    throw new QueryEndpointError(
      400,
      message ?? "The query endpoint refused the request.",
    );
  }
  console.error(
    `query endpoint: GET ${url}: ${response.status} ${message ?? ""}`,
  );
  if (response.status === 401 || response.status === 403) {
    throw new QueryEndpointError(
      503,
      queryToken === undefined
        ? `The query endpoint (${base}) refused this viewer: IMGASSETS_QUERY_TOKEN is not set for the viewer.`
        : `The query endpoint (${base}) refused this viewer's token: the viewer and the query endpoint need the ` +
            "same IMGASSETS_QUERY_TOKEN.",
    );
  }
  throw new QueryEndpointError(
    503,
    `The query endpoint (${base}) answered ${response.status}${message ? `: ${message}` : ""}.`,
  );
}

async function getJson<T>(
  path: string,
  params: URLSearchParams,
  signal?: AbortSignal,
): Promise<T> {
  const { response, done } = await call(path, params, JSON_TIMEOUT_MS, signal);
  try {
    if (!(response.headers.get("Content-Type") ?? "").includes("json")) {
      throw new Error(
        `not JSON but ${response.headers.get("Content-Type") ?? "no Content-Type"}`,
      );
    }
    return (await response.json()) as T;
  } catch (error) {
    if (signal?.aborted) throw error;
    console.error(
      `query endpoint: GET ${path}: unreadable answer: ${reason(error)}`,
    );
    throw new QueryEndpointError(
      503,
      `The query endpoint (${config().queryUrl}) gave an unreadable answer.`,
    );
  } finally {
    done();
  }
}

/** One page of the images matching `params` (last/from/to, class, min_confidence, source, page, page_size). */
export function searchImages(
  params: URLSearchParams,
  signal?: AbortSignal,
): Promise<SearchResponse> {
  return getJson<SearchResponse>("/search", params, signal);
}

/** One page of one hour's images (`params`: class, min, source, page, page_size). */
export function hourImages(
  partition: string,
  params: URLSearchParams,
  signal?: AbortSignal,
): Promise<HourResponse> {
  return getJson<HourResponse>(
    `/hours/${encodeURIComponent(partition)}`,
    params,
    signal,
  );
}

/** Every detector version (GET /versions), for the compare page's chooser. */
export function listVersions(signal?: AbortSignal): Promise<VersionsResponse> {
  return getJson<VersionsResponse>("/versions", new URLSearchParams(), signal);
}

/**
 * `version` (B) against the active version (A) over a range of hours (`params`: last/from/to, sort, page,
 * page_size): totals, classes, one entry per hour compared, and one page of the images where they disagree.
 */
export function compareVersions(
  version: string,
  params: URLSearchParams,
  signal?: AbortSignal,
): Promise<CompareResponse> {
  return getJson<CompareResponse>(
    `/versions/${encodeURIComponent(version)}/compare`,
    params,
    signal,
  );
}

/** Both versions' detections of one image (`key`: images/2026/11/25/04/5a9522051c3c-dog.jpg). */
export function compareImage(
  version: string,
  key: string,
  signal?: AbortSignal,
): Promise<ImageCompareResponse> {
  return getJson<ImageCompareResponse>(
    `/versions/${encodeURIComponent(version)}/images/${encodeSplat(key)}`,
    new URLSearchParams(),
    signal,
  );
}

/**
 * One source's (camera's) tracked objects over `range` (the endpoint's default when none: the last 24 hours):
 * its counts hour by hour and in total, its latest hour's lines, zones and last tracked frames.
 */
export function sourcePage(name: string, range: TimeRange, signal?: AbortSignal): Promise<SourceResponse> {
  return getJson<SourceResponse>(`/sources/${encodeURIComponent(name)}`, sourceParams(range), signal);
}

/** Every image matching `params` as a file: the endpoint's answer, streamed, with its type and file name. */
export async function downloadMatches(
  format: DownloadFormat,
  params: URLSearchParams,
  signal?: AbortSignal,
): Promise<Response> {
  const { response, done } = await call(
    `/search.${format}`,
    params,
    DOWNLOAD_TIMEOUT_MS,
    signal,
  );
  done();
  const headers = new Headers({
    "Cache-Control": "no-store",
    "X-Content-Type-Options": "nosniff",
  });
  for (const name of [
    "Content-Type",
    "Content-Disposition",
    "Content-Length",
  ]) {
    const value = response.headers.get(name);
    // fetch decodes a compressed body: its Content-Length would be the compressed one.
    if (
      value !== null &&
      !(name === "Content-Length" && response.headers.has("Content-Encoding"))
    ) {
      headers.set(name, value);
    }
  }
  return new Response(response.body, { status: 200, headers });
}
