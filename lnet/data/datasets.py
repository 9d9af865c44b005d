"""Torch datasets over cached arrays, fetched a whole batch at a time.

Each potential's arrays are stored once; a counting sample is a (potential,
energy) pair addressed by a flat index idx = p * m + j.  ``__getitems__`` lets the
DataLoader gather a batch with one fancy-indexing call instead of per-sample
Python work (use :func:`identity_collate` as the loader's ``collate_fn``).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
from torch.utils.data import Dataset

Batch = dict[str, torch.Tensor]


def identity_collate(batch: Batch) -> Batch:
    return batch


def _f32(a: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(np.ascontiguousarray(a, dtype=np.float32))


def lattice_symmetry(
    V: torch.Tensor, W: torch.Tensor, dW: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Random shift and reflection per row of (b, n) fields: f(x) -> f(s ± x)."""
    b, n = V.shape
    x = torch.arange(n)
    shift = torch.randint(0, n, (b, 1))
    flip = torch.rand(b, 1) < 0.5
    idx = torch.where(flip, shift - x, shift + x) % n
    sign = torch.where(flip, -1.0, 1.0)
    return V.gather(1, idx), W.gather(1, idx), sign * dW.gather(1, idx)


class _CountingArrays(Dataset):
    """A counting split as float32 tensors; V, W, dW are stored once per potential."""

    def __init__(
        self,
        V: np.ndarray,
        W: np.ndarray,
        dW: np.ndarray,
        E: np.ndarray,
        N: np.ndarray,
        augment: bool = False,
    ):
        self.V, self.W, self.dW = _f32(V), _f32(W), _f32(dW)
        self.E, self.N = _f32(E), _f32(N)
        self.m = E.shape[1]
        self.augment = augment

    def _fields(self, p: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """V, W, dW of potentials p, ``(len(p), n)``, symmetry-augmented if asked."""
        V, W, dW = self.V[p], self.W[p], self.dW[p]
        return lattice_symmetry(V, W, dW) if self.augment else (V, W, dW)

    def __getitems__(self, indices: Sequence[int]) -> Batch:  # pragma: no cover
        raise NotImplementedError

    def __getitem__(self, index: int) -> Batch:
        return {k: v[0] for k, v in self.__getitems__([index]).items()}


class CountingPairs(_CountingArrays):
    """All (potential, energy) pairs of a counting split.

    Items: V, W, dW ``(n,)`` float32, E and N scalars (N as float32 for the loss),
    potential (index of the potential in the split).  Batched: leading dim b.

    ``augment=True`` applies the lattice's exact symmetries to each item: a random
    cyclic shift x -> x + s and, with probability 1/2, the reflection x -> s - x
    (which flips the sign of W').  N_V(E) is invariant under both, so this is free,
    exact extra data; it uses torch's global RNG (seeded by ``seed_everything``).
    """

    def __len__(self) -> int:
        return self.E.numel()

    def __getitems__(self, indices: Sequence[int]) -> Batch:
        idx = torch.as_tensor(indices, dtype=torch.long)
        p, j = idx // self.m, idx % self.m
        V, W, dW = self._fields(p)
        return {"V": V, "W": W, "dW": dW, "E": self.E[p, j], "N": self.N[p, j], "potential": p}


class CountingPotentials(_CountingArrays):
    """Counting data grouped by potential, for models that share work across energies.

    Items: V, W, dW ``(n,)`` float32, E and N ``(k,)`` (N as float32), potential.
    Batched: ``(b, n)`` fields with ``(b, k)`` energies and counts.  With
    ``energies=None`` every item carries all m energies of its potential in their
    stored order; with ``energies=k`` (1 <= k <= m) each fetch draws k of the m
    energies without replacement, afresh every epoch, from torch's global RNG
    (seeded by ``seed_everything``).  ``augment`` is as for :class:`CountingPairs`.
    """

    def __init__(
        self,
        V: np.ndarray,
        W: np.ndarray,
        dW: np.ndarray,
        E: np.ndarray,
        N: np.ndarray,
        energies: int | None = None,
        augment: bool = False,
    ):
        super().__init__(V, W, dW, E, N, augment)
        if energies is not None and not 1 <= energies <= self.m:
            raise ValueError(f"energies must be in [1, {self.m}], got {energies}")
        self.energies = energies

    def __len__(self) -> int:
        return self.V.shape[0]

    def __getitems__(self, indices: Sequence[int]) -> Batch:
        p = torch.as_tensor(indices, dtype=torch.long)
        V, W, dW = self._fields(p)
        if self.energies is None:
            E, N = self.E[p], self.N[p]
        else:
            j = torch.argsort(torch.rand(len(p), self.m), dim=1)[:, : self.energies]
            E, N = self.E[p[:, None], j], self.N[p[:, None], j]
        return {"V": V, "W": W, "dW": dW, "E": E, "N": N, "potential": p}


class EigenvaluePotentials(Dataset):
    """Potentials with their k lowest eigenvalues: V, W ``(n,)``, eigenvalues ``(k,)``."""

    def __init__(self, V: np.ndarray, W: np.ndarray, eigenvalues: np.ndarray):
        self.V, self.W, self.eigenvalues = _f32(V), _f32(W), _f32(eigenvalues)

    def __len__(self) -> int:
        return self.V.shape[0]

    def __getitems__(self, indices: Sequence[int]) -> Batch:
        p = torch.as_tensor(indices, dtype=torch.long)
        return {"V": self.V[p], "W": self.W[p], "eigenvalues": self.eigenvalues[p], "potential": p}

    def __getitem__(self, index: int) -> Batch:
        return {k: v[0] for k, v in self.__getitems__([index]).items()}
