"""Synthetic hour tables for the query benchmark: realistic shapes (several cameras, COCO classes with a skewed
frequency, 0–8 detections per image, confidences above the detector's threshold), generated directly as Arrow
tables in the schema `imgassets.core.table` writes, so a month of hours (over a million detections) takes seconds."""

from __future__ import annotations

from datetime import datetime, timedelta

import numpy as np
import pyarrow as pa

from imgassets.core import layout, table

#: Classes and their relative frequency (street and home cameras: persons and cars dominate).
CLASSES = {
    "person": (0, 30),
    "car": (2, 20),
    "bicycle": (1, 5),
    "bus": (5, 3),
    "truck": (7, 5),
    "dog": (16, 4),
    "cat": (15, 3),
    "bird": (14, 3),
    "motorbike": (3, 3),
    "traffic light": (9, 4),
    "backpack": (24, 2),
    "umbrella": (25, 1),
    "chair": (56, 2),
    "bottle": (39, 1),
}
SOURCES = ("cam-1", "cam-2", "cam-3", "gate", "yard")


def hour_tables(hour: datetime, images: int, rng: np.random.Generator) -> table.HourTables:
    """`images` synthetic images uploaded in `hour`, with their detections."""
    labels = list(CLASSES)
    weights = np.array([CLASSES[label][1] for label in labels], dtype=float)
    weights /= weights.sum()
    hour = layout.floor_hour(hour)
    offsets = np.sort(rng.integers(0, 3_600_000_000, images))  # microseconds into the hour
    uploaded = [hour + timedelta(microseconds=int(o)) for o in offsets]
    processed = [u + timedelta(seconds=float(s)) for u, s in zip(uploaded, rng.uniform(1, 8, images), strict=True)]
    keys = [
        layout.image_key(f"{rng.integers(0, 2**63):016x}{i:048x}"[:64], f"frame-{i:06d}.jpg", uploaded[i])
        for i in range(images)
    ]
    sources = rng.choice(SOURCES, images)
    per_image = np.minimum(rng.poisson(2.5, images), 8)
    image_of = np.repeat(np.arange(images), per_image)
    found = len(image_of)
    label_index = rng.choice(len(labels), found, p=weights)
    widths = np.full(images, 1280, dtype=np.int32)
    heights = np.full(images, 720, dtype=np.int32)
    counts: list[list[tuple[str, int]]] = []
    for mine in np.split(label_index, np.cumsum(per_image)[:-1]):  # image_of is sorted: one slice per image
        values, numbers = np.unique(mine, return_counts=True)
        counts.append([(labels[v], int(n)) for v, n in zip(values, numbers, strict=True)])

    def common(rows: np.ndarray) -> dict[str, object]:
        return {
            "image_key": [keys[r] for r in rows],
            "source": [str(sources[r]) for r in rows],
            "upload_hour": [hour] * len(rows),
            "uploaded_at": [uploaded[r] for r in rows],
            "captured_at": [uploaded[r] for r in rows],
            "processed_at": [processed[r] for r in rows],
            "model": ["yolov4-tiny"] * len(rows),
            "backend": ["onnxruntime"] * len(rows),
            "input_size": np.full(len(rows), 416, dtype=np.int16),
            "confidence_threshold": np.full(len(rows), 0.5, dtype=np.float32),
            "nms_threshold": np.full(len(rows), 0.4, dtype=np.float32),
            "run_id": ["synthetic"] * len(rows),
        }

    all_images = np.arange(images)
    image_columns = common(all_images) | {
        "detection_key": [layout.parse_image_key(k).detection_key for k in keys],
        "width": widths,
        "height": heights,
        "objects": per_image.astype(np.int32),
        "counts": counts,
    }
    detection_columns = common(image_of) | {
        "label": [labels[i] for i in label_index],
        "class_id": np.array([CLASSES[labels[i]][0] for i in label_index], dtype=np.int16),
        "confidence": rng.uniform(0.5, 1.0, found).astype(np.float32),
        "box_x": rng.integers(0, 1100, found, dtype=np.int32),
        "box_y": rng.integers(0, 600, found, dtype=np.int32),
        "box_w": rng.integers(8, 180, found, dtype=np.int32),
        "box_h": rng.integers(8, 120, found, dtype=np.int32),
    }
    return table.HourTables(
        detections=pa.table(detection_columns, schema=table.DETECTIONS),
        images=pa.table(image_columns, schema=table.IMAGES),
    )
