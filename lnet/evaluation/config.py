"""The ``eval`` config group: its typed schema and the checks a type cannot express.

``conf/eval/default.yaml`` extends :class:`EvalConfig`, registered with Hydra's
ConfigStore as ``eval/schema`` (:func:`register_schema`, called when :mod:`lnet.config`
is imported), so Hydra itself rejects a wrong type or an unknown key while it composes
the config, naming the key: ``Value 'big' of type 'str' could not be converted to
Integer, full_key: eval.sizes[0]``, ``Key 'sizez' not in 'EvalConfig'``.

:func:`eval_config` reads the group of a composed config into an :class:`EvalConfig`,
whose ``__post_init__`` checks what a type cannot say (lattice sizes, law names, family
entries), and checks the group against the model's task and the data's dimension. Every
error is a :class:`lnet.errors.ConfigError` naming the key, e.g.
``eval.families[1].amplitude: must be > 0, got -3``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, fields
from typing import Any

from omegaconf import OmegaConf
from omegaconf.errors import OmegaConfBaseException

from lnet.errors import ConfigError
from lnet.tasks import COUNTING

GROUP = "eval"
# eval.laws
LAW_NAMES = ("box", "weyl_continuum", "weyl_lattice", "weyl_torus", "weyl_shifted", "kpm")


def _count(value: Any, key: str, lo: int) -> int:
    """An integer >= lo (a float with an integer value too, for configs built in Python)."""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int) or value < lo:
        raise ConfigError(f"{GROUP}.{key}", f"must be an integer >= {lo}, got {value!r}")
    return int(value)


def shapes_example(dim: int = 2) -> str:
    """``e.g. [[64,64],[128,128]]`` (dim = 2), ``e.g. [[16,16,16],[32,32,32]]`` (dim = 3)."""
    small, large = (64, 128) if dim == 2 else (16, 32)
    return f"e.g. [[{','.join([str(small)] * dim)}],[{','.join([str(large)] * dim)}]]"


def sides(dim: int) -> str:
    """``[L1, L2]`` for dim = 2, ``[L1, L2, L3]`` for dim = 3: a lattice shape in messages."""
    return "[" + ", ".join(f"L{i + 1}" for i in range(dim)) + "]"


@dataclass
class EvalConfig:
    """What is evaluated beyond the train/val/test metrics (``conf/eval/default.yaml``).

    - ``max_potentials``: the final train/val/test metrics of a training run use at most
      this many potentials per split (null: all).
    - ``families``: a fresh test set per entry, a family name or a mapping
      ``{family: uniform, amplitude: 20, label: ...}`` (:mod:`lnet.evaluation.families`).
    - ``laws``: the laws of :data:`LAW_NAMES` (the landscape laws, and ``kpm``, the
      kernel polynomial method from V) as baselines on the same test sets
      (:mod:`lnet.evaluation.laws`).
    - ``sizes`` (1-D data): fresh test sets at these lattice lengths, ``size_potentials``
      potentials × ``size_energies`` energies each; ``shapes`` (2-D data): the same at
      these lattice shapes [L1, L2], ``shape_potentials`` × ``shape_energies``
      (:mod:`lnet.evaluation.lattices`).
    """

    max_potentials: int | None = 1000
    families: list[Any] | None = None
    laws: list[str] | None = None
    sizes: list[int] | None = None
    size_potentials: int = 10
    size_energies: int = 100
    shapes: list[list[int]] | None = None
    shape_potentials: int = 5
    shape_energies: int = 20

    def __post_init__(self) -> None:
        from lnet.evaluation.families import family_entries
        from lnet.physics.validation import MIN_SIDE_2D, MIN_SITES

        if self.max_potentials is not None:
            self.max_potentials = _count(self.max_potentials, "max_potentials", 1)
        for key in ("size_potentials", "size_energies", "shape_potentials", "shape_energies"):
            setattr(self, key, _count(getattr(self, key), key, 1))
        self.sizes = [_count(n, f"sizes[{i}]", MIN_SITES) for i, n in enumerate(self.sizes or [])]
        shapes = []
        for i, shape in enumerate(self.shapes or []):
            if not isinstance(shape, list | tuple) or len(shape) < 2:
                raise ConfigError(
                    f"{GROUP}.shapes[{i}]",
                    f"must be a shape {sides(2)}, {shapes_example()}, got {shape!r}",
                )
            shapes.append(
                [_count(L, f"shapes[{i}][{j}]", MIN_SIDE_2D) for j, L in enumerate(shape)]
            )
        self.shapes = shapes
        laws: list[str] = []
        for i, name in enumerate(self.laws or []):
            if name not in LAW_NAMES:
                raise ConfigError(
                    f"{GROUP}.laws[{i}]", f"unknown law {name!r}; allowed: {list(LAW_NAMES)}"
                )
            if name not in laws:
                laws.append(name)
        self.laws = laws
        self.families = list(self.families or [])
        self._family_entries = family_entries(self.families, f"{GROUP}.families")

    @property
    def family_entries(self) -> list[Any]:
        """The checked ``families`` entries (:class:`lnet.evaluation.families.FamilyEntry`)."""
        return self._family_entries

    def lattice_sets(self) -> tuple[list[tuple[int, ...]], int, int]:
        """``(lattices, potentials, energies)`` of the generalisation sets: the lengths of
        ``sizes`` as ``(n,)`` with ``size_potentials`` and ``size_energies``, else the
        ``shapes`` with ``shape_potentials`` and ``shape_energies``; distinct lattices
        ordered by number of sites (no lattices: neither is set)."""
        if self.sizes:
            return [(n,) for n in sorted(set(self.sizes))], self.size_potentials, self.size_energies
        shapes = sorted({tuple(s) for s in self.shapes or []}, key=lambda s: (math.prod(s), s))
        return shapes, self.shape_potentials, self.shape_energies


FIELDS = tuple(f.name for f in fields(EvalConfig))


def register_schema() -> None:
    """Register :class:`EvalConfig` with Hydra's ConfigStore as ``eval/schema``, the
    schema that ``conf/eval/default.yaml`` extends (its defaults list names it)."""
    from hydra.core.config_store import ConfigStore

    ConfigStore.instance().store(group=GROUP, name="schema", node=EvalConfig)


def _bad_key(node: Any, exc: OmegaConfBaseException) -> str:
    """The ``eval.*`` key an OmegaConf error is about (its ``full_key`` when it names a
    field; else the first entry of ``node`` that the schema rejects on its own)."""
    key = str(getattr(exc, "full_key", "") or "")
    if key.split("[")[0].split(".")[0] in FIELDS:
        return f"{GROUP}.{key}"
    for name in node:
        try:
            OmegaConf.merge(OmegaConf.structured(EvalConfig), {name: node[name]})
        except OmegaConfBaseException:
            return f"{GROUP}.{name}"
    return GROUP


def parse(node: Any) -> EvalConfig:
    """An ``eval`` group (a DictConfig, a mapping, or None for the defaults) as a checked
    :class:`EvalConfig`: the schema's types first (as Hydra applies them), then
    ``__post_init__``. ConfigError naming the key."""
    if isinstance(node, EvalConfig):
        return node
    try:
        merged = OmegaConf.merge(OmegaConf.structured(EvalConfig), node or {})
    except OmegaConfBaseException as exc:
        raise ConfigError(_bad_key(node, exc), str(getattr(exc, "msg", exc))) from None
    return OmegaConf.to_object(merged)


def data_dim(cfg: Any) -> int | None:
    """The lattice dimension of the run's data (``data.dim``, 1 when not set), or None
    for a value the data cannot take (the data module reports a bad ``data.dim``)."""
    from lnet.data.spec import DIMS

    dim = (cfg.get("data") or {}).get("dim", 1)
    return dim if dim in DIMS and not isinstance(dim, bool) else None


def eval_config(cfg: Any, task: str) -> EvalConfig:
    """The ``eval`` group of ``cfg`` (a composed train or evaluate config), checked before
    any set is built: the schema and :meth:`EvalConfig.__post_init__`, then every set
    needs a counting model (``task``), ``eval.sizes`` 1-D data and ``eval.shapes`` data of
    as many dimensions as each shape has sides (``data.dim``)."""
    settings = parse(cfg.get(GROUP))
    given = {
        "eval.families": settings.families,
        "eval.sizes": settings.sizes,
        "eval.shapes": settings.shapes,
        "eval.laws": settings.laws,
    }
    for key, value in given.items():
        if value and task != COUNTING:
            raise ConfigError(key, f"needs a counting model; this is a '{task}' model")
    dim = data_dim(cfg)
    if settings.sizes and dim not in (None, 1):
        raise ConfigError(
            "eval.sizes",
            f"are lengths of the 1-D chain but data.dim={dim}: use eval.shapes=[[L1,L2],...] "
            f"for {dim}-D lattices, {shapes_example(dim)}",
        )
    if settings.shapes and dim == 1:
        raise ConfigError(
            "eval.shapes",
            "are lattice shapes [L1, L2, ...] but the data is 1-D: use them with 2-D data "
            "(data=counting_2d), or eval.sizes=[n1,n2,...] for 1-D lattice lengths",
        )
    for i, shape in enumerate(settings.shapes):
        if dim is not None and len(shape) != dim:
            raise ConfigError(
                f"eval.shapes[{i}]",
                f"must be a shape {sides(dim)} (data.dim={dim}), {shapes_example(dim)}, got {shape}",
            )
    return settings
