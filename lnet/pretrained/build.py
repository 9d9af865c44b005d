"""``pipelines/pretrained.py build``: a shipped model folder from training runs.

1. Load each run's logged net (``runs:/<id>/model``, :func:`lnet.load_model`): one
   member per training seed, all counting models of one class and dimension.
2. Draw the calibration sets (:func:`lnet.pretrained.sets.calibration_sets`: the runs'
   training law at the calibration lattices, fresh seeds), predict them with every
   member and calibrate the split-conformal interval (:mod:`lnet.pretrained.measure`,
   :mod:`lnet.conformal`).
3. Draw the measurement sets (every training component and every held-out law at the
   measurement lattices, other fresh seeds) and measure coverage, errors and widths.
4. Write the folder (:mod:`lnet.pretrained.folder`: members, ``calibration.json``,
   ``card.json``, ``card.md``), at most 2 MiB, and log everything to an MLflow run of
   the experiment ``lnet-pretrained``: parameters, the metrics ``coverage_<law>_<lattice>``
   (and ``rel_err_``, ``mse_``, ``rel_width_``, ``coverage_ci_low_/high_``), the
   interval's ``interval_q`` (and ``interval_q_<sites>_sites`` per calibration
   lattice, ``..._zero`` / ``..._positive`` per zero-site cell), ``interval_kappa``,
   ``interval_gamma``, ``interval_delta``, and the folder
   as artifacts (``pretrained/<name>/``, and ``card.md`` at the root).

``build --from-folder`` (:func:`rebuild`) takes step 1 from the shipped folder instead:
its member files, with the training record its ``card.json`` keeps, so a model can be
calibrated and measured again (a new ``--integer-below``, other sets) without its
training runs' store.
"""

from __future__ import annotations

import datetime as _dt
import json
import math
import os
import shutil
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import mlflow

import lnet
from lnet.conformal import LEVEL, LatticeQuantile, conformal_rank
from lnet.data.families import FAMILIES, make_law
from lnet.ensemble import EnsemblePredictor
from lnet.evaluation.families import sanitize_label
from lnet.gate import DEFAULT_ALPHA, LawGate
from lnet.predict import load_net
from lnet.pretrained import PretrainedError, model_dir, models_root
from lnet.pretrained.cards import GUARANTEE, finite, render_markdown, summary_line, validity
from lnet.pretrained.folder import (
    CALIBRATION,
    CARD_JSON,
    CARD_MD,
    EXPERTS,
    EXPERTS_VERSION,
    MAX_FOLDER_BYTES,
    check_name,
    expert_entries,
    folder_bytes,
    member_file,
    member_files,
    read_ensemble,
    read_json,
    write_json,
    write_members,
)
from lnet.pretrained.measure import (
    Progress,
    calibrate_on,
    measure,
    measure_routed,
    no_progress,
    predict_set,
)
from lnet.pretrained.runs import (
    MemberRun,
    data_seeds,
    load_members,
    spectral_fraction,
    training_command,
    training_lattices,
    training_law,
)
from lnet.pretrained.sets import (
    DEFAULT_CAL_POTENTIALS,
    DEFAULT_LATTICES,
    DEFAULT_TEST_SIZE,
    calibration_sets,
    held_out_families,
    law_components,
    measurement_sets,
)
from lnet.routing import Expert, RoutedPredictor

EXPERIMENT = "lnet-pretrained"
POINT_RULE = (
    "count = the members' mean mu (clipped at 0), rounded to the nearest integer where "
    "mu < integer_below; the interval contains the count"
)
PRETRAINED_TAG = "lnet.pretrained"


