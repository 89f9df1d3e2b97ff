import { useEffect } from "react";
import { Link, useRevalidator } from "react-router";
import { ClassLabel } from "../components/ClassLabel";
import { HourChart } from "../components/HourChart";
import { ImageCard } from "../components/ImageCard";
import { SourcePageLinks } from "../components/SourcePageLinks";
import { Stat } from "../components/Stat";
import { guard } from "../lib/http.server";
import { TIMELINE_HOURS, buildOverview, timelineRange } from "../lib/overview";
import { QueryEndpointError, type QueryImage, searchImages } from "../lib/query.server";
import { type SearchQuery, endpointParams, newSearch, searchString } from "../lib/search";
import { sourceString } from "../lib/sources";
import { loadRecentSummaries } from "../lib/summaries.server";
import { viewerPath } from "../lib/viewer-routes";
import type { Route } from "./+types/overview";

const LATEST_IMAGES = 12;
const TOP_CLASSES = 10;
const REFRESH_MS = 5_000;

export function meta() {
  return [{ title: "Overview · imgassets" }];
}

/**
 * The newest uploads of the timeline's hours, from the query endpoint. Without it the rest of the overview (read
 * from the summaries) still shows, with the reason in place of the images.
 */
async function latestImages(search: SearchQuery, signal: AbortSignal): Promise<{ images: QueryImage[]; error: string | null }> {
  try {
    return { images: (await searchImages(endpointParams(search, 1, LATEST_IMAGES), signal)).images, error: null };
  } catch (error) {
    if (error instanceof QueryEndpointError) return { images: [], error: error.message };
    throw error;
  }
}

export function loader({ request }: Route.LoaderArgs) {
  return guard(async () => {
    const overview = buildOverview(await loadRecentSummaries());
    const range = timelineRange(overview.hours);
    // Links to the search page cover the same hours as the page.
    const search = newSearch(range ?? {});
    const latest = range === null ? { images: [], error: null } : await latestImages(search, request.signal);
    return { ...overview, search, latest };
  });
}

/** Re-runs the loader every few seconds while the tab is visible, so new detections appear by themselves. */
function useAutoRefresh(intervalMs: number): void {
  const revalidator = useRevalidator();
  useEffect(() => {
    const timer = setInterval(() => {
      if (document.visibilityState === "visible" && revalidator.state === "idle") {
        void revalidator.revalidate();
      }
    }, intervalMs);
    return () => clearInterval(timer);
  }, [revalidator, intervalMs]);
}

function EmptyState() {
  return (
    <section className="empty" data-testid="empty-state">
      <h1>No images analysed yet</h1>
      <p>The pipeline has not written any hour summary to the bucket. To get started:</p>
      <ol>
        <li>
          Start the local stack (S3, Kafka, Dagster, this viewer): <code>imgassets stack up</code>
        </li>
        <li>
          Upload images or videos: <code>imgassets ingest PATH</code>
        </li>
      </ol>
      <p>This page refreshes by itself: hours appear here as soon as their summaries are written.</p>
    </section>
  );
}

export default function Overview({ loaderData }: Route.ComponentProps) {
  useAutoRefresh(REFRESH_MS);
  const { hours, totals, classes, sources, search, latest } = loaderData;
  const searchFor = (change: Partial<SearchQuery>) => viewerPath("search") + searchString(search, change);
  if (totals.hours === 0) return <EmptyState />;
  const summarized = hours.filter((hour) => hour.summarized).reverse();
  return (
    <>
      <h1>Overview</h1>
      <p className="muted">
        The newest {TIMELINE_HOURS} hours with data (UTC), from {hours[0].partition} to{" "}
        {hours[hours.length - 1].partition}. Updates every {REFRESH_MS / 1000} s.
      </p>
      <section className="stats" aria-label="Totals">
        <Stat name="hours" value={totals.hours} label="hours" />
        <Stat name="images" value={totals.images} label="images" />
        <Stat name="objects" value={totals.objects} label="objects" />
        <Stat name="rejected" value={totals.rejected} label="rejected" />
      </section>
      <section>
        <h2>Objects per hour</h2>
        <HourChart hours={hours} labels={classes.map((c) => c.label)} />
      </section>
      <div className="columns">
        <section>
          <h2>Top classes</h2>
          <table className="top-classes">
            <thead>
              <tr>
                <th>Class</th>
                <th>Objects</th>
                <th>Images</th>
              </tr>
            </thead>
            <tbody>
              {classes.slice(0, TOP_CLASSES).map((c) => (
                <tr key={c.label} data-label={c.label} data-objects={c.objects} data-images={c.images}>
                  <td>
                    <ClassLabel label={c.label}>
                      <Link
                        to={searchFor({ conditions: [{ label: c.label, count: "1" }] })}
                        title={`Search images with ${c.label}`}
                      >
                        {c.label}
                      </Link>
                    </ClassLabel>
                  </td>
                  <td>{c.objects}</td>
                  <td>{c.images}</td>
                </tr>
              ))}
            </tbody>
          </table>
          {sources.length > 0 && (
            <>
              <h2>Sources</h2>
              <table className="sources">
                <thead>
                  <tr>
                    <th>Source</th>
                    <th>Images</th>
                  </tr>
                </thead>
                <tbody>
                  {sources.map((s) => (
                    <tr key={s.source} data-source={s.source} data-images={s.images}>
                      <td>
                        <Link to={searchFor({ source: s.source })} title={`Search images from ${s.source}`}>
                          {s.source}
                        </Link>
                      </td>
                      <td>{s.images}</td>
                    </tr>
                  ))}
                </tbody>
              </table>
              {/* Each source's page over the overview's hours. */}
              <SourcePageLinks
                sources={sources.map((s) => s.source)}
                range={sourceString(search)}
                title={(source) => `Distinct objects, line crossings and zones of ${source}`}
                className="source-links"
              >
                Tracked objects, line crossings and zones:
              </SourcePageLinks>
            </>
          )}
        </section>
        <section>
          <h2>Hours</h2>
          <table className="hours">
            <thead>
              <tr>
                <th>Hour (UTC)</th>
                <th>Images</th>
                <th>Objects</th>
                <th>Rejected</th>
              </tr>
            </thead>
            <tbody>
              {summarized.map((hour) => (
                <tr key={hour.partition} data-partition={hour.partition}>
                  <td>
                    <Link to={viewerPath("hour", { partition: hour.partition })}>{hour.partition}</Link>
                  </td>
                  <td data-field="images">{hour.images}</td>
                  <td data-field="objects">{hour.objects}</td>
                  <td data-field="rejected">{hour.rejected}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </section>
      </div>
      <section>
        <h2>Latest uploads</h2>
        {latest.error !== null ? (
          <p className="search-error" role="alert">
            The latest uploads cannot be shown: {latest.error}
          </p>
        ) : (
          <div className="grid latest">
            {latest.images.map((image) => (
              <ImageCard key={image.image_key} image={image} />
            ))}
          </div>
        )}
        <p>
          <Link to={searchFor({})}>Search these hours ›</Link>
        </p>
      </section>
    </>
  );
}
