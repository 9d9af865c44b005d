"""Lightning DataModules over the dataset cache.

``dm.arrays[split]`` (after ``setup()``) is the public, numpy view of a split:
V ``(P, n)``, W ``(P, n)``, dW ``(P, n)`` (periodic central difference of W) and
either E ``(P, m)``, N ``(P, m)`` (counting) or eigenvalues ``(P, k)``.
On the 2-D lattice (``dim=2``, ``shape=[L1, L2]``): V, W ``(P, L1, L2)`` and dW
``(P, 2, L1, L2)`` (:func:`lnet.physics.periodic_gradient`, computed at load time; the
cache stores V, W, E, N as in 1-D).
``dm.stats`` holds the normalisation statistics, computed on the training split
only; models take them at construction so that they travel with the checkpoint.
``dm.input_domain()`` is the range of the input statistics (:mod:`lnet.domain`) of the
potentials a model learns from, which training saves with the model.
"""

from __future__ import annotations

import os
from typing import Any

import numpy as np
import pytorch_lightning as pl
from pytorch_lightning.utilities.combined_loader import CombinedLoader
from torch.utils.data import DataLoader, Dataset

from lnet.config import to_plain
from lnet.data.cache import CacheEntry, load_or_build
from lnet.data.datasets import (
    CountingPairs,
    CountingPotentials,
    EigenvaluePotentials,
    identity_collate,
)
from lnet.data.spec import (
    DEFAULT_SHAPE_2D,
    DEFAULT_SHAPE_3D,
    SPLITS,
    DatasetSpec,
    check_dim,
    make_spec,
)
from lnet.domain import InputDomain
from lnet.errors import ConfigError
from lnet.physics import periodic_derivative, periodic_gradient
from lnet.tasks import COUNTING, EIGENVALUES

DEFAULT_POTENTIAL = {"family": "uniform", "amplitude": 1.0}
DEFAULT_N = 1000  # 1-D lattice length when data.n is not given


def _lattice(n: Any, dim: Any, shape: Any) -> tuple[Any, Any]:
    """n and shape for :func:`make_spec`: 1-D defaults to n = 1000, 2-D to 32×32.

    A bad ``dim`` is passed on as it is: :func:`make_spec` names ``data.dim``.
    """
    try:
        d = check_dim(dim)
    except ConfigError:
        return n, shape
    if d == 2:
        return n, (list(DEFAULT_SHAPE_2D) if shape is None else shape)
    if d == 3:
        return n, (list(DEFAULT_SHAPE_3D) if shape is None else shape)
    return (DEFAULT_N if n is None else n), shape


def gradient(W: np.ndarray, dim: int) -> np.ndarray:
    """dW as the models take it: W' ``(P, n)`` in 1-D, ∇W ``(P, 2, L1, L2)`` in 2-D and
    ``(P, 3, L1, L2, L3)`` in 3-D."""
    return periodic_derivative(W) if dim == 1 else periodic_gradient(W, dim=dim)


def _moments(a: np.ndarray) -> dict[str, float]:
    return {"mean": float(np.mean(a)), "std": float(np.std(a)) or 1.0}


