"""The training runs behind a pretrained model: their logged nets and what they were
trained on, read from MLflow.

Each run is one member (one training seed). A run of ``pipelines/train.py`` records its
model (``runs:/<id>/model``, :mod:`lnet.tracking.pyfunc`), its resolved config
(artifact ``config.yaml``: the potential law ``data.potential``, the lattices
``data.n`` / ``data.shape`` and ``data.extra_train``, the energies ``data.energies``,
the data seeds) and its tags (``seed``, ``experiment``, ``git.commit``, ``git.dirty``).
"""

from __future__ import annotations

import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from torch import nn

from lnet.data.test_sets import SPECTRUM_FRACTION
from lnet.pretrained import PretrainedError
from lnet.tasks import COUNTING


@dataclass
class MemberRun:
    """One training run: its id, training seed (tag ``seed``; the run id's head when
    missing), its net (with the input domain of its training data), its config
    (``config.yaml`` as a dict; None if the run logged none), tags and, for a member
    read back from a shipped folder, its ``source`` file (copied byte for byte, so its
    sha256, which fine-tunes record, stays the same)."""

    run_id: str
    seed: str
    net: nn.Module
    config: dict[str, Any] | None
    tags: dict[str, str] = field(default_factory=dict)
    source: Path | None = None  # a shipped member file to copy as it is (a rebuild)

    @property
    def commit(self) -> str:
        return self.tags.get("git.commit", "unknown")

    @property
    def dirty(self) -> str:
        return self.tags.get("git.dirty", "unknown")


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def load_member(run_id: str, tracking_uri: str) -> MemberRun:
    """The run's logged counting net, config and tags; :class:`PretrainedError` (one
    line) for a run that does not exist, has no logged lnet model, or whose model is
    not a counting model."""
    import mlflow
    from mlflow.exceptions import MlflowException
    from mlflow.protos.databricks_pb2 import RESOURCE_DOES_NOT_EXIST, ErrorCode

    import lnet

    client = mlflow.MlflowClient(tracking_uri)
    try:
        run = client.get_run(run_id)
    except MlflowException as exc:  # a missing run is one line; auth, network: raise
        if exc.error_code != ErrorCode.Name(RESOURCE_DOES_NOT_EXIST):
            raise
        raise PretrainedError(
            f"run {run_id}: not found in {tracking_uri} ({_first_line(exc)})"
        ) from None
    try:
        predictor = lnet.load_model(f"runs:/{run_id}/model", tracking_uri)
    except ValueError as exc:
        raise PretrainedError(
            f"run {run_id} has no logged lnet model at runs:/{run_id}/model "
            f"({_first_line(exc)}); train with logger.log_model=true"
        ) from None
    if predictor.task != COUNTING:
        raise PretrainedError(
            f"run {run_id}: its model {type(predictor.net).__name__} is a "
            f"{predictor.task!r} model; a pretrained ensemble takes counting models"
        )
    tags = dict(run.data.tags)
    seed = tags.get("seed") or run.data.params.get("seed") or run_id[:8]
    return MemberRun(run_id, str(seed), predictor.net, _config(client, run_id), tags)


def _config(client: Any, run_id: str) -> dict[str, Any] | None:
    """The run's ``config.yaml`` artifact as a dict, None when it has none."""
    names = {a.path for a in client.list_artifacts(run_id)}
    if "config.yaml" not in names:
        return None
    with tempfile.TemporaryDirectory() as tmp:
        path = client.download_artifacts(run_id, "config.yaml", tmp)
        return yaml.safe_load(Path(path).read_text())


def load_members(run_ids: Sequence[str], tracking_uri: str) -> list[MemberRun]:
    """:func:`load_member` for each run; a run given twice or two runs of one training
    seed are an error (the member files are named by seed)."""
    if not run_ids:
        raise PretrainedError("give at least one training run id")
    if len(set(run_ids)) != len(run_ids):
        twice = next(r for r in run_ids if run_ids.count(r) > 1)
        raise PretrainedError(f"run {twice} is given twice")
    members = [load_member(r, tracking_uri) for r in run_ids]
    seen: dict[str, str] = {}
    for m in members:
        if m.seed in seen:
            raise PretrainedError(
                f"runs {seen[m.seed]} and {m.run_id} share training seed {m.seed}: "
                "an ensemble takes one run per seed"
            )
        seen[m.seed] = m.run_id
    return members


def _data(member: MemberRun) -> Mapping[str, Any]:
    return (member.config or {}).get("data") or {}


def training_law(members: Sequence[MemberRun]) -> dict[str, Any]:
    """The potential law the runs were trained on (``data.potential`` of their
    configs); :class:`PretrainedError` when a run logged no config or the runs differ."""
    laws = []
    for m in members:
        law = _data(m).get("potential")
        if not law:
            raise PretrainedError(
                f"run {m.run_id} logged no config.yaml with data.potential: pass --cal-law "
                "(a conf/data/potential name such as universal, or a YAML file)"
            )
        laws.append(dict(law))
    if any(law != laws[0] for law in laws[1:]):
        raise PretrainedError(
            "the runs were trained on different potential laws: pass --cal-law to choose "
            "the calibration law"
        )
    return laws[0]


def spectral_fraction(members: Sequence[MemberRun]) -> float:
    """f of the training energies (E uniform in [0, λ_⌈f·sites⌉] for ``data.energies.mode
    = spectrum_fraction``); 0.1 for the other modes (the lowest 100 levels of 1000 sites,
    the 2-D default)."""
    energies = _data(members[0]).get("energies") or {}
    if energies.get("mode") == "spectrum_fraction" and energies.get("fraction"):
        return float(energies["fraction"])
    return SPECTRUM_FRACTION


def training_lattices(members: Sequence[MemberRun]) -> list[list[int]]:
    """The lattices of the training data (``data.n`` or ``data.shape``, then each
    ``data.extra_train`` item's); [] when the runs logged no config."""
    out: list[list[int]] = []
    data = _data(members[0])
    for d in (data, *(data.get("extra_train") or [])):
        lattice = d.get("shape") or ([d["n"]] if d.get("n") else None)
        if lattice and list(lattice) not in out:
            out.append([int(s) for s in lattice])
    return out


def data_seeds(members: Sequence[MemberRun]) -> set[int]:
    """The data seeds of the training data (``data.seed``, ``extra_train`` seeds)."""
    data = _data(members[0])
    seeds = {int(data.get("seed", 0))}
    seeds |= {int(d.get("seed", data.get("seed", 0))) for d in data.get("extra_train") or []}
    return seeds


def training_command(members: Sequence[MemberRun]) -> str:
    """The command that trains these runs, from their tags (``experiment``, ``seed``):
    ``python pipelines/train.py -m experiment=<name> seed=<s1>,<s2>,...``."""
    experiments = {m.tags.get("experiment") for m in members}
    seeds = ",".join(m.seed for m in members)
    multi = " -m" if len(members) > 1 else ""
    if len(experiments) == 1 and None not in experiments:
        return f"python pipelines/train.py{multi} experiment={experiments.pop()} seed={seeds}"
    return (
        f"python pipelines/train.py{multi} ... seed={seeds} (overrides not recorded in the "
        "runs' tags; see each run's config.yaml)"
    )
