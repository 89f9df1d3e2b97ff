import { Form, Link, redirect } from "react-router";
import { CountBadges, ImageCard, displayName } from "../components/ImageCard";
import { Pager } from "../components/Pager";
import { gridSearch, hourParams, pageCount, parseGridQuery } from "../lib/grid";
import { fail, guard } from "../lib/http.server";
import { parsePartition, shiftPartition } from "../lib/layout";
import { hourImages } from "../lib/query.server";
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
    if (summary === null) {
      fail(404, `No summary for the hour ${partition} (yet): nothing was analysed in that hour.`);
    }
    const { total, images, sources } = await found;
    const pages = pageCount(total);
    if (images.length === 0 && query.page > pages) {
      // Past the last page: show the last one.
      throw redirect(viewerPath("hour", { partition }) + gridSearch(query, { page: pages }));
    }
    const page = { items: images, page: query.page, pageCount: pages, total };
    return {
      partition,
      generatedAt: summary.generated_at,
      imageCount: summary.image_count,
      totalObjects: summary.total_objects,
      imagesWithoutObjects: summary.images_without_objects ?? 0,
      classCounts: summary.class_counts,
      imagesWithClass: summary.images_with_class,
      sources,
      sourceCounts: summary.source_counts ?? {},
      runs: summary.runs,
      rejectedCount: summary.rejected_count,
      rejected: summary.rejected.slice(0, MAX_REJECTED_SHOWN),
      query: { ...query, page: page.page },
      page,
      // An hour the endpoint has no image of at all although its summary has some: its tables are not written
      // (yet: the detection_table asset runs next to the summary's; or the hour predates the tables).
      noTable: sources.length === 0 && summary.image_count > 0,
      previous: shiftPartition(partition, -1),
      next: shiftPartition(partition, 1),
    };
  });
}

export default function Hour({ loaderData }: Route.ComponentProps) {
  const { partition, query, page, classCounts, imagesWithClass, rejected, rejectedCount, sourceCounts } = loaderData;
  const labels = Object.keys(classCounts).sort();
  if (query.label !== null && !labels.includes(query.label)) labels.push(query.label);
  const sources = [...loaderData.sources];
  if (query.source !== null && !sources.includes(query.source)) sources.push(query.source);
  const base = viewerPath("hour", { partition });
  return (
    <>
      <nav className="crumbs">
        <Link to={viewerPath("overview")}>Overview</Link> › <span>{partition}</span>
        <span className="spacer" />
        <Link to={viewerPath("hour", { partition: loaderData.previous })}>‹ previous hour</Link>
        <Link to={viewerPath("hour", { partition: loaderData.next })}>next hour ›</Link>
      </nav>
      <h1>Hour {partition} UTC</h1>
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
        Summary generated {new Date(loaderData.generatedAt).toISOString()} from run(s) {loaderData.runs.join(", ")}.
      </p>

      <Form method="get" className="filters" key={gridSearch(query, { page: 1 })}>
        <label>
          Class{" "}
          <select name="class" defaultValue={query.label ?? ""}>
            <option value="">any class</option>
            {labels.map((label) => (
              <option key={label} value={label}>
                {label} ({imagesWithClass[label] ?? 0} images)
              </option>
            ))}
          </select>
        </label>
        <label>
          at least <input type="number" name="min" min={0} defaultValue={query.min} /> of it
        </label>
        <label>
          Source{" "}
          <select name="source" defaultValue={query.source ?? ""}>
            <option value="">any source</option>
            {sources.map((source) => (
              <option key={source} value={source}>
                {source}
                {sourceCounts[source] !== undefined && ` (${sourceCounts[source]} images)`}
              </option>
            ))}
          </select>
        </label>
        <button type="submit">Filter</button>
        {(query.label !== null || query.min > 0 || query.source !== null) && <Link to={base}>clear</Link>}
        {query.label === null && query.min > 0 && (
          <span className="muted">the minimum count applies to a chosen class</span>
        )}
      </Form>

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
          {rejectedCount > rejected.length && <p className="muted">… and {rejectedCount - rejected.length} more.</p>}
        </section>
      )}
    </>
  );
}
