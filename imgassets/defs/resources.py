"""The resources every asset and sensor gets: the one configuration channel of the Dagster code.

`Settings` reads the environment (and a git-ignored `.env`) once and validates every value, naming its variable
on error; the deployment (IMGASSETS_DEPLOYMENT: local or compose) picks its defaults from
`settings.DEPLOYMENT_DEFAULTS`, as it picks the Dagster instance. The resource classes are the same in every
deployment, so one builder turns any deployment's settings into its set. Secrets stay `EnvVar`s, resolved when a
run or tick uses them, so the definitions load with no credentials at all. Tests build their set from their own
settings object (`imgassets_tests.helpers.Deployment`), never by changing the environment.
"""

from __future__ import annotations

from dagster import ConfigurableResource

from imgassets.core.settings import Settings
from imgassets.defs.resource_types import (
    AlertResource,
    DetectorResource,
    KafkaResource,
    PipelineResource,
    S3Resource,
    TrackingResource,
)


def pipeline_resources(settings: Settings, **overrides: ConfigurableResource) -> dict[str, ConfigurableResource]:
    """The resource set of a deployment's settings; `overrides` replace whole resources."""
    return {
        "s3": S3Resource.from_settings(settings),
        "kafka": KafkaResource.from_settings(settings),
        "detector": DetectorResource.from_settings(settings),
        "pipeline": PipelineResource.from_settings(settings),
        "alerts": AlertResource.from_settings(settings),
        "tracking": TrackingResource.from_settings(settings),
    } | overrides
