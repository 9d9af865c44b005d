"""Performance table: lnet's O(n) numerics against the dense route and the fast routes.

    python pipelines/benchmark.py            # full table (minutes on 2 cores)
    python pipelines/benchmark.py --quick    # smaller sizes, for a smoke run
    python pipelines/benchmark.py --markdown bench.md
    python pipelines/benchmark.py --only 3d  # one dimension's tables (1d, 2d or 3d)
    python pipelines/benchmark.py --frontier 256x256 32x32x32 [--net 256x256=models:/lnet-landscape_net_2d/latest]

``--frontier`` draws the cost-accuracy frontier of the whole curve N(E) instead of the
tables: exact counting, KPM on a grid of moments and vectors, the landscape laws and
(with ``--net``) a trained model, on the same fresh potentials of each lattice shape
(:mod:`lnet.benchmarks.frontier`). Each shape's figure and points are logged to
lnet's MLflow store, experiment ``lnet-benchmarks``, and written to ``--out``.

A second table times inference: PaperLandscapeNet against the exact count, box counting
and the Weyl law at n = 10^3 and 10^4, every route starting from V.  Two more tables
cover the 2-D lattice: exact counting against dense ``eigvalsh`` and SuperLU, its
cost as L grows, and the 2-D net's whole N(E) curve against exact counting. The 3-D
tables do the same on the L³ torus up to 64³, where dense ``eigvalsh`` and exact
counting of 1000 energies are timed on smaller work and scaled (each note says how;
:mod:`lnet.benchmarks.three_d`).

The first table puts each lnet routine beside the dense O(n^3) route (which shows
the scaling) and beside the fast routes a user would really take: scipy's sparse
``spsolve`` (also O(n) here) for the landscape, and for counting LAPACK's
``eigvalsh_tridiagonal`` (on the open chain: a different operator) and sparse
shift-invert ``eigsh``.  Each fast route's answer is checked against lnet's in its note.

Every row is measured in this run on this machine; the ratio column is
other route's time / lnet time.  Timings are the best of a few repeats (wall clock).
"""

from __future__ import annotations

import argparse
import os

import numpy as np
from rich.console import Console

from lnet.benchmarks.suite import (
    dataset_rows,
    inference_rows,
    physics_rows,
    scaling_rows,
    two_d_curve_rows,
    two_d_rows,
)
from lnet.benchmarks.three_d import three_d_curve_rows, three_d_rows
from lnet.benchmarks.timing import INFERENCE_COLUMNS, NUMERICS_COLUMNS, machine_summary, render


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="smaller sizes (smoke run)")
    parser.add_argument("--markdown", help="also write the table as Markdown to this file")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--only", choices=("1d", "2d", "3d"), help="only this dimension's tables (default: all)"
    )
    parser.add_argument(
        "--frontier", nargs="+", metavar="SHAPE", help="lattice shapes, e.g. 256x256 32x32x32"
    )
    parser.add_argument(
        "--net", action="append", default=[], metavar="SHAPE=URI", help="a model for a shape"
    )
    parser.add_argument("--potentials", type=int, default=4, help="frontier test potentials")
    parser.add_argument("--energies", type=int, default=1000, help="frontier energies each")
    parser.add_argument("--out", default="benchmark-frontier", help="frontier output folder")
    parser.add_argument(
        "--exact-timed",
        type=int,
        default=None,
        metavar="K",
        help="frontier: time the exact curve on K energies per potential and scale (large lattices)",
    )
    args = parser.parse_args()
    if args.frontier:
        from lnet.benchmarks.frontier_cli import frontier_main

        frontier_main(args)
        return
    console = Console(width=200)
    rng = np.random.default_rng(args.seed)
    console.print(f"[bold]machine:[/] {machine_summary()}")
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else 0.0
    cores = os.cpu_count() or 1
    console.print(
        "quick smoke run: sizes too small for reportable numbers"
        if args.quick
        else "reportable numbers need an idle machine: nothing else running on its cores"
    )
    if load > 0.5 * cores:
        console.print(
            f"[bold yellow]warning:[/] load average {load:.1f} on {cores} cores: the machine "
            "is busy, times will be inflated and ratios noisy"
        )
    markdown: list[str] = []

    def show(table: tuple[str, tuple[str, ...], list]) -> None:
        """Print one table as soon as it is measured, and keep its Markdown."""
        title, columns, rows = table
        markdown.append(render(rows, console, title, columns))

    if args.only in (None, "1d"):
        rows = (
            physics_rows(rng, args.quick)
            + dataset_rows(rng, args.quick)
            + scaling_rows(rng, args.quick)
        )
        show(
            (
                "lnet numerics vs the dense and the fast routes (best-of wall clock)",
                NUMERICS_COLUMNS,
                rows,
            )
        )
        show(
            (
                "inference cost: one N_V(E) prediction from V (best-of wall clock)",
                INFERENCE_COLUMNS,
                inference_rows(rng, args.quick),
            )
        )
    if args.only in (None, "2d"):
        show(
            (
                "2-D lattice: exact counting and the landscape vs the dense and SuperLU routes",
                NUMERICS_COLUMNS,
                two_d_rows(rng, args.quick),
            )
        )
        show(
            (
                "2-D whole N(E) curve: learned vs exact (best-of wall clock)",
                INFERENCE_COLUMNS,
                two_d_curve_rows(rng, args.quick),
            )
        )
    if args.only in (None, "3d"):
        show(
            (
                "3-D lattice: exact counting vs dense eigvalsh",
                NUMERICS_COLUMNS,
                three_d_rows(rng, args.quick),
            )
        )
        show(
            (
                "3-D whole N(E) curve: learned vs exact (exact timed on k energies and scaled)",
                INFERENCE_COLUMNS,
                three_d_curve_rows(rng, args.quick),
            )
        )
    if args.markdown:
        with open(args.markdown, "w") as fh:
            fh.write(f"Machine: {machine_summary()}\n\n" + "\n\n".join(markdown) + "\n")


if __name__ == "__main__":
    main()