class CachedDataModule(pl.LightningDataModule):
    """Shared machinery: validated spec, cache, loaders.  Subclasses set ``task``."""

    task: str = ""

    def __init__(
        self,
        spec: DatasetSpec,
        data_dir: str | os.PathLike = "data/cache",
        batch_size: int = 20,
        eval_batch_size: int | None = None,
        num_workers: int = 0,
        shuffle: bool = True,
        pin_memory: bool = False,
        show_progress: bool = True,
        augment: bool = False,
    ) -> None:
        super().__init__()
        for key, value, lo in (("batch_size", batch_size, 1), ("num_workers", num_workers, 0)):
            if isinstance(value, bool) or not isinstance(value, int) or value < lo:
                raise ConfigError(f"data.{key}", f"must be an integer >= {lo}, got {value!r}")
        self.spec = spec
        self.data_dir = os.fspath(data_dir)
        self.batch_size = batch_size
        self.eval_batch_size = eval_batch_size or max(batch_size, 256)
        self.num_workers = num_workers
        self.shuffle = bool(shuffle)
        self.pin_memory = bool(pin_memory)
        self.show_progress = show_progress
        self.augment = bool(augment)
        self.entry: CacheEntry | None = None
        self.arrays: dict[str, dict[str, np.ndarray]] = {}
        self.stats: dict[str, dict[str, Any]] = {}
        self.datasets: dict[str, Dataset] = {}

    # -- data ---------------------------------------------------------------
    def prepare_data(self) -> None:
        """Build (or verify) the cache entry; Lightning calls this on one process."""
        self.load()

    def load(self) -> CacheEntry:
        if self.entry is None:
            self.entry = load_or_build(self.spec, self.data_dir, show_progress=self.show_progress)
        return self.entry

    def setup(self, stage: str | None = None) -> None:
        if self.arrays:
            return
        entry = self.load()
        for split in SPLITS:
            a = dict(entry.arrays[split])
            a["dW"] = gradient(a["W"], self.spec.dim)
            self.arrays[split] = a
        self.stats = self._stats(self.arrays["train"])
        self.datasets = {s: self._dataset(self.arrays[s], s == "train") for s in SPLITS}

    def _stats(self, train: dict[str, np.ndarray]) -> dict[str, dict[str, Any]]:
        return {name: _moments(train[name]) for name in ("V", "W", "dW")}

    def input_domain(self, splits: tuple[str, ...] = ("train", "val")) -> InputDomain:
        """The :class:`lnet.domain.InputDomain` of the potentials of ``splits`` (default the
        training and validation splits: both are drawn from the training law, and the
        model is selected on the latter), with their landscapes W, and for a counting
        data set the range of the exact counts' fraction N/sites (``count_fraction``)."""
        if not self.arrays:
            self.setup()
        domain = None
        for split in splits:
            a = self.arrays[split]
            d = InputDomain.from_potentials(a["V"], a["W"], self.spec.dim, counts=a.get("N"))
            domain = d if domain is None else domain.union(d)
        if domain is None:
            raise ValueError("input_domain needs at least one split")
        return domain

    def _dataset(self, a: dict[str, np.ndarray], train: bool) -> Dataset:  # pragma: no cover
        raise NotImplementedError

    # -- loaders ------------------------------------------------------------
    def _loader(self, split: str, train: bool) -> DataLoader:
        if not self.datasets:
            self.setup()
        return DataLoader(
            self.datasets[split],
            batch_size=self.batch_size if train else self.eval_batch_size,
            shuffle=self.shuffle and train,
            num_workers=self.num_workers,
            pin_memory=self.pin_memory,
            persistent_workers=self.num_workers > 0,
            collate_fn=identity_collate,
        )

    def train_dataloader(self) -> DataLoader:
        return self._loader("train", True)

    def val_dataloader(self) -> DataLoader:
        return self._loader("val", False)

    def test_dataloader(self) -> DataLoader:
        return self._loader("test", False)

    # -- description --------------------------------------------------------
    def describe(self) -> dict[str, Any]:
        """What a run should log about its data (key, path, sizes, law, hit or build)."""
        d: dict[str, Any] = {
            "key": self.spec.key,
            "name": self.spec.name,
            **self.spec.to_dict(),
            "family": self.spec.law.family,
        }
        if self.entry is not None:
            d.update(path=str(self.entry.path), cache_hit=self.entry.hit)
        return d


