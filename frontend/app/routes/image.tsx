import { useState } from "react";
import { Link } from "react-router";
import { DetectionOverlay } from "../components/DetectionOverlay";
import { DetectionTable } from "../components/DetectionTable";
import { ClassLabel } from "../components/ClassLabel";
import { CountBadges, ImageHeading, displayName } from "../components/ImageCard";
import { config } from "../lib/config.server";
import { fail, guard } from "../lib/http.server";
import { parseImageKey, shiftPartition } from "../lib/layout";
import { newSearch, searchString } from "../lib/search";
import { hourRange, isSourceName, sourceString } from "../lib/sources";
import type { DetectionRecord, Rejection } from "../lib/records";
import { StorageError, getJson } from "../lib/s3.server";
import { viewerPath } from "../lib/viewer-routes";
import type { Route } from "./+types/image";

export function meta({ params }: Route.MetaArgs) {
  return [{ title: `${displayName(params["*"] ?? "")} · imgassets` }];
}

async function readOptional<T>(key: string): Promise<T | null> {
  try {
    return (await getJson<T>(key)).value;
  } catch (error) {
    if (error instanceof StorageError && error.status === 404) return null;
    throw error;
  }
}

export function loader({ params }: Route.LoaderArgs) {
  return guard(async () => {
    const image = parseImageKey(params["*"] ?? "");
    const record = await readOptional<DetectionRecord>(image.detectionKey);
    if (record !== null) {
      return {
        kind: "detected" as const,
        key: image.key,
        partition: image.partition,
        record,
        dagsterRunUrl: `${config().dagsterUrl}/runs/${encodeURIComponent(record.provenance.dagster_run_id)}`,
      };
    }
    const rejection = await readOptional<Rejection>(image.rejectionKey);
    if (rejection === null) fail(404, `No analysed image ${image.key}.`);
    return { kind: "rejected" as const, key: image.key, partition: image.partition, rejection };
  });
}

function time(value: string | null): string {
  return value === null ? "—" : new Date(value).toISOString();
}

/** What the page shows of an image with detections: its record, its upload hour, its Dagster run's page. */
interface Detected {
  record: DetectionRecord;
  /** the image's upload hour */
  partition: string;
  dagsterRunUrl: string;
}

function Provenance({ record, partition, dagsterRunUrl }: Detected) {
  const { provenance: p } = record;
  const frame = p.source?.video_frame;
  const sourceName = p.source?.name ?? p.source?.host ?? "unknown";
  const nextHour = shiftPartition(partition, 1);
  return (
    <dl className="provenance">
      <dt>Kafka message</dt>
      <dd data-field="kafka">
        {p.kafka ? `${p.kafka.topic} / partition ${p.kafka.partition} / offset ${p.kafka.offset}` : "— (backfill)"}
      </dd>
      <dt>Model</dt>
      <dd data-field="model">
        {record.model_used} ({record.backend}, input {record.input_size} px)
      </dd>
      <dt>Weights sha256</dt>
      <dd data-field="weights">
        <code>{record.model_weights_sha256}</code>
      </dd>
      <dt>Thresholds</dt>
      <dd data-field="thresholds">
        confidence {record.confidence_threshold}, NMS {record.nms_threshold}
      </dd>
      <dt>Inference</dt>
      <dd data-field="inference">{p.inference_ms.toFixed(1)} ms</dd>
      <dt>Uploaded</dt>
      <dd data-field="uploaded">{time(p.uploaded_at)}</dd>
      <dt>Processed</dt>
      <dd data-field="processed">{time(p.processed_at)}</dd>
      <dt>Source</dt>
      <dd data-field="source-name">
        {/* What the tables and search group by: the name given at ingest, else the host (Source.label). */}
        <Link to={viewerPath("search") + searchString(newSearch({ source: sourceName }))}>{sourceName}</Link>
      </dd>
      {isSourceName(sourceName) && (
        <>
          <dt>Tracks</dt>
          <dd data-field="source-tracks">
            {/* The source page of the image's hour: its objects followed from frame to frame, lines and zones. */}
            <Link
              to={viewerPath("source", { name: sourceName }) + sourceString(hourRange(partition, nextHour))}
              data-testid="source-page-link"
            >
              objects tracked on {sourceName} this hour
            </Link>
          </dd>
        </>
      )}
      <dt>File</dt>
      <dd data-field="source">
        {p.source?.path ?? record.source_image_path}
        {p.source?.host ? ` on ${p.source.host}` : ""}
      </dd>
      {frame && (
        <>
          <dt>Video frame</dt>
          <dd data-field="frame">
            frame {frame.frame_index} at {frame.timestamp_s.toFixed(2)} s of {frame.video}
          </dd>
        </>
      )}
      <dt>Image</dt>
      <dd>
        {record.image_width}×{record.image_height}, sha256 <code>{record.image_sha256}</code>
      </dd>
      <dt>Dagster run</dt>
      <dd>
        <a href={dagsterRunUrl} data-field="dagster-run" target="_blank" rel="noreferrer">
          {p.dagster_run_id}
        </a>{" "}
        (partition {p.dagster_partition})
      </dd>
    </dl>
  );
}

