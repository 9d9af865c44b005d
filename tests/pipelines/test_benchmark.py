import sys

import numpy as np
from rich.console import Console

from lnet.config import project_root

sys.path.insert(0, str(project_root() / "pipelines"))
import benchmark  # noqa: E402


def test_inference_table_covers_every_route_at_both_sizes():
    rows = benchmark.inference_rows(np.random.default_rng(0), quick=True)
    routes = (
        "exact count_eigenvalues",
        "LandscapeNet (",
        "FactorizedLandscapeNet",
        "box counting",
        "Weyl law",
    )
    for n in ("1,000", "10,000"):
        sized = [r for r in rows if f"n={n}:" in r.task]
        assert [any(route in r.task for r in sized) for route in routes] == [True] * 5
        for r in sized:
            assert r.ours_s > 0 and r.note.endswith("predictions/s")
    md = benchmark.render(rows, Console(file=None, quiet=True), "t", benchmark.INFERENCE_COLUMNS)
    lines = md.splitlines()
    assert len(lines) == 2 + len(rows) and lines[0].startswith("| route |")
