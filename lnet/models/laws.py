"""Parameter-light counting laws from the landscape, as modules with closed-form fits.

- BoxCountingLaw: N ≈ c1 · N^W(c2 · E), two parameters at the global minimum of the
  training MSE over c2 in ``c2_range``: for fixed c2 the best c1 is the least-squares
  ratio c1 = Σ N B / Σ B² (B = N^W(c2 E)), leaving a 1-D piecewise-constant objective
  in c2. Its breakpoints are enumerated exactly: each pair's count N^W(c2 E) changes
  only where c2 E crosses a box-size change or a box minimum, so sweeping all of them
  in increasing c2 evaluates the objective on every piece (:func:`box_law_c2`;
  O(n²) per potential plus O(log Q) per breakpoint, Q = number of pairs: about 12 s
  on one core for 300 potentials × 100 energies, n = 1000). c2 is the geometric
  midpoint of the optimal piece; ties go to the smallest c2.
- WeylLaw: N ≈ Weyl_W(s · E), continuum, lattice or torus form (the torus form: the
  free staircase of W's own finite lattice, :func:`lnet.physics.weyl_count`), s = 1 (no parameter) or one
  energy scale s fitted by a zooming logarithmic grid search (:func:`grid_search`, a
  local refinement of a coarse grid, not a certified global minimum).
- WeylShiftedLaw: the energy-shifted lattice Weyl law N ≈ N^W_Weyl,lattice(E / c) of
  Desforges et al., PRA 104, 012207 (2021), one constant c fitted by least squares on
  the counts (:func:`weyl_shift_c`: a log grid, then scipy's bounded Brent search).
- KpmLaw: the kernel polynomial method's N(E) (:func:`lnet.physics.kpm_counts`) as a
  parameter-free baseline; it counts from the potential V, not from W
  (``needs_potential``).

Both take ``dim`` (1 or 2, recorded with the model): in 2-D W is ``(b, L1, L2)`` on the
periodic L1 × L2 lattice and the physics functions are called with ``dim=2`` (boxes of
side ℓ(E) = max(1, E^(-1/2)) tiling the torus; Weyl per site with the 2-D free density
of states). The 2-D box law fits c2 by the zooming log grid of :func:`grid_search`
on min_c1 MSE (c1 = Σ N B / Σ B² at every c2), not by the exact 1-D sweep.
BoxCountingLaw2D and WeylLaw2D are the two laws with dim = 2 under config names of
their own (``box_counting_2d``, ``weyl_2d``: conf/model and run names).

Forward shapes as LandscapeNet: V, W, dW ``(b, n)`` (2-D: V, W ``(b, L1, L2)``, dW
``(b, 2, L1, L2)``), E ``(b,)`` -> ``(b,)``.  They evaluate in float64 numpy (the laws
are exact integer counts, not differentiable).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import torch

from lnet.errors import ConfigError
from lnet.models.law_fit import box_law_c2, box_law_c2_grid, grid_search, weyl_shift_c
from lnet.models.protocol import COUNTING, LnetModel
from lnet.physics import box_count, kpm_counts, weyl_count
from lnet.physics.kpm import KERNELS


def _check_dim(dim: int) -> int:
    """The lattice dimension of a law: 1 (W ``(b, n)``), 2 (W ``(b, L1, L2)``) or 3
    (W ``(b, L1, L2, L3)``)."""
    if isinstance(dim, bool) or dim not in (1, 2, 3):
        raise ConfigError(
            "model.net.dim", f"must be 1, 2 or 3 (the lattice dimension), got {dim!r}"
        )
    return int(dim)


class _Law(LnetModel):
    """Shared plumbing: float64 evaluation, no trainable weights, lattice dimension ``dim``."""

    task = COUNTING
    dim: int = 1
    needs_potential: bool = False  # True: predict_numpy takes V, not W (KpmLaw)

    @property
    def _dim_kw(self) -> dict[str, int]:
        """Keyword for the physics functions: none in 1-D (their default), else ``dim``."""
        return {} if self.dim == 1 else {"dim": self.dim}

    def set_stats(self, stats: Mapping[str, Any]) -> None:
        """Laws need no normalisation."""

    def predict_numpy(self, W: np.ndarray, E: np.ndarray) -> np.ndarray:  # pragma: no cover
        raise NotImplementedError

    def _check_landscape(self, shape: tuple[int, ...], name: str = "W") -> None:
        """A batch of landscapes: W ``(b, n)`` for dim = 1, ``(b, L1, …, Ld)`` otherwise
        (``name``: the field's name in the message, V for a law that counts from V)."""
        if len(shape) != 1 + self.dim:
            want = (
                "(b, n)"
                if self.dim == 1
                else f"(b, {', '.join(f'L{i + 1}' for i in range(self.dim))})"
            )
            what = "potentials" if name == "V" else "landscapes"
            raise ValueError(
                f"{name} has shape {tuple(shape)} but this {self.dim}-D law (dim={self.dim}) "
                f"takes a batch of {what} of shape {want}"
            )

    def forward(
        self, V: torch.Tensor, W: torch.Tensor, dW: torch.Tensor, E: torch.Tensor
    ) -> torch.Tensor:
        """E ``(b,)`` -> ``(b,)``, or energies grouped by potential ``(b, m)`` -> ``(b, m)``.

        From W, or from V for a law with ``needs_potential`` (KpmLaw)."""
        field, name = (V, "V") if self.needs_potential else (W, "W")
        self._check_landscape(field.shape, name)
        Fn = field.detach().cpu().double().numpy()
        En = E.detach().cpu().double().numpy()
        out = self.predict_numpy(Fn, En[:, None] if En.ndim == 1 else En)
        return torch.from_numpy(out[:, 0] if En.ndim == 1 else out).to(field.device)


class BoxCountingLaw(_Law):
    def __init__(
        self,
        c1: float = 1.0,
        c2: float = 1.0,
        fit: bool = True,
        c2_range: tuple[float, float] = (1 / 32, 32.0),
        coarse: int | None = None,
        fine: int | None = None,
        dim: int = 1,
    ) -> None:
        """``coarse`` and ``fine`` (the old grid search) are ignored: accepted only so that
        box laws saved by earlier versions still load. ``dim``: 1 (W ``(b, n)``), 2
        (W ``(b, L1, L2)``) or 3 (W ``(b, L1, L2, L3)``)."""
        super().__init__()
        if not (0 < c2_range[0] < c2_range[1]):
            raise ConfigError("model.net.c2_range", f"must be 0 < low < high, got {list(c2_range)}")
        self.dim = _check_dim(dim)
        self.register_buffer("c1", torch.tensor(float(c1), dtype=torch.float64))
        self.register_buffer("c2", torch.tensor(float(c2), dtype=torch.float64))

    def predict_numpy(self, W: np.ndarray, E: np.ndarray) -> np.ndarray:
        return float(self.c1) * box_count(W, float(self.c2) * E, **self._dim_kw)

    def fit(self, W: np.ndarray, E: np.ndarray, N: np.ndarray) -> dict[str, float]:
        """Least-squares fit on training arrays W (P, n) (2-D: (P, L1, L2)), E (P, m), N (P, m).

        1-D: c2 is the exact global minimiser of the training MSE over ``c2_range``
        (every breakpoint of the piecewise-constant objective is swept,
        :func:`box_law_c2`). 2-D and 3-D: c2 minimises min_c1 MSE on a zooming log grid
        over ``c2_range`` (:func:`box_law_c2_grid`). c1 = Σ N B / Σ B² in closed form.
        ``coarse`` and ``fine`` are not used. Returns c1, c2 and the training MSE,
        evaluated with :func:`box_count` at c2.
        """
        if not self.config["fit"]:
            return {"c1": float(self.c1), "c2": float(self.c2)}
        W = np.ascontiguousarray(W, dtype=np.float64)
        E = np.asarray(E, dtype=np.float64)
        N = np.asarray(N, dtype=np.float64)
        self._check_landscape(W.shape)
        if self.dim == 1:
            c2 = box_law_c2(W, E, N, *self.config["c2_range"])
        else:
            c2 = box_law_c2_grid(W, E, N, *self.config["c2_range"], dim=self.dim)
        B = box_count(W, c2 * E, **self._dim_kw).astype(np.float64)
        bb = float(np.sum(B * B))
        c1 = float(np.sum(N * B)) / bb if bb > 0 else 0.0
        mse = float(np.mean((c1 * B - N) ** 2))
        self.c1.fill_(c1)
        self.c2.fill_(c2)
        return {"c1": c1, "c2": c2, "train_mse": mse}


class WeylLaw(_Law):
    def __init__(
        self,
        kind: str = "continuum",
        fit_scale: bool = False,
        scale: float = 1.0,
        scale_range: tuple[float, float] = (1 / 16, 16.0),
        dim: int = 1,
    ) -> None:
        """``dim``: 1 (W ``(b, n)``), 2 (W ``(b, L1, L2)``) or 3 (W ``(b, L1, L2, L3)``)."""
        super().__init__()
        if kind not in ("continuum", "lattice", "torus"):
            raise ConfigError(
                "model.net.kind", f"must be 'continuum', 'lattice' or 'torus', got {kind!r}"
            )
        self.dim = _check_dim(dim)
        self.form = kind  # the Weyl law's form, not a task
        self.register_buffer("scale", torch.tensor(float(scale), dtype=torch.float64))

    def predict_numpy(self, W: np.ndarray, E: np.ndarray) -> np.ndarray:
        return weyl_count(W, float(self.scale) * E, kind=self.form, **self._dim_kw)

    def fit(self, W: np.ndarray, E: np.ndarray, N: np.ndarray) -> dict[str, float]:
        if not self.config["fit_scale"]:
            return {"scale": float(self.scale)}
        self._check_landscape(np.shape(W))
        N = N.astype(np.float64)
        s, mse = grid_search(
            lambda s: float(
                np.mean((weyl_count(W, s * E, kind=self.form, **self._dim_kw) - N) ** 2)
            ),
            *self.config["scale_range"],
            61,
            17,
        )
        self.scale.fill_(s)
        return {"scale": s, "train_mse": mse}


class WeylShiftedLaw(_Law):
    """The energy-shifted lattice Weyl law of the landscape potential W:

        N(E) ≈ N^W_Weyl,lattice(E / c) = Σ_x N_free(E / c - W(x)),

    N_free the integrated density of states per site of the free periodic lattice
    (:func:`lnet.physics.weyl_count` with ``kind="lattice"``: (1/π) arccos(1 - e/2) in
    1-D, the elliptic-integral IDOS in 2-D, its 3-D analogue), with one multiplicative
    constant c on the energy. Desforges, Mayboroda, Zhang, David, Arnold, Wang, Filoche,
    Phys. Rev. A 104, 012207 (2021) (arXiv:2010.09287) report that in 1-D one formula
    with a simple multiplicative shift of the energy in the landscape law gives a sharp
    IDOS (in 2-D with a prefactor that differs between the bottom and the top of the
    spectrum). We could read their abstract only, not their equations: the form
    here is the abstract's one multiplicative constant on the energy, and its value is
    not taken from the paper but fitted on the training split. c = 1 is the
    parameter-free lattice Weyl law (``weyl_lattice``); c > 1 moves the predicted states
    up in energy, c < 1 down.

    ``fit`` (``fit=True``): c minimises the training MSE of the counts,
    mean((N^W_Weyl,lattice(E / c) - N)²), over ``c_range`` (:func:`weyl_shift_c`: a log
    grid, then scipy's bounded Brent search; deterministic). With 1 in ``c_range`` the
    grid includes c = 1, so the fitted law is at least as accurate as the unshifted one on
    its training data. ``dim``: 1 (W ``(b, n)``), 2 (W ``(b, L1, L2)``) or 3
    (W ``(b, L1, L2, L3)``).
    """

    def __init__(
        self,
        c: float = 1.0,
        fit: bool = True,
        c_range: tuple[float, float] = (0.25, 4.0),
        dim: int = 1,
    ) -> None:
        super().__init__()
        if not (0 < c_range[0] < c_range[1]):
            raise ConfigError("model.net.c_range", f"must be 0 < low < high, got {list(c_range)}")
        if not (isinstance(c, int | float) and not isinstance(c, bool) and c > 0):
            raise ConfigError("model.net.c", f"must be a number > 0, got {c!r}")
        self.dim = _check_dim(dim)
        self.register_buffer("c", torch.tensor(float(c), dtype=torch.float64))

    def predict_numpy(self, W: np.ndarray, E: np.ndarray) -> np.ndarray:
        return weyl_count(W, E / float(self.c), kind="lattice", **self._dim_kw)

    def fit(self, W: np.ndarray, E: np.ndarray, N: np.ndarray) -> dict[str, float]:
        """Least squares on the counts over training arrays W (P, *lattice), E (P, m),
        N (P, m). Returns c, the training MSE at c and at c = 1 (``train_mse_unshifted``)."""
        if not self.config["fit"]:
            return {"c": float(self.c)}
        W = np.ascontiguousarray(W, dtype=np.float64)
        E = np.asarray(E, dtype=np.float64)
        N = np.asarray(N, dtype=np.float64)
        self._check_landscape(W.shape)
        c, mse, unshifted = weyl_shift_c(W, E, N, *self.config["c_range"], dim=self.dim)
        self.c.fill_(c)
        return {"c": c, "train_mse": mse, "train_mse_unshifted": unshifted}


def _check_count(value: object, key: str, lo: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < lo:
        raise ConfigError(f"model.net.{key}", f"must be an integer >= {lo}, got {value!r}")
    return int(value)


class KpmLaw(_Law):
    """The kernel polynomial method as a baseline law: N(E) from
    :func:`lnet.physics.kpm_counts` (H = -Δ + V, ``moments`` Chebyshev moments from
    ``vectors`` Rademacher vectors drawn with ``seed``, ``kernel`` damping). Not a
    landscape law: it counts from the potential V (``needs_potential``), which the
    evaluation passes to :func:`lnet.evaluation.laws.law_counts`; ``forward`` takes V.

    No parameter is fitted (``fit`` returns the settings). Defaults M = 256, R = 8,
    Jackson kernel, seed 0: the same random vectors for every potential and every call,
    so the counts are reproducible; the smoothing width is about π·a/M in energy (a the
    half-width of the spectrum) and the statistical error of N below √(2N/R), see
    :func:`lnet.physics.kpm_counts` (biased upward in the Lifshitz tail).
    """

    needs_potential = True

    def __init__(
        self,
        moments: int = 256,
        vectors: int = 8,
        kernel: str = "jackson",
        seed: int = 0,
        dim: int = 1,
    ) -> None:
        super().__init__()
        self.moments = _check_count(moments, "moments", 2)
        self.vectors = _check_count(vectors, "vectors", 1)
        self.seed = _check_count(seed, "seed", 0)
        if kernel not in KERNELS:
            raise ConfigError("model.net.kernel", f"must be one of {list(KERNELS)}, got {kernel!r}")
        self.kernel = kernel
        self.dim = _check_dim(dim)

    def predict_numpy(self, V: np.ndarray, E: np.ndarray) -> np.ndarray:
        """KPM counts from potentials V ``(b, *lattice)`` (not W) at E ``(b, m)``."""
        return kpm_counts(
            V,
            E,
            moments=self.moments,
            vectors=self.vectors,
            kernel=self.kernel,
            seed=self.seed,
            dim=self.dim,
        )

    def fit(self, W: np.ndarray, E: np.ndarray, N: np.ndarray) -> dict[str, float]:
        """Nothing to fit: the settings, for the record."""
        return {"moments": self.moments, "vectors": self.vectors, "seed": self.seed}


class BoxCountingLaw2D(BoxCountingLaw):
    """:class:`BoxCountingLaw` with ``dim=2``: the box law on the periodic L1 × L2 lattice.

    The same law and fit (W ``(b, L1, L2)``); a class of its own only so that its config
    (``conf/model/box_counting_2d.yaml``) and run names say ``box_counting_2d``.
    """

    def __init__(
        self,
        c1: float = 1.0,
        c2: float = 1.0,
        fit: bool = True,
        c2_range: tuple[float, float] = (1 / 32, 32.0),
        dim: int = 2,
    ) -> None:
        if dim != 2 or isinstance(dim, bool):
            raise ConfigError("model.net.dim", f"BoxCountingLaw2D is 2-D: must be 2, got {dim!r}")
        super().__init__(c1=c1, c2=c2, fit=fit, c2_range=c2_range, dim=2)

    @classmethod
    def config_name(cls) -> str:
        return "box_counting_2d"


class WeylLaw2D(WeylLaw):
    """:class:`WeylLaw` with ``dim=2``: the landscape Weyl law on the periodic L1 × L2 lattice.

    The same law and fit (W ``(b, L1, L2)``); a class of its own only so that its config
    (``conf/model/weyl_2d.yaml``) and run names say ``weyl_2d``.
    """

    def __init__(
        self,
        kind: str = "continuum",
        fit_scale: bool = False,
        scale: float = 1.0,
        scale_range: tuple[float, float] = (1 / 16, 16.0),
        dim: int = 2,
    ) -> None:
        if dim != 2 or isinstance(dim, bool):
            raise ConfigError("model.net.dim", f"WeylLaw2D is 2-D: must be 2, got {dim!r}")
        super().__init__(
            kind=kind, fit_scale=fit_scale, scale=scale, scale_range=scale_range, dim=2
        )

    @classmethod
    def config_name(cls) -> str:
        return "weyl_2d"
