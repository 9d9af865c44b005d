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


class CountingPairs(Dataset):
    """All (potential, energy) pairs of a counting split.

    Items: V, W, dW ``(n,)`` float32, E and N scalars (N as float32 for the loss),
    potential (index of the potential in the split).  Batched: leading dim b.
    """

    def __init__(self, V: np.ndarray, W: np.ndarray, dW: np.ndarray, E: np.ndarray, N: np.ndarray):
        self.V, self.W, self.dW = _f32(V), _f32(W), _f32(dW)
        self.E, self.N = _f32(E), _f32(N)
        self.m = E.shape[1]

    def __len__(self) -> int:
        return self.E.numel()

    def __getitems__(self, indices: Sequence[int]) -> Batch:
        idx = torch.as_tensor(indices, dtype=torch.long)
        p, j = idx // self.m, idx % self.m
        return {
            "V": self.V[p],
            "W": self.W[p],
            "dW": self.dW[p],
            "E": self.E[p, j],
            "N": self.N[p, j],
            "potential": p,
        }

    def __getitem__(self, index: int) -> Batch:
        return {k: v[0] for k, v in self.__getitems__([index]).items()}


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
