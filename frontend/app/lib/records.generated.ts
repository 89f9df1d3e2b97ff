/**
 * Generated from contract/records.schema.json by `npm run contract` (frontend/scripts/contract.mjs); do not edit.
 * The contract itself is generated from the Python code: `.venv/bin/python -m imgassets.devtools.contract --write`.
 */

/**
 * Any JSON document imgassets writes: records in S3 (detection, rejection, manifest, shard, summary), Kafka messages (image announcement, dead letter) and the query endpoint's answers (search page, hour page). Generated from imgassets/core/records.py, imgassets/core/messages.py and imgassets/reading/search.py by `python -m imgassets.devtools.contract --write`; do not edit.
 */
export type Document =
  | DetectionRecord
  | Rejection
  | Manifest
  | Shard
  | Summary
  | HourRollup
  | Comparison
  | SourceTracks
  | TrackSummary
  | ImageMessage
  | DeadLetter
  | SearchPage
  | HourPage
  | VersionList
  | ComparePage
  | ImageComparison
  | SourcePage;

export interface DetectionRecord {
  schema: "imgassets.detections.v1";
  image_key: string;
  source_image_path: string;
  image_sha256: string;
  image_width: number;
  image_height: number;
  model_used: string;
  model_weights_sha256: string;
  backend: string;
  input_size: number;
  confidence_threshold: number;
  nms_threshold: number;
  detections: Detection[];
  counts: {
    [k: string]: number;
  };
  provenance: Provenance;
}
export interface Detection {
  label: string;
  class_id: number;
  confidence: number;
  box: Box;
}
/**
 * Pixels in the (EXIF-corrected) image, clipped to its bounds.
 */
export interface Box {
  x: number;
  y: number;
  w: number;
  h: number;
}
export interface Provenance {
  kafka: KafkaRef | null;
  dagster_run_id: string;
  dagster_partition: string;
  source: Source | null;
  uploaded_at: string | null;
  processed_at: string;
  inference_ms: number;
}
/**
 * Which Kafka message announced an image (absent for images found by a backfill listing).
 */
export interface KafkaRef {
  topic: string;
  partition: number;
  offset: number;
}
/**
 * Where the image came from before upload: the camera or site (`name`, what analytics group by) and the
 * file (provenance only; never used to build keys).
 */
export interface Source {
  path: string;
  host?: string | null;
  video_frame?: VideoFrame | null;
  name?: string | null;
  captured_at?: string | null;
}
export interface VideoFrame {
  video: string;
  frame_index: number;
  timestamp_s: number;
}
/**
 * An image that could not be used, and why (visible in the hour summary and the run's metadata).
 */
export interface Rejection {
  schema: "imgassets.rejection.v1";
  image_key: string;
  reason: string;
  partition: string;
  run_id: string;
  rejected_at: string;
  kafka?: KafkaRef | null;
}
/**
 * Outcome of one raw_images run for one hour (one object per run: concurrent runs never collide).
 */
export interface Manifest {
  schema: "imgassets.manifest.v1";
  partition: string;
  run_id: string;
  mode: "batch" | "backfill";
  created_at: string;
  accepted: ManifestEntry[];
  rejected: Rejection[];
}
/**
 * A validated image, as raw_images accepted it.
 */
export interface ManifestEntry {
  key: string;
  sha256: string;
  size: number;
  width: number;
  height: number;
  format: string;
  kafka?: KafkaRef | null;
  uploaded_at?: string | null;
  source?: Source | null;
}
/**
 * Compact results of one detections run for one hour.
 */
export interface Shard {
  schema: "imgassets.shard.v1";
  partition: string;
  run_id: string;
  created_at: string;
  images: ImageResult[];
  rejected?: RejectedImage[];
}
/**
 * One image's line in a run's shard: what the hour summary counts.
 */
export interface ImageResult {
  image_key: string;
  detection_key: string;
  width: number;
  height: number;
  counts: {
    [k: string]: number;
  };
  objects: number;
  processed_at: string;
  source?: string | null;
}
export interface RejectedImage {
  image_key: string;
  reason: string;
}
/**
 * Per-hour roll-up: the successor of the original 'label@hour' job. Counts only, so its size does not grow
 * with the hour's images; the per-image index is the hour's table (imgassets/core/table.py).
 */
export interface Summary {
  schema: "imgassets.summary.v2" | "imgassets.summary.v1";
  partition: string;
  generated_at: string;
  image_count: number;
  rejected_count: number;
  total_objects: number;
  class_counts: {
    [k: string]: number;
  };
  images_with_class: {
    [k: string]: number;
  };
  images_without_objects?: number;
  source_counts?: {
    [k: string]: number;
  };
  rejected: RejectedImage[];
  runs: string[];
  run_count?: number | null;
}
/**
 * The hour's counts so far, folded run by run: a sensor run adds only its own shard's and manifest's counts,
 * so the roll-up reads and writes the same few kilobytes early and late in a busy hour. The latest images its
 * counts hold are stored beside it (core/counted_images.py): a run bringing one of them again (a message produced
 * twice, offsets replayed), or a re-queued batch, rebuilds the hour instead (`rebuilt`: each image's latest result
 * wins), so nothing is counted twice. Derived state: lost or damaged, it is rebuilt from the shards and
 * manifests, and a backfill and the compaction of a closed hour always rebuild it.
 */
