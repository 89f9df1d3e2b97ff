import { Form, Link, data, redirect } from "react-router";
import { ClassLabel } from "../components/ClassLabel";
import { CompareChart } from "../components/CompareChart";
import { displayName } from "../components/ImageCard";
import { Pager } from "../components/Pager";
import { RangeFields } from "../components/RangeFields";
import { HoursInRange, QueryRefusal, UnreadableHours } from "../components/RangeNotes";
import { Stat } from "../components/Stat";
import {
  type CompareQuery,
  type CompareSort,
  DEFAULT_COMPARE_LAST,
  DEFAULT_SORT,
  compareImageString,
  compareParams,
  compareString,
  firstComparable,
  isCanonicalComparison,
  isVersionName,
  parseCompareQuery,
  percent,
  signedDifference,
} from "../lib/compare";
import { config } from "../lib/config.server";
import { pageCount } from "../lib/grid";
import { guard } from "../lib/http.server";
import {
  type CompareResponse,
  type DetectorVersion,
  QueryEndpointError,
  compareVersions,
  listVersions,
} from "../lib/query.server";
import { HOURLY_PRESETS } from "../lib/search";
import { viewerPath } from "../lib/viewer-routes";
import type { Route } from "./+types/compare";

export function meta() {
  return [{ title: "Compare versions · imgassets" }];
}

/** The versions for the chooser when the comparison itself was refused (none when they cannot be listed). */
async function knownVersions(signal: AbortSignal): Promise<DetectorVersion[]> {
  try {
    return (await listVersions(signal)).versions;
  } catch (error) {
    if (error instanceof QueryEndpointError) return [];
    throw error;
  }
}

export async function loader({ request }: Route.LoaderArgs) {
  const url = new URL(request.url);
  const query = parseCompareQuery(url.searchParams);
  // The form submits blank fields and the default order: the shareable URL is the canonical one.
  if (!isCanonicalComparison(url.searchParams, query)) throw redirect(viewerPath("compare") + compareString(query));
  const dagsterUrl = config().dagsterUrl;
  return guard(async () => {
    if (query.version === null) {
      // No version chosen: the first one that can be compared, else the page says there is none.
      const { versions } = await listVersions(request.signal);
      const first = firstComparable(versions);
      if (first !== null) throw redirect(viewerPath("compare") + compareString(query, { version: first }));
      return { query, versions, dagsterUrl, error: null, result: null };
    }
    const refused = async (message: string) =>
      data(
        { query, versions: await knownVersions(request.signal), dagsterUrl, error: message, result: null },
        { status: 400 },
      );
    // Version names are path segments of the endpoint (imgassets/detector/versions.py NAME_PATTERN).
    if (!isVersionName(query.version)) {
      return refused(`There is no detector version named ${JSON.stringify(query.version)}.`);
    }
    let found: CompareResponse;
    try {
      found = await compareVersions(query.version, compareParams(query), request.signal);
    } catch (error) {
      if (!(error instanceof QueryEndpointError && error.status === 400)) throw error;
      // The endpoint's message says what is wrong: an unknown version, the active one, the range.
      return refused(error.message);
    }
    const pages = pageCount(found.total_disagreements, found.page_size);
    if (found.disagreements.length === 0 && query.page > pages) {
      throw redirect(viewerPath("compare") + compareString(query, { page: pages }));
    }
    return {
      query,
      versions: found.versions,
      dagsterUrl,
      error: null,
      result: { ...found, pageCount: pages },
    };
  });
}

