import { useState } from "react";
import { Form, Link, data, redirect } from "react-router";
import { ImageCard } from "../components/ImageCard";
import { Pager } from "../components/Pager";
import { RangeFields } from "../components/RangeFields";
import { QueryRefusal } from "../components/RangeNotes";
import { SearchChart } from "../components/SearchChart";
import { COCO_CLASSES } from "../lib/classes";
import { PAGE_SIZE, pageCount } from "../lib/grid";
import { guard } from "../lib/http.server";
import { classTotals, sourceTotals } from "../lib/overview";
import { QueryEndpointError, type SearchResponse, searchImages } from "../lib/query.server";
import { StorageError } from "../lib/s3.server";
import {
  type Condition,
  DEFAULT_LAST,
  RANGE_PRESETS,
  type SearchQuery,
  chartBars,
  downloadString,
  endpointParams,
  isCanonical,
  parseSearchQuery,
  readableMinute,
  searchString,
} from "../lib/search";
import { loadRecentSummaries } from "../lib/summaries.server";
import { viewerPath } from "../lib/viewer-routes";
import type { Route } from "./+types/search";

export function meta() {
  return [{ title: "Search · imgassets" }];
}

/** Labels and sources of the recent hour summaries, for the form's suggestions (none when they cannot be read). */
async function suggestions(): Promise<{ labels: string[]; sources: string[] }> {
  try {
    const summaries = await loadRecentSummaries();
    return {
      labels: classTotals(summaries).map((c) => c.label),
      sources: sourceTotals(summaries).map((s) => s.source),
    };
  } catch (error) {
    // S3 errors are logged where they happen; the search itself does not need the summaries.
    if (!(error instanceof StorageError)) console.error("search suggestions:", error);
    return { labels: [], sources: [] };
  }
}

export async function loader({ request }: Route.LoaderArgs) {
  const url = new URL(request.url);
  const query = parseSearchQuery(url.searchParams);
  // The form submits rows (label, count) and blank fields: the shareable URL is the canonical one.
  if (!isCanonical(url.searchParams, query)) throw redirect(viewerPath("search") + searchString(query));
  return guard(async () => {
    const known = suggestions();
    let found: SearchResponse;
    try {
      found = await searchImages(endpointParams(query), request.signal);
    } catch (error) {
      if (!(error instanceof QueryEndpointError && error.status === 400)) throw error;
      // The endpoint's message says what is wrong with the search (a condition, the range, the confidence).
      return data({ query, ...(await known), error: error.message, result: null }, { status: 400 });
    }
    const pages = pageCount(found.total, PAGE_SIZE);
    if (found.images.length === 0 && query.page > pages) {
      throw redirect(viewerPath("search") + searchString(query, { page: pages }));
    }
    return {
      query,
      ...(await known),
      error: null,
      result: {
        from: found.from,
        to: found.to,
        bucket: found.bucket,
        total: found.total,
        page: query.page,
        pageCount: pages,
        images: found.images,
        bars: chartBars(found.from, found.to, found.bucket, found.histogram),
      },
    };
  });
}

interface Row extends Condition {
  id: number;
}

/** Class conditions as rows: "at least N <class>", AND-ed; rows are added and removed in the browser. */
function ConditionRows({ initial }: { initial: Condition[] }) {
  const [rows, setRows] = useState<Row[]>(() =>
    (initial.length > 0 ? initial : [{ label: "", count: "1" }]).map((condition, id) => ({ ...condition, id })),
  );
  const [nextId, setNextId] = useState(rows.length);
  const add = () => {
    setRows([...rows, { id: nextId, label: "", count: "1" }]);
    setNextId(nextId + 1);
  };
  const remove = (id: number) => {
    const kept = rows.filter((row) => row.id !== id);
    if (kept.length === 0) {
      kept.push({ id: nextId, label: "", count: "1" });
      setNextId(nextId + 1);
    }
    setRows(kept);
  };
  return (
    <fieldset className="conditions">
      <legend>Classes (all must match)</legend>
      {rows.map((row, index) => (
        <div className="condition" key={row.id}>
          {index > 0 && <span className="and">AND</span>}
          <label>
            at least{" "}
            <input type="number" name="count" min={1} step={1} defaultValue={row.count} aria-label="minimum count" />
          </label>
          <input
            type="text"
            name="label"
            list="search-classes"
            defaultValue={row.label}
            placeholder="class, e.g. person"
            aria-label="class"
            autoComplete="off"
          />
          <button type="button" className="remove" onClick={() => remove(row.id)} aria-label="Remove this condition">
            ×
          </button>
        </div>
      ))}
      <button type="button" className="add" onClick={add}>
        + AND class
      </button>
    </fieldset>
  );
}