@dataclass
class BuildOptions:
    """What ``build`` draws; None means the default for the model's dimension
    (:data:`lnet.pretrained.sets.DEFAULT_LATTICES` and friends).

    ``lattices``: the calibration lattices; ``test_lattices``: the measurement lattices
    (default: the calibration ones); ``cal_potentials`` per calibration lattice with
    ``cal_energies`` energies each (1: independent pairs, see :mod:`lnet.conformal`);
    ``test_potentials`` × ``test_energies`` per measurement set; ``held_out``: the
    held-out families (default :func:`lnet.pretrained.sets.held_out_families`);
    ``cal_law``: the calibration law (default: the runs' ``data.potential``);
    ``train_command``: the training command for the card (default: from the runs'
    tags); ``root``: the models folder (:func:`lnet.pretrained.models_root`);
    ``overwrite``: replace an existing folder of that name; ``progress``: a function
    ``(items, description) -> iterable`` that shows progress (rich bars on the command
    line, none by default); ``integer_below``: the count is rounded to a whole number of
    states where the members' mean is below it (:mod:`lnet.ensemble`; 0: never), recorded
    in ``calibration.json`` and the card, and measured so; ``experts``: shipped models
    (names in ``root``) that answer the inputs of their own training law
    (:mod:`lnet.routing`, gates at level ``expert_alpha``), written to ``experts.json``
    and measured with the model (None: none for a build, the folder's own for a
    rebuild; [] drops them); ``zero_cells``: one interval quantile per calibration
    lattice and zero-site class (:mod:`lnet.conformal`; None: off for a build, the
    folder's own choice for a rebuild). Whether the cells help is a property of the
    model, measured on validation sets (they do for ``universal-1d``, not for
    ``universal-2d`` and ``universal-3d``: docs/decisions.md), hence opt-in.
    """

    lattices: Sequence[Sequence[int]] | None = None
    test_lattices: Sequence[Sequence[int]] | None = None
    cal_potentials: int | None = None
    cal_energies: int = 1
    test_potentials: int | None = None
    test_energies: int | None = None
    held_out: Sequence[str] | None = None
    cal_law: Mapping[str, Any] | None = None
    level: float = LEVEL
    train_command: str | None = None
    root: str | os.PathLike | None = None
    overwrite: bool = False
    experiment: str = EXPERIMENT
    artifact_root: str | None = None
    progress: Progress = field(default=no_progress)
    integer_below: float = 0.0
    experts: Sequence[str] | None = None
    expert_alpha: float = DEFAULT_ALPHA
    zero_cells: bool | None = None


@dataclass
class BuildResult:
    """The written folder, its card (``card.json`` as a dict) and the MLflow run id."""

    folder: Path
    card: dict[str, Any]
    run_id: str


def _check_lattices(
    lattices: Sequence[Sequence[int]], dim: int, what: str
) -> list[tuple[int, ...]]:
    out = [tuple(int(s) for s in t) for t in lattices]
    if not out:
        raise PretrainedError(f"{what}: give at least one lattice")
    bad = [t for t in out if len(t) != dim]
    if bad:
        raise PretrainedError(
            f"{what}: {'x'.join(map(str, bad[0]))} is a {len(bad[0])}-D lattice but the "
            f"model is {dim}-D"
        )
    return out


def _check_law(law: dict[str, Any]) -> dict[str, Any]:
    """The calibration law, checked (:func:`lnet.data.families.make_law`)."""
    try:
        make_law(law, key="calibration law")
    except ValueError as exc:
        raise PretrainedError(str(exc).splitlines()[0]) from None
    return law


def _check_held_out(families: Sequence[str], law: Mapping[str, Any], dim: int) -> list[str]:
    """Held-out families: known, not drawn by the training law, samplable in ``dim``-D."""
    trained = set(make_law(law).component_names)
    for family in families:
        if family not in FAMILIES:
            raise PretrainedError(
                f"held-out family {family!r} is unknown; allowed: {', '.join(FAMILIES)}"
            )
        if family in trained:
            raise PretrainedError(f"held-out family {family!r} is drawn by the training law")
        if dim == 3 and FAMILIES[family].sampler_2d is not None:
            raise PretrainedError(f"held-out family {family!r} has no 3-D sampler")
    return list(families)


def _metric_name(kind: str, label: str, key: str) -> str:
    return f"{kind}_{sanitize_label(label)}_{key}"


def build(
    name: str, run_ids: Sequence[str], tracking_uri: str, options: BuildOptions | None = None
) -> BuildResult:
    """Build the model folder ``<root>/<name>/`` from the training runs ``run_ids`` in the
    MLflow store ``tracking_uri`` (module docstring); returns where it is and its card.

    :class:`PretrainedError` (one line) for a bad name, an existing folder (without
    ``overwrite``), a run that cannot serve as a member, members that differ, lattices
    of the wrong dimension, or a folder over 2 MiB.
    """
    opts = options or BuildOptions()
    _check_target(name, opts)
    return build_from_members(name, load_members(list(run_ids), tracking_uri), tracking_uri, opts)


