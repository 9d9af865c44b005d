"""Torch datasets over cached arrays, fetched a whole batch at a time.

Each potential's arrays are stored once; a counting sample is a (potential,
energy) pair addressed by a flat index idx = p * m + j.  ``__getitems__`` lets the
DataLoader gather a batch with one fancy-indexing call instead of per-sample
Python work (use :func:`identity_collate` as the loader's ``collate_fn``).

Fields are ``(P, n)`` on the periodic chain, ``(P, L1, L2)`` on the periodic 2-D
lattice with the gradient dW ``(P, 2, L1, L2)``, or ``(P, L1, L2, L3)`` with dW
``(P, 3, L1, L2, L3)`` in 3-D; items and batches keep those trailing shapes, and
augmentation applies the lattice's own symmetry group (:func:`lattice_symmetry`,
:func:`lattice_symmetry_2d`, :func:`lattice_symmetry_3d`).
"""

from __future__ import annotations

import itertools
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


def lattice_symmetry_2d(
    V: torch.Tensor, W: torch.Tensor, dW: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """A random symmetry of the L1×L2 torus per row: V, W ``(b, L1, L2)``, dW ``(b, 2, L1, L2)``.

    f(x, y) -> f(s1 + σ1 x, s2 + σ2 y) (indices mod L1, L2) with random translations
    s1, s2 and reflections σ1, σ2 = ±1 (each with probability 1/2), then, on a square
    lattice (L1 = L2), the transposition f(x, y) -> f(y, x) with probability 1/2.
    Each maps H = -Δ + V to a unitarily equivalent operator, so N_V(E) is unchanged.
    The central-difference gradient follows exactly: component i is gathered with
    the same indices and multiplied by σ_i, and a transposition swaps (and
    transposes) the two components, so dW stays ``periodic_gradient`` of the new W.
    """
    b, L1, L2 = V.shape
    sigma = torch.where(torch.rand(b, 2) < 0.5, -1, 1)  # (b, 2) reflections
    shift1 = torch.randint(0, L1, (b, 1))
    shift2 = torch.randint(0, L2, (b, 1))
    i1 = (shift1 + sigma[:, :1] * torch.arange(L1)) % L1  # (b, L1)
    i2 = (shift2 + sigma[:, 1:] * torch.arange(L2)) % L2  # (b, L2)
    rows = torch.arange(b)[:, None, None]
    x, y = i1[:, :, None], i2[:, None, :]
    Vt, Wt = V[rows, x, y], W[rows, x, y]
    sign = sigma.to(dW.dtype)
    d1 = sign[:, 0, None, None] * dW[:, 0][rows, x, y]
    d2 = sign[:, 1, None, None] * dW[:, 1][rows, x, y]
    if L1 == L2:  # the square lattice is also symmetric under x <-> y
        swap = (torch.rand(b) < 0.5)[:, None, None]
        Vt = torch.where(swap, Vt.transpose(1, 2), Vt)
        Wt = torch.where(swap, Wt.transpose(1, 2), Wt)
        d1, d2 = (
            torch.where(swap, d2.transpose(1, 2), d1),
            torch.where(swap, d1.transpose(1, 2), d2),
        )
    return Vt, Wt, torch.stack([d1, d2], dim=1)


def lattice_symmetry_3d(
    V: torch.Tensor, W: torch.Tensor, dW: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """A random symmetry of the L1×L2×L3 torus per row: V, W ``(b, L1, L2, L3)``, dW
    ``(b, 3, L1, L2, L3)``.

    f(x) -> f(s + σ ⊙ x) (indices mod the sides) with random translations s and
    reflections σ_i = ±1 per axis, then a random permutation π of the axes among those
    that map the lattice to itself (axes of equal length): f(x) -> f(x_π).  Each is a
    symmetry of H = -Δ + V, so N_V(E) is unchanged.  The gradient follows exactly:
    component i is gathered with the same indices and multiplied by σ_i, and the
    permutation reorders the components as it reorders the axes.
    """
    b, *sides = V.shape
    sigma = torch.where(torch.rand(b, 3) < 0.5, -1, 1)
    idx = [
        (torch.randint(0, L, (b, 1)) + sigma[:, a : a + 1] * torch.arange(L)) % L
        for a, L in enumerate(sides)
    ]
    rows = torch.arange(b)[:, None, None, None]
    x, y, z = idx[0][:, :, None, None], idx[1][:, None, :, None], idx[2][:, None, None, :]
    Vt, Wt = V[rows, x, y, z], W[rows, x, y, z]
    sign = sigma.to(dW.dtype)
    grad = torch.stack(
        [sign[:, a, None, None, None] * dW[:, a][rows, x, y, z] for a in range(3)], dim=1
    )
    perms = [p for p in itertools.permutations(range(3)) if [sides[q] for q in p] == sides]
    choice = torch.randint(0, len(perms), (b,))
    outV, outW, outG = Vt.clone(), Wt.clone(), grad.clone()
    for k, perm in enumerate(perms[1:], start=1):
        pick = choice == k
        if pick.any():
            axes = (0, *(1 + q for q in perm))
            outV[pick] = Vt[pick].permute(*axes)
            outW[pick] = Wt[pick].permute(*axes)
            outG[pick] = grad[pick][:, list(perm)].permute(0, 1, *(2 + q for q in perm))
    return outV, outW, outG


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
        """V, W, dW of potentials p, ``(len(p), n)`` (2-D: ``(len(p), L1, L2)`` and dW
        ``(len(p), 2, L1, L2)``; 3-D alike), symmetry-augmented if asked."""
        V, W, dW = self.V[p], self.W[p], self.dW[p]
        if not self.augment:
            return V, W, dW
        symmetry = {2: lattice_symmetry, 3: lattice_symmetry_2d, 4: lattice_symmetry_3d}[V.ndim]
        return symmetry(V, W, dW)

    def __getitems__(self, indices: Sequence[int]) -> Batch:  # pragma: no cover
        raise NotImplementedError

    def __getitem__(self, index: int) -> Batch:
        return {k: v[0] for k, v in self.__getitems__([index]).items()}


class CountingPairs(_CountingArrays):
    """All (potential, energy) pairs of a counting split.

    Items: V, W, dW ``(n,)`` float32, E and N scalars (N as float32 for the loss),
    potential (index of the potential in the split).  Batched: leading dim b.
    2-D: V, W ``(L1, L2)`` and dW ``(2, L1, L2)`` per item.

    ``augment=True`` applies the lattice's exact symmetries to each item: a random
    cyclic shift x -> x + s and, with probability 1/2, the reflection x -> s - x
    (which flips the sign of W').  N_V(E) is invariant under both, so this is free,
    exact extra data; it uses torch's global RNG (seeded by ``seed_everything``).
    In 2-D the group is that of the torus (:func:`lattice_symmetry_2d`).
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
    Batched: ``(b, n)`` fields with ``(b, k)`` energies and counts (2-D: V, W
    ``(b, L1, L2)``, dW ``(b, 2, L1, L2)``).  With
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
    """Potentials with their k lowest eigenvalues: V, W ``(n,)`` (2-D: ``(L1, L2)``),
    eigenvalues ``(k,)``."""

    def __init__(self, V: np.ndarray, W: np.ndarray, eigenvalues: np.ndarray):
        self.V, self.W, self.eigenvalues = _f32(V), _f32(W), _f32(eigenvalues)

    def __len__(self) -> int:
        return self.V.shape[0]

    def __getitems__(self, indices: Sequence[int]) -> Batch:
        p = torch.as_tensor(indices, dtype=torch.long)
        return {"V": self.V[p], "W": self.W[p], "eigenvalues": self.eigenvalues[p], "potential": p}

    def __getitem__(self, index: int) -> Batch:
        return {k: v[0] for k, v in self.__getitems__([index]).items()}
