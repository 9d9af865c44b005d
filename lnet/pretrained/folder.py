"""The folder of one shipped model, ``<models root>/<name>/``::

    member_<seed>.pt     one per member net (training seed), lnet.predict.save_net format:
                         class, constructor arguments, weights, input domain
    calibration.json     the interval (lnet.conformal.IntervalCalibration.to_dict) under
                         "interval", with how it was calibrated (score, (κ, γ, δ) selection,
                         the calibration sets: laws, lattices, potentials, energies, seeds);
                         its "integer_below" is the count's whole-states rule
                         (lnet.ensemble; absent: 0, no rounding)
    card.md              the model card (Markdown)
    card.json            the card, machine-readable (lnet.pretrained.cards)
    experts.json         optional: experts that answer the inputs of their training law
                         (lnet.routing), {"version": 1, "experts": [{"name": ..., "gate":
                         {"law": ..., "alpha": ...}}, ...]}; each expert is the model folder
                         experts/<name>/ inside this one (a logged model) or else the
                         sibling folder <name> (the shipped models)

The whole folder must stay within :data:`MAX_FOLDER_BYTES` (2 MiB), so that it ships
inside the lnet package (``pyproject.toml``: ``[tool.setuptools.package-data]``).
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from torch import nn

from lnet.conformal import IntervalCalibration
from lnet.ensemble import EnsemblePredictor
from lnet.predict import load_net, save_net

MEMBER_PREFIX, MEMBER_SUFFIX = "member_", ".pt"
CALIBRATION = "calibration.json"
CARD_MD = "card.md"
CARD_JSON = "card.json"
EXPERTS = "experts.json"
EXPERTS_DIR = "experts"
EXPERTS_VERSION = 1
MAX_FOLDER_BYTES = 2 * 1024 * 1024
NAME_PATTERN = re.compile(r"^[a-z0-9][a-z0-9._-]{0,62}$")
# the globs under lnet/pretrained/ that pyproject.toml ships (tests check they match)
PACKAGE_DATA = ("models/*/*.pt", "models/*/*.json", "models/*/*.md")


def check_name(name: str) -> str:
    """A model name: lower-case letters, digits, ``.``, ``_``, ``-`` (a folder name and
    part of the registered name ``lnet-<name>``); ValueError otherwise."""
    if not isinstance(name, str) or not NAME_PATTERN.match(name):
        raise ValueError(
            f"model name {name!r}: use 1-63 lower-case letters, digits, '.', '_' or '-', "
            "starting with a letter or digit (e.g. universal-1d)"
        )
    return name


def member_file(label: str) -> str:
    """``member_<label>.pt`` (label: the training seed)."""
    if not re.fullmatch(r"[A-Za-z0-9._-]+", label):
        raise ValueError(f"member label {label!r}: letters, digits, '.', '_' or '-' only")
    return f"{MEMBER_PREFIX}{label}{MEMBER_SUFFIX}"


def member_label(path: Path) -> str:
    """The label (training seed) of a member file: ``member_<label>.pt`` -> label."""
    return path.name[len(MEMBER_PREFIX) : -len(MEMBER_SUFFIX)]


def _order(path: Path) -> tuple[int, int | str]:
    label = member_label(path)
    return (0, int(label)) if label.isdigit() else (1, label)


def member_files(folder: str | os.PathLike) -> list[Path]:
    """The member files of a model folder, by seed (numeric labels first)."""
    return sorted(Path(folder).glob(f"{MEMBER_PREFIX}*{MEMBER_SUFFIX}"), key=_order)


def is_model_folder(path: str | os.PathLike) -> bool:
    """A folder with ``calibration.json`` and at least one member file."""
    p = Path(path)
    return p.is_dir() and (p / CALIBRATION).is_file() and bool(member_files(p))


def folder_bytes(folder: str | os.PathLike) -> int:
    """The size of every file in the folder, in bytes (sub-folders included)."""
    return sum(p.stat().st_size for p in Path(folder).rglob("*") if p.is_file())


def read_json(path: str | os.PathLike) -> dict[str, Any]:
    return json.loads(Path(path).read_text())


def write_json(path: str | os.PathLike, data: Mapping[str, Any]) -> None:
    Path(path).write_text(json.dumps(data, indent=2, sort_keys=False) + "\n")


def read_ensemble(folder: str | os.PathLike, experts: bool = True) -> EnsemblePredictor:
    """The model of a folder: its member nets (:func:`lnet.predict.load_net`, each with
    its input domain) and its calibration, as an :class:`EnsemblePredictor` whose member
    names are the file labels (``seed 1``, ...); with an ``experts.json`` (and
    ``experts`` True) a :class:`lnet.routing.RoutedPredictor` over them
    (:func:`expert_folders`)."""
    generalist = _read_members(folder)
    if not experts or not (Path(folder) / EXPERTS).is_file():
        return generalist
    from lnet.gate import LawGate
    from lnet.routing import Expert, RoutedPredictor

    return RoutedPredictor(
        generalist,
        [
            Expert(name, LawGate.from_dict(gate), _read_members(path))
            for name, gate, path in expert_folders(folder)
        ],
    )


def expert_entries(folder: str | os.PathLike) -> list[dict[str, Any]]:
    """The entries of the folder's ``experts.json`` ([] without one); ValueError naming
    the file when it is malformed or newer than this lnet."""
    path = Path(folder) / EXPERTS
    if not path.is_file():
        return []
    data = read_json(path)
    if int(data.get("version", EXPERTS_VERSION)) > EXPERTS_VERSION:
        raise ValueError(f"{path}: format version {data['version']} is newer than this lnet's")
    entries = data.get("experts")
    if not isinstance(entries, list) or not all(
        isinstance(e, dict) and isinstance(e.get("name"), str) and isinstance(e.get("gate"), dict)
        for e in entries
    ):
        raise ValueError(f"{path}: 'experts' must be a list of {{name, gate}} entries")
    return entries


def expert_folders(folder: str | os.PathLike) -> list[tuple[str, dict[str, Any], Path]]:
    """(name, gate, folder) of each expert of ``experts.json``: ``experts/<name>/`` inside
    the folder when there, else the sibling ``<name>``; ValueError naming both places
    when neither is a model folder."""
    base = Path(folder)
    out = []
    for e in expert_entries(base):
        name = check_name(e["name"])
        for place in (base / EXPERTS_DIR / name, base.parent / name):
            if is_model_folder(place):
                out.append((name, e["gate"], place))
                break
        else:
            raise ValueError(
                f"{base / EXPERTS}: expert {name!r} is neither {base / EXPERTS_DIR / name} "
                f"nor {base.parent / name}"
            )
    return out


def _read_members(folder: str | os.PathLike) -> EnsemblePredictor:
    files = member_files(folder)
    if not files:
        raise ValueError(f"{folder}: no member files ({MEMBER_PREFIX}<seed>{MEMBER_SUFFIX})")
    nets = [load_net(p) for p in files]
    names = [f"seed {member_label(p)}" for p in files]
    calibration = IntervalCalibration.from_dict(read_json(Path(folder) / CALIBRATION)["interval"])
    # its count rule is the calibration's integer_below (absent in older folders: none)
    return EnsemblePredictor(nets, calibration=calibration, names=names)


def write_members(folder: str | os.PathLike, members: Mapping[str, nn.Module]) -> list[str]:
    """Save each member net as ``member_<label>.pt`` (:func:`lnet.predict.save_net`);
    returns the file names."""
    out = []
    for label, net in members.items():
        name = member_file(label)
        save_net(net, Path(folder) / name)
        out.append(name)
    return out