function SearchForm({
  query,
  range,
  labels,
  sources,
}: {
  query: SearchQuery;
  /** the range the endpoint searched, to prefill the custom range */
  range: { from: string; to: string } | null;
  labels: string[];
  sources: string[];
}) {
  return (
    <Form method="get" action={viewerPath("search")} className="filters search-form">
      <RangeFields legend="Uploaded" range={query} shown={range} presets={RANGE_PRESETS} defaultLast={DEFAULT_LAST} />
      <ConditionRows initial={query.conditions} />
      <fieldset className="more">
        <label>
          Min. confidence{" "}
          <input
            type="number"
            name="min_confidence"
            min={0}
            max={1}
            step="any"
            placeholder="0"
            defaultValue={query.minConfidence ?? ""}
          />
        </label>
        <label>
          Source{" "}
          <input
            type="text"
            name="source"
            list="search-sources"
            placeholder="any source"
            defaultValue={query.source ?? ""}
            autoComplete="off"
          />
        </label>
        <button type="submit">Search</button>
        <Link to={viewerPath("search")}>clear</Link>
      </fieldset>
      <datalist id="search-classes">
        {labels.map((label) => (
          <option key={label} value={label} />
        ))}
      </datalist>
      <datalist id="search-sources">
        {sources.map((source) => (
          <option key={source} value={source} />
        ))}
      </datalist>
    </Form>
  );
}

export default function Search({ loaderData }: Route.ComponentProps) {
  const { query, result, error } = loaderData;
  const base = viewerPath("search");
  const labels = [
    ...new Set([
      ...query.conditions.map((c) => c.label).filter(Boolean),
      ...loaderData.labels,
      ...(result?.images.flatMap((image) => Object.keys(image.counts)) ?? []),
      ...COCO_CLASSES,
    ]),
  ];
  return (
    <>
      <nav className="crumbs">
        <Link to={viewerPath("overview")}>Overview</Link> › <span>Search</span>
      </nav>
      <h1>Search images</h1>
      {/* Remounted per search, so the fields show the URL's query after every navigation. */}
      <SearchForm
        key={searchString(query)}
        query={query}
        range={result}
        labels={labels}
        sources={loaderData.sources}
      />
      <QueryRefusal error={error} />
      {result !== null && (
        <>
          <p className="result-total" data-total={result.total} data-page={result.page}>
            <b>{result.total.toLocaleString("en-US")}</b> matching image{result.total === 1 ? "" : "s"}
            <span className="muted">
              {" "}
              uploaded from {readableMinute(result.from)} to {readableMinute(result.to)} UTC
              {result.pageCount > 1 && ` · page ${result.page} of ${result.pageCount}`}
            </span>
          </p>
          <p className="downloads">
            Every match:{" "}
            <a href={viewerPath("search_download", { format: "csv" }) + downloadString(query)} download data-download="csv">
              Download CSV
            </a>{" "}
            ·{" "}
            <a
              href={viewerPath("search_download", { format: "parquet" }) + downloadString(query)}
              download
              data-download="parquet"
            >
              Download Parquet
            </a>
          </p>
          <SearchChart
            bars={result.bars}
            bucket={result.bucket}
            link={(bar) => base + searchString(query, { last: null, from: bar.start, to: bar.end, page: 1 })}
          />
          {result.total === 0 ? (
            <p className="empty-grid">No image matches this search.</p>
          ) : (
            <div className="grid">
              {result.images.map((image) => (
                <ImageCard key={image.image_key} image={image} />
              ))}
            </div>
          )}
          <Pager
            page={result.page}
            pageCount={result.pageCount}
            href={(n) => base + searchString(query, { page: n })}
          />
        </>
      )}
    </>
  );
}