function DetectedImage({ record, partition, dagsterRunUrl }: Detected) {
  const labels = [...new Set(record.detections.map((d) => d.label))].sort();
  const [hidden, setHidden] = useState<ReadonlySet<string>>(new Set());
  const [minConfidence, setMinConfidence] = useState(0);
  const isShown = (label: string, confidence: number) => !hidden.has(label) && confidence >= minConfidence;
  const shown = record.detections.filter((d) => isShown(d.label, d.confidence));
  const toggle = (label: string) =>
    setHidden((current) => {
      const next = new Set(current);
      if (!next.delete(label)) next.add(label);
      return next;
    });
  return (
    <div className="image-layout">
      <div>
        <DetectionOverlay
          imageKey={record.image_key}
          width={record.image_width}
          height={record.image_height}
          detections={shown}
        />
        <div className="controls">
          {labels.map((label) => (
            <label key={label} className="toggle">
              <input
                type="checkbox"
                name="class-toggle"
                value={label}
                checked={!hidden.has(label)}
                onChange={() => toggle(label)}
              />
              <ClassLabel label={label} />
            </label>
          ))}
          <label className="slider">
            min. confidence{" "}
            <input
              type="range"
              name="min-confidence"
              min={0}
              max={1}
              step={0.01}
              value={minConfidence}
              onChange={(event) => setMinConfidence(Number(event.target.value))}
            />{" "}
            <output>{Math.round(minConfidence * 100)}%</output>
          </label>
        </div>
      </div>
      <aside>
        <h2>
          {record.detections.length} detection{record.detections.length === 1 ? "" : "s"} ({shown.length} shown)
        </h2>
        <CountBadges counts={record.counts} />
        <DetectionTable detections={record.detections} isShown={(d) => isShown(d.label, d.confidence)} />
        <h2>Provenance</h2>
        <Provenance record={record} partition={partition} dagsterRunUrl={dagsterRunUrl} />
      </aside>
    </div>
  );
}

export default function Image({ loaderData }: Route.ComponentProps) {
  const data = loaderData;
  return (
    <>
      <nav className="crumbs">
        <Link to={viewerPath("overview")}>Overview</Link> › <Link to={viewerPath("hour", { partition: data.partition })}>{data.partition}</Link> ›{" "}
        <span>{displayName(data.key)}</span>
        <span className="spacer" />
        <a href={viewerPath("media_original", { key: data.key })}>original file</a>
      </nav>
      <ImageHeading imageKey={data.key} />
      {data.kind === "detected" ? (
        <DetectedImage record={data.record} partition={data.partition} dagsterRunUrl={data.dagsterRunUrl} />
      ) : (
        <section className="rejection" data-testid="rejection">
          <h2>Rejected</h2>
          <p className="reason">{data.rejection.reason}</p>
          <p className="muted">
            by run {data.rejection.run_id} at {time(data.rejection.rejected_at)}
          </p>
        </section>
      )}
    </>
  );
}
