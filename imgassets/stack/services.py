"""The four services of the embedded local stack, each configured from `Settings`, all state under
`IMGASSETS_HOME` (default `.local/`): Apache Kafka (KRaft), SeaweedFS S3, Dagster (webserver + daemon), viewer.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import subprocess
import sys
import urllib.request
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from pydantic import SecretStr

from imgassets.core.settings import ENV_PREFIX, PROJECT_ROOT, Settings
from imgassets.stack import instance
from imgassets.stack.processes import Service, StackError

if TYPE_CHECKING:
    from dagster import DagsterInstance

KAFKA_POM = Path(__file__).with_name("pom.xml")
FRONTEND = PROJECT_ROOT / "frontend"


@dataclass(frozen=True)
class Paths:
    home: Path

    @property
    def run(self) -> Path:
        return self.home / "run"

    @property
    def logs(self) -> Path:
        return self.home / "logs"

    @property
    def kafka_libs(self) -> Path:
        # Jars are shared by every state folder (tests use their own homes) and survive `down`.
        return PROJECT_ROOT / ".local" / "kafka-libs"

    @property
    def kafka(self) -> Path:
        return self.home / "kafka"

    @property
    def s3(self) -> Path:
        return self.home / "s3"

    @property
    def dagster_home(self) -> Path:
        return self.home / "dagster"


def _venv_bin(name: str) -> str:
    candidate = Path(sys.executable).with_name(name)
    found = str(candidate) if candidate.exists() else shutil.which(name)
    if not found:
        raise StackError(f"{name} not found; run `make setup` (or `pip install -e .`) first")
    return found


# --- Kafka --------------------------------------------------------------------------------------------


def ensure_kafka_jars(paths: Paths) -> None:
    if any(paths.kafka_libs.glob("kafka_2.13-*.jar")):
        return
    if shutil.which("mvn") is None:
        raise StackError("Maven (mvn) is needed once to fetch the Apache Kafka jars: apt-get install -y maven")
    print(f"fetching Apache Kafka jars with Maven into {paths.kafka_libs} …", flush=True)
    subprocess.run(
        [
            "mvn",
            "-q",
            "-B",
            "-f",
            str(KAFKA_POM),
            "dependency:copy-dependencies",
            f"-DoutputDirectory={paths.kafka_libs}",
        ],
        check=True,
    )


def kafka_service(settings: Settings, paths: Paths) -> Service:
    port = settings.kafka_port
    properties = paths.kafka / "server.properties"
    return Service(
        name="kafka",
        argv=[
            "java",
            "-Xms256m",
            "-Xmx768m",
            "-XX:+UseG1GC",
            "-Djava.awt.headless=true",
            f"-Dlog4j2.configurationFile={paths.kafka / 'log4j2.yaml'}",
            "-cp",
            f"{paths.kafka_libs}/*",
            "kafka.Kafka",
            str(properties),
        ],
        ports=[port, port + 1],
        host=settings.kafka_host,
        run_dir=paths.run,
        log_dir=paths.logs,
        stop_timeout=60,
    )


def prepare_kafka(settings: Settings, paths: Paths) -> None:
    """Writes the broker config and formats KRaft storage once (kept across restarts)."""
    ensure_kafka_jars(paths)
    port = settings.kafka_port
    data = paths.kafka / "data"
    paths.kafka.mkdir(parents=True, exist_ok=True)
    (paths.kafka / "server.properties").write_text(
        "\n".join(
            [
                "process.roles=broker,controller",
                "node.id=1",
                f"controller.quorum.voters=1@{settings.kafka_host}:{port + 1}",
                f"listeners=PLAINTEXT://{settings.kafka_host}:{port},CONTROLLER://{settings.kafka_host}:{port + 1}",
                f"advertised.listeners=PLAINTEXT://{settings.kafka_host}:{port}",
                "controller.listener.names=CONTROLLER",
                "listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT",
                "inter.broker.listener.name=PLAINTEXT",
                f"log.dirs={data}",
                f"num.partitions={settings.kafka_topic_partitions}",
                "auto.create.topics.enable=false",
                "offsets.topic.replication.factor=1",
                "transaction.state.log.replication.factor=1",
                "transaction.state.log.min.isr=1",
                "share.coordinator.state.topic.replication.factor=1",
                "share.coordinator.state.topic.min.isr=1",
                "group.initial.rebalance.delay.ms=0",
                "log.retention.hours=168",
                "",
            ]
        )
    )
    (paths.kafka / "log4j2.yaml").write_text(
        "Configuration:\n  Appenders:\n    Console:\n      name: STDOUT\n      PatternLayout:\n"
        '        pattern: "[%d] %p %m (%c)%n"\n  Loggers:\n    Logger:\n      - name: kafka\n        level: INFO\n'
        "      - name: org.apache.kafka\n        level: WARN\n    Root:\n      level: WARN\n"
        "      AppenderRef:\n        - ref: STDOUT\n"
    )
    if not (data / "meta.properties").exists():
        cluster_id = (
            subprocess.run(
                ["java", "-cp", f"{paths.kafka_libs}/*", "kafka.tools.StorageTool", "random-uuid"],
                check=True,
                capture_output=True,
                text=True,
            ).stdout.strip()
            or uuid.uuid4().hex
        )
        subprocess.run(
            [
                "java",
                "-cp",
                f"{paths.kafka_libs}/*",
                "kafka.tools.StorageTool",
                "format",
                "-t",
                cluster_id,
                "-c",
                str(paths.kafka / "server.properties"),
            ],
            check=True,
            capture_output=True,
            text=True,
        )


# --- S3 (SeaweedFS) -----------------------------------------------------------------------------------

#: SeaweedFS components' HTTP ports relative to the S3 port (8333 → master 9333, volume 9340, filer 8888,
#: admin 9346); each also opens its gRPC port at +10000. Every port stays below Linux's ephemeral range
#: (32768 and up) for the stacks this project starts, so a client connection's local port never takes one.
_S3_PORT_OFFSETS = {"master": 1000, "volume": 1007, "filer": 555, "admin": 1013}


def s3_ports(settings: Settings) -> dict[str, int]:
    return {"s3": settings.s3_port} | {name: settings.s3_port + off for name, off in _S3_PORT_OFFSETS.items()}


def s3_service(settings: Settings, paths: Paths) -> Service:
    ports = s3_ports(settings)
    return Service(
        name="s3",
        argv=[
            _venv_bin("weed"),
            "mini",
            f"-dir={paths.s3 / 'data'}",
            f"-ip={settings.s3_host}",
            f"-ip.bind={settings.s3_host}",
            f"-s3.port={ports['s3']}",
            f"-master.port={ports['master']}",
            f"-volume.port={ports['volume']}",
            f"-filer.port={ports['filer']}",
            f"-admin.port={ports['admin']}",
            "-admin.ui=false",
            "-webdav=false",
            "-s3.port.iceberg=0",
            "-s3.port.lance=0",
            "-master.telemetry=false",
            f"-s3.config={paths.s3 / 's3.json'}",
            f"-bucket={settings.s3_bucket}",
        ],
        ports=[ports["s3"], ports["master"], ports["filer"]],
        host=settings.s3_host,
        run_dir=paths.run,
        log_dir=paths.logs,
    )


def prepare_s3(settings: Settings, paths: Paths) -> None:
    """Writes the S3 identity (the configured key pair) that SeaweedFS checks signatures against."""
    access_key, secret_key = settings.require_s3_credentials()
    (paths.s3 / "data").mkdir(parents=True, exist_ok=True)
    config = paths.s3 / "s3.json"
    config.write_text(
        json.dumps(
            {
                "identities": [
                    {
                        "name": "imgassets",
                        "credentials": [{"accessKey": access_key, "secretKey": secret_key}],
                        "actions": ["Admin", "Read", "Write", "List", "Tagging"],
                    }
                ]
            }
        )
    )
    config.chmod(0o600)


# --- Dagster ------------------------------------------------------------------------------------------


@contextmanager
def _environment(values: dict[str, str]) -> Iterator[None]:
    """`values` in this process's environment for the block (what loading an instance reads), then restored."""
    saved = {name: os.environ.get(name) for name in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


@contextmanager
def dagster_instance(settings: Settings, paths: Paths) -> Iterator[DagsterInstance]:
    """The local stack's Dagster instance, loaded with the environment its config reads (restored after)."""
    from dagster import DagsterInstance

    with _environment(dagster_env(settings, paths)), DagsterInstance.from_config(str(paths.dagster_home)) as loaded:
        yield loaded


def prepare_dagster(settings: Settings, paths: Paths) -> None:
    """The local instance: the shared template for the `local` deployment (SQLite, subprocess runs), and its
    pool limits; and the stack's workspace."""
    instance.write(paths.dagster_home, "local")
    with dagster_instance(settings, paths) as loaded:
        instance.ensure_pools(loaded)
    write_workspace(settings, paths)


#: The module the code location loads, and the location's name in Dagster's UI (as in workspace.yaml and
#: compose's code server).
MODULE = "imgassets.definitions"
LOCATION = "imgassets"


def _workspace(paths: Paths) -> Path:
    return paths.dagster_home / "workspace.yaml"


def write_workspace(settings: Settings, paths: Paths) -> None:
    """The stack's workspace: the project's code location (as in workspace.yaml), served by the stack's own code
    server (the `dagster-code` service of `dagster_services`), and the launcher script that starts that server warm
    (imgassets/stack/warm_code_server.py), so runs do not import everything again."""
    launcher = _launcher(paths)
    launcher.write_text(
        "#!/bin/sh\n# Written by `imgassets stack up`: the code location's Python, started warm.\n"
        f'exec "{sys.executable}" -m imgassets.stack.warm_code_server "$0" "$@"\n'
    )
    launcher.chmod(0o755)
    server = {"host": "127.0.0.1", "port": settings.dagster_code_port, "location_name": LOCATION}
    _workspace(paths).write_text(json.dumps({"load_from": [{"grpc_server": server}]}, indent=2) + "\n")


def _launcher(paths: Paths) -> Path:
    return paths.dagster_home / "warm-python"


def _http_ok(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return 200 <= response.status < 400
    except OSError:
        return False


def dagster_env(settings: Settings, paths: Paths) -> dict[str, str]:
    """What a process needs to load the local instance. A backfill whose code location the daemon briefly cannot
    load waits for it, instead of failing at once ("Asset … existed at storage-time, but no longer does")."""
    return {
        "DAGSTER_HOME": str(paths.dagster_home),
        "DAGSTER_MAX_CONCURRENT_RUNS": str(settings.max_concurrent_runs),
        "DAGSTER_BACKFILL_RETRY_DEFINITION_CHANGED_ERROR": "1",
    }


def dagster_services(settings: Settings, paths: Paths, env: dict[str, str]) -> list[Service]:
    """The code server first (the webserver and the daemon load the code location from it), then those two."""
    env = env | dagster_env(settings, paths)
    workspace = str(_workspace(paths))
    code_port = settings.dagster_code_port
    return [
        Service(
            name="dagster-code",
            argv=[
                str(_launcher(paths)),
                "-m",
                "dagster",
                "code-server",
                "start",
                "-h",
                "127.0.0.1",
                "-p",
                str(code_port),
                "-m",
                MODULE,
                "-d",
                str(PROJECT_ROOT),
                "--location-name",
                LOCATION,
                "--use-python-environment-entry-point",
            ],
            ports=[code_port],
            run_dir=paths.run,
            log_dir=paths.logs,
            env=env,
            cwd=paths.dagster_home,  # Dagster's CLIs load ./.env over the environment: not ours
        ),
        Service(
            name="dagster-webserver",
            argv=[_venv_bin("dagster-webserver"), "-h", "127.0.0.1", "-p", str(settings.dagster_port), "-w", workspace],
            ports=[settings.dagster_port],
            run_dir=paths.run,
            log_dir=paths.logs,
            env=env,
            cwd=paths.dagster_home,  # Dagster's CLIs load ./.env over the environment: not ours
            healthy=lambda: _http_ok(f"http://127.0.0.1:{settings.dagster_port}/server_info"),
        ),
        Service(
            name="dagster-daemon",
            argv=[sys.executable, "-m", "imgassets.stack.daemon", "run", "-w", workspace],
            ports=[],
            run_dir=paths.run,
            log_dir=paths.logs,
            env=env,
            cwd=paths.dagster_home,  # Dagster's CLIs load ./.env over the environment: not ours
            healthy=lambda: True,
        ),
    ]


# --- Query endpoint -----------------------------------------------------------------------------------


def query_token(settings: Settings, paths: Paths) -> str:
    """The bearer token the viewer's server sends to the query endpoint: IMGASSETS_QUERY_TOKEN, else the local
    stack's own, made once and kept owner-only in IMGASSETS_HOME/query-token (delete it and restart to renew)."""
    if settings.query_token is not None:
        return settings.query_token.get_secret_value()
    path = paths.home / "query-token"
    if not path.exists():
        paths.home.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(secrets.token_urlsafe(32) + "\n")
    return path.read_text(encoding="utf-8").strip()


def query_service(settings: Settings, paths: Paths, env: dict[str, str]) -> Service:
    """`imgassets serve-queries`: DuckDB over the hour tables, for the viewer's search and hour pages."""
    return Service(
        name="query",
        argv=[_venv_bin("imgassets"), "serve-queries", "--port", str(settings.query_port)],
        ports=[settings.query_port],
        run_dir=paths.run,
        log_dir=paths.logs,
        env=env | {f"{ENV_PREFIX}QUERY_TOKEN": query_token(settings, paths)},
        cwd=paths.home,
        healthy=lambda: _http_ok(f"http://127.0.0.1:{settings.query_port}/health"),
    )


# --- Viewer -------------------------------------------------------------------------------------------


def prepare_viewer() -> None:
    """Installs node modules and builds the production bundle when missing or stale."""
    if shutil.which("npm") is None:
        raise StackError("Node.js and npm are needed for the viewer: apt-get install -y nodejs npm")
    lock = FRONTEND / "package-lock.json"
    modules = FRONTEND / "node_modules" / ".package-lock.json"
    if not modules.exists() or modules.stat().st_mtime < lock.stat().st_mtime:
        print("installing viewer dependencies (npm ci) …", flush=True)
        subprocess.run(["npm", "ci", "--no-audit", "--no-fund"], cwd=FRONTEND, check=True)
    built = FRONTEND / "build" / "server" / "index.js"
    sources = [p for folder in ("app", "public") for p in (FRONTEND / folder).rglob("*") if p.is_file()]
    if not built.exists() or max(p.stat().st_mtime for p in sources) > built.stat().st_mtime:
        print("building the viewer (npm run build) …", flush=True)
        # Quiet when it works: @react-router/dev 7 prints a deprecation notice of its own (envFile, fixed only in
        # React Router 8, which needs Node 22) on every build. A failed build shows all it printed.
        build = subprocess.run(["npm", "run", "build"], cwd=FRONTEND, capture_output=True, text=True, check=False)
        if build.returncode != 0:
            raise StackError(f"the viewer's build failed (npm run build in {FRONTEND}):\n{build.stdout}{build.stderr}")


def viewer_service(settings: Settings, paths: Paths, env: dict[str, str]) -> Service:
    return Service(
        name="viewer",
        argv=[
            str(FRONTEND / "node_modules" / ".bin" / "react-router-serve"),
            str(FRONTEND / "build" / "server" / "index.js"),
        ],
        ports=[settings.viewer_port],
        run_dir=paths.run,
        log_dir=paths.logs,
        env=env
        | _viewer_access(settings)
        | {
            "PORT": str(settings.viewer_port),
            "HOST": "127.0.0.1",
            "NODE_ENV": "production",
            "IMGASSETS_QUERY_URL": settings.query_url,
            "IMGASSETS_QUERY_TOKEN": query_token(settings, paths),
        },
        cwd=FRONTEND,
        # Open in every access mode (a page may answer 401 in proxy mode).
        healthy=lambda: _http_ok(f"http://127.0.0.1:{settings.viewer_port}/healthz"),
    )


def _viewer_access(settings: Settings) -> dict[str, str]:
    """The viewer's access settings as resolved here (docs/security.md); on loopback, `auto` means no login."""
    values: dict[str, object] = {
        "VIEWER_AUTH": settings.viewer_auth,
        "VIEWER_USER": settings.viewer_user,
        "VIEWER_PASSWORD_HASH": settings.viewer_password_hash,
        "VIEWER_SESSION_SECRET": settings.viewer_session_secret,
        "VIEWER_SESSION_HOURS": settings.viewer_session_hours,
        "VIEWER_COOKIE_SECURE": settings.viewer_cookie_secure,
        "VIEWER_PROXY_USER_HEADER": settings.viewer_proxy_user_header,
        "VIEWER_LOGIN_ATTEMPTS": settings.viewer_login_attempts,
    }
    resolved = {}
    for name, value in values.items():
        if value is None:
            continue
        if isinstance(value, SecretStr):
            value = value.get_secret_value()
        resolved[f"{ENV_PREFIX}{name}"] = str(value).lower() if isinstance(value, bool) else str(value)
    return resolved