export interface HourRollup {
  schema: "imgassets.rollup.v2";
  partition: string;
  run_count?: number;
  recent_runs?: {
    [k: string]: string;
  };
  image_count?: number;
  class_counts?: {
    [k: string]: number;
  };
  images_with_class?: {
    [k: string]: number;
  };
  images_without_objects?: number;
  source_counts?: {
    [k: string]: number;
  };
  rejected?: RolledRejection[];
}
export interface RolledRejection {
  image_key: string;
  reason: string;
  at: string;
}
/**
 * A detector version (B) against the active one (A) for one hour (imgassets/detector/comparison.py).
 *
 * Boxes match when their class is the same and their IoU is at least `iou_threshold` (each box matches at
 * most once, B's most confident first); B's precision and recall are measured against A as the reference.
 */
export interface Comparison {
  images: number;
  objects_a: number;
  objects_b: number;
  matched: number;
  precision: number | null;
  recall: number | null;
  schema: "imgassets.comparison.v1";
  partition: string;
  generated_at: string;
  version_a: string;
  version_b: string;
  detector_a: string;
  detector_b: string;
  iou_threshold: number;
  only_in_a: number;
  only_in_b: number;
  classes: ClassAgreement[];
  disagreements: ImageDisagreement[];
}
/**
 * One class in a comparison: objects each version found, and how many of B's matched one of A's.
 */
export interface ClassAgreement {
  label: string;
  a: number;
  b: number;
  matched: number;
}
/**
 * An image where two versions' detections differ: boxes matched, and boxes only one of them has.
 */
export interface ImageDisagreement {
  image_key: string;
  objects_a: number;
  objects_b: number;
  matched: number;
  only_a: number;
  only_b: number;
  difference: number;
}
/**
 * The tracks of one source in one hour (imgassets/tracking/follow.py), with its lines and zones as they were.
 */
export interface SourceTracks {
  schema: "imgassets.tracks.v1";
  partition: string;
  source: string;
  version: string;
  generated_at: string;
  tracker: {
    [k: string]: number | string | string[];
  };
  lines?: {
    [k: string]: RelativeLine;
  };
  zones?: {
    [k: string]: [number, number][];
  };
  counts: TrackCounts;
  tracks: Track[];
}
/**
 * A source's counting line as the viewer draws it (image-relative points; sources.toml's `Line`).
 */
export interface RelativeLine {
  /**
   * @minItems 2
   * @maxItems 2
   */
  start: [number, number];
  /**
   * @minItems 2
   * @maxItems 2
   */
  end: [number, number];
  /**
   * @minItems 2
   * @maxItems 2
   */
  in_side: [number, number];
}
/**
 * What a source's hour adds up to: distinct objects per class, crossings per line, visits per zone.
 */
export interface TrackCounts {
  frames?: number;
  unique_objects?: {
    [k: string]: number;
  };
  crossings?: {
    [k: string]: LineCount;
  };
  zones?: {
    [k: string]: ZoneCount;
  };
}
export interface LineCount {
  in?: number;
  out?: number;
}
export interface ZoneCount {
  visits?: number;
  dwell_s?: number;
}
/**
 * One object followed across a source's frames. A track that goes on from the previous hour keeps its id
 * (`continued`), and lists only this hour's frames, crossings and visits.
 */
export interface Track {
  track_id: string;
  label: string;
  first_seen: string;
  last_seen: string;
  frames: number;
  continued?: boolean;
  path: [number, number][];
  crossings?: Crossing[];
  zones?: ZoneVisit[];
  observations: Observation[];
}
/**
 * A track's anchor point crossed a line between two frames; `image_key` is the frame after it.
 */
export interface Crossing {
  line: string;
  direction: "in" | "out";
  at: string;
  image_key: string;
}
/**
 * A run of frames with the track's anchor inside a zone; dwell is from the first to the last of them.
 */
export interface ZoneVisit {
  zone: string;
  entered_at: string;
  left_at: string;
  dwell_s: number;
  image_key: string;
}
/**
 * One frame of a track: the frame (and its size, to draw the box on it), when it was taken, and the box.
 */
export interface Observation {
  image_key: string;
  captured_at: string;
  width: number;
  height: number;
  confidence: number;
  box: Box;
}
/**
 * The hour's track counts of every source (one detector version): what the source page's timeline and the
 * comparison of versions' unique counts read, one object per hour.
 */
export interface TrackSummary {
  schema: "imgassets.track-summary.v1";
  partition: string;
  version: string;
  generated_at: string;
  sources: {
    [k: string]: TrackCounts;
  };
  failed?: {
    [k: string]: string;
  };
}
/**
 * 'This image is in S3 and ready': sent once per image, only after its upload succeeded.
 */
