"""Memory of one run over a batch of maximum-size images (50 MP, the default IMGASSETS_MAX_IMAGE_PIXELS), on the
real S3 server: the run executes in a fresh process whose peak RSS is read from the kernel, once with the default
pixel budget and once with the budget lifted (what every run did before it existed). Prints both figures for the
README; asserts only that the bounded run stays under a bound derived from its budget."""

import json
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest
from dagster import DagsterInstance, build_sensor_context

from imgassets.core import messages
from imgassets.ingest import announce, media
from imgassets_tests import helpers
from imgassets_tests.conftest import PHOTOS

pytestmark = pytest.mark.integration
WIDTH, HEIGHT = 8660, 5773  # 49,994,180 px: just under the 50 MP limit
COUNT = 10
_RUN = """
import json, resource, sys
from dagster import DagsterInstance, materialize
from imgassets.core.settings import get_settings
from imgassets.defs.detection_summary import detection_summary_asset
from imgassets.defs.image_batch import image_batch_asset
from imgassets.defs.partitions import hourly_partitions
from imgassets.defs.resources import pipeline_resources
settings = get_settings()
partitions = hourly_partitions(settings.partitions_start)
request = json.loads(open(sys.argv[1]).read())
outcome = materialize([image_batch_asset(partitions), detection_summary_asset(partitions)],
                      partition_key=request["partition_key"], run_config=request["run_config"],
                      resources=pipeline_resources(settings), instance=DagsterInstance.ephemeral())
records = [e for e in outcome.get_asset_materialization_events() if e.asset_key.path == ["detections"]]
print(json.dumps({"success": outcome.success,
                  "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                  "images": records[0].materialization.metadata["images"].value}))
"""


def _max_size_images(count: int) -> list[media.Item]:
    """50 MP images holding a real photo on a plain canvas, mostly PNG: small files (a few MiB) that decode to
    150 MB each, and PNG has no reduced-size decode, so validation holds every pixel: the worst case."""
    photos = sorted(PHOTOS.glob("*.jpg"))
    items = []
    for index in range(count):
        canvas = np.full((HEIGHT, WIDTH, 3), 90 + index, dtype=np.uint8)
        image = cv2.imread(str(photos[index % len(photos)]))
        assert image is not None
        photo = cv2.resize(image, (2400, 1800))
        canvas[1000:2800, 1500:3900] = photo
        extension, params = (
            (".jpg", [cv2.IMWRITE_JPEG_QUALITY, 85]) if index % 3 == 2 else (".png", [cv2.IMWRITE_PNG_COMPRESSION, 3])
        )
        ok, encoded = cv2.imencode(extension, canvas, params)
        assert ok
        items.append(
            media.Item(
                data=encoded.tobytes(),
                name=f"max{index}{extension}",
                source=messages.Source(path=f"/max/max{index}{extension}"),
            )
        )
    return items


def _peak_rss(deployment: helpers.Deployment, request_file: Path, budget: int | None) -> dict:
    """Runs the batch in a process of its own (as a run worker does), configured by its environment."""
    env = dict(__import__("os").environ) | deployment.env()
    if budget is not None:
        env["IMGASSETS_MAX_PIXEL_BYTES_IN_FLIGHT"] = str(budget)
    done = subprocess.run(
        [sys.executable, "-c", _RUN, str(request_file)],
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_peak_rss_of_a_run_over_maximum_size_images_is_bounded(topics, store, tmp_path, deployment) -> None:
    items = _max_size_images(COUNT)
    settings = deployment.settings
    producer = deployment.producer()
    try:
        report = announce.Ingestor(store, producer, settings.kafka_topic).ingest_many(items, workers=2)
    finally:
        producer.close()
    assert len(report.sent) == COUNT, report.failed
    result = helpers.tick(build_sensor_context(resources=deployment.resources(), instance=DagsterInstance.ephemeral()))
    (request,) = result.run_requests
    request_file = tmp_path / "request.json"
    request_file.write_text(json.dumps({"partition_key": request.partition_key, "run_config": request.run_config}))

    bounded = _peak_rss(deployment, request_file, None)
    unbounded = _peak_rss(deployment, request_file, 64 * 2**30)
    budget_mib = settings.max_pixel_bytes_in_flight / 2**20
    sizes = ", ".join(f"{len(item.data) / 2**20:.1f}" for item in items)
    print(
        f"\npeak RSS of one run over {COUNT} images of {WIDTH}x{HEIGHT} px (MiB: {sizes}): "
        f"{bounded['peak_rss_mib']:.0f} MiB with the {budget_mib:.0f} MiB pixel budget, "
        f"{unbounded['peak_rss_mib']:.0f} MiB without it"
    )
    assert bounded["success"] and bounded["images"] == COUNT
    assert unbounded["success"] and unbounded["images"] == COUNT
    # Start-up (Dagster, ONNX Runtime, the model) plus the budget plus compressed bytes in flight.
    assert bounded["peak_rss_mib"] < 1024 + budget_mib + 8 * settings.max_image_bytes / 2**20, bounded
