import { Form, Link, data, redirect } from "react-router";
import { FrameStrip } from "../components/FrameStrip";
import { LinesAndZones } from "../components/LinesAndZones";
import { RangeFields } from "../components/RangeFields";
import { HoursInRange, QueryRefusal, UnreadableHours } from "../components/RangeNotes";
import { SourceTimeline } from "../components/SourceTimeline";
import { Stat } from "../components/Stat";
import { config } from "../lib/config.server";
import { fail, guard } from "../lib/http.server";
import { QueryEndpointError, type SourceResponse, sourcePage } from "../lib/query.server";
import { HOURLY_PRESETS, type TimeRange, newSearch, readableMinute, searchString } from "../lib/search";
import {
  DEFAULT_SOURCE_LAST,
  captureTime,
  featureNames,
  formatDwell,
  hourRange,
  isCanonicalSource,
  isSourceName,
  lineCount,
  parseSourceRange,
  plural,
  shortTrackId,
  sourceString,
  timelineHours,
  zoneCount,
} from "../lib/sources";
import { shiftPartition } from "../lib/layout";
import { viewerPath } from "../lib/viewer-routes";
import type { Route } from "./+types/source";

/** The frame the lines and zones are drawn on when the source has none: a 16:9 blank. */
const BLANK = { width: 1600, height: 900 };

export function meta({ params }: Route.MetaArgs) {
  return [{ title: `Source ${params.name ?? ""} · imgassets` }];
}

export async function loader({ params, request }: Route.LoaderArgs) {
  const { name } = params;
  const url = new URL(request.url);
  const range = parseSourceRange(url.searchParams);
  const dagsterUrl = config().dagsterUrl;
  return guard(async () => {
    // Source names are path segments of the endpoint and keys of the bucket (imgassets/core/layout.py SOURCE_NAME).
    if (!isSourceName(name)) {
      fail(
        400,
        `${JSON.stringify(name)} is not a source name: 1 to 64 letters, digits and . _ : @ -, starting with a ` +
          "letter or digit.",
      );
    }
    // The form submits blank fields: the shareable URL is the canonical one.
    if (!isCanonicalSource(url.searchParams, range)) throw redirect(viewerPath("source", { name }) + sourceString(range));
    let found: SourceResponse;
    try {
      found = await sourcePage(name, range, request.signal);
    } catch (error) {
      if (!(error instanceof QueryEndpointError && error.status === 400)) throw error;
      // The endpoint's message says what is wrong: the range.
      return data({ name, range, dagsterUrl, error: error.message, result: null }, { status: 400 });
    }
    return { name, range, dagsterUrl, error: null, result: found };
  });
}

function RangeForm({ name, range, shown }: { name: string; range: TimeRange; shown: { from: string; to: string } | null }) {
  return (
    <Form method="get" action={viewerPath("source", { name })} className="filters compare-form source-form">
      <RangeFields
        legend="Tracked"
        range={range}
        shown={shown}
        presets={HOURLY_PRESETS}
        defaultLast={DEFAULT_SOURCE_LAST}
      />
      <fieldset className="more">
        <button type="submit" data-testid="source-submit">
          Show
        </button>
      </fieldset>
    </Form>
  );
}

/** A range without tracks of the source: why, and what makes them. */
function NoTracks({ name, result, dagsterUrl }: { name: string; result: SourceResponse; dagsterUrl: string }) {
  return (
    <section className="empty" data-testid="source-empty">
      <h2>
        No tracks of {name} between {readableMinute(result.from)} and {readableMinute(result.to)} UTC
      </h2>
      <p className="hint">
        Tracks appear here once the{" "}
        <a href={`${dagsterUrl}/assets/tracks`} target="_blank" rel="noreferrer">
          <code>tracks</code>
        </a>{" "}
        asset has run for an hour with frames of {name}: it follows the objects from frame to frame (hourly, after
        the hour&apos;s detection tables are written; older hours by materializing their partitions in Dagster). A
        source is named at ingest (<code>imgassets ingest --source {name} …</code>); its counting lines and zones are
        defined in <code>sources.toml</code>.
      </p>
      <p>
        <Link to={viewerPath("search") + searchString(newSearch({ source: name }))}>Search the images of {name} ›</Link>
      </p>
    </section>
  );
}

