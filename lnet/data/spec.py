"""Validated dataset specifications and their cache keys.

A spec holds exactly the settings that determine a dataset's content (lattice,
potential law, energies or k, split sizes, seed); loader settings such as the
batch size are not part of it, so they never invalidate a cache entry.

Lattices: ``dim = 1`` (default) is the periodic chain of ``n`` sites; ``dim = 2`` the
periodic L1×L2 lattice, ``shape = (L1, L2)`` (each >= 2), with ``n = L1·L2`` sites
wherever a site count is needed (e.g. the bound on between-eigenvalue energies).  The
canonical dict of a 1-D spec has no ``dim``/``shape`` entries, so every 1-D key (and
cache entry) is the one it always was; a 2-D spec adds ``dim: 2`` and ``shape``.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from lnet.config import to_plain
from lnet.data.families import PotentialLaw, make_law
from lnet.errors import ConfigError
from lnet.physics.validation import MIN_SIDE_2D, MIN_SITES
from lnet.tasks import COUNTING, EIGENVALUES

# 2: between-eigenvalue energies only in open gaps (degenerate spectra changed)
FORMAT_VERSION = 2
SPLITS: tuple[str, ...] = ("train", "val", "test")
DIMS: tuple[int, ...] = (1, 2, 3)  # lattice dimensions
DEFAULT_SHAPE_2D: tuple[int, int] = (32, 32)  # 1024 sites: the lowest 100 levels are ~10 %
DEFAULT_SHAPE_3D: tuple[int, int, int] = (16, 16, 16)  # 4096 sites
ENERGY_MODES: dict[str, tuple[str, ...]] = {
    "between_eigenvalues": ("count",),
    "uniform": ("count", "e_min", "e_max"),
    "spectrum_fraction": ("count", "fraction"),
}


def _int(value: Any, key: str, lo: int, hi: int | None = None) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        if isinstance(value, float) and value.is_integer():
            value = int(value)
        else:
            raise ConfigError(key, f"must be an integer, got {value!r}")
    if value < lo or (hi is not None and value > hi):
        allowed = f">= {lo}" if hi is None else f"in [{lo}, {hi}]"
        raise ConfigError(key, f"must be an integer {allowed}, got {value}")
    return int(value)


def _float(value: Any, key: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ConfigError(key, f"must be a number, got {value!r}")
    if not math.isfinite(value):
        raise ConfigError(key, f"must be finite, got {value!r}")
    return float(value)


def check_sizes(sizes: Any, key: str = "data.sizes") -> dict[str, int]:
    sizes = to_plain(sizes)
    if not isinstance(sizes, Mapping):
        raise ConfigError(key, f"must be a mapping train/val/test -> count, got {sizes!r}")
    unknown = sorted(set(sizes) - set(SPLITS))
    if unknown:
        raise ConfigError(f"{key}.{unknown[0]}", f"unknown split; allowed: {list(SPLITS)}")
    return {s: _int(sizes.get(s, 0), f"{key}.{s}", 1) for s in SPLITS}


def check_energies(cfg: Any, n: int, key: str = "data.energies") -> dict[str, Any]:
    """Validate an energy sampling config; returns it with every field filled in.

    Keys set to null count as not given, so the config file can list every key of
    every mode (each settable without ``+``) and leave the unused ones null.
    """
    cfg = to_plain(cfg)
    if not isinstance(cfg, Mapping):
        raise ConfigError(key, f"must be a mapping with a 'mode' key, got {cfg!r}")
    cfg = {k: v for k, v in cfg.items() if v is not None}
    mode = cfg.get("mode")
    if mode not in ENERGY_MODES:
        raise ConfigError(f"{key}.mode", f"unknown mode {mode!r}; allowed: {list(ENERGY_MODES)}")
    allowed = ENERGY_MODES[mode]
    extra = sorted(set(cfg) - {"mode", *allowed})
    if extra:
        raise ConfigError(
            f"{key}.{extra[0]}", f"not used by mode '{mode}'; allowed: {list(allowed)}"
        )
    missing = [a for a in allowed if a not in cfg]
    if missing:
        raise ConfigError(f"{key}.{missing[0]}", f"required by mode '{mode}'")
    out: dict[str, Any] = {"mode": mode}
    if mode == "between_eigenvalues":
        out["count"] = _int(cfg["count"], f"{key}.count", 1, n)
    else:
        out["count"] = _int(cfg["count"], f"{key}.count", 1)
    if mode == "uniform":
        out["e_min"] = _float(cfg["e_min"], f"{key}.e_min")
        out["e_max"] = _float(cfg["e_max"], f"{key}.e_max")
        if not out["e_min"] < out["e_max"]:
            raise ConfigError(
                f"{key}.e_max", f"must be > e_min = {out['e_min']}, got {out['e_max']}"
            )
    if mode == "spectrum_fraction":
        fraction = _float(cfg["fraction"], f"{key}.fraction")
        if not 0 < fraction <= 1:
            raise ConfigError(f"{key}.fraction", f"must be in (0, 1], got {fraction}")
        out["fraction"] = fraction
    return out


def check_dim(value: Any, key: str = "data.dim") -> int:
    """The lattice dimension: 1 (periodic chain), 2 (periodic L1×L2 lattice) or 3
    (periodic L1×L2×L3 lattice)."""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int) or value not in DIMS:
        raise ConfigError(key, f"must be 1, 2 or 3 (the lattice dimension), got {value!r}")
    return value


def _sides(dim: int) -> str:
    return ", ".join(f"L{i + 1}" for i in range(dim))


def check_shape(value: Any, key: str = "data.shape", dim: int = 2) -> tuple[int, ...]:
    """A lattice shape [L1, L2] (dim = 2) or [L1, L2, L3] (dim = 3), each an integer >= 2."""
    value = to_plain(value)
    if not isinstance(value, list | tuple) or len(value) != dim:
        raise ConfigError(
            key, f"must be a list [{_sides(dim)}] of {dim} side lengths, got {value!r}"
        )
    return tuple(_int(v, f"{key}[{i}]", MIN_SIDE_2D) for i, v in enumerate(value))


def check_lattice(
    n: Any, dim: Any = 1, shape: Any = None
) -> tuple[int, int, tuple[int, ...] | None]:
    """Validate ``data.n``, ``data.dim``, ``data.shape`` together: (n, dim, shape).

    dim = 1: n >= 3 sites, no shape.  dim = 2 or 3: shape [L1, L2] or [L1, L2, L3]
    (each >= 2) and n = L1·L2(·L3); ``data.n`` may be left null (or equal the number of
    sites), since the shape fixes it.
    """
    dim = check_dim(dim)
    if dim == 1:
        if shape is not None:
            raise ConfigError(
                "data.shape",
                f"is the 2-D or 3-D lattice [L1, L2(, L3)]; it needs data.dim=2 or 3, got {shape!r}",
            )
        return _int(n, "data.n", MIN_SITES), 1, None
    if shape is None:
        example = "[32, 32]" if dim == 2 else "[16, 16, 16]"
        raise ConfigError("data.shape", f"is required with data.dim={dim}, e.g. {example}")
    sides = check_shape(shape, dim=dim)
    sites = math.prod(sides)
    if n is not None and n != sites:
        raise ConfigError(
            "data.n",
            f"is the 1-D lattice length; with data.dim={dim} the lattice is data.shape = "
            f"{list(sides)} ({sites} sites): leave data.n null (data=counting_{dim}d does), "
            f"got {n!r}",
        )
    return sites, dim, sides


def _check_window(
    energies: dict[str, Any], law: PotentialLaw, key: str = "data.energies", dim: int = 1
) -> None:
    """A uniform energy window must meet the spectrum of -Δ + V, which lies in
    [0, max V + 4·dim]: below 0 every count is 0, above the bound every count is n."""
    if energies["mode"] != "uniform":
        return
    if energies["e_max"] <= 0:
        raise ConfigError(
            f"{key}.e_max",
            f"the window [{energies['e_min']}, {energies['e_max']}] lies below the spectrum "
            "of -Δ + V (which starts at min V >= 0): every count would be 0; use e_max > 0",
        )
    bound = law.spectrum_bound(dim)
    if bound is not None and energies["e_min"] >= bound:
        raise ConfigError(
            f"{key}.e_min",
            f"the window starts at {energies['e_min']}, above the whole spectrum (<= max V + {4 * dim} "
            f"= {bound:g} for this law): every count would be n; use e_min < {bound:g}",
        )


@dataclass(frozen=True)
class DatasetSpec:
    """Everything that determines a dataset's arrays.

    task: "counting" (energies with exact N_V(E)) or "eigenvalues" (k lowest), the
    same names as the models' ``task`` (:mod:`lnet.models.protocol`). It is stored
    under the key ``"kind"`` in the canonical dict, so dataset keys stay stable.

    dim: 1 (the periodic chain of ``n`` sites), 2 (the periodic ``shape`` = (L1, L2)
    lattice, n = L1·L2) or 3 (``shape`` = (L1, L2, L3)). Only 2-D and 3-D specs put
    ``dim`` and ``shape`` in the canonical dict, so 1-D keys are unchanged.
    """

    task: str
    n: int
    potential: dict[str, Any]
    sizes: dict[str, int]
    seed: int
    energies: dict[str, Any] | None = None
    k: int | None = None
    dim: int = 1
    shape: tuple[int, ...] | None = None
    law: PotentialLaw = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "law", make_law(self.potential))
        if self.dim in (2, 3):
            if (
                self.shape is None
                or len(self.shape) != self.dim
                or math.prod(self.shape) != self.n
            ):
                raise ValueError(
                    f"a {self.dim}-D spec needs a shape of {self.dim} sides holding n = {self.n} "
                    f"sites, got {self.shape}"
                )
            object.__setattr__(self, "shape", tuple(int(L) for L in self.shape))
        elif self.dim != 1 or self.shape is not None:
            raise ValueError(
                f"dim must be 1 (no shape), 2 or 3, got dim={self.dim}, shape={self.shape}"
            )

    @property
    def lattice(self) -> tuple[int, ...]:
        """The shape of one potential: ``(n,)`` in 1-D, ``(L1, L2)`` in 2-D, ``(L1, L2, L3)``."""
        return (self.n,) if self.shape is None else self.shape

    @property
    def lattice_label(self) -> str:
        """``n1000`` in 1-D, ``32x32`` in 2-D, ``16x16x16`` in 3-D (names, summaries)."""
        return f"n{self.n}" if self.shape is None else "x".join(map(str, self.shape))

    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {
            "kind": self.task,
            "n": self.n,
            "potential": self.potential,
            "sizes": self.sizes,
            "seed": self.seed,
        }
        if self.energies is not None:
            d["energies"] = self.energies
        if self.k is not None:
            d["k"] = self.k
        if self.dim != 1:  # 1-D specs keep their historical canonical dict (and key)
            d["dim"] = self.dim
            d["shape"] = list(self.shape)
        return d

    @property
    def key(self) -> str:
        """sha256 of the canonical spec plus the dataset format version."""
        payload = json.dumps({"format": FORMAT_VERSION, **self.to_dict()}, sort_keys=True)
        return hashlib.sha256(payload.encode()).hexdigest()

    @property
    def name(self) -> str:
        return f"{self.task}-{self.law.family}-{self.lattice_label}-{self.key[:12]}"


def make_spec(
    task: str,
    *,
    n: Any,
    potential: Any,
    sizes: Any,
    seed: Any,
    energies: Any = None,
    k: Any = None,
    dim: Any = 1,
    shape: Any = None,
) -> DatasetSpec:
    """Validate raw config values (any OmegaConf or plain types) into a DatasetSpec.

    ``dim=2`` with ``shape=[L1, L2]`` makes a 2-D spec (``n`` null or L1·L2); see
    :func:`check_lattice`. Errors name the key (``data.dim``, ``data.shape``, ...).
    """
    n, dim, shape = check_lattice(n, dim, shape)
    lattice = {} if dim == 1 else {"dim": dim, "shape": shape}
    seed = _int(seed, "data.seed", 0)
    sizes = check_sizes(sizes)
    potential = make_law(to_plain(potential)).to_config()  # errors name data.potential.*
    if task == COUNTING:
        energies = check_energies(energies, n)
        _check_window(energies, make_law(potential), dim=dim)
        return DatasetSpec(task, n, potential, sizes, seed, energies=energies, **lattice)
    if task == EIGENVALUES:
        k = _int(k, "data.k", 1, n)
        return DatasetSpec(task, n, potential, sizes, seed, k=k, **lattice)
    raise ConfigError("data.task", f"unknown dataset task {task!r}; allowed: counting, eigenvalues")