export interface ImageMessage {
  schema: "imgassets.image.v1";
  bucket: string;
  key: string;
  size: number;
  sha256: string;
  content_type: string;
  uploaded_at: string;
  source: Source;
}
/**
 * What lands on the dead-letter topic: the original bytes plus why and where they failed.
 *
 * kind: `message` (the sensor could not use it), `batch` (its run failed for good after every retry and
 * re-request; `run_id` names it), `gap` (offsets `offset` … `last_offset` vanished from Kafka before they
 * were read: retention or a recreated topic; no value).
 */
export interface DeadLetter {
  schema: "imgassets.deadletter.v1";
  kind?: "message" | "batch" | "gap";
  reason: string;
  topic: string;
  partition: number;
  offset: number;
  last_offset?: number | null;
  failed_at: string;
  image_key?: string | null;
  run_id?: string | null;
  value_size: number | null;
  /**
   * the original value, cut to MAX_MESSAGE_BYTES
   */
  value_base64: string | null;
}
/**
 * The query endpoint's answer to GET /search.
 */
export interface SearchPage {
  from: string;
  to: string;
  total: number;
  page: number;
  page_size: number;
  bucket: "hour" | "day";
  histogram: HistogramBar[];
  images: ImageRow[];
}
export interface HistogramBar {
  bucket: string;
  matches: number;
}
/**
 * One image as the query endpoint lists it (`IMAGE_COLUMNS`): what the viewer's grids show.
 */
export interface ImageRow {
  image_key: string;
  detection_key: string;
  source: string;
  upload_hour: string;
  uploaded_at: string | null;
  processed_at: string;
  width: number;
  height: number;
  objects: number;
  counts: {
    [k: string]: number;
  };
}
/**
 * The query endpoint's answer to GET /hours/{partition}.
 */
export interface HourPage {
  partition: string;
  total: number;
  page: number;
  page_size: number;
  sources: string[];
  images: ImageRow[];
}
/**
 * The query endpoint's answer to GET /versions: every detector version, and the active one's name.
 */
export interface VersionList {
  active: string;
  versions: VersionInfo[];
}
export interface VersionInfo {
  name: string;
  detector: string;
  active: boolean;
}
/**
 * The query endpoint's answer to GET /versions/{version}/compare.
 */
export interface ComparePage {
  images: number;
  objects_a: number;
  objects_b: number;
  matched: number;
  precision: number | null;
  recall: number | null;
  version_a: string;
  version_b: string;
  detector_a: string;
  detector_b: string;
  versions: VersionInfo[];
  from: string;
  to: string;
  hours: CompareHour[];
  classes: ClassAgreement[];
  sort: "difference" | "only_a" | "only_b" | "image";
  unreadable?: string[];
  unique_a?: {
    [k: string]: number;
  };
  unique_b?: {
    [k: string]: number;
  };
  total_disagreements: number;
  page: number;
  page_size: number;
  disagreements: ImageDisagreement[];
}
/**
 * One hour of the timelines: both versions' objects, and their agreement.
 */
export interface CompareHour {
  images: number;
  objects_a: number;
  objects_b: number;
  matched: number;
  precision: number | null;
  recall: number | null;
  partition: string;
  disagreements: number;
}
/**
 * The query endpoint's answer to GET /versions/{version}/images/{key}: both versions' boxes on one image
 * (a version that has no record of it has None).
 */
export interface ImageComparison {
  image_key: string;
  version_a: string;
  version_b: string;
  detector_a: string;
  detector_b: string;
  width: number;
  height: number;
  detections_a: Detection[] | null;
  detections_b: Detection[] | null;
}
/**
 * The query endpoint's answer to GET /sources/{name}.
 */
export interface SourcePage {
  source: string;
  version: string;
  from: string;
  to: string;
  hours: SourceHour[];
  unique_objects: {
    [k: string]: number;
  };
  crossings: {
    [k: string]: LineCount;
  };
  zones: {
    [k: string]: ZoneCount;
  };
  lines: {
    [k: string]: RelativeLine;
  };
  zone_shapes: {
    [k: string]: [number, number][];
  };
  latest_partition: string | null;
  strip: StripFrame[];
  events: SourceEvent[];
  event_count: number;
  unreadable?: string[];
}
/**
 * One hour of the timeline.
 */
export interface SourceHour {
  frames?: number;
  unique_objects?: {
    [k: string]: number;
  };
  crossings?: {
    [k: string]: LineCount;
  };
  zones?: {
    [k: string]: ZoneCount;
  };
  partition: string;
}
export interface StripFrame {
  image_key: string;
  captured_at: string;
  width: number;
  height: number;
  boxes: StripBox[];
}
export interface StripBox {
  track_id: string;
  label: string;
  box: Box;
}
/**
 * A line crossing or a zone visit, as the source page lists it.
 */
export interface SourceEvent {
  happened_at: string;
  track_id: string;
  label: string;
  kind: string;
  name: string;
  direction: string | null;
  dwell_s: number | null;
  image_key: string;
}
