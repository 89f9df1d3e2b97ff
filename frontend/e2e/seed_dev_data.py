"""Seeds an S3 bucket with realistic pipeline output for developing and testing the viewer.

Writes, for three hours, exactly what the pipeline writes (images, thumbnails, detection and rejection records,
shards, manifests and the hour summary built by `records.Summary.merge`):

* the current hour: dog, person, horses, kite (one of them a video frame);
* the hour before: eagle, giraffe, scream (no objects) and one rejected, undecodable upload;
* three hours ago: `--bulk` images (default 1,000) cycling through the photos, to time a large hour page.

Run with the backend's venv:

    IMGASSETS_S3_ENDPOINT_URL=http://127.0.0.1:28433 IMGASSETS_S3_ACCESS_KEY_ID=fekey \\
    IMGASSETS_S3_SECRET_ACCESS_KEY=fesecret123 /work/main/.venv/bin/python frontend/e2e/seed_dev_data.py PHOTO_DIR

PHOTO_DIR holds Debian darknet's sample photos (dog.jpg, person.jpg, horses.jpg, eagle.jpg, giraffe.jpg,
kite.jpg, scream.jpg). The boxes are hand-made but plausible (what YOLOv3 finds on those photos).
"""

from __future__ import annotations

import argparse
import hashlib
import io
import os
import sys
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import boto3
from botocore.config import Config
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from imgassets.core import layout, table
from imgassets.core.messages import Source, VideoFrame
from imgassets.core.records import (
    Box,
    Detection,
    DetectionRecord,
    ImageResult,
    KafkaRef,
    Manifest,
    ManifestEntry,
    Provenance,
    Rejection,
    Shard,
    Summary,
)
from imgassets.core.storage import ObjectStore

COCO = {
    "person": 0,
    "bicycle": 1,
    "truck": 7,
    "bird": 14,
    "horse": 17,
    "dog": 16,
    "zebra": 22,
    "giraffe": 23,
    "kite": 33,
}

# photo -> [(label, confidence, x, y, w, h)]
BOXES: dict[str, list[tuple[str, float, int, int, int, int]]] = {
    "dog.jpg": [
        ("dog", 0.99, 133, 219, 179, 322),
        ("bicycle", 0.99, 99, 124, 475, 302),
        ("truck", 0.93, 467, 74, 225, 95),
    ],
    "person.jpg": [
        ("person", 1.0, 190, 97, 84, 283),
        ("dog", 0.99, 61, 263, 142, 84),
        ("horse", 0.99, 395, 137, 216, 204),
    ],
    "horses.jpg": [
        ("horse", 0.98, 2, 195, 174, 185),
        ("horse", 0.97, 219, 181, 199, 232),
        ("horse", 0.71, 395, 207, 168, 142),
        ("horse", 0.56, 575, 190, 198, 172),
    ],
    "kite.jpg": [
        ("person", 0.96, 154, 540, 40, 110),
        ("person", 0.9, 322, 700, 36, 90),
        ("person", 0.62, 575, 610, 22, 48),
        ("kite", 0.98, 540, 60, 70, 60),
        ("kite", 0.88, 265, 250, 40, 38),
        ("kite", 0.53, 1120, 80, 60, 60),
    ],
    "eagle.jpg": [("bird", 0.98, 120, 75, 525, 400)],
    "giraffe.jpg": [("giraffe", 0.99, 165, 3, 277, 447), ("zebra", 0.91, 241, 208, 121, 233)],
    "scream.jpg": [],
}
MODEL = "yolov3-tiny"
WEIGHTS_SHA256 = hashlib.sha256(b"yolov3-tiny.weights").hexdigest()


@dataclass(frozen=True)
class Photo:
    name: str
    data: bytes
    width: int
    height: int
    thumbnail: bytes


def load_photo(path: Path) -> Photo:
    data = path.read_bytes()
    with Image.open(io.BytesIO(data)) as img:
        width, height = img.size
        thumb = img.convert("RGB")
        thumb.thumbnail((320, 320))
        out = io.BytesIO()
        thumb.save(out, "JPEG", quality=80)
    return Photo(path.name, data, width, height, out.getvalue())


