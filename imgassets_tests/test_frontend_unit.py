"""The viewer's own checks, run from the one test command: ESLint, the TypeScript type check and its unit tests."""

import subprocess

import pytest

from imgassets.core.settings import PROJECT_ROOT

FRONTEND = PROJECT_ROOT / "frontend"


@pytest.mark.parametrize("script", ["lint", "typecheck", "test"])
def test_viewer_script_passes(script: str) -> None:
    result = subprocess.run(
        ["npm", "run", script], cwd=FRONTEND, capture_output=True, text=True, timeout=600, check=False
    )
    print(result.stdout[-3000:])
    assert result.returncode == 0, result.stdout[-6000:] + result.stderr[-3000:]
