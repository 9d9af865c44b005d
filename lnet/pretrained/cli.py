"""The command line of ``pipelines/pretrained.py``: build, register and list the
pretrained models.

    python pipelines/pretrained.py build universal-1d RUN_1 RUN_2 RUN_3
    python pipelines/pretrained.py build universal-2d RUN ... --sizes 32x32,64x64 --cal-potentials 1000
    python pipelines/pretrained.py build universal-1d --from-folder --force --integer-below 10
    python pipelines/pretrained.py register universal-1d     # lnet-universal-1d@champion
    python pipelines/pretrained.py list

``build`` loads each training run's model (``runs:/<id>/model``), calibrates the 90 %
interval on fresh sets of the runs' training law, measures coverage and errors per law
(held-out laws included) and lattice, writes ``lnet/pretrained/models/<name>/`` (or
``--models-dir``, or ``$LNET_PRETRAINED_DIR``) and logs it all to the MLflow
experiment ``lnet-pretrained``; ``--from-folder`` takes the members from the shipped
folder instead (calibrate and measure it again). Errors are one line, ``error: ...``,
exit status 1.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from lnet.pretrained import PretrainedError


def parse_lattices(text: str) -> list[tuple[int, ...]]:
    """``1000,10000`` -> [(1000,), (10000,)]; ``32x32,64x64`` -> [(32, 32), (64, 64)]."""
    out = []
    for item in text.split(","):
        item = item.strip()
        if not item:
            continue
        try:
            lattice = tuple(int(s) for s in item.lower().split("x"))
        except ValueError:
            raise argparse.ArgumentTypeError(
                f"bad lattice {item!r}: write n (1000) or L1xL2 (32x32) or L1xL2xL3"
            ) from None
        if any(s < 2 for s in lattice):
            raise argparse.ArgumentTypeError(f"bad lattice {item!r}: sides must be >= 2")
        out.append(lattice)
    if not out:
        raise argparse.ArgumentTypeError("give at least one lattice")
    return out


def load_law(text: str) -> dict[str, Any]:
    """A potential law: a name of ``conf/data/potential/`` (``universal``, ``uniform``)
    or a YAML file of the same form."""
    from omegaconf import OmegaConf

    from lnet.config import config_dir

    path = Path(text)
    if not path.is_file():
        path = config_dir() / "data" / "potential" / f"{text}.yaml"
    if not path.is_file():
        names = sorted(p.stem for p in (config_dir() / "data" / "potential").glob("*.yaml"))
        raise PretrainedError(
            f"--cal-law {text!r}: no such file or potential config ({', '.join(names)})"
        )
    law = OmegaConf.to_container(OmegaConf.load(path), resolve=True)
    if not isinstance(law, dict):
        raise PretrainedError(f"--cal-law {text!r}: not a mapping")
    return law


def rich_progress(items: Sequence[Any], description: str) -> Iterable[Any]:
    """A rich progress bar over ``items`` on stderr (plain iteration when not a
    terminal): one bar per set, over its chunks of potentials."""
    from rich.console import Console
    from rich.progress import track

    console = Console(stderr=True)
    return track(items, description=description, console=console, disable=not console.is_terminal)


def _parser() -> argparse.ArgumentParser:
    from lnet.tracking.run import default_tracking_uri

    parser = argparse.ArgumentParser(
        prog="pipelines/pretrained.py",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sub = parser.add_subparsers(dest="command", required=True)
    models = {
        "help": "the models folder (default: $LNET_PRETRAINED_DIR, else lnet/pretrained/models)"
    }
    b = sub.add_parser("build", help="build a model folder from training runs")
    b.add_argument("name", help="the model's name, e.g. universal-1d")
    b.add_argument("run_ids", nargs="*", metavar="RUN_ID", help="training runs, one per seed")
    b.add_argument("--tracking-uri", default=default_tracking_uri())
    b.add_argument(
        "--sizes",
        type=parse_lattices,
        help="calibration lattices, e.g. 1000,10000 or 32x32,64x64 (default per dimension: "
        "1-D 1000,10000; 2-D 32x32,64x64; 3-D 16x16x16,20x20x20)",
    )
    b.add_argument(
        "--test-sizes", type=parse_lattices, help="measurement lattices (default: --sizes)"
    )
    b.add_argument(
        "--cal-potentials",
        type=int,
        help="calibration potentials per lattice (default: 1-D and 2-D 1000, 3-D 100)",
    )
    b.add_argument(
        "--cal-energies",
        type=int,
        default=1,
        help="energies per calibration potential (default 1: independent pairs)",
    )
    b.add_argument(
        "--test-potentials",
        type=int,
        help="potentials per measurement set (1-D 100, 2-D 80, 3-D 10)",
    )
    b.add_argument(
        "--test-energies",
        type=int,
        help="energies per measurement potential (1-D 20, 2-D 5, 3-D 10)",
    )
    b.add_argument(
        "--held-out",
        help="comma-separated held-out families to measure (default: every family the "
        "training law never draws, but constant)",
    )
    b.add_argument(
        "--cal-law",
        help="calibration law: a conf/data/potential name or a YAML file "
        "(default: the runs' data.potential)",
    )
    b.add_argument(
        "--train-command", help="the training command for the card (default: from the runs' tags)"
    )
    b.add_argument("--models-dir", **models)
    b.add_argument("--force", action="store_true", help="replace an existing model folder")
    b.add_argument(
        "--from-folder",
        action="store_true",
        help="take the members from the shipped folder NAME (its member files and card) "
        "instead of training runs: calibrate and measure it again in place (needs --force)",
    )
    b.add_argument(
        "--integer-below",
        type=float,
        default=0.0,
        help="round the count to a whole number of states where the members' mean is "
        "below this (default 0: never; the shipped 1-D model uses 10)",
    )
    b.add_argument(
        "--zero-cells",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="one interval quantile per calibration lattice and zero-site class (some "
        "V = 0, or none; lnet.conformal); default: off for a build, the folder's own "
        "choice for --from-folder (universal-1d uses them)",
    )
    b.add_argument(
        "--expert",
        action="append",
        metavar="NAME",
        help="a shipped model that answers the inputs of its own training law (repeat for "
        "more; lnet.routing); default: none for a build, the folder's own for --from-folder",
    )
    b.add_argument(
        "--no-experts", action="store_true", help="drop the experts (with --from-folder)"
    )
    b.add_argument(
        "--expert-alpha",
        type=float,
        help="the level of each of the expert gates' two tests (default 0.001; lnet.gate)",
    )
    r = sub.add_parser("register", help="register a shipped model as lnet-<name>@champion")
    r.add_argument("name")
    r.add_argument("--tracking-uri", default=default_tracking_uri())
    r.add_argument("--models-dir", **models)
    ls = sub.add_parser("list", help="the shipped models, one line each")
    ls.add_argument("--models-dir", **models)
    f = sub.add_parser(
        "figure", help="N(E) with its interval for a quasi-periodic potential (a 1-D model)"
    )
    f.add_argument("name")
    f.add_argument("--out", required=True, help="the PNG to write")
    f.add_argument("--sites", type=int, default=2000)
    f.add_argument("--seed", type=int, default=0)
    f.add_argument("--models-dir", **models)
    return parser


def _build(args: argparse.Namespace) -> int:
    from lnet.pretrained.build import BuildOptions, build, rebuild

    for flag in ("cal_potentials", "cal_energies", "test_potentials", "test_energies"):
        value = getattr(args, flag)
        if value is not None and value < 1:
            raise PretrainedError(f"--{flag.replace('_', '-')} must be >= 1, got {value}")
    options = BuildOptions(
        lattices=args.sizes,
        test_lattices=args.test_sizes,
        cal_potentials=args.cal_potentials,
        cal_energies=args.cal_energies,
        test_potentials=args.test_potentials,
        test_energies=args.test_energies,
        held_out=(
            [f.strip() for f in args.held_out.split(",") if f.strip()]
            if args.held_out is not None
            else None
        ),
        cal_law=load_law(args.cal_law) if args.cal_law else None,
        train_command=args.train_command,
        root=args.models_dir,
        overwrite=args.force,
        progress=rich_progress,
        integer_below=args.integer_below,
        experts=[] if args.no_experts else args.expert,
        zero_cells=args.zero_cells,
    )
    if args.expert_alpha is not None:
        if not 0 < args.expert_alpha < 0.5:
            raise PretrainedError(f"--expert-alpha must be in (0, 0.5), got {args.expert_alpha}")
        options.expert_alpha = args.expert_alpha
    if args.no_experts and args.expert:
        raise PretrainedError("--no-experts and --expert contradict each other: give one")
    if not 0 <= args.integer_below < float("inf"):  # also NaN
        raise PretrainedError(f"--integer-below must be finite and >= 0, got {args.integer_below}")
    if args.from_folder:
        if args.run_ids:
            raise PretrainedError(
                "--from-folder takes the members from the folder: give no run ids"
            )
        result = rebuild(args.name, args.tracking_uri, options)
    else:
        if not args.run_ids:
            raise PretrainedError("give the training run ids (one per seed), or --from-folder")
        result = build(args.name, args.run_ids, args.tracking_uri, options)
    print(result.card["summary"])
    print(f"wrote {result.folder} (MLflow run {result.run_id} in experiment lnet-pretrained)")
    print(f"next: python pipelines/pretrained.py register {args.name}")
    return 0


def _register(args: argparse.Namespace) -> int:
    from lnet.pretrained.serving import register, serve_instructions

    registered = register(args.name, args.tracking_uri, root=args.models_dir)
    print(serve_instructions(registered, args.tracking_uri))
    return 0


def _list(args: argparse.Namespace) -> int:
    from lnet.pretrained import available, model_dir
    from lnet.pretrained.folder import CARD_JSON, read_json

    names = available(args.models_dir)
    if not names:
        from lnet.pretrained import models_root

        print(f"no pretrained model is shipped yet (in {models_root(args.models_dir)})")
        return 0
    for name in names:
        path = model_dir(name, args.models_dir) / CARD_JSON
        summary = read_json(path).get("summary", "") if path.is_file() else "(no card.json)"
        print(f"{name}: {summary}")
    return 0


def _figure(args: argparse.Namespace) -> int:
    from lnet.physics import kth_eigenvalue
    from lnet.pretrained import load
    from lnet.pretrained.figure import example_figure, quasi_periodic_potential

    model = load(args.name, args.models_dir)
    if model.dim != 1:
        raise PretrainedError(f"figure draws 1-D potentials; {args.name} is a {model.dim}-D model")
    if args.sites < 3:
        raise PretrainedError(f"--sites must be >= 3, got {args.sites}")
    V = quasi_periodic_potential(args.sites, seed=args.seed)
    bottom = float(kth_eigenvalue(V[None], 1)[0])  # the lowest eigenvalue
    top = float(kth_eigenvalue(V[None], int(np.ceil(0.2 * args.sites)))[0])
    E = np.linspace(0.95 * bottom, top, 500)  # past the training energies: shaded
    title = (
        f"{args.name} on a quasi-periodic potential it never saw: "
        f"V = 0.5(1 + cos(2πβx + φ)) + U[0, 1), n = {args.sites}"
    )
    fig = example_figure(model, V, E, title)
    fig.savefig(args.out, dpi=110)
    print(f"wrote {args.out}")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """The command line (module docstring); returns the exit status."""
    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
    args = _parser().parse_args(argv)
    commands = {"build": _build, "register": _register, "list": _list, "figure": _figure}
    command = commands[args.command]
    try:
        return command(args)
    except PretrainedError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