class Seeder:
    def __init__(self, bucket: str) -> None:
        self.bucket = bucket
        self.s3 = boto3.client(
            "s3",
            endpoint_url=os.environ.get("IMGASSETS_S3_ENDPOINT_URL", "http://127.0.0.1:8333"),
            region_name=os.environ.get("IMGASSETS_S3_REGION", "us-east-1"),
            aws_access_key_id=os.environ.get("IMGASSETS_S3_ACCESS_KEY_ID"),
            aws_secret_access_key=os.environ.get("IMGASSETS_S3_SECRET_ACCESS_KEY"),
            config=Config(s3={"addressing_style": "path"}, max_pool_connections=32),
        )
        self.offset = 0

    def put(self, key: str, body: bytes, content_type: str) -> None:
        self.s3.put_object(Bucket=self.bucket, Key=key, Body=body, ContentType=content_type)

    def image(
        self, photo: Photo, hour: datetime, index: int, run_id: str, partition: str, source: Source
    ) -> tuple[ImageResult, ManifestEntry, list[tuple[str, bytes, str]]]:
        sha256 = hashlib.sha256(photo.data + index.to_bytes(4, "big")).hexdigest()
        uploaded_at = hour + timedelta(seconds=(index * 7) % 3000)
        processed_at = uploaded_at + timedelta(seconds=30)
        key = layout.image_key(sha256, photo.name, uploaded_at)
        parsed = layout.parse_image_key(key)
        detections = [
            Detection(label=label, class_id=COCO[label], confidence=conf, box=Box(x=x, y=y, w=w, h=h))
            for label, conf, x, y, w, h in BOXES[photo.name]
        ]
        self.offset += 1
        kafka = KafkaRef(topic="images", partition=index % 4, offset=self.offset)
        record = DetectionRecord(
            image_key=key,
            source_image_path=source.path,
            image_sha256=sha256,
            image_width=photo.width,
            image_height=photo.height,
            model_used=MODEL,
            model_weights_sha256=WEIGHTS_SHA256,
            backend="opencv",
            input_size=416,
            confidence_threshold=0.5,
            nms_threshold=0.4,
            detections=detections,
            counts=DetectionRecord.count(detections),
            provenance=Provenance(
                kafka=kafka,
                dagster_run_id=run_id,
                dagster_partition=partition,
                source=source,
                uploaded_at=uploaded_at,
                processed_at=processed_at,
                inference_ms=41.5 + index % 17,
            ),
        )
        entry = ManifestEntry(
            key=key,
            sha256=sha256,
            size=len(photo.data),
            width=photo.width,
            height=photo.height,
            format="JPEG",
            kafka=kafka,
            uploaded_at=uploaded_at,
            source=source,
        )
        puts = [
            (key, photo.data, "image/jpeg"),
            (parsed.thumbnail_key, photo.thumbnail, "image/jpeg"),
            (parsed.detection_key, record.to_json(), "application/json"),
        ]
        return record, entry, puts

    def hour(self, hour: datetime, photos: list[Photo], rejected_names: list[str]) -> Summary:
        partition = layout.partition_key(hour)
        run_id = "run-" + hashlib.sha256(partition.encode()).hexdigest()[:12]
        records, results, entries, puts = [], [], [], []
        for index, photo in enumerate(photos):
            camera = f"cam-{1 + index % 2}"  # two cameras, so the viewer's source filters have something to do
            source = Source(path=f"/data/photos/{photo.name}", host="camera-host", name=camera)
            if photo.name == "kite.jpg":
                source = Source(
                    path="/data/videos/beach.mp4",
                    host="camera-host",
                    name=camera,
                    video_frame=VideoFrame(
                        video="/data/videos/beach.mp4", frame_index=120 + index, timestamp_s=4.0 + index / 30
                    ),
                )
            record, entry, image_puts = self.image(photo, hour, index, run_id, partition, source)
            records.append(record)
            results.append(ImageResult.of(record, layout.parse_image_key(record.image_key).detection_key))
            entries.append(entry)
            puts.extend(image_puts)
        rejections = []
        for name in rejected_names:
            key = layout.image_key(hashlib.sha256(name.encode()).hexdigest(), name, hour + timedelta(minutes=5))
            rejection = Rejection(
                image_key=key,
                reason="not a decodable image: cannot identify image file",
                partition=partition,
                run_id=run_id,
                rejected_at=hour + timedelta(minutes=6),
            )
            rejections.append(rejection)
            puts.append((key, b"this is not a JPEG", "image/jpeg"))
            puts.append((layout.parse_image_key(key).rejection_key, rejection.to_json(), "application/json"))
        created = hour + timedelta(minutes=55)
        shard = Shard(partition=partition, run_id=run_id, created_at=created, images=results)
        manifest = Manifest(
            partition=partition, run_id=run_id, mode="batch", created_at=created, accepted=entries, rejected=rejections
        )
        summary = Summary.merge(partition, created, [shard], [manifest])
        with ThreadPoolExecutor(16) as pool:
            list(pool.map(lambda p: self.put(*p), puts))
        self.put(layout.shard_key(partition, run_id), shard.to_json(), "application/json")
        self.put(layout.manifest_key(partition, run_id), manifest.to_json(), "application/json")
        self.put(layout.summary_key(partition), summary.to_json(), "application/json")
        table.write_hour(ObjectStore(self.s3, self.bucket), partition, table.from_records(records))
        return summary


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("photo_dir", type=Path)
    parser.add_argument("--bulk", type=int, default=1000, help="images in the large hour (0: skip it)")
    args = parser.parse_args()
    photos = {name: load_photo(args.photo_dir / name) for name in BOXES}
    seeder = Seeder(os.environ.get("IMGASSETS_S3_BUCKET", "imgassets"))
    now = layout.floor_hour(datetime.now(UTC))
    hours = [
        (now, [photos[n] for n in ("dog.jpg", "person.jpg", "horses.jpg", "kite.jpg")], []),
        (now - timedelta(hours=1), [photos[n] for n in ("eagle.jpg", "giraffe.jpg", "scream.jpg")], ["notes.jpg"]),
    ]
    if args.bulk:
        cycle = list(photos.values())
        hours.append((now - timedelta(hours=3), [cycle[i % len(cycle)] for i in range(args.bulk)], []))
    for hour, hour_photos, rejected in hours:
        summary = seeder.hour(hour, hour_photos, rejected)
        print(
            f"{summary.partition}: {summary.image_count} images, {summary.total_objects} objects, "
            f"{summary.rejected_count} rejected"
        )


if __name__ == "__main__":
    main()
