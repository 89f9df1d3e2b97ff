"""The Dagster code location (`workspace.yaml` loads this module)."""

from __future__ import annotations

from dagster import Definitions, in_process_executor
from dotenv import load_dotenv

from imgassets.settings import env_file

# Resources read secrets through EnvVar, so values kept in .env must be in the process environment.
load_dotenv(env_file(), override=False)

from imgassets.defs.assets import detection_summary, detections, raw_images  # noqa: E402
from imgassets.defs.jobs import image_batch_job  # noqa: E402
from imgassets.defs.run_failures import canceled_batch_sensor, failed_batch_sensor  # noqa: E402
from imgassets.defs.sensors import kafka_image_sensor  # noqa: E402
from imgassets.resources import AlertResource, DetectorResource, KafkaResource, S3Resource  # noqa: E402
from imgassets.settings import get_settings  # noqa: E402

settings = get_settings()
settings.require_s3_credentials()

defs = Definitions(
    assets=[raw_images, detections, detection_summary],
    jobs=[image_batch_job],
    sensors=[kafka_image_sensor, failed_batch_sensor, canceled_batch_sensor],
    # Materializations and backfills launched from the asset graph run in process too, like image_batch_job.
    executor=in_process_executor,
    resources={
        "s3": S3Resource.from_settings(settings),
        "kafka": KafkaResource.from_settings(settings),
        "detector": DetectorResource.from_settings(settings),
        "alerts": AlertResource.from_settings(settings),
    },
)
