"""``pipelines/benchmark.py --frontier``: run, print, save and log the frontier per shape."""

from __future__ import annotations

import argparse
import json
import tempfile
from dataclasses import asdict
from pathlib import Path

from rich.console import Console
from rich.table import Table

from lnet.benchmarks.frontier import run_frontier
from lnet.benchmarks.timing import machine_summary

__all__ = ["frontier_main", "parse_shape"]


def parse_shape(text: str) -> tuple[int, ...]:
    """``"256x256"`` -> (256, 256); 2 or 3 sides, each >= 2, else ValueError naming it."""
    try:
        shape = tuple(int(side) for side in text.lower().replace("×", "x").split("x"))
    except ValueError:
        shape = ()
    if len(shape) not in (2, 3) or min(shape) < 2:
        raise ValueError(f"--frontier shape {text!r}: give 2 or 3 sides >= 2, e.g. 256x256")
    return shape


def _nets(pairs: list[str]) -> dict[tuple[int, ...], str]:
    nets = {}
    for pair in pairs:
        shape, sep, uri = pair.partition("=")
        if not sep or not uri:
            raise ValueError(f"--net {pair!r}: write SHAPE=URI, e.g. 256x256=models:/name/1")
        nets[parse_shape(shape)] = uri
    return nets


def frontier_main(args: argparse.Namespace) -> None:
    """Measure, print and save the frontier of every shape in ``args.frontier``, and log
    each as a run of experiment ``lnet-benchmarks`` in lnet's store."""
    import mlflow

    from lnet.tracking.run import default_tracking_uri, git_info, tracked_run

    shapes = [parse_shape(s) for s in args.frontier]
    nets = _nets(args.net)
    console = Console(width=160)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    machine = machine_summary()
    console.print(f"[bold]machine:[/] {machine}")
    for shape in shapes:
        name = "x".join(map(str, shape))
        with console.status(f"frontier at {name} ..."):
            points, fig = run_frontier(
                shape,
                potentials=args.potentials,
                energies=args.energies,
                net_uri=nets.get(shape),
                seed=args.seed,
                exact_timed=args.exact_timed,
            )
        table = Table(title=f"cost-accuracy frontier at {name} (wall time per potential)")
        for col in ("method", "setting", "seconds", "rel. error"):
            table.add_column(col)
        for p in points:
            table.add_row(p.method, p.setting, f"{p.seconds:.4g}", f"{p.rel_err:.4g}")
        console.print(table)
        figure = out / f"frontier_{name}.png"
        fig.savefig(figure, dpi=120)
        rows = [asdict(p) for p in points]
        (out / f"frontier_{name}.json").write_text(json.dumps(rows, indent=1))
        with tracked_run(
            tracking_uri=default_tracking_uri(),
            experiment_name="lnet-benchmarks",
            artifact_root=None,
            run_name=f"frontier-{name}",
            tags={"lnet.benchmark": "frontier", **git_info()},
        ):
            mlflow.log_params(
                {
                    "shape": name,
                    "potentials": args.potentials,
                    "energies": args.energies,
                    "seed": args.seed,
                    "exact_timed": args.exact_timed or "all",
                    "net": nets.get(shape, "none"),
                    "machine": machine[:250],
                }
            )
            for p in points:
                key = f"{p.method}_{p.setting}".replace(" ", "_").replace("=", "").replace("/", "_")
                key = "".join(c for c in key if c.isalnum() or c in "_-.")
                mlflow.log_metrics({f"{key}_seconds": p.seconds, f"{key}_rel_err": p.rel_err})
            mlflow.log_figure(fig, f"frontier_{name}.png")
            with tempfile.TemporaryDirectory() as tmp:
                path = Path(tmp) / f"frontier_{name}.json"
                path.write_text(json.dumps(rows, indent=1))
                mlflow.log_artifact(str(path))
        console.print(f"figure: {figure}")
