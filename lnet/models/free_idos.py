"""The free lattice Laplacian's integrated density of states as a differentiable torch op.

N_d(e) = |{k ∈ [-π, π]^d : Σ_i (2 - 2 cos k_i) <= e}| / (2π)^d, per site, for d = 1, 2, 3
(:func:`lnet.physics.weyl_count`'s ``kind="lattice"`` per-site function: 0 for e <= 0,
1 for e >= 4d).  The values come from the physics module's tables (float64, error below
1e-12); the derivative, the density of states ρ_d = N_d', by the central difference

    ρ_d(e) ≈ (N_d(e + h) - N_d(e - h)) / (2h),   h = 1e-5,

accurate to O(h²) where ρ_d is smooth, and bounded everywhere (at the 1-D band edges,
where ρ_1 diverges like 1/√e, by about 1/(π√h)), so no gradient is infinite.
Shapes: any; the result has the dtype and device of e.

:func:`torus_idos` is the same count on the finite periodic lattice itself, the free
torus's own staircase

    N_L(e) = #{k ∈ Z_{L1} × ... × Z_{Ld} : Σ_i (2 - 2 cos(2π k_i / L_i)) <= e} / (L1 ··· Ld),

exact for the free operator on that torus and N_d's limit as the sides grow.  Its
derivative is 0 between shells, so its backward pass is N_d's density of states (the
staircase's mean slope: a straight-through gradient).
"""

from __future__ import annotations

import functools

import numpy as np
import torch

from lnet.physics.weyl import free_idos_2d, free_idos_3d, free_torus_levels

DOS_STEP = 1e-5  # h of the central difference for the density of states


def free_idos_numpy(e: np.ndarray, dim: int) -> np.ndarray:
    """N_d(e) for a float64 array e of any shape (module docstring)."""
    if dim == 1:
        return np.arccos(np.clip(1.0 - 0.5 * e, -1.0, 1.0)) / np.pi
    if dim == 2:
        return free_idos_2d(e)
    if dim == 3:
        return free_idos_3d(e)
    raise ValueError(f"dim must be 1, 2 or 3, got {dim!r}")


def density_of_states(e: torch.Tensor, dim: int) -> torch.Tensor:
    """ρ_d(e) = N_d'(e) by the central difference of the module docstring: float64, the
    shape and device of e."""
    x = e.detach().cpu().double().numpy()
    dos = (free_idos_numpy(x + DOS_STEP, dim) - free_idos_numpy(x - DOS_STEP, dim)) / (
        2.0 * DOS_STEP
    )
    return torch.from_numpy(dos).to(device=e.device)


class _FreeIdos(torch.autograd.Function):
    @staticmethod
    def forward(ctx, e: torch.Tensor, dim: int) -> torch.Tensor:  # noqa: ANN001
        ctx.save_for_backward(e)
        ctx.dim = dim
        values = free_idos_numpy(e.detach().cpu().double().numpy(), dim)
        return torch.from_numpy(values).to(dtype=e.dtype, device=e.device)

    @staticmethod
    def backward(ctx, grad: torch.Tensor) -> tuple[torch.Tensor, None]:  # noqa: ANN001
        (e,) = ctx.saved_tensors
        return grad * density_of_states(e, ctx.dim).to(grad.dtype), None


def free_idos(e: torch.Tensor, dim: int) -> torch.Tensor:
    """N_d(e), differentiable in e (module docstring): e any shape -> the same shape."""
    if dim not in (1, 2, 3):
        raise ValueError(f"dim must be 1, 2 or 3, got {dim!r}")
    return _FreeIdos.apply(e, dim)


@functools.lru_cache(maxsize=16)
def _levels_tensor(shape: tuple[int, ...]) -> torch.Tensor:
    return torch.tensor(free_torus_levels(shape))


class _TorusIdos(torch.autograd.Function):
    @staticmethod
    def forward(ctx, e: torch.Tensor, shape: tuple[int, ...]) -> torch.Tensor:  # noqa: ANN001
        ctx.save_for_backward(e)
        ctx.dim = len(shape)
        levels = _levels_tensor(shape).to(device=e.device)
        below = torch.searchsorted(levels, e.detach().double().contiguous(), right=True)
        return (below.double() / levels.numel()).to(e.dtype)

    @staticmethod
    def backward(ctx, grad: torch.Tensor) -> tuple[torch.Tensor, None]:  # noqa: ANN001
        (e,) = ctx.saved_tensors
        return grad * density_of_states(e, ctx.dim).to(grad.dtype), None


def torus_idos(e: torch.Tensor, shape: tuple[int, ...]) -> torch.Tensor:
    """N_L(e) on the periodic lattice of sides ``shape`` (module docstring; the levels of
    :func:`lnet.physics.weyl.free_torus_levels`), any shape of e; gradient N_d'(e) with d = len(shape)."""
    shape = tuple(int(L) for L in shape)
    if not 1 <= len(shape) <= 3 or min(shape) < 1:
        raise ValueError(f"shape must give 1 to 3 sides >= 1, got {shape}")
    return _TorusIdos.apply(e, shape)