def rebuild(name: str, tracking_uri: str, options: BuildOptions | None = None) -> BuildResult:
    """Calibrate and measure the shipped model ``name`` again from its own member files
    (:func:`folder_members`: no training run needed) and write it back in place, e.g.
    after a change of ``integer_below`` or of the sets; needs ``overwrite``. The card
    keeps the members' training record and names the build it replaces."""
    opts = options or BuildOptions()
    _check_target(name, opts)
    if not opts.overwrite:
        raise PretrainedError(f"rebuilding {name} replaces its folder: pass --force")
    folder = model_dir(name, opts.root)
    members, previous = folder_members(folder)
    if opts.train_command is None:
        opts = replace(opts, train_command=previous["training"]["command"])
    if opts.experts is None:
        kept = expert_entries(folder)
        opts = replace(opts, experts=[e["name"] for e in kept])
        if kept and opts.expert_alpha == DEFAULT_ALPHA:  # keep the folder's level
            opts = replace(opts, expert_alpha=float(kept[0]["gate"].get("alpha", DEFAULT_ALPHA)))
    if opts.zero_cells is None:
        opts = replace(opts, zero_cells=_folder_zero_cells(folder))
    rebuilt_from = (previous.get("build") or {}).get("run_id")
    return build_from_members(
        name,
        members,
        tracking_uri,
        opts,
        rebuilt_from=rebuilt_from,
        seeds_known=previous["training"].get("data_seeds") is not None,
    )


def _folder_zero_cells(folder: Path) -> bool:
    """Whether the folder's interval was calibrated with zero-site cells (its
    ``calibration.json``; False for a folder that predates them)."""
    try:
        recorded = json.loads((folder / "calibration.json").read_text()).get("zero_cells")
    except (OSError, ValueError):
        recorded = None
    return bool(recorded)


def _check_target(name: str, opts: BuildOptions) -> None:
    try:
        check_name(name)
    except ValueError as exc:
        raise PretrainedError(str(exc)) from None
    final = models_root(opts.root) / name
    if final.exists() and not opts.overwrite:
        raise PretrainedError(f"{final} exists: pass --force to rebuild it")
    below = opts.integer_below
    if isinstance(below, bool) or not (isinstance(below, int | float) and 0 <= below < math.inf):
        raise PretrainedError(f"integer_below must be a finite number >= 0, got {below!r}")


def folder_members(folder: Path) -> tuple[list[MemberRun], dict[str, Any]]:
    """The members of a shipped model folder as :class:`MemberRun` s, their training
    record (run, seed, commit, parent run; the data config: law, lattices, energies,
    data seeds) read back from its ``card.json``, and that card."""
    card = read_json(folder / CARD_JSON)
    train = card["training"]
    lattices = [list(t) for t in train.get("lattices") or []]
    data: dict[str, Any] = {
        "potential": train["law"],
        "energies": {"mode": "spectrum_fraction", "fraction": train["fraction"]},
    }
    seeds = train.get("data_seeds") or []
    if seeds:
        data["seed"] = int(seeds[0])
    for i, lattice in enumerate(lattices):
        d = data if i == 0 else {}
        d.update({"n": lattice[0]} if len(lattice) == 1 else {"shape": lattice})
        if i:
            if i < len(seeds):
                d["seed"] = int(seeds[i])
            data.setdefault("extra_train", []).append(d)
    nets = {p.name: load_net(p) for p in member_files(folder)}
    members = []
    for m in card["members"]:
        if m["file"] not in nets:
            raise PretrainedError(f"{folder}: card.json names {m['file']}, which is missing")
        tags = {"seed": str(m["seed"]), "git.commit": m["commit"], "git.dirty": m["dirty"]}
        if m.get("fine_tuned_from"):
            tags["lnet.parent_run"] = m["fine_tuned_from"]
        net, source = nets[m["file"]], folder / m["file"]
        members.append(MemberRun(m["run_id"], str(m["seed"]), net, {"data": data}, tags, source))
    return members, card


