"""The allowed imports between the package's parts (pyproject.toml, [tool.importlinter]) hold, and every module
of the package is placed: in the domain core, whose contract forbids Dagster and the code that runs it, or named
here as part of that code. A new module must be placed before the suite passes."""

import subprocess
import sys
import tomllib
from pathlib import Path

from imgassets.settings import PROJECT_ROOT

#: The modules that run the core (Dagster's definitions and resources, the CLI, the local stack, the query
#: endpoint, the Dagster API client) and the developer tools (benches).
RUNNING_IT = {
    "imgassets.bench",
    "imgassets.cli",
    "imgassets.dagster_api",
    "imgassets.definitions",
    "imgassets.defs",
    "imgassets.query_bench",
    "imgassets.query_server",
    "imgassets.resources",
    "imgassets.stack",
}


def _contracts() -> list[dict]:
    return tomllib.loads((PROJECT_ROOT / "pyproject.toml").read_text())["tool"]["importlinter"]["contracts"]


def test_the_allowed_imports_hold() -> None:
    lint = Path(sys.executable).with_name("lint-imports")
    done = subprocess.run(
        [str(lint), "--no-cache"], cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=300, check=False
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert f"Contracts: {len(_contracts())} kept, 0 broken." in done.stdout, done.stdout


def test_every_module_is_placed() -> None:
    package = PROJECT_ROOT / "imgassets"
    modules = {
        f"imgassets.{path.stem if path.is_file() else path.name}"
        for path in package.iterdir()
        if (path.suffix == ".py" and path.stem != "__init__") or (path / "__init__.py").is_file()
    }
    core = set(_contracts()[0]["source_modules"])
    assert not core & RUNNING_IT, "a module is both core and runs it"
    assert modules == core | RUNNING_IT, f"not placed: {sorted(modules - core - RUNNING_IT)}"
