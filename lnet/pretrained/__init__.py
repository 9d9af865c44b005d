"""Pretrained universal counting models shipped with lnet, with calibrated 90 % intervals.

A shipped model is a folder ``lnet/pretrained/models/<name>/`` (:mod:`lnet.pretrained.folder`):
the member nets (``member_<seed>.pt``, one per training seed, in the format of
:func:`lnet.predict.save_net`, with the input domain of the training data),
``calibration.json`` (the split-conformal interval, :mod:`lnet.conformal`), ``card.md``
(the model card) and ``card.json`` (the same, machine-readable: training runs, data
laws, sizes, validity range, measured test metrics and interval coverage per law and
size). ``pipelines/pretrained.py build`` writes it from training runs
(:mod:`lnet.pretrained.build`).

    >>> import lnet.pretrained
    >>> lnet.pretrained.available()                        # doctest: +SKIP
    ['universal-1d']
    >>> model = lnet.pretrained.load("universal-1d")       # doctest: +SKIP
    >>> count, low, high = model.predict_counts(V, E, return_interval=True)  # doctest: +SKIP

``lnet.load_model("pretrained:<name>")`` is the same as ``load(name)``. The folder of
models is ``lnet/pretrained/models/`` unless the environment variable
:data:`ENV_VAR` (``LNET_PRETRAINED_DIR``) or a ``root`` argument names another.
"""

from __future__ import annotations

import os
from pathlib import Path

from lnet.ensemble import EnsemblePredictor

ENV_VAR = "LNET_PRETRAINED_DIR"
PREFIX = "pretrained:"  # lnet.load_model("pretrained:<name>")


class PretrainedError(ValueError):
    """A pretrained model cannot be found, built or registered; the message is one line
    that says why (the command line prints it as ``error: <message>``)."""


def models_root(root: str | os.PathLike | None = None) -> Path:
    """The folder holding the model folders: ``root`` when given, else
    ``$LNET_PRETRAINED_DIR`` when set, else ``lnet/pretrained/models/``."""
    if root is not None:
        return Path(root)
    env = os.environ.get(ENV_VAR)
    return Path(env) if env else Path(__file__).with_name("models")


def available(root: str | os.PathLike | None = None) -> list[str]:
    """The names of the shipped models, sorted; [] when none is shipped (yet).

    A model is a sub-folder of :func:`models_root` with a ``calibration.json`` and at
    least one member file (:func:`lnet.pretrained.folder.is_model_folder`).
    """
    from lnet.pretrained.folder import is_model_folder

    base = models_root(root)
    if not base.is_dir():
        return []
    # a name starting with '.' is a folder being written (lnet.pretrained.build)
    return sorted(
        p.name for p in base.iterdir() if not p.name.startswith(".") and is_model_folder(p)
    )


def model_dir(name: str, root: str | os.PathLike | None = None) -> Path:
    """The folder of the shipped model ``name``; :class:`PretrainedError` (one line,
    naming the available models) when there is none."""
    names = available(root)
    if name not in names:
        shipped = ", ".join(names) if names else "none (no model is shipped yet)"
        raise PretrainedError(
            f"unknown pretrained model {name!r}; available: {shipped} (in {models_root(root)})"
        )
    return models_root(root) / name


def load(
    name: str, root: str | os.PathLike | None = None, experts: bool = True
) -> EnsemblePredictor:
    """The shipped model ``name`` as an :class:`lnet.ensemble.EnsemblePredictor`:
    ``predict_counts(V, E)`` the members' mean, ``predict_counts(V, E,
    return_interval=True)`` (count, low, high) with the calibrated 90 % interval.

    A model with experts (``experts.json``: ``universal-1d`` hands i.i.d. uniform [0, 1)
    potentials to ``uniform-1d``) loads as a :class:`lnet.routing.RoutedPredictor`;
    ``experts=False`` gives its own members alone."""
    from lnet.pretrained.folder import read_ensemble

    return read_ensemble(model_dir(name, root), experts=experts)


def member(spec: str, root: str | os.PathLike | None = None) -> tuple[Path, str | None]:
    """One member net of a shipped model, for a fine-tune's ``ckpt_path``:
    ``"pretrained:<name>/<seed>"`` (or ``"pretrained:<name>"`` when the model has one
    member) -> (its ``member_<seed>.pt`` file, the MLflow run that trained it as the
    model card records it, or None).

    :class:`PretrainedError` naming the model's members when the seed is missing or
    unknown.
    """
    body = spec.removeprefix(PREFIX)
    name, _, seed = body.partition("/")
    from lnet.pretrained.folder import CARD_JSON, member_files, member_label, read_json

    folder = model_dir(name, root)
    files = {member_label(p): p for p in member_files(folder)}
    if not seed and len(files) == 1:
        seed = next(iter(files))
    if seed not in files:
        raise PretrainedError(
            f"{spec!r}: name one member of {name!r} as {PREFIX}{name}/<seed>; "
            f"its seeds are {', '.join(files)}"
        )
    path = files[seed]
    card_file = folder / CARD_JSON
    runs = read_json(card_file).get("members", []) if card_file.is_file() else []
    run = next((m.get("run_id") for m in runs if m.get("file") == path.name), None)
    return path, run


def card(name: str, root: str | os.PathLike | None = None) -> str:
    """The model card of ``name`` (``card.md``, Markdown)."""
    from lnet.pretrained.folder import CARD_MD

    return (model_dir(name, root) / CARD_MD).read_text()


__all__ = [
    "ENV_VAR",
    "EnsemblePredictor",
    "PretrainedError",
    "available",
    "card",
    "load",
    "member",
    "model_dir",
    "models_root",
]