def build_from_members(
    name: str,
    members: Sequence[MemberRun],
    tracking_uri: str,
    opts: BuildOptions,
    rebuilt_from: str | None = None,
    seeds_known: bool = True,
) -> BuildResult:
    """Steps 2-4 of the module docstring for members already loaded (:func:`build`,
    :func:`rebuild`); ``seeds_known=False``: the members' training data seeds are not
    known (a folder whose card predates them), and the card says null."""
    from lnet.tracking.run import tracked_run

    root = models_root(opts.root)
    try:
        ensemble = EnsemblePredictor(
            [m.net for m in members],
            names=[f"run {m.run_id} (seed {m.seed})" for m in members],
            integer_below=opts.integer_below,
        )
    except ValueError as exc:
        raise PretrainedError(str(exc)) from None
    dim = ensemble.dim
    law = _check_law(dict(opts.cal_law) if opts.cal_law is not None else training_law(members))
    fraction = spectral_fraction(members)
    lattices = _check_lattices(opts.lattices or DEFAULT_LATTICES[dim], dim, "calibration lattices")
    test_lattices = _check_lattices(opts.test_lattices or lattices, dim, "measurement lattices")
    held_out = (
        _check_held_out(opts.held_out, law, dim)
        if opts.held_out is not None
        else held_out_families(law, dim)
    )
    experts = _experts(opts, dim, name)
    test_p, test_m = DEFAULT_TEST_SIZE[dim]
    cal_sets = calibration_sets(
        law,
        lattices,
        opts.cal_potentials or DEFAULT_CAL_POTENTIALS[dim],
        opts.cal_energies,
        fraction,
    )
    test_sets = measurement_sets(
        law,
        test_lattices,
        opts.test_potentials or test_p,
        opts.test_energies or test_m,
        held_out,
        fraction,
        extra=[(_expert_label(e), e.gate.law, _trained_on(e, law)) for e in experts],
    )
    pairs = sum((s.potentials // 2) * s.energies for s in cal_sets)  # the quantile half
    try:
        conformal_rank(pairs, opts.level)
    except ValueError as exc:
        raise PretrainedError(f"calibration: {exc} (raise --cal-potentials)") from None
    clash = {s.seed for s in (*cal_sets, *test_sets)} & data_seeds(members)
    if clash:
        raise PretrainedError(f"set seeds {sorted(clash)} are data seeds of the training runs")

    zero_cells = bool(opts.zero_cells)
    tags = {PRETRAINED_TAG: name, "lnet.pretrained.stage": "build"}
    if rebuilt_from:
        tags["lnet.pretrained.rebuilt_from"] = rebuilt_from
    with tracked_run(
        tracking_uri=tracking_uri,
        experiment_name=opts.experiment,
        artifact_root=opts.artifact_root,
        run_name=f"build-{name}",
        tags=tags,
    ) as run:
        mlflow.log_params(
            {
                "name": name,
                "runs": ",".join(m.run_id for m in members),
                "members": len(members),
                "dim": dim,
                "class": ensemble.net.qualified_name(),
                "level": opts.level,
                "calibration_lattices": ",".join("x".join(map(str, t)) for t in lattices),
                "calibration_potentials": cal_sets[0].potentials,
                "calibration_energies": cal_sets[0].energies,
                "measurement_lattices": ",".join("x".join(map(str, t)) for t in test_lattices),
                "measurement_potentials": test_sets[0].potentials if test_sets else 0,
                "measurement_energies": test_sets[0].energies if test_sets else 0,
                "held_out": ",".join(held_out),
                "integer_below": opts.integer_below,
                "zero_cells": zero_cells,
                "members_from": "model folder" if rebuilt_from is not None else "training runs",
            }
        )
        cal_predictions = [predict_set(ensemble, s, opts.progress) for s in cal_sets]
        calibrated, cal_description = calibrate_on(
            cal_predictions, opts.level, opts.integer_below, zero_cells
        )
        ensemble.calibration = calibrated.calibration
        del cal_predictions
        if experts:
            routed = RoutedPredictor(ensemble, experts)
            measured = [
                (s, measure_routed(routed, predict_set(ensemble, s, opts.progress)))
                for s in test_sets
            ]
        else:
            measured = [
                (s, measure(ensemble, predict_set(ensemble, s, opts.progress))) for s in test_sets
            ]
        card = _card(
            name, members, ensemble, law, fraction, cal_sets, measured, calibrated, opts, run
        )
        if experts:
            card["experts"] = [_expert_record(e, opts.root) for e in experts]
            card["summary"] = summary_line(card)
        if rebuilt_from is not None:
            card["build"]["rebuilt_from"] = rebuilt_from
        if not seeds_known:
            card["training"]["data_seeds"] = None
        calibration_json = {
            "interval": calibrated.calibration.to_dict(),
            **cal_description,
            "guarantee": card["interval"]["guarantee"],
            "sets": [s.to_dict() for s in cal_sets],
        }
        experts_json = (
            {
                "version": EXPERTS_VERSION,
                "experts": [{"name": e.name, "gate": e.gate.to_dict()} for e in experts],
            }
            if experts
            else None
        )
        folder = _write_folder(
            root, name, members, calibration_json, card, opts.overwrite, experts_json
        )
        cal = calibrated.calibration
        metrics = {
            "interval_q": cal.q,
            "interval_kappa": cal.kappa,
            "interval_gamma": cal.gamma,
            "interval_delta": cal.delta,
            "interval_n_cal": float(cal.n_cal),
            "folder_bytes": float(folder_bytes(folder)),
            **{_quantile_metric(lq): lq.q for lq in cal.lattice_q},
        }
        for s, m in measured:
            for kind in ("coverage", "rel_err", "mse", "rel_width", "expert_share"):
                if m.get(kind) is not None:
                    metrics[_metric_name(kind, s.label, s.key)] = m[kind]
            metrics[_metric_name("coverage_ci_low", s.label, s.key)] = m["coverage_ci"][0]
            metrics[_metric_name("coverage_ci_high", s.label, s.key)] = m["coverage_ci"][1]
        mlflow.log_metrics(finite_metrics(metrics))
        mlflow.log_artifacts(str(folder), f"pretrained/{name}")
        mlflow.log_artifact(str(folder / CARD_MD))
    return BuildResult(folder, card, run.info.run_id)


def _quantile_metric(lq: LatticeQuantile) -> str:
    """``interval_q_1000_sites``, and ``..._zero`` / ``..._positive`` for a zero-site cell."""
    cell = {None: "", True: "_zero", False: "_positive"}[lq.zero_sites]
    return f"interval_q_{lq.sites}_sites{cell}"


def finite_metrics(metrics: Mapping[str, float | None]) -> dict[str, float]:
    """The metrics that are finite numbers (MLflow takes no None)."""
    return {k: float(v) for k, v in metrics.items() if finite(v) is not None}


def _card(
    name: str,
    members: Sequence[MemberRun],
    ensemble: EnsemblePredictor,
    law: Mapping[str, Any],
    fraction: float,
    cal_sets: Sequence[Any],
    measured: Sequence[tuple[Any, dict[str, Any]]],
    calibrated: Any,
    opts: BuildOptions,
    run: Any,
) -> dict[str, Any]:
    """``card.json`` (:mod:`lnet.pretrained.cards`) from the members, sets and measurements."""
    components = law_components(law)
    interval = {
        **calibrated.calibration.to_dict(),
        "guarantee": GUARANTEE.format(level=calibrated.calibration.level),
    }
    coverage: dict[str, dict[str, float | None]] = {}
    for s, m in measured:
        coverage.setdefault(s.label, {})[s.key] = m["coverage"]
    card: dict[str, Any] = {
        "name": name,
        "format_version": 1,
        "summary": "",
        "dim": ensemble.dim,
        "task": ensemble.task,
        "class": ensemble.net.qualified_name(),
        "members": [
            {
                "file": f"member_{m.seed}.pt",
                "seed": m.seed,
                "run_id": m.run_id,
                "commit": m.commit,
                "dirty": m.dirty,
                "fine_tuned_from": m.tags.get("lnet.parent_run"),
            }
            for m in members
        ],
        "training": {
            "command": opts.train_command or training_command(members),
            "commits": sorted({m.commit for m in members}),
            "run_ids": [m.run_id for m in members],
            "law": dict(law),
            "law_source": "--cal-law" if opts.cal_law is not None else "the runs' data.potential",
            "laws": [label for label, _ in components],
            "amplitudes": {
                label: next(iter(cfg["components"].values()))["amplitude"]
                if cfg["family"] == "mixture"
                else cfg["amplitude"]
                for label, cfg in components
            },
            "lattices": training_lattices(members),
            "data_seeds": sorted(data_seeds(members)),
            "fraction": fraction,
        },
        "point": {"integer_below": opts.integer_below, "rule": POINT_RULE},
        "validity": validity(ensemble.domain),
        "interval": interval,
        "calibration_sets": [s.to_dict() for s in cal_sets],
        "measurement_sets": [{**s.to_dict(), "metrics": m} for s, m in measured],
        "coverage": coverage,
        "build": {
            "experiment": opts.experiment,
            "run_id": run.info.run_id,
            "lnet_version": lnet.__version__,
            "date": _dt.datetime.now(_dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        },
    }
    card = finite(card)
    card["summary"] = summary_line(card)
    return card


def _experts(opts: BuildOptions, dim: int, name: str) -> list[Expert]:
    """The experts of ``opts.experts`` as shipped in ``opts.root``: each gated on its own
    training law; :class:`PretrainedError` naming the expert when it cannot be one."""
    out = []
    for expert in opts.experts or []:
        if expert == name:
            raise PretrainedError(f"{name} cannot be its own expert")
        folder = model_dir(expert, opts.root)
        law = read_json(folder / CARD_JSON)["training"]["law"]
        try:
            gate = LawGate(law, opts.expert_alpha)
            model = read_ensemble(folder, experts=False)
        except ValueError as exc:
            raise PretrainedError(f"expert {expert}: {exc}") from None
        if model.dim != dim:
            raise PretrainedError(f"expert {expert} is a {model.dim}-D model, not {dim}-D")
        out.append(Expert(expert, gate, model))
    return out


def _expert_label(expert: Expert) -> str:
    """The measurement label of an expert's law: ``<family>_x<amplitude>``."""
    law = make_law(dict(expert.gate.law)).to_config()
    return sanitize_label(f"{law['family']}_x{float(law['amplitude']):g}")


def _trained_on(expert: Expert, law: Mapping[str, Any]) -> bool:
    """Whether the generalist's training law draws the expert's family."""
    return expert.gate.law["family"] in make_law(law).component_names


def _expert_record(expert: Expert, root: str | os.PathLike | None) -> dict[str, Any]:
    """The card's entry for an expert: name, gate, its card's summary and build run."""
    card = read_json(model_dir(expert.name, root) / CARD_JSON)
    return {
        "name": expert.name,
        "gate": expert.gate.to_dict(),
        "summary": card.get("summary"),
        "build_run": (card.get("build") or {}).get("run_id"),
    }


def _write_folder(
    root: Path,
    name: str,
    members: Sequence[MemberRun],
    calibration: Mapping[str, Any],
    card: Mapping[str, Any],
    overwrite: bool,
    experts: Mapping[str, Any] | None = None,
) -> Path:
    """Write the folder beside its final place, check its size, then move it there."""
    root.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{name}.", dir=root))
    try:
        fresh = {m.seed: m.net for m in members if m.source is None}
        write_members(tmp, fresh)
        for m in members:
            if m.source is not None:
                shutil.copyfile(m.source, tmp / member_file(m.seed))
        write_json(tmp / CALIBRATION, finite(dict(calibration)))
        write_json(tmp / CARD_JSON, card)
        (tmp / CARD_MD).write_text(render_markdown(card))
        if experts is not None:
            write_json(tmp / EXPERTS, experts)
        size = folder_bytes(tmp)
        if size > MAX_FOLDER_BYTES:
            raise PretrainedError(
                f"model folder {name} would take {size / 2**20:.2f} MiB, over the "
                f"{MAX_FOLDER_BYTES / 2**20:.0f} MiB limit of a shipped model: use fewer members"
            )
        final = root / name
        if final.exists():
            if not overwrite:
                raise PretrainedError(f"{final} exists: pass --force to rebuild it")
            shutil.rmtree(final)
        os.replace(tmp, final)
        return final
    finally:
        if tmp.exists():
            shutil.rmtree(tmp)
