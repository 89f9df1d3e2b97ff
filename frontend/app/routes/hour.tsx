import { Form, Link } from "react-router";
import { CountBadges, ImageCard, displayName } from "../components/ImageCard";
import { filterImages, gridSearch, paginate, parseGridQuery } from "../lib/grid";
import { fail, guard } from "../lib/http.server";
import { parsePartition, shiftPartition } from "../lib/layout";
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
    const summary = await loadSummary(partition);
    if (summary === null) {
      fail(404, `No summary for the hour ${partition} (yet): nothing was analysed in that hour.`);
    }
    const query = parseGridQuery(new URL(request.url).searchParams);
    const page = paginate(filterImages(summary.images, query), query.page);
    return {
      partition,
      generatedAt: summary.generated_at,
      imageCount: summary.image_count,
      totalObjects: summary.total_objects,
      imagesWithoutObjects: summary.images_without_objects ?? 0,
      classCounts: summary.class_counts,
      imagesWithClass: summary.images_with_class,
      runs: summary.runs,
      rejectedCount: summary.rejected_count,
      rejected: summary.rejected.slice(0, MAX_REJECTED_SHOWN),
      query: { ...query, page: page.page },
      page,
      previous: shiftPartition(partition, -1),
      next: shiftPartition(partition, 1),
    };
  });
}

export default function Hour({ loaderData }: Route.ComponentProps) {
  const { partition, query, page, classCounts, imagesWithClass, rejected, rejectedCount } = loaderData;
  const labels = Object.keys(classCounts).sort();
  if (query.label !== null && !labels.includes(query.label)) labels.push(query.label);
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

      <Form method="get" className="filters" key={`${query.label}-${query.min}`}>
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
          Min. objects <input type="number" name="min" min={0} defaultValue={query.min} />
        </label>
        <button type="submit">Filter</button>
        {(query.label !== null || query.min > 0) && <Link to={base}>clear</Link>}
      </Form>

      <p className="result-count" data-total={page.total}>
        {page.total} of {loaderData.imageCount} images match
        {page.pageCount > 1 && ` · page ${page.page} of ${page.pageCount}`}
      </p>
      {page.total === 0 ? (
        <p className="empty-grid">No image of this hour matches the filter.</p>
      ) : (
        <div className="grid">
          {page.items.map((image) => (
            <ImageCard key={image.image_key} image={image} />
          ))}
        </div>
      )}
      {page.pageCount > 1 && (
        <nav className="pager" aria-label="Pages">
          {page.page > 1 ? (
            <Link to={base + gridSearch(query, { page: page.page - 1 })} rel="prev">
              ‹ previous
            </Link>
          ) : (
            <span />
          )}
          <span>
            page {page.page} of {page.pageCount}
          </span>
          {page.page < page.pageCount ? (
            <Link to={base + gridSearch(query, { page: page.page + 1 })} rel="next">
              next ›
            </Link>
          ) : (
            <span />
          )}
        </nav>
      )}

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