class CountingDataModule(CachedDataModule):
    """(potential, energy) pairs with exact counts N_V(E), for LandscapeNet and the laws.

    Defaults are the paper's setting: n = 1000, V uniform on [0, 1), 300/30/30
    potentials, 100 energies each drawn between consecutive eigenvalues (bottom 10 %).

    ``dim=2`` (``shape=[L1, L2]``, default 32×32; ``n`` left None) gives the same data
    on the periodic L1×L2 lattice: V, W ``(P, L1, L2)``, dW ``(P, 2, L1, L2)``, the same
    energies and exact counts, default sizes 400/50/50 (``conf/data/counting_2d.yaml``);
    ``augment`` then applies the torus's symmetries (translations, reflections along
    each axis, and the transposition when L1 = L2).

    ``extra_train``: more training data at other lattice sizes, for size-free models
    (a list; each item a mapping with ``shape`` (2-D) or ``n`` (1-D) and optionally
    ``energies``, ``sizes``, ``seed``, ``batch_size``; the rest is this module's: the
    same potential law, dimension, ``energies_per_potential`` and augmentation). Each is
    its own cached dataset, of which only the train split is used. Training batches are
    then a dict ``{"main": batch, "extra_0": batch, ...}``, one batch of each loader per
    step (Lightning's CombinedLoader, mode ``min_size``: an epoch has as many steps as
    the shortest loader, the others are reshuffled each epoch). Validation, test,
    normalisation statistics and the fitted laws use this module's data only.
    """

    task = COUNTING
    EXTRA_KEYS = ("n", "shape", "energies", "sizes", "seed", "batch_size")

    def __init__(
        self,
        n: int | None = None,
        potential: dict[str, Any] | None = None,
        energies: dict[str, Any] | None = None,
        sizes: dict[str, int] | None = None,
        seed: int = 0,
        energies_per_potential: int | str | None = None,
        dim: int = 1,
        shape: list[int] | tuple[int, int] | None = None,
        extra_train: list[dict[str, Any]] | None = None,
        **loader: Any,
    ) -> None:
        n, shape = _lattice(n, dim, shape)
        requested_k = energies_per_potential  # extra_train items resolve 'all' for themselves
        default_sizes = {"train": 300, "val": 30, "test": 30}
        if dim == 2:
            default_sizes = {"train": 400, "val": 50, "test": 50}
        elif dim == 3:
            default_sizes = {"train": 200, "val": 30, "test": 30}
        spec = make_spec(
            "counting",
            n=n,
            potential=potential or DEFAULT_POTENTIAL,
            energies=energies or {"mode": "between_eigenvalues", "count": 100},
            sizes=sizes or default_sizes,
            seed=seed,
            dim=dim,
            shape=shape,
        )
        m = spec.energies["count"]
        if energies_per_potential == "all":
            energies_per_potential = m
        if energies_per_potential is not None and (
            isinstance(energies_per_potential, bool)
            or not isinstance(energies_per_potential, int)
            or energies_per_potential < 1
        ):
            raise ConfigError(
                "data.energies_per_potential",
                f"must be null (pairs), 'all' or an integer >= 1, got {energies_per_potential!r}",
            )
        if energies_per_potential is not None:  # k means "k, or all of them if fewer"
            energies_per_potential = min(energies_per_potential, m)
        self.energies_per_potential = energies_per_potential
        if energies_per_potential is not None and loader.get("eval_batch_size") is None:
            # eval batches hold whole potentials with all m energies: ~256 pairs (m if m > 256)
            loader["eval_batch_size"] = max(1, 256 // m)
        super().__init__(spec, **loader)
        self.extra = self._extra_modules(extra_train, requested_k, loader)

    def _extra_modules(
        self, extra_train: Any, energies_per_potential: Any, loader: dict[str, Any]
    ) -> list[CountingDataModule]:
        """One CountingDataModule per item of ``extra_train`` (class docstring)."""
        if extra_train is None:
            return []
        items = to_plain(extra_train)
        if not isinstance(items, list | tuple):
            raise ConfigError(
                "data.extra_train", f"must be a list of mappings (or null), got {items!r}"
            )
        out = []
        for i, item in enumerate(items):
            key = f"data.extra_train[{i}]"
            if not isinstance(item, dict):
                raise ConfigError(key, f"must be a mapping (shape or n, ...), got {item!r}")
            unknown = sorted(set(item) - set(self.EXTRA_KEYS))
            if unknown:
                raise ConfigError(
                    f"{key}.{unknown[0]}",
                    f"unknown key; allowed: {', '.join(self.EXTRA_KEYS)}",
                )
            lattice = "shape" if self.spec.dim >= 2 else "n"
            if item.get(lattice) is None:
                raise ConfigError(f"{key}.{lattice}", "is required (the lattice of this data)")
            other = "n" if lattice == "shape" else "shape"
            if item.get(other) is not None:
                raise ConfigError(f"{key}.{other}", f"is not used with data.dim={self.spec.dim}")
            child_loader = {**loader, "batch_size": item.get("batch_size", self.batch_size)}
            try:
                child = CountingDataModule(
                    n=item.get("n"),
                    potential=self.spec.potential,
                    energies=item.get("energies", self.spec.energies),
                    sizes=item.get("sizes", self.spec.sizes),
                    seed=item.get("seed", self.spec.seed + i + 1),
                    energies_per_potential=energies_per_potential,
                    dim=self.spec.dim,
                    shape=item.get("shape"),
                    **child_loader,
                )
            except ConfigError as exc:  # name the item: data.extra_train[i].<key>
                raise ConfigError(
                    f"{key}.{exc.key.removeprefix('data.')}", str(exc).split(": ", 1)[1]
                ) from None
            if child.spec.key == self.spec.key:
                raise ConfigError(key, "is the same dataset as data itself")
            out.append(child)
        return out

    def prepare_data(self) -> None:
        super().prepare_data()
        for child in self.extra:
            child.prepare_data()

    def setup(self, stage: str | None = None) -> None:
        super().setup(stage)
        for child in self.extra:
            child.setup(stage)

    def train_dataloader(self) -> DataLoader | CombinedLoader:
        main = super().train_dataloader()
        if not self.extra:
            return main
        loaders = {"main": main}
        loaders.update({f"extra_{i}": c.train_dataloader() for i, c in enumerate(self.extra)})
        return CombinedLoader(loaders, mode="min_size")

    def input_domain(self, splits: tuple[str, ...] = ("train", "val")) -> InputDomain:
        """As :meth:`CachedDataModule.input_domain`, joined with the training split of
        every ``extra_train`` dataset (other lattices the model learns from)."""
        domain = super().input_domain(splits)
        for child in self.extra:
            domain = domain.union(child.input_domain(("train",)))
        return domain

    def describe(self) -> dict[str, Any]:
        d = super().describe()
        if self.extra:
            d["extra_train"] = [c.describe() for c in self.extra]
        return d

    def _stats(self, train: dict[str, np.ndarray]) -> dict[str, dict[str, Any]]:
        stats = super()._stats(train)
        stats["E"] = _moments(train["E"])
        stats["N"] = _moments(train["N"].astype(np.float64))
        return stats

    def _dataset(self, a: dict[str, np.ndarray], train: bool) -> Dataset:
        fields = (a["V"], a["W"], a["dW"], a["E"], a["N"])
        if self.energies_per_potential is None:
            return CountingPairs(*fields, augment=self.augment and train)
        return CountingPotentials(
            *fields,
            energies=self.energies_per_potential if train else None,
            augment=self.augment and train,
        )


class EigenvalueDataModule(CachedDataModule):
    """Potentials with their k lowest eigenvalues, for the V-vs-W baseline.

    Defaults: n = 1000, V uniform on [0, 1), k = 20, 5000/500/500 potentials.
    ``dim=2`` with ``shape=[L1, L2]`` (default 32×32) as for :class:`CountingDataModule`.
    """

    task = EIGENVALUES

    def __init__(
        self,
        n: int | None = None,
        potential: dict[str, Any] | None = None,
        k: int = 20,
        sizes: dict[str, int] | None = None,
        seed: int = 0,
        dim: int = 1,
        shape: list[int] | tuple[int, int] | None = None,
        **loader: Any,
    ) -> None:
        n, shape = _lattice(n, dim, shape)
        spec = make_spec(
            "eigenvalues",
            n=n,
            potential=potential or DEFAULT_POTENTIAL,
            k=k,
            sizes=sizes or {"train": 5000, "val": 500, "test": 500},
            seed=seed,
            dim=dim,
            shape=shape,
        )
        loader.setdefault("batch_size", 16)
        super().__init__(spec, **loader)

    def _stats(self, train: dict[str, np.ndarray]) -> dict[str, dict[str, Any]]:
        stats = super()._stats(train)
        ev = train["eigenvalues"]
        stats["eigenvalues"] = {"mean": ev.mean(axis=0).tolist(), "std": ev.std(axis=0).tolist()}
        return stats

    def _dataset(self, a: dict[str, np.ndarray], train: bool) -> Dataset:
        if self.augment:
            raise ConfigError("data.augment", "is only implemented for counting data")
        return EigenvaluePotentials(a["V"], a["W"], a["eigenvalues"])