/** Which version to compare, and over which hours; works without JavaScript (a select and a button). */
function CompareForm({
  query,
  versions,
  range,
}: {
  query: CompareQuery;
  versions: DetectorVersion[];
  range: { from: string; to: string } | null;
}) {
  // The versions that can be compared; and the URL's, so the form shows what was asked even when it was refused.
  const choices = versions
    .filter((version) => !version.active || version.name === query.version)
    .map((version) => ({ name: version.name, text: `${version.detector}${version.active ? ", the active version" : ""}` }));
  if (query.version !== null && !choices.some((version) => version.name === query.version)) {
    choices.push({ name: query.version, text: "not configured" });
  }
  return (
    <Form method="get" action={viewerPath("compare")} className="filters compare-form">
      <fieldset className="version">
        <legend>Version</legend>
        <label>
          Compare{" "}
          <select
            name="version"
            defaultValue={query.version ?? ""}
            data-testid="version-select"
            // With JavaScript, choosing a version compares it at once.
            onChange={(event) => event.currentTarget.form?.requestSubmit()}
          >
            {choices.map((version) => (
              <option key={version.name} value={version.name}>
                {version.name} ({version.text})
              </option>
            ))}
          </select>
        </label>
        <span className="muted">with the active version</span>
      </fieldset>
      <RangeFields
        legend="Uploaded"
        range={query}
        shown={range}
        presets={HOURLY_PRESETS}
        defaultLast={DEFAULT_COMPARE_LAST}
      />
      <fieldset className="more">
        {query.sort !== DEFAULT_SORT && <input type="hidden" name="sort" value={query.sort} />}
        <button type="submit" data-testid="compare-submit">
          Compare
        </button>
      </fieldset>
    </Form>
  );
}

function NoOtherVersion({ versions }: { versions: DetectorVersion[] }) {
  return (
    <section className="empty" data-testid="no-versions">
      <p>Only the active version is configured; define another in detector-versions.toml.</p>
      <ul>
        {versions.map((version) => (
          <li key={version.name}>
            <b>{version.name}</b> ({version.detector}){version.active && " — active"}
          </li>
        ))}
      </ul>
    </section>
  );
}

function NoComparison({ version, active, dagsterUrl }: { version: string; active: string; dagsterUrl: string }) {
  const asset = (name: string) => (
    <a href={`${dagsterUrl}/assets/${encodeURIComponent(version)}/${name}`} target="_blank" rel="noreferrer">
      <code>
        {version}/{name}
      </code>
    </a>
  );
  return (
    <section className="empty" data-testid="compare-empty">
      <h2>No comparison of {version} with {active} in this range</h2>
      <p>
        A version other than the active one has no detections of its own until it is reprocessed: its assets{" "}
        {asset("detections")} and {asset("comparison")} are filled by a backfill from Dagster&apos;s UI. Select both
        assets (group <code>version_{version}</code>), choose <i>Materialize</i> and the hours to compare; each hour
        shows here once its comparison is written.
      </p>
    </section>
  );
}

type Result = NonNullable<Route.ComponentProps["loaderData"]["result"]>;

