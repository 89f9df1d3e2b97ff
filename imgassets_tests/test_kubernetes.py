"""The Kubernetes deployment (deploy/), checked without a cluster: every manifest under deploy/k8s against
Kubernetes' own schemas (kubernetes-validate, strict: unknown fields fail), the Helm values' run launcher against
dagster-k8s's own config schema, the run Job that dagster-k8s builds from that config against the Job schema, the
instance the chart renders from the values against Dagster's instance schema and the shared instance template,
and the values' pins.

The Dagster chart itself is not rendered (it is published only on its own Helm repository): `chart_instance`
mirrors what its templates (dagster/dagster 1.13.27: configmap-instance.yaml and helpers/instance/*.tpl) make of
the values used in deploy/helm/values.yaml.
"""

from __future__ import annotations

import copy
import importlib.metadata
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import kubernetes
import kubernetes_validate
import pytest
import yaml
from dagster._config import process_config
from dagster_k8s.container_context import K8sContainerContext
from dagster_k8s.job import UserDefinedDagsterK8sConfig, construct_dagster_k8s_job
from dagster_k8s.launcher import K8sRunLauncher
from pydantic import ValidationError

from imgassets.core.settings import ENV_PREFIX, PROJECT_ROOT, Settings
from imgassets.stack import instance as dagster_instance

DEPLOY = PROJECT_ROOT / "deploy"
K8S_DIR = DEPLOY / "k8s"
VALUES_FILE = DEPLOY / "helm" / "values.yaml"
SECRETS_TEMPLATE = K8S_DIR / "secrets.example.yaml"
#: An older minor that managed clusters still run, and the newest one kubernetes-validate bundles.
K8S_VERSIONS = ("1.34.0", "1.37.0")
#: What docs/kubernetes.md installs: release `dagster` in namespace `imgassets`.
RELEASE, NAMESPACE = "dagster", "imgassets"
PLACEHOLDER = "CHANGE_ME"
#: Secret values that must be placeholders in the template (besides the settings typed SecretStr).
SECRET_KEYS = {
    "postgresql-password",
    "IMGASSETS_VIEWER_USER",
    "IMGASSETS_VIEWER_PASSWORD_HASH",
    "IMGASSETS_VIEWER_SESSION_SECRET",
    "IMGASSETS_QUERY_TOKEN",
}


def _documents(path: Path) -> list[dict[str, Any]]:
    return [doc for doc in yaml.safe_load_all(path.read_text()) if doc]


def _manifests() -> list[tuple[str, dict[str, Any]]]:
    """(file:Kind/name, resource) of every Kubernetes resource under deploy/k8s (not kustomize's own file)."""
    return [
        (f"{path.name}:{doc['kind']}/{doc['metadata']['name']}", doc)
        for path in sorted(K8S_DIR.glob("*.yaml"))
        for doc in _documents(path)
        if doc["kind"] != "Kustomization"
    ]


MANIFESTS = _manifests()


def _resource(kind: str, name: str) -> dict[str, Any]:
    return next(doc for _, doc in MANIFESTS if doc["kind"] == kind and doc["metadata"]["name"] == name)


def _pod_spec(doc: dict[str, Any]) -> dict[str, Any]:
    return doc["spec"]["template"]["spec"]


def _container(kind: str, name: str) -> dict[str, Any]:
    (container,) = _pod_spec(_resource(kind, name))["containers"]
    return container


