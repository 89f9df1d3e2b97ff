import { Form, Link, redirect } from "react-router";
import { CountBadges, ImageCard, displayName } from "../components/ImageCard";
import { Pager } from "../components/Pager";
import { SourcePageLinks } from "../components/SourcePageLinks";
import { gridSearch, hourParams, pageCount, parseGridQuery } from "../lib/grid";
import { guard } from "../lib/http.server";
import { parsePartition, shiftPartition } from "../lib/layout";
import { hourImages } from "../lib/query.server";
import { hourRange, plural, sourceString } from "../lib/sources";
import { loadSummary } from "../lib/summaries.server";
import { viewerPath } from "../lib/viewer-routes";
import type { Route } from "./+types/hour";

const MAX_REJECTED_SHOWN = 200;

export function meta({ params }: Route.MetaArgs) {
  return [{ title: `${params.partition} · imgassets` }];
}

export function loader({ params, request }: Route.LoaderArgs) {
  return guard(async () => {
    const { partition } = params;
    parsePartition(partition);
    const query = parseGridQuery(new URL(request.url).searchParams);
    // The grid is one page of the hour's images, filtered and paged by the query endpoint; the rest of the page
    // comes from the hour's summary. Both are asked at once.
    const found = hourImages(partition, hourParams(query), request.signal);
    found.catch(() => {}); // awaited below, unless there is no summary
    const summary = await loadSummary(partition);
    const hour = { partition, previous: shiftPartition(partition, -1), next: shiftPartition(partition, 1) };
    if (summary === null) {
      // Not an error (the previous and next hour links lead to such hours): nothing of it is analysed (yet).
      return { kind: "empty" as const, ...hour };
    }
    const { total, images, sources } = await found;
    const pages = pageCount(total);
    if (images.length === 0 && query.page > pages) {
      // Past the last page: show the last one.
      throw redirect(viewerPath("hour", { partition }) + gridSearch(query, { page: pages }));
    }
    const page = { items: images, page: query.page, pageCount: pages, total };
    return {
      kind: "summarized" as const,
      ...hour,
      generatedAt: summary.generated_at,
      imageCount: summary.image_count,
      totalObjects: summary.total_objects,
      imagesWithoutObjects: summary.images_without_objects ?? 0,
      classCounts: summary.class_counts,
      imagesWithClass: summary.images_with_class,
      sources,
      sourceCounts: summary.source_counts ?? {},
      runs: summary.runs,
      runCount: summary.run_count ?? summary.runs.length,
      rejectedCount: summary.rejected_count,
      rejected: summary.rejected.slice(0, MAX_REJECTED_SHOWN),
      query: { ...query, page: page.page },
      page,
      // An hour the endpoint has no image of at all although its summary has some: its tables are not written
      // (yet: the detection_table asset runs next to the summary's; or the hour predates the tables).
      noTable: sources.length === 0 && summary.image_count > 0,
    };
  });
}

type HourData = Route.ComponentProps["loaderData"];

/** The way back to the overview, and on to the hours before and after (whether they have images or not). */
function HourCrumbs({ partition, previous, next }: Pick<HourData, "partition" | "previous" | "next">) {
  return (
    <nav className="crumbs">
      <Link to={viewerPath("overview")}>Overview</Link> › <span>{partition}</span>
      <span className="spacer" />
      <span className="steps">
        <Link to={viewerPath("hour", { partition: previous })} rel="prev">
          ‹ previous hour
        </Link>
        <Link to={viewerPath("hour", { partition: next })} rel="next">
          next hour ›
        </Link>
      </span>
    </nav>
  );
}

/** An hour without a summary: none of its images is analysed (yet), most often because it has none. */
function EmptyHour({ partition, next }: Pick<HourData, "partition" | "next">) {
  return (
    <section className="empty" data-testid="empty-hour">
      <p>
        <b>No images in this hour.</b> Nothing uploaded between {partition.slice(11)} and {next.slice(11)} UTC has
        been analysed.
      </p>
    </section>
  );
}

/** The hour's sources, each leading to its tracked objects in this hour (the chosen one's first). */
function HourSourceLinks({
  partition,
  next,
  sources,
  chosen,
}: {
  partition: string;
  next: string;
  sources: string[];
  chosen: string | null;
}) {
  return (
    <SourcePageLinks
      sources={[...sources].sort((a, b) => Number(b === chosen) - Number(a === chosen) || a.localeCompare(b))}
      range={sourceString(hourRange(partition, next))}
      title={(source) => `Distinct objects, line crossings and zones of ${source} in ${partition}`}
      className="source-links muted"
    >
      Tracked objects of this hour:
    </SourcePageLinks>
  );
}