/** The images where the versions differ, one page, sortable by its columns (a link sets `sort`, page 1). */
function Disagreements({ query, result }: { query: CompareQuery; result: Result }) {
  const base = viewerPath("compare");
  /** A column header that orders the list by its column (by key ascending, else most first). */
  const header = (title: string, sort: CompareSort, tip?: string) => {
    const current = result.sort === sort;
    return (
      <th aria-sort={current ? (sort === "image" ? "ascending" : "descending") : undefined} title={tip}>
        <Link
          to={base + compareString(query, { sort, page: 1 })}
          data-testid={`sort-${sort}`}
          className={current ? "sort current" : "sort"}
        >
          {title}
          {current && (sort === "image" ? " ▲" : " ▼")}
        </Link>
      </th>
    );
  };
  return (
    <section aria-label="Disagreements">
      <h2>
        Images where they disagree ({result.total_disagreements.toLocaleString("en-US")})
        {result.pageCount > 1 && (
          <span className="muted">
            {" "}
            · page {result.page} of {result.pageCount}
          </span>
        )}
      </h2>
      {result.total_disagreements === 0 ? (
        <p className="empty-grid">The two versions agree on every image compared in this range.</p>
      ) : (
        <div className="table-scroll">
          <table className="disagreements" data-sort={result.sort} data-page={result.page} data-testid="disagreements">
            <thead>
              <tr>
                <th aria-label="Thumbnail" />
                {header("Image", "image")}
                <th>{result.version_a}</th>
                <th>{result.version_b}</th>
                <th>Matched</th>
                {header("Only A", "only_a", `boxes only ${result.version_a} has`)}
                {header("Only B", "only_b", `boxes only ${result.version_b} has`)}
                {header("Difference", "difference", "boxes without a match in the other version")}
              </tr>
            </thead>
            <tbody>
              {result.disagreements.map((d) => {
                const link = viewerPath("compare_image", { key: d.image_key }) + compareImageString(query);
                return (
                  <tr key={d.image_key} data-testid="disagreement" data-image-key={d.image_key}>
                    <td className="thumb-cell">
                      <Link to={link} tabIndex={-1}>
                        <img
                          src={viewerPath("media_thumbnail", { key: d.image_key })}
                          alt=""
                          width={64}
                          height={48}
                          loading="lazy"
                          decoding="async"
                        />
                      </Link>
                    </td>
                    <td>
                      <Link to={link} title={d.image_key} data-testid="disagreement-link">
                        {displayName(d.image_key)}
                      </Link>
                    </td>
                    <td data-field="objects_a">{d.objects_a}</td>
                    <td data-field="objects_b">{d.objects_b}</td>
                    <td data-field="matched">{d.matched}</td>
                    <td data-field="only_a">{d.only_a}</td>
                    <td data-field="only_b">{d.only_b}</td>
                    <td data-field="difference">{d.difference}</td>
                  </tr>
                );
              })}
            </tbody>
          </table>
        </div>
      )}
      <Pager page={result.page} pageCount={result.pageCount} href={(n) => base + compareString(query, { page: n })} />
    </section>
  );
}

/** One class's count in each version, and how many of B's matched one of A's (where that is known). */
interface ClassCounts {
  label: string;
  a: number;
  b: number;
  matched?: number;
}

/**
 * Both versions' counts per class side by side, with B − A (a `more` or `fewer` cell) and, with `matched`, the matched
 * ones: the page's class tables. `countIds` marks the two counts of each row (`{countIds}-a-{label}`, `…-b-…`).
 */
