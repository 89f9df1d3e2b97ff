"""The resources every asset and sensor gets: the one configuration channel of the Dagster code.

`Settings` reads the environment (and a git-ignored `.env`) once and validates every value, naming its variable
on error; these builders turn it into resources. Secrets stay `EnvVar`s, resolved when a run or tick uses
them, so the definitions load with no credentials at all. Tests build the same set with the values they need.
"""

from __future__ import annotations

from dagster import ConfigurableResource

from imgassets.resources import (
    AlertResource,
    DetectorResource,
    KafkaResource,
    PipelineResource,
    S3Resource,
)
from imgassets.settings import Settings


def pipeline_resources(settings: Settings, **overrides: ConfigurableResource) -> dict[str, ConfigurableResource]:
    """The resource set of a deployment (local stack, compose, tests: they differ only in their environment)."""
    return {
        "s3": S3Resource.from_settings(settings),
        "kafka": KafkaResource.from_settings(settings),
        "detector": DetectorResource.from_settings(settings),
        "pipeline": PipelineResource.from_settings(settings),
        "alerts": AlertResource.from_settings(settings),
    } | overrides