/** A choice of the grid's filter: `any` (no filter) or one of `choices`, each with its number of images where known. */
function FilterSelect({
  label,
  name,
  any,
  chosen,
  choices,
  images,
}: {
  label: string;
  name: string;
  any: string;
  chosen: string | null;
  choices: readonly string[];
  images: (choice: string) => number | undefined;
}) {
  return (
    <label>
      {label}{" "}
      <select name={name} defaultValue={chosen ?? ""}>
        <option value="">{any}</option>
        {choices.map((choice) => {
          const count = images(choice);
          return (
            <option key={choice} value={choice}>
              {choice}
              {count !== undefined && ` (${count} images)`}
            </option>
          );
        })}
      </select>
    </label>
  );
}

function SummarizedHour({ loaderData }: { loaderData: Extract<HourData, { kind: "summarized" }> }) {
  const { partition, query, page, classCounts, imagesWithClass, rejected, rejectedCount, sourceCounts } = loaderData;
  const labels = Object.keys(classCounts).sort();
  if (query.label !== null && !labels.includes(query.label)) labels.push(query.label);
  const sources = [...loaderData.sources];
  if (query.source !== null && !sources.includes(query.source)) sources.push(query.source);
  const base = viewerPath("hour", { partition });
  return (
    <>
      <section className="stats" aria-label="Hour totals">
        <div className="stat" data-stat="images">
          <b>{loaderData.imageCount}</b>
          <span>images</span>
        </div>
        <div className="stat" data-stat="objects">
          <b>{loaderData.totalObjects}</b>
          <span>objects</span>
        </div>
        <div className="stat" data-stat="empty">
          <b>{loaderData.imagesWithoutObjects}</b>
          <span>with nothing detected</span>
        </div>
        <div className="stat" data-stat="rejected">
          <b>{rejectedCount}</b>
          <span>rejected</span>
        </div>
      </section>
      <CountBadges counts={classCounts} />
      <p className="muted">
        Summary generated {new Date(loaderData.generatedAt).toISOString()} from {plural(loaderData.runCount, "run")}
        {loaderData.runCount > loaderData.runs.length ? ` (the latest: ${loaderData.runs.join(", ")})` : ` (${loaderData.runs.join(", ")})`}.
      </p>

      <Form method="get" className="filters" key={gridSearch(query, { page: 1 })}>
        <FilterSelect
          label="Class"
          name="class"
          any="any class"
          chosen={query.label}
          choices={labels}
          images={(label) => imagesWithClass[label] ?? 0}
        />
        <label>
          at least <input type="number" name="min" min={0} defaultValue={query.min} /> of it
        </label>
        <FilterSelect
          label="Source"
          name="source"
          any="any source"
          chosen={query.source}
          choices={sources}
          images={(source) => sourceCounts[source]}
        />
        <button type="submit">Filter</button>
        {(query.label !== null || query.min > 0 || query.source !== null) && <Link to={base}>clear</Link>}
        {query.label === null && query.min > 0 && (
          <span className="muted">the minimum count applies to a chosen class</span>
        )}
      </Form>

      <HourSourceLinks partition={partition} next={loaderData.next} sources={sources} chosen={query.source} />

      {!loaderData.noTable && (
        <p className="result-count" data-total={page.total}>
          {page.total} of {loaderData.imageCount} images match
          {page.pageCount > 1 && ` · page ${page.page} of ${page.pageCount}`}
        </p>
      )}
      {loaderData.noTable ? (
        <p className="empty-grid no-table">
          The images of this hour cannot be listed: its tables have not been written (yet). They appear here once
          the detection_table asset has run for {partition} (materialize that partition in Dagster).
        </p>
      ) : page.total === 0 ? (
        <p className="empty-grid">No image of this hour matches the filter.</p>
      ) : (
        <div className="grid">
          {page.items.map((image) => (
            <ImageCard key={image.image_key} image={image} />
          ))}
        </div>
      )}
      <Pager page={page.page} pageCount={page.pageCount} href={(n) => base + gridSearch(query, { page: n })} />

      {rejectedCount > 0 && (
        <section className="rejected">
          <h2>Rejected images ({rejectedCount})</h2>
          <div className="table-scroll">
            <table>
              <thead>
                <tr>
                  <th>Image</th>
                  <th>Reason</th>
                </tr>
              </thead>
              <tbody>
                {rejected.map((item) => (
                  <tr key={item.image_key} data-image-key={item.image_key}>
                    <td>
                      <Link to={viewerPath("image", { key: item.image_key })} title={item.image_key}>
                        {displayName(item.image_key)}
                      </Link>
                    </td>
                    <td className="reason">{item.reason}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
          {rejectedCount > rejected.length && <p className="muted">… and {rejectedCount - rejected.length} more.</p>}
        </section>
      )}
    </>
  );
}

export default function Hour({ loaderData }: Route.ComponentProps) {
  return (
    <>
      <HourCrumbs partition={loaderData.partition} previous={loaderData.previous} next={loaderData.next} />
      <h1>Hour {loaderData.partition} UTC</h1>
      {loaderData.kind === "summarized" ? (
        <SummarizedHour loaderData={loaderData} />
      ) : (
        <EmptyHour partition={loaderData.partition} next={loaderData.next} />
      )}
    </>
  );
}