function ClassCountsTable({
  result,
  rows,
  className,
  matched = false,
  countIds,
  ...attributes
}: {
  result: Result;
  rows: readonly ClassCounts[];
  className: string;
  "data-testid": string;
  matched?: boolean;
  countIds?: string;
}) {
  return (
    <div className="table-scroll">
      <table className={className} {...attributes}>
        <thead>
          <tr>
            <th>Class</th>
            <th>{result.version_a} (A)</th>
            <th>{result.version_b} (B)</th>
            <th>B − A</th>
            {matched && <th>Matched</th>}
          </tr>
        </thead>
        <tbody>
          {rows.map((row) => (
            <tr key={row.label} data-label={row.label} data-a={row.a} data-b={row.b} data-matched={row.matched}>
              <td>
                <ClassLabel label={row.label} />
              </td>
              <td data-field="a" data-testid={countIds && `${countIds}-a-${row.label}`}>
                {row.a}
              </td>
              <td data-field="b" data-testid={countIds && `${countIds}-b-${row.label}`}>
                {row.b}
              </td>
              <td data-field="difference" className={row.b > row.a ? "more" : row.b < row.a ? "fewer" : undefined}>
                {signedDifference(row.a, row.b)}
              </td>
              {matched && <td data-field="matched">{row.matched}</td>}
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}

/** Distinct objects per class of each version, from its tracks (none until the versions' tracks are written). */
function UniqueObjects({ result }: { result: Result }) {
  const a = result.unique_a ?? {};
  const b = result.unique_b ?? {};
  const labels = [...new Set([...Object.keys(a), ...Object.keys(b)])].sort(
    (x, y) => Math.max(b[y] ?? 0, a[y] ?? 0) - Math.max(b[x] ?? 0, a[x] ?? 0) || x.localeCompare(y),
  );
  if (labels.length === 0) return null;
  return (
    <section>
      <h2>Distinct objects (tracks)</h2>
      <p className="muted">
        Each version&apos;s objects followed from frame to frame over the compared hours, each counted once however
        many frames it is in.
      </p>
      <ClassCountsTable
        result={result}
        rows={labels.map((label) => ({ label, a: a[label] ?? 0, b: b[label] ?? 0 }))}
        className="unique-objects"
        data-testid="compare-unique"
        countIds="unique"
      />
    </section>
  );
}

function Comparison({ query, result }: { query: CompareQuery; result: Result }) {
  return (
    <>
      <section className="stats" aria-label="Comparison totals">
        <Stat name="images" value={result.images} label="images compared" />
        <Stat name="objects_a" value={result.objects_a} label={`objects, ${result.version_a} (A)`} />
        <Stat name="objects_b" value={result.objects_b} label={`objects, ${result.version_b} (B)`} />
        <Stat name="matched" value={result.matched} label="matched (same class, IoU ≥ 0.5)" />
        <Stat name="precision" value={result.precision} text={percent(result.precision)} label="precision of B" />
        <Stat name="recall" value={result.recall} text={percent(result.recall)} label="recall of B" />
        <Stat name="disagreements" value={result.total_disagreements} label="images disagree" />
      </section>
      <UnreadableHours
        hours={result.unreadable ?? []}
        document="comparison"
        asset={`${result.version_b}/comparison`}
        data-testid="compare-unreadable"
      />
      <p className="muted">
        B&apos;s boxes are measured against A&apos;s: precision is the share of B&apos;s boxes that match one of
        A&apos;s, recall the share of A&apos;s that B found too; “—” when that version found nothing.
      </p>

      <section>
        <h2>Both versions&apos; timelines</h2>
        <CompareChart hours={result.hours} versionA={result.version_a} versionB={result.version_b} />
      </section>

      <section>
        <h2>Classes</h2>
        <ClassCountsTable
          result={result}
          rows={result.classes}
          className="compare-classes"
          data-testid="compare-classes"
          matched
        />
      </section>

      <UniqueObjects result={result} />

      <Disagreements query={query} result={result} />
    </>
  );
}

export default function Compare({ loaderData }: Route.ComponentProps) {
  const { query, versions, result, error, dagsterUrl } = loaderData;
  const active = result?.version_a ?? versions.find((version) => version.active)?.name ?? "the active version";
  return (
    <>
      <nav className="crumbs">
        <Link to={viewerPath("overview")}>Overview</Link> › <span>Compare</span>
      </nav>
      {query.version === null ? (
        <>
          <h1>Compare detector versions</h1>
          <NoOtherVersion versions={versions} />
        </>
      ) : (
        <>
          <h1 data-testid="compare-title">
            Compare <span className="version-b">{result?.version_b ?? query.version}</span> with{" "}
            <span className="version-a">{active}</span> (active)
          </h1>
          {result !== null && (
            <dl className="detectors" data-testid="detectors">
              <dt>
                <i className="swatch series-a" /> A · {result.version_a}
              </dt>
              <dd data-field="detector_a">{result.detector_a}</dd>
              <dt>
                <i className="swatch series-b" /> B · {result.version_b}
              </dt>
              <dd data-field="detector_b">{result.detector_b}</dd>
            </dl>
          )}
          {/* Remounted per comparison, so the fields show the URL's query after every navigation. */}
          <CompareForm key={compareString(query)} query={query} versions={versions} range={result} />
          <QueryRefusal error={error} data-testid="compare-error" />
          {result !== null && (
            <>
              <HoursInRange
                count={result.hours.length}
                what="compared"
                from={result.from}
                to={result.to}
                data-page={result.page}
              />
              {result.hours.length === 0 ? (
                <NoComparison version={result.version_b} active={result.version_a} dagsterUrl={dagsterUrl} />
              ) : (
                <Comparison query={query} result={result} />
              )}
            </>
          )}
        </>
      )}
    </>
  );
}