function Totals({ result }: { result: SourceResponse }) {
  const classes = Object.entries(result.unique_objects).sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]));
  const frames = result.hours.reduce((sum, hour) => sum + (hour.frames ?? 0), 0);
  const lines = featureNames(result.crossings, result.lines);
  const zones = featureNames(result.zones, result.zone_shapes);
  return (
    <>
      <section className="stats" aria-label="Distinct objects">
        <Stat name="frames" value={frames} label="tracked frames" testId="tracked-frames" />
        {classes.map(([label, count]) => (
          <Stat key={label} name={`unique-${label}`} value={count} label={label} testId={`unique-${label}`} />
        ))}
      </section>
      {lines.length + zones.length > 0 && (
        <section className="stats" aria-label="Lines and zones counts">
          {lines.map((line) => {
            const count = lineCount(result.crossings[line]);
            return (
              <Stat
                key={`line-${line}`}
                name={`crossing-${line}`}
                value={count.in + count.out}
                label={`line ${line}: crossings`}
                text={
                  <>
                    <span data-testid={`crossing-${line}-in`}>{count.in.toLocaleString("en-US")}</span>
                    <small> in · </small>
                    <span data-testid={`crossing-${line}-out`}>{count.out.toLocaleString("en-US")}</span>
                    <small> out</small>
                  </>
                }
              />
            );
          })}
          {zones.map((zone) => {
            const count = zoneCount(result.zones[zone]);
            return (
              <Stat
                key={`zone-${zone}`}
                name={`zone-${zone}`}
                value={count.visits}
                label={`zone ${zone}: visits · dwell time`}
                text={
                  <>
                    <span data-testid={`zone-${zone}-visits`}>{count.visits.toLocaleString("en-US")}</span>
                    <small> {count.visits === 1 ? "visit" : "visits"} · </small>
                    <span data-testid={`zone-${zone}-dwell`} data-seconds={count.dwell_s}>
                      {formatDwell(count.dwell_s)}
                    </span>
                  </>
                }
              />
            );
          })}
        </section>
      )}
      <p className="muted">
        A distinct object is one track: the same object followed from frame to frame, counted once however many frames
        it is in (also when it goes on into the next hour). A crossing is &quot;in&quot; when the object moves across
        the line the way of its arrow.
      </p>
    </>
  );
}