def _env(container: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {var["name"]: var for var in container.get("env", [])}


@pytest.fixture(scope="module")
def values() -> dict[str, Any]:
    return yaml.safe_load(VALUES_FILE.read_text())


def _launcher_values(values: dict[str, Any]) -> dict[str, Any]:
    return values["runLauncher"]["config"]["k8sRunLauncher"]


def _code_server(values: dict[str, Any]) -> dict[str, Any]:
    (deployment,) = values["dagster-user-deployments"]["deployments"]
    return deployment


def _run_env(values: dict[str, Any]) -> dict[str, str]:
    return dict(var.split("=", 1) for var in _launcher_values(values)["envVars"])


# --- What the chart renders from the values -----------------------------------------------------------------


#: The chart's K8sRunLauncher values (its values.schema.json forbids any other key).
CHART_LAUNCHER_KEYS = {
    "image",
    "imagePullPolicy",
    "jobNamespace",
    "loadInclusterConfig",
    "kubeconfigFile",
    "envConfigMaps",
    "envSecrets",
    "envVars",
    "volumeMounts",
    "volumes",
    "labels",
    "failPodOnRunFailure",
    "resources",
    "schedulerName",
    "securityContext",
    "runK8sConfig",
}


def chart_run_launcher(values: dict[str, Any]) -> dict[str, Any]:
    """The instance's `run_launcher.config` the chart renders (helpers/instance/_run-launcher.tpl, K8sRunLauncher)."""
    launcher = _launcher_values(values)
    unknown = set(launcher) - CHART_LAUNCHER_KEYS
    if unknown:
        raise ValueError(f"not a key of the chart's runLauncher.config.k8sRunLauncher: {sorted(unknown)}")
    global_ = values.get("global", {})
    config: dict[str, Any] = {
        "load_incluster_config": launcher["loadInclusterConfig"],
        "job_namespace": launcher.get("jobNamespace") or NAMESPACE,
        "image_pull_policy": launcher["imagePullPolicy"],
        # serviceAccount.name is unset: the chart's full name, which is the release's here.
        "service_account_name": global_.get("serviceAccountName") or RELEASE,
        "dagster_home": global_["dagsterHome"],
        "instance_config_map": f"{RELEASE}-instance",
        "postgres_password_secret": global_.get("postgresqlSecretName") or f"{RELEASE}-postgresql-secret",
    }
    if launcher.get("kubeconfigFile"):
        config["kubeconfig_file"] = launcher["kubeconfigFile"]
    if values.get("imagePullSecrets"):
        config["image_pull_secrets"] = values["imagePullSecrets"]
    if "image" in launcher:
        image = launcher["image"]
        config["job_image"] = f"{image['repository']}:{image['tag']}"
    for key, source in (("env_config_maps", "envConfigMaps"), ("env_secrets", "envSecrets")):
        names = [item["name"] for item in launcher.get(source) or [] if "name" in item]
        if names:
            config[key] = names
    for key, source in (
        ("env_vars", "envVars"),
        ("volume_mounts", "volumeMounts"),
        ("volumes", "volumes"),
        ("labels", "labels"),
        ("resources", "resources"),
        ("scheduler_name", "schedulerName"),
        ("security_context", "securityContext"),
    ):
        if launcher.get(source):
            config[key] = launcher[source]
    if launcher.get("failPodOnRunFailure"):
        config["fail_pod_on_run_failure"] = True
    run_k8s = launcher.get("runK8sConfig") or {}
    sections = {
        "container_config": "containerConfig",
        "pod_spec_config": "podSpecConfig",
        "pod_template_spec_metadata": "podTemplateSpecMetadata",
        "job_spec_config": "jobSpecConfig",
        "job_metadata": "jobMetadata",
    }
    if run_k8s:
        config["run_k8s_config"] = {key: run_k8s[source] for key, source in sections.items() if run_k8s.get(source)}
    return config


def chart_instance(values: dict[str, Any]) -> dict[str, Any]:
    """The instance (dagster.yaml) the chart renders from the values (templates/configmap-instance.yaml)."""
    pg = values["postgresql"]
    postgres_db = {
        "username": pg["postgresqlUsername"],
        "password": {"env": "DAGSTER_PG_PASSWORD"},
        "hostname": pg["postgresqlHost"],
        "db_name": pg["postgresqlDatabase"],
        "port": pg["service"]["port"],
        "params": pg.get("postgresqlParams") or {},
    }
    if pg.get("postgresqlScheme"):
        postgres_db["scheme"] = pg["postgresqlScheme"]
    daemon = values["dagsterDaemon"]
    queued = daemon["runCoordinator"]["config"]["queuedRunCoordinator"]
    monitoring, retries, sensors = daemon["runMonitoring"], daemon["runRetries"], daemon["sensors"]
    rendered: dict[str, Any] = {
        **{
            f"{kind}_storage": {
                "module": f"dagster_postgres.{module}",
                "class": cls,
                "config": {"postgres_db": postgres_db},
            }
            for kind, module, cls in (
                ("schedule", "schedule_storage", "PostgresScheduleStorage"),
                ("run", "run_storage", "PostgresRunStorage"),
                ("event_log", "event_log", "PostgresEventLogStorage"),
            )
        },
        "run_launcher": {"module": "dagster_k8s", "class": "K8sRunLauncher", "config": chart_run_launcher(values)},
        "run_coordinator": {
            "module": "dagster.core.run_coordinator",
            "class": "QueuedRunCoordinator",
            "config": {
                "max_concurrent_runs": queued["maxConcurrentRuns"],
                "tag_concurrency_limits": queued["tagConcurrencyLimits"],
                "dequeue_interval_seconds": queued["dequeueIntervalSeconds"],
            },
        },
        "run_monitoring": {
            "enabled": monitoring["enabled"],
            "start_timeout_seconds": monitoring["startTimeoutSeconds"],
            "cancel_timeout_seconds": monitoring["cancelTimeoutSeconds"],
            "max_resume_run_attempts": monitoring["maxResumeRunAttempts"],
            "poll_interval_seconds": monitoring["pollIntervalSeconds"],
            "free_slots_after_run_end_seconds": monitoring["freeSlotsAfterRunEndSeconds"],
        },
        "run_retries": {"enabled": retries["enabled"], "max_retries": retries["maxRetries"]},
        "sensors": {"use_threads": sensors["useThreads"], "num_workers": sensors["numWorkers"]},
        "telemetry": {"enabled": values["telemetry"]["enabled"]},
    }
    if values["retention"]["enabled"]:
        rendered["retention"] = {"sensor": {"purge_after_days": values["retention"]["sensor"]["purgeAfterDays"]}}
    return rendered


# --- Manifests ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("version", K8S_VERSIONS)
@pytest.mark.parametrize("resource", [doc for _, doc in MANIFESTS], ids=[name for name, _ in MANIFESTS])
def test_manifest_validates_strictly(resource: dict[str, Any], version: str) -> None:
    kubernetes_validate.validate(resource, version, strict=True)


def test_validation_rejects_an_unknown_field() -> None:
    """So the strict validation above is real: a misspelt field fails, and a wrong type too."""
    deployment = copy.deepcopy(_resource("Deployment", "imgassets-query"))
    _pod_spec(deployment)["containers"][0]["readinessprobe"] = {"httpGet": {"path": "/health", "port": 3002}}
    with pytest.raises(kubernetes_validate.ValidationError, match="readinessprobe"):
        kubernetes_validate.validate(deployment, K8S_VERSIONS[-1], strict=True)
    secret = copy.deepcopy(_resource("Secret", "imgassets-env"))
    secret["stringData"]["IMGASSETS_KAFKA_TOPIC_PARTITIONS"] = 4
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(secret, K8S_VERSIONS[-1], strict=True)


def _quantities(tree: Any) -> list[str]:
    """Every requests/limits quantity in a resource or values tree (the schemas take any string)."""
    found: list[str] = []
    if isinstance(tree, dict):
        for key, value in tree.items():
            if key in ("requests", "limits") and isinstance(value, dict):
                found += [str(quantity) for quantity in value.values()]
            else:
                found += _quantities(value)
    elif isinstance(tree, list):
        for item in tree:
            found += _quantities(item)
    return found


def test_resource_quantities_parse(values: dict[str, Any]) -> None:
    quantities = _quantities([doc for _, doc in MANIFESTS]) + _quantities(values)
    assert len(quantities) > 10
    for quantity in quantities:
        kubernetes.utils.parse_quantity(quantity)  # raises on a malformed quantity
    with pytest.raises(ValueError):
        kubernetes.utils.parse_quantity("two")


def test_kustomization_lists_every_manifest_but_the_secret_template() -> None:
    (kustomization,) = _documents(K8S_DIR / "kustomization.yaml")
    assert kustomization["namespace"] == NAMESPACE
    # Secrets are never applied from the repository: `kubectl apply -k` must not overwrite real values.
    assert set(kustomization["resources"]) == {
        path.name for path in K8S_DIR.glob("*.yaml") if path.name not in ("kustomization.yaml", SECRETS_TEMPLATE.name)
    }
    images = {image["name"]: image for image in kustomization["images"]}
    assert set(images) == {"imgassets-code", "imgassets-viewer"}
    assert all(image["newTag"] == PLACEHOLDER for image in images.values())
    used = {
        container["image"]
        for _, doc in MANIFESTS
        if "template" in doc.get("spec", {})
        for container in _pod_spec(doc)["containers"]
    }
    assert used == set(images)


@pytest.mark.skipif(shutil.which("kubectl") is None, reason="kubectl (for its built-in kustomize) is not installed")
def test_kustomization_renders_valid_resources() -> None:
    rendered = subprocess.run(
        ["kubectl", "kustomize", str(K8S_DIR)], capture_output=True, text=True, check=True, timeout=60
    ).stdout
    resources = [doc for doc in yaml.safe_load_all(rendered) if doc]
    assert {doc["kind"] for doc in resources} == {"Deployment", "Service", "NetworkPolicy", "Job"}
    for doc in resources:
        assert doc["metadata"]["namespace"] == NAMESPACE
        kubernetes_validate.validate(doc, K8S_VERSIONS[-1], strict=True)
        if "template" in doc["spec"]:
            for container in _pod_spec(doc)["containers"]:
                assert container["image"].startswith("registry.example.com/imgassets/imgassets-")
                assert container["image"].endswith(f":{PLACEHOLDER}")


def test_pods_run_unprivileged_with_probes_and_resources() -> None:
    uids = {"imgassets-query": 10001, "imgassets-viewer": 1000, "imgassets-init": 10001}
    for name, uid in uids.items():
        kind = "Job" if name == "imgassets-init" else "Deployment"
        spec = _pod_spec(_resource(kind, name))
        assert spec["securityContext"]["runAsNonRoot"] and spec["securityContext"]["runAsUser"] == uid
        assert spec["automountServiceAccountToken"] is False
        for container in spec["containers"]:
            assert container["securityContext"]["allowPrivilegeEscalation"] is False
            assert container["securityContext"]["capabilities"]["drop"] == ["ALL"]
            assert container["resources"]["requests"] and container["resources"]["limits"]["memory"]
            if kind == "Deployment":
                assert container["securityContext"]["readOnlyRootFilesystem"] is True
                paths = {
                    container[probe]["httpGet"]["path"] for probe in ("startupProbe", "readinessProbe", "livenessProbe")
                }
                assert paths == ({"/health"} if name == "imgassets-query" else {"/healthz"})
    query = _container("Deployment", "imgassets-query")
    assert query["command"] == ["imgassets", "serve-queries", "--host", "0.0.0.0", "--port", "3002"]
    assert query["ports"][0]["containerPort"] == 3002
    assert _container("Deployment", "imgassets-viewer")["ports"][0]["containerPort"] == 3001


def test_only_the_viewer_reaches_the_query_service() -> None:
    query_service = _resource("Service", "imgassets-query")
    query_url = _env(_container("Deployment", "imgassets-viewer"))["IMGASSETS_QUERY_URL"]["value"]
    assert query_url == f"http://imgassets-query:{query_service['spec']['ports'][0]['port']}"
    policy = _resource("NetworkPolicy", "imgassets-query")["spec"]
    assert policy["podSelector"]["matchLabels"] == query_service["spec"]["selector"]
    assert policy["policyTypes"] == ["Ingress"]
    (rule,) = policy["ingress"]
    viewer_pods = _resource("Service", "imgassets-viewer")["spec"]["selector"]
    assert rule["from"] == [{"podSelector": {"matchLabels": viewer_pods}}]
    assert rule["ports"] == [{"protocol": "TCP", "port": 3002}]
    # The token both sides share comes from one Secret key.
    query = _container("Deployment", "imgassets-query")
    assert _env(query)["IMGASSETS_QUERY_TOKEN"]["valueFrom"]["secretKeyRef"] == {
        "name": "imgassets-web",
        "key": "IMGASSETS_QUERY_TOKEN",
    }
    assert "IMGASSETS_QUERY_TOKEN" in _resource("Secret", "imgassets-web")["stringData"]
    # The endpoint answers only the Host names it is told (400 otherwise, /health included): the one the viewer
    # calls, which the kubelet's probes send too.
    allowed = _env(query)["IMGASSETS_QUERY_ALLOWED_HOSTS"]["value"]
    hosts = Settings(_env_file=None, deployment="compose", query_allowed_hosts=allowed).query_hosts
    assert urlsplit(query_url).hostname in hosts
    for probe in ("startupProbe", "readinessProbe", "livenessProbe"):
        assert {header["name"]: header["value"] for header in query[probe]["httpGet"]["httpHeaders"]}["Host"] in hosts


def test_secret_template_holds_placeholders_and_loads_as_settings() -> None:
    secret_fields = {name for name, field in Settings.model_fields.items() if "SecretStr" in str(field.annotation)}
    for secret in (doc for _, doc in MANIFESTS if doc["kind"] == "Secret"):
        for key, value in secret["stringData"].items():
            is_secret = key in SECRET_KEYS or key.removeprefix(ENV_PREFIX).lower() in secret_fields
            assert (value == PLACEHOLDER) == is_secret, key
    settings_env = _resource("Secret", "imgassets-env")["stringData"]
    unknown = {key for key in settings_env if key.removeprefix(ENV_PREFIX).lower() not in Settings.model_fields}
    assert not unknown, f"not settings: {unknown}"
    # As the code image reads it (IMGASSETS_DEPLOYMENT=compose, no .env file).
    overrides = {key.removeprefix(ENV_PREFIX).lower(): value for key, value in settings_env.items()}
    settings = Settings(_env_file=None, deployment="compose", **overrides)
    assert settings.kafka_security_protocol == "SASL_SSL"
    assert settings.s3_endpoint_url is not None and settings.s3_endpoint_url.startswith("https://")
    # The viewer's and the query endpoint's secrets are settings too, and their placeholders refuse to start.
    web = _resource("Secret", "imgassets-web")["stringData"]
    assert all(key.removeprefix(ENV_PREFIX).lower() in Settings.model_fields for key in web)
    with pytest.raises(ValidationError) as refused:
        Settings(_env_file=None, **{key.removeprefix(ENV_PREFIX).lower(): value for key, value in web.items()})
    assert {error["loc"][0] for error in refused.value.errors()} >= {"query_token", "viewer_session_secret"}


def test_service_links_cannot_break_settings(values: dict[str, Any]) -> None:
    """A Service `x-y` gives pods of its namespace X_Y_PORT=tcp://…, X_Y_SERVICE_HOST, …: for imgassets-query that
    is IMGASSETS_QUERY_PORT, a setting that must be a port. Our pods turn service links off; the chart's code server
    cannot, so it declares those settings itself (a declared variable wins over a service link)."""
    services = [doc["metadata"]["name"] for _, doc in MANIFESTS if doc["kind"] == "Service"]
    services += [_code_server(values)["name"], f"{RELEASE}-webserver"]
    clashing = {
        f"{prefix}{suffix}"
        for prefix in (name.upper().replace("-", "_") for name in services)
        for suffix in ("_PORT", "_SERVICE_HOST", "_SERVICE_PORT")
        if f"{prefix}{suffix}".startswith(ENV_PREFIX)
        and f"{prefix}{suffix}".removeprefix(ENV_PREFIX).lower() in Settings.model_fields
    }
    assert clashing == {"IMGASSETS_QUERY_PORT", "IMGASSETS_VIEWER_PORT"}
    declared = {var["name"]: var["value"] for var in _code_server(values)["env"]}
    assert set(declared) >= clashing
    Settings(_env_file=None, **{name.removeprefix(ENV_PREFIX).lower(): declared[name] for name in clashing})
    for _, doc in MANIFESTS:
        if "template" in doc.get("spec", {}):
            assert _pod_spec(doc)["enableServiceLinks"] is False, doc["metadata"]["name"]
    assert _launcher_values(values)["runK8sConfig"]["podSpecConfig"]["enable_service_links"] is False


# --- Helm values: the run launcher, with dagster-k8s's own schema ---------------------------------------------


def test_run_launcher_config_validates_with_dagster_k8s(values: dict[str, Any]) -> None:
    assert values["runLauncher"]["type"] == "K8sRunLauncher"
    config = chart_run_launcher(values)
    result = process_config(K8sRunLauncher.config_type(), config)
    assert result.success, [error.message for error in result.errors or []]
    processed = result.value or {}
    assert processed["env_secrets"] == ["imgassets-env"]
    assert processed["postgres_password_secret"] == "dagster-postgresql-secret"
    assert processed["dagster_home"] == "/opt/dagster/home"  # the code image's DAGSTER_HOME, owned by its user


@pytest.mark.parametrize(
    "change, error",
    [
        ({"resource": {"requests": {"cpu": "2"}}}, "resource"),  # misspelt key
        ({"jobNamespace": "imgassets"}, "jobNamespace"),  # the chart's name, not the instance's
        ({"load_incluster_config": "yes"}, "load_incluster_config"),  # wrong type
    ],
)
def test_a_wrong_launcher_key_is_rejected(values: dict[str, Any], change: dict[str, Any], error: str) -> None:
    result = process_config(K8sRunLauncher.config_type(), {**chart_run_launcher(values), **change})
    assert not result.success
    assert error in " ".join(e.message for e in result.errors or [])


def test_a_key_the_chart_does_not_know_is_rejected(values: dict[str, Any]) -> None:
    wrong = copy.deepcopy(values)
    _launcher_values(wrong)["resource"] = {"requests": {"cpu": "2"}}
    with pytest.raises(ValueError, match="resource"):
        chart_run_launcher(wrong)


def test_the_run_job_dagster_k8s_builds_validates(values: dict[str, Any]) -> None:
    """The Job a run becomes, built by dagster-k8s's own code from the processed launcher config (as
    K8sRunLauncher.launch_run does, minus the API call), validates as a Kubernetes Job."""
    launcher = process_config(K8sRunLauncher.config_type(), chart_run_launcher(values)).value or {}
    context = K8sContainerContext(
        image_pull_policy=launcher.get("image_pull_policy"),
        image_pull_secrets=launcher.get("image_pull_secrets"),
        service_account_name=launcher.get("service_account_name"),
        env_config_maps=launcher.get("env_config_maps"),
        env_secrets=launcher.get("env_secrets"),
        env_vars=launcher.get("env_vars"),
        volume_mounts=launcher.get("volume_mounts"),
        volumes=launcher.get("volumes"),
        labels=launcher.get("labels"),
        namespace=launcher.get("job_namespace"),
        resources=launcher.get("resources"),
        scheduler_name=launcher.get("scheduler_name"),
        security_context=launcher.get("security_context"),
        run_k8s_config=UserDefinedDagsterK8sConfig.from_dict(launcher.get("run_k8s_config") or {}),
    )

    class LauncherSettings:  # what get_k8s_job_config reads from the launcher
        job_image = None
        dagster_home = launcher["dagster_home"]
        instance_config_map = launcher["instance_config_map"]
        postgres_password_secret = launcher["postgres_password_secret"]

    image = "registry.example.com/imgassets/imgassets-code:0123abc"
    job = construct_dagster_k8s_job(
        job_config=context.get_k8s_job_config(job_image=image, run_launcher=LauncherSettings()),
        args=["dagster", "api", "execute_run", "{}"],
        job_name="dagster-run-0123abcd",
        pod_name="dagster-run-0123abcd",
        component="run_worker",
        user_defined_k8s_config=context.run_k8s_config,
        labels={"dagster/job": "image_batch", "dagster/run-id": "0123abcd"},
    )
    manifest = kubernetes.client.ApiClient().sanitize_for_serialization(job)
    for version in K8S_VERSIONS:
        kubernetes_validate.validate(manifest, version, strict=True)

    pod = manifest["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    assert container["image"] == image and pod["serviceAccountName"] == RELEASE
    assert pod["enableServiceLinks"] is False
    assert container["envFrom"] == [{"secretRef": {"name": "imgassets-env"}}]
    env = {var["name"]: var for var in container["env"]}
    assert env["DAGSTER_PG_PASSWORD"]["valueFrom"]["secretKeyRef"]["name"] == "dagster-postgresql-secret"
    assert env["DAGSTER_HOME"]["value"] == "/opt/dagster/home"
    lanes = env["IMGASSETS_DETECTOR_LANES"]["value"]
    assert container["resources"]["requests"]["cpu"] == container["resources"]["limits"]["cpu"] == lanes
    assert container["securityContext"]["runAsUser"] == 10001 and container["securityContext"]["runAsNonRoot"]
    assert manifest["metadata"]["labels"]["imgassets/role"] == "run-worker"


# --- Helm values: the rest of the instance, against Dagster and the shared template ----------------------------


def test_chart_instance_is_a_valid_dagster_instance(values: dict[str, Any], tmp_path: Path) -> None:
    from dagster._core.instance.config import dagster_instance_config

    (tmp_path / "dagster.yaml").write_text(yaml.safe_dump(chart_instance(values)))
    config, _ = dagster_instance_config(str(tmp_path))  # validates against Dagster's instance schema
    assert config["run_launcher"]["class"] == "K8sRunLauncher"
    assert config["run_storage"]["config"]["postgres_db"]["scheme"] == "postgresql+psycopg2"


def test_chart_instance_matches_the_template(values: dict[str, Any]) -> None:
    """Queue limits, run monitoring, retries, sensor threads and retention as in every other deployment."""
    chart = chart_instance(values)
    template = yaml.safe_load(dagster_instance.render("compose"))
    template_queue = dict(template["run_coordinator"]["config"])
    # The template reads DAGSTER_MAX_CONCURRENT_RUNS (2 in the code image, as the local stack's default).
    assert template_queue.pop("max_concurrent_runs") == {"env": "DAGSTER_MAX_CONCURRENT_RUNS"}
    assert (
        chart["run_coordinator"]["config"].pop("max_concurrent_runs")
        == Settings.model_fields["max_concurrent_runs"].default
    )
    assert "DAGSTER_MAX_CONCURRENT_RUNS=2" in (PROJECT_ROOT / "docker" / "Dockerfile").read_text()
    assert chart["run_coordinator"]["config"] == template_queue
    for section in ("run_monitoring", "sensors", "telemetry"):
        assert chart[section] == template[section], section
    # The chart renders no retry_on_asset_or_op_failure: Dagster's default, the template's value.
    assert template["run_retries"].pop("retry_on_asset_or_op_failure") is True
    assert chart["run_retries"] == template["run_retries"]
    chart_purge = chart["retention"]["sensor"]["purge_after_days"]
    assert template["retention"]["sensor"]["purge_after_days"].items() <= chart_purge.items()


def test_the_code_image_opens_the_chart_instance_without_dagster_k8s(
    values: dict[str, Any], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The code image (run pods, the code server, init) ships dagster-docker, not dagster-k8s: the instance loads
    its run launcher only when one is used (launching, or resuming runs: maxResumeRunAttempts must stay 0)."""
    from dagster import DagsterInstance, QueuedRunCoordinator

    assert values["dagsterDaemon"]["runMonitoring"]["maxResumeRunAttempts"] == 0
    rendered = chart_instance(values)
    for key in ("schedule_storage", "run_storage", "event_log_storage"):  # SQLite here: no PostgreSQL to reach
        rendered.pop(key)
    (tmp_path / "dagster.yaml").write_text(yaml.safe_dump(rendered))
    monkeypatch.setitem(sys.modules, "dagster_k8s", None)  # `import dagster_k8s` fails, as in the image
    with DagsterInstance.from_config(str(tmp_path)) as loaded:
        assert loaded.run_monitoring_enabled and loaded.run_retries_enabled
        assert isinstance(loaded.run_coordinator, QueuedRunCoordinator)
        assert loaded.run_coordinator.get_run_queue_config().max_concurrent_runs == 2
        with pytest.raises(Exception, match="dagster_k8s"):
            loaded.run_launcher  # noqa: B018 - the lazy load is what is tested


# --- Helm values: pins -------------------------------------------------------------------------------------------


def test_values_pins(values: dict[str, Any]) -> None:
    text = VALUES_FILE.read_text()
    dagster_version = importlib.metadata.version("dagster")
    chart = re.search(r"^# Chart: dagster/dagster (\S+) ", text, re.M)
    assert chart is not None and chart[1] == dagster_version
    assert f"--version {dagster_version} " in text
    assert importlib.metadata.version("dagster-k8s") == importlib.metadata.version("dagster-postgres")

    code_server = _code_server(values)
    assert code_server["name"] == "imgassets"  # the code location's name, as in compose
    assert code_server["codeServerArgs"] == ["-m", "imgassets.definitions", "--location-name", "imgassets"]
    workspace = yaml.safe_load((PROJECT_ROOT / "docker" / "workspace.yaml").read_text())["load_from"][0]["grpc_server"]
    assert code_server["port"] == workspace["port"] == 4000 and workspace["location_name"] == "imgassets"
    assert code_server["image"]["repository"].endswith("/imgassets-code")
    assert code_server["image"]["tag"] == PLACEHOLDER  # an immutable tag is set at install, never `latest`
    assert code_server["includeConfigInLaunchedRuns"] == {"enabled": False}
    assert code_server["envSecrets"] == [{"name": "imgassets-env"}]
    assert code_server["podSecurityContext"]["runAsUser"] == 10001
    # The code server and the init Job open the release's instance where DAGSTER_HOME points (the chart sets it
    # to global.dagsterHome on its pods; the init Job sets it itself).
    instance_file = f"{values['global']['dagsterHome']}/dagster.yaml"
    init = _container("Job", "imgassets-init")
    for volumes, mounts in (
        (code_server["volumes"], code_server["volumeMounts"]),
        (_pod_spec(_resource("Job", "imgassets-init"))["volumes"], init["volumeMounts"]),
    ):
        assert volumes == [{"name": "dagster-instance", "configMap": {"name": f"{RELEASE}-instance"}}]
        assert [(m["mountPath"], m["subPath"]) for m in mounts] == [(instance_file, "dagster.yaml")]
    assert _env(init)["DAGSTER_HOME"]["value"] == values["global"]["dagsterHome"]

    # The run pod's CPU request is its detector lanes. Settings default to one lane per visible core, which in a
    # pod is every core of the node, so the values set the lanes explicitly.
    assert Settings.model_fields["detector_lanes"].default is None
    lanes = int(_run_env(values)["IMGASSETS_DETECTOR_LANES"])
    assert Settings(_env_file=None, detector_lanes=lanes).detector_lanes == lanes
    resources = _launcher_values(values)["resources"]
    for bound in ("requests", "limits"):
        assert kubernetes.utils.parse_quantity(resources[bound]["cpu"]) == lanes
    assert resources["requests"] == resources["limits"]  # Guaranteed QoS

    assert values["postgresql"]["enabled"] is False and values["generatePostgresqlPasswordSecret"] is False
    assert values["global"]["postgresqlSecretName"] == "dagster-postgresql-secret"
    assert values["dagsterWebserver"]["service"]["type"] == "ClusterIP"
    assert "ingress" not in values  # no public exposure of the unauthenticated UI
    assert values["telemetry"]["enabled"] is False
