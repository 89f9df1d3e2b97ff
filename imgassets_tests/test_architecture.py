"""The allowed imports between the package's parts (pyproject.toml, [tool.importlinter]; docs/architecture.md,
"Packages") hold, and every part of the package sits in a layer: a new package or top-level module must be placed
before the suite passes."""

import subprocess
import sys
import tomllib
from pathlib import Path

from imgassets.core.settings import PROJECT_ROOT


def _contracts() -> list[dict]:
    return tomllib.loads((PROJECT_ROOT / "pyproject.toml").read_text())["tool"]["importlinter"]["contracts"]


def test_the_allowed_imports_hold() -> None:
    lint = Path(sys.executable).with_name("lint-imports")
    done = subprocess.run(
        [str(lint), "--no-cache"], cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=300, check=False
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert f"Contracts: {len(_contracts())} kept, 0 broken." in done.stdout, done.stdout


def test_every_part_of_the_package_is_in_a_layer() -> None:
    package = PROJECT_ROOT / "imgassets"
    parts = {
        f"imgassets.{path.stem if path.is_file() else path.name}"
        for path in package.iterdir()
        if (path.suffix == ".py" and path.stem != "__init__") or (path / "__init__.py").is_file()
    }
    (layers,) = [contract["layers"] for contract in _contracts() if contract["type"] == "layers"]
    placed = {name.strip() for layer in layers for name in layer.split("|")}
    assert parts == placed, f"not in a layer: {sorted(parts - placed)}; gone: {sorted(placed - parts)}"
