"""Hypothesis settings shared by the fuzz tests.

Normal runs are reproducible and bounded: `derandomize=True` (the same cases every run, no example database)
and a per-test case count chosen so that the fuzz suite stays well under a minute and a half on two cores.
`IMGASSETS_FUZZ_EXAMPLES=<n>` switches to a long, randomised run with `n` cases per test (a failure prints the
seed and the `@reproduce_failure` blob to replay it).
"""

from __future__ import annotations

import os
from pathlib import Path

from hypothesis import HealthCheck, settings

#: Cases per test in a long run (0: the normal, derandomised run).
LONG_EXAMPLES = int(os.environ.get("IMGASSETS_FUZZ_EXAMPLES") or 0)
#: Inputs that once broke a function: replayed on every run by the fuzz tests.
REGRESSIONS = Path(__file__).parent / "regressions"


def fuzz_settings(examples: int) -> settings:
    """Settings for one fuzz test: `examples` cases in the normal run, `IMGASSETS_FUZZ_EXAMPLES` in a long one."""
    return settings(
        max_examples=LONG_EXAMPLES or examples,
        derandomize=not LONG_EXAMPLES,
        deadline=None,
        database=None,
        print_blob=True,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much],
    )


def regression_files(kind: str) -> list[Path]:
    """The saved inputs of one kind (`images`, `messages`, `layout`), sorted by name."""
    folder = REGRESSIONS / kind
    return sorted(p for p in folder.iterdir() if p.is_file()) if folder.is_dir() else []