/** The range's latest crossings and zone visits, newest first; each opens the frame it happened in. */
function Events({ result }: { result: SourceResponse }) {
  if (result.events.length === 0) return <p className="muted">No line crossings or zone visits in this range.</p>;
  return (
    <>
      <p className="muted">
        The latest {plural(result.events.length, "event")} of {result.event_count.toLocaleString("en-US")} in the
        range, newest first (all of them: <code>imgassets query &quot;SELECT * FROM events WHERE source = …&quot;</code>).
      </p>
      <div className="table-scroll">
        <table className="source-events" data-testid="source-events" data-total={result.event_count}>
          <thead>
            <tr>
              <th scope="col">when (UTC)</th>
              <th scope="col">track</th>
              <th scope="col">class</th>
              <th scope="col">event</th>
              <th scope="col">frame</th>
            </tr>
          </thead>
          <tbody>
            {result.events.map((event) => (
              <tr
                key={`${event.happened_at}-${event.track_id}-${event.kind}-${event.name}`}
                data-kind={event.kind}
                data-name={event.name}
                data-direction={event.direction ?? ""}
              >
                <td>
                  {event.happened_at.slice(0, 10)} {captureTime(event.happened_at)}
                </td>
                <td title={event.track_id}>
                  <code>{shortTrackId(event.track_id)}</code>
                </td>
                <td>{event.label}</td>
                <td>
                  {event.kind === "crossing"
                    ? `crossed ${event.name} ${event.direction ?? ""}`
                    : `in ${event.name} for ${formatDwell(event.dwell_s ?? 0)}`}
                </td>
                <td>
                  <Link to={viewerPath("image", { key: event.image_key })}>open</Link>
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
    </>
  );
}

function Tracks({ name, result }: { name: string; result: SourceResponse }) {
  const hours = timelineHours(result.from, result.to, result.hours);
  const labels = Object.entries(result.unique_objects)
    .sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]))
    .map(([label]) => label);
  for (const hour of hours) for (const label of Object.keys(hour.unique)) if (!labels.includes(label)) labels.push(label);
  const lines = featureNames(result.crossings, result.lines);
  const latest = result.strip.at(-1);
  const drawn = Object.keys(result.lines).length + Object.keys(result.zone_shapes).length > 0;
  const hourLink = (partition: string) =>
    viewerPath("source", { name }) + sourceString(hourRange(partition, shiftPartition(partition, 1)));
  return (
    <div className="source-page">
      <Totals result={result} />

      <section>
        <h2>Timeline</h2>
        <SourceTimeline hours={hours} labels={labels} lines={lines} link={(hour) => hourLink(hour.partition)} />
      </section>

      <section aria-labelledby="lines-zones-title">
        <h2 id="lines-zones-title">Lines and zones</h2>
        {drawn ? (
          <p className="muted">
            As configured for {result.latest_partition ?? "the latest hour"}, drawn on its latest tracked frame
            {latest === undefined ? " (none: on a blank frame)" : ""}. An arrow points to a line&apos;s &quot;in&quot;
            side.
          </p>
        ) : (
          <p className="muted" data-testid="no-lines-zones">
            {name} has no counting lines or zones (they are defined per source in <code>sources.toml</code>): its
            objects are counted, not its crossings.
          </p>
        )}
        {(drawn || latest !== undefined) && (
          <div className="lines-zones-frame">
            <LinesAndZones
              src={latest === undefined ? null : viewerPath("media_original", { key: latest.image_key })}
              alt={`Lines and zones of ${name}`}
              width={latest?.width ?? BLANK.width}
              height={latest?.height ?? BLANK.height}
              lines={result.lines}
              zones={result.zone_shapes}
            />
          </div>
        )}
      </section>

      <section>
        <h2>Events</h2>
        <Events result={result} />
      </section>

      <section>
        <h2>
          Latest tracked frames
          {result.latest_partition !== null && <span className="muted"> · {result.latest_partition} UTC</span>}
        </h2>
        {result.strip.length === 0 ? (
          <p className="empty-grid">The latest hour&apos;s tracks could not be read.</p>
        ) : (
          <>
            <p className="muted">
              The last {plural(result.strip.length, "frame")} of the latest hour with tracks, oldest first: each box is
              captioned with its track&apos;s id (first 6 characters) and class; a frame opens its image.
            </p>
            <FrameStrip frames={result.strip} />
          </>
        )}
      </section>
    </div>
  );
}

export default function Source({ loaderData }: Route.ComponentProps) {
  const { name, range, result, error, dagsterUrl } = loaderData;
  return (
    <>
      <nav className="crumbs">
        <Link to={viewerPath("overview")}>Overview</Link> › <span>Sources</span> › <span>{name}</span>
        <span className="spacer" />
        <Link to={viewerPath("search") + searchString(newSearch({ source: name }))}>images of {name}</Link>
      </nav>
      <h1 data-testid="source-title">Source {name}</h1>
      {result !== null && result.version !== "" && (
        <p className="muted" data-testid="source-version">
          Detector version <b>{result.version}</b>
        </p>
      )}
      {/* Remounted per range, so the fields show the URL's range after every navigation. */}
      <RangeForm key={sourceString(range)} name={name} range={range} shown={result} />
      <QueryRefusal error={error} data-testid="source-error" />
      {result !== null && (
        <>
          <HoursInRange count={result.hours.length} what="with tracks" from={result.from} to={result.to} />
          <UnreadableHours
            hours={result.unreadable ?? []}
            document="track summary"
            asset="tracks"
            data-testid="source-unreadable"
          />
          {result.hours.length === 0 ? (
            <NoTracks name={name} result={result} dagsterUrl={dagsterUrl} />
          ) : (
            <Tracks name={name} result={result} />
          )}
        </>
      )}
    </>
  );
}
