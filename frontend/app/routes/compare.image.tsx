import { Link, type ShouldRevalidateFunctionArgs, redirect, useSearchParams } from "react-router";
import { type BoxLayer, DetectionOverlay } from "../components/DetectionOverlay";
import { DetectionTable } from "../components/DetectionTable";
import { ImageHeading, displayName } from "../components/ImageCard";
import {
  type CompareQuery,
  type Shown,
  compareImageString,
  compareString,
  firstComparable,
  isVersionName,
  parseCompareQuery,
  parseShown,
  sameExcept,
} from "../lib/compare";
import { fail, guard } from "../lib/http.server";
import { parseImageKey } from "../lib/layout";
import { compareImage, listVersions } from "../lib/query.server";
import type { Detection } from "../lib/records";
import { viewerPath } from "../lib/viewer-routes";
import type { Route } from "./+types/compare.image";

export function meta({ params }: Route.MetaArgs) {
  return [{ title: `${displayName(params["*"] ?? "")} · compare · imgassets` }];
}

export function loader({ params, request }: Route.LoaderArgs) {
  return guard(async () => {
    const image = parseImageKey(params["*"] ?? "");
    const url = new URL(request.url);
    const query = parseCompareQuery(url.searchParams);
    const shown = parseShown(url.searchParams);
    const here = viewerPath("compare_image", { key: image.key });
    if (query.version === null) {
      const first = firstComparable((await listVersions(request.signal)).versions);
      if (first === null) {
        fail(404, "Only the active version is configured; define another in detector-versions.toml.");
      }
      throw redirect(here + compareImageString({ ...query, version: first }, shown));
    }
    if (!isVersionName(query.version)) fail(400, `There is no detector version named ${JSON.stringify(query.version)}.`);
    const comparison = await compareImage(query.version, image.key, request.signal);
    return { query, partition: image.partition, comparison };
  });
}

/** Showing other boxes needs no new data: the toggle's links do not reload it (the page reads `show` itself). */
export function shouldRevalidate({ currentUrl, nextUrl, defaultShouldRevalidate }: ShouldRevalidateFunctionArgs) {
  return sameExcept(currentUrl, nextUrl, "show") ? false : defaultShouldRevalidate;
}

type Comparison = Route.ComponentProps["loaderData"]["comparison"];

/** Show A only / B only / both: links (the choice is in the URL, so it works before and without JavaScript). */
function ShowToggle({ query, shown, comparison }: { query: CompareQuery; shown: Shown; comparison: Comparison }) {
  const here = viewerPath("compare_image", { key: comparison.image_key });
  const choice = (value: Shown, text: string) => (
    <Link
      to={here + compareImageString(query, value)}
      replace
      preventScrollReset
      data-testid={`show-${value}`}
      aria-current={shown === value ? "true" : undefined}
      className={shown === value ? "current" : undefined}
    >
      {text}
    </Link>
  );
  return (
    <nav className="segmented" aria-label="Boxes shown" data-testid="show-toggle" data-shown={shown}>
      {choice("both", "Both")}
      {choice("a", `${comparison.version_a} only`)}
      {choice("b", `${comparison.version_b} only`)}
    </nav>
  );
}

function Side({
  side,
  version,
  detector,
  detections,
  shown,
}: {
  side: "a" | "b";
  version: string;
  detector: string;
  detections: Detection[] | null;
  shown: boolean;
}) {
  return (
    <section
      className={`compare-side side-${side}`}
      data-testid={`detections-${side}`}
      data-count={detections?.length ?? ""}
    >
      <h2>
        <i className={`swatch series-${side}`} /> {side.toUpperCase()} · {version}
        {side === "a" && <span className="muted"> (active)</span>}
      </h2>
      <p className="muted">{detector}</p>
      {detections === null ? (
        <p className="no-record" data-testid={`no-record-${side}`}>
          no record: {version} has not processed this image (not backfilled yet, or rejected).
        </p>
      ) : (
        <>
          <p>
            {detections.length} detection{detections.length === 1 ? "" : "s"}
            {!shown && <span className="muted"> (hidden on the image)</span>}
          </p>
          {detections.length > 0 && <DetectionTable detections={detections} isShown={() => shown} />}
        </>
      )}
    </section>
  );
}

export default function CompareImage({ loaderData }: Route.ComponentProps) {
  const { query, partition, comparison } = loaderData;
  // From the URL, not the loader: a change of `show` alone does not run the loader again (shouldRevalidate).
  const [searchParams] = useSearchParams();
  const shown = parseShown(searchParams);
  const showA = shown !== "b";
  const showB = shown !== "a";
  const layers: BoxLayer[] = [];
  if (showA) layers.push({ name: "a", detections: comparison.detections_a ?? [] });
  if (showB) layers.push({ name: "b", detections: comparison.detections_b ?? [], dashed: true });
  const back = viewerPath("compare") + compareString(query);
  return (
    <>
      <nav className="crumbs">
        <Link to={viewerPath("overview")}>Overview</Link> ›{" "}
        <Link to={back} data-testid="back-to-compare">
          Compare {comparison.version_b} with {comparison.version_a}
        </Link>{" "}
        › <span>{displayName(comparison.image_key)}</span>
        <span className="spacer" />
        <Link to={viewerPath("hour", { partition })}>hour {partition}</Link>
        <Link to={viewerPath("image", { key: comparison.image_key })} data-testid="image-page">
          image page
        </Link>
        <a href={viewerPath("media_original", { key: comparison.image_key })}>original file</a>
      </nav>
      <ImageHeading imageKey={comparison.image_key} />
      <div className="compare-image" data-testid="compare-overlay">
        <DetectionOverlay
          imageKey={comparison.image_key}
          width={comparison.width}
          height={comparison.height}
          layers={layers}
        />
        <div className="controls">
          <ShowToggle query={query} shown={shown} comparison={comparison} />
          <span className="legend" data-testid="overlay-legend">
            <span>
              <i className="line series-a" /> {comparison.version_a} (A, active): solid
            </span>
            <span>
              <i className="line dashed series-b" /> {comparison.version_b} (B): dashed
            </span>
          </span>
        </div>
      </div>
      <div className="columns compare-sides">
        <Side
          side="a"
          version={comparison.version_a}
          detector={comparison.detector_a}
          detections={comparison.detections_a}
          shown={showA}
        />
        <Side
          side="b"
          version={comparison.version_b}
          detector={comparison.detector_b}
          detections={comparison.detections_b}
          shown={showB}
        />
      </div>
    </>
  );
}
