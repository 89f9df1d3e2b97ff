/**
 * The JSON documents the pipeline writes (imgassets/records.py, serialized by pydantic: `schema_` → `schema`,
 * datetimes as ISO-8601 strings with offset). Only the fields the viewer reads are typed.
 */

export interface KafkaRef {
  topic: string;
  partition: number;
  offset: number;
}

export interface Box {
  x: number;
  y: number;
  w: number;
  h: number;
}

export interface Detection {
  label: string;
  class_id: number;
  confidence: number;
  box: Box;
}

export interface VideoFrame {
  video: string;
  frame_index: number;
  timestamp_s: number;
}

export interface Source {
  path: string;
  host: string | null;
  video_frame: VideoFrame | null;
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
  counts: Record<string, number>;
  provenance: Provenance;
}

export interface Rejection {
  schema: "imgassets.rejection.v1";
  image_key: string;
  reason: string;
  partition: string;
  run_id: string;
  rejected_at: string;
  kafka: KafkaRef | null;
}

export interface ImageResult {
  image_key: string;
  detection_key: string;
  width: number;
  height: number;
  counts: Record<string, number>;
  objects: number;
  processed_at: string;
}

export interface RejectedImage {
  image_key: string;
  reason: string;
}

export interface Summary {
  schema: "imgassets.summary.v1";
  partition: string;
  generated_at: string;
  image_count: number;
  rejected_count: number;
  total_objects: number;
  class_counts: Record<string, number>;
  images_with_class: Record<string, number>;
  images: ImageResult[];
  rejected: RejectedImage[];
  runs: string[];
}
