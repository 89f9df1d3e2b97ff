"""A private PostgreSQL server from the machine's Debian packages, with password authentication: the Dagster
instance's database for the production-storage tests and the "managed PostgreSQL" of the container deployment."""

from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

from imgassets.stack import instance as dagster_instance

USER, PASSWORD, DATABASE = "dagster", "test-pg-password", "dagster"


@dataclass
class Postgres:
    bin_dir: Path
    host: str
    port: int
    database: str
    user: str
    password: str

    def sql(self, query: str) -> list[list[str]]:
        result = subprocess.run(
            [str(self.bin_dir / "psql"), "-h", self.host, "-p", str(self.port), "-U", self.user, "-d", self.database]
            + ["-At", "-F", "\t", "-v", "ON_ERROR_STOP=1", "-c", query],
            capture_output=True,
            text=True,
            env=os.environ | {"PGPASSWORD": self.password},
            check=True,
        )
        return [line.split("\t") for line in result.stdout.splitlines()]

    def env(self, host: str | None = None) -> dict[str, str]:
        """The Dagster instance's connection settings (DAGSTER_PG_*), as its clients at `host` reach it."""
        return {
            "DAGSTER_PG_HOST": host or self.host,
            "DAGSTER_PG_PORT": str(self.port),
            "DAGSTER_PG_DB": self.database,
            "DAGSTER_PG_USER": self.user,
            "DAGSTER_PG_PASSWORD": self.password,
        }


def _bin_dir() -> Path | None:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=lambda p: int(p.split("/")[4]))
    return Path(found[-1]).parent if found else None


@contextmanager
def running_postgres(host: str, port: int) -> Iterator[Postgres]:
    """A new server listening on host:port with database `dagster`; stopped and deleted afterwards."""
    bin_dir = _bin_dir()
    if bin_dir is None:
        pytest.skip("no PostgreSQL server binaries (apt-get install -y postgresql)")
    with socket.socket() as probe:
        if probe.connect_ex((host, port)) == 0:
            pytest.fail(f"port {port} on {host} is taken; stop whatever listens there")
    # Not under pytest's tmp dir: that is private to root, and the server may run as another user.
    root = Path(tempfile.mkdtemp(prefix="imgassets-pg-"))
    data, sockets, pwfile, log = root / "data", root / "sockets", root / "pwfile", root / "server.log"
    sockets.mkdir()
    pwfile.write_text(PASSWORD + "\n")
    # PostgreSQL refuses to run as root: as root, run it as the `postgres` user the Debian package creates.
    as_user: list[str] = []
    if os.geteuid() == 0:
        as_user = ["runuser", "-u", "postgres", "--"]
        root.chmod(0o755)
        for path in (root, sockets, pwfile):
            shutil.chown(path, "postgres", "postgres")

    def run(*argv: object) -> None:
        result = subprocess.run([*as_user, *map(str, argv)], capture_output=True, text=True)
        assert result.returncode == 0, f"{argv[0]} failed: {result.stderr}{log.read_text() if log.exists() else ''}"

    run(
        bin_dir / "initdb",
        "-D",
        data,
        "-U",
        USER,
        f"--pwfile={pwfile}",
        "--auth=scram-sha-256",
        "--encoding=UTF8",
        "--no-sync",
    )
    # Clients from other hosts (containers) too, with the password like local ones.
    with (data / "pg_hba.conf").open("a") as hba:
        hba.write("host all all 0.0.0.0/0 scram-sha-256\n")
    options = f"-p {port} -k {sockets} -c listen_addresses={host} -c fsync=off"
    run(bin_dir / "pg_ctl", "-D", data, "-l", log, "-w", "-t", "60", "-o", options, "start")
    try:
        server = Postgres(bin_dir, host, port, "postgres", USER, PASSWORD)
        server.sql(f"CREATE DATABASE {DATABASE}")
        server.database = DATABASE
        yield server
    finally:
        run(bin_dir / "pg_ctl", "-D", data, "-m", "fast", "-w", "stop")
        shutil.rmtree(root, ignore_errors=True)


def compose_instance_home(server: Postgres, home: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """DAGSTER_HOME `home` of the compose instance as rendered, on `server`, except runs are subprocesses instead of
    containers (no Docker engine here); the environment it reads is set for the test."""
    for key, value in server.env().items():
        monkeypatch.setenv(key, value)
    monkeypatch.setenv("DAGSTER_MAX_CONCURRENT_RUNS", "2")
    config = yaml.safe_load(dagster_instance.render("compose"))
    config["run_launcher"] = {"module": "dagster._core.launcher", "class": "DefaultRunLauncher"}
    home.mkdir()
    (home / "dagster.yaml").write_text(yaml.safe_dump(config))
    monkeypatch.setenv("DAGSTER_HOME", str(home))
    return home
