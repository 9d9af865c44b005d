"""Parameter-light counting laws from the landscape, as modules with closed-form fits.

- BoxCountingLaw: N ≈ c1 · N^W(c2 · E), two parameters at the global optimum of
  the training MSE: for fixed c2 the best c1 is the least-squares ratio
  c1 = Σ N B / Σ B² (B = N^W(c2 E)), leaving a 1-D piecewise-constant objective in c2,
  searched on a logarithmic grid that zooms in around the best candidates (~1e-5
  relative resolution in c2).
- WeylLaw: N ≈ Weyl_W(s · E), continuum or lattice form, s = 1 (no parameter) or
  one energy scale s fitted by the same kind of 1-D search.

Forward shapes as LandscapeNet: V, W, dW ``(b, n)``, E ``(b,)`` -> ``(b,)``.  They
evaluate in float64 numpy (the laws are exact integer counts, not differentiable).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import numpy as np
import torch

from lnet.errors import ConfigError
from lnet.models.protocol import COUNTING, LnetModel
from lnet.physics import box_count, weyl_count


def _grid_search(
    objective: Callable[[float], float],
    lo: float,
    hi: float,
    coarse: int,
    fine: int,
    levels: int = 4,
    keep: int = 3,
) -> tuple[float, float]:
    """Minimise a 1-D (piecewise-constant) objective on [lo, hi] by a zooming log grid.

    A ``coarse`` grid, then ``levels`` rounds in which each of the ``keep`` best
    points so far is re-searched on ``fine`` points spanning its two neighbouring
    cells.  Keeping several candidates guards against the many near-equal local
    minima of a step function; the final resolution is
    (hi/lo)^(2 / (coarse-1) · (2 / (fine-1))^levels) (about 1e-5 relative by default).
    """
    xs = list(np.geomspace(lo, hi, coarse))
    vals = [objective(x) for x in xs]
    log_step = np.log(hi / lo) / (coarse - 1)
    for _ in range(levels):
        best = np.argsort(vals, kind="stable")[:keep]
        centres = [xs[i] for i in best]
        for c in centres:
            grid = c * np.exp(np.linspace(-log_step, log_step, fine))
            grid = grid[(grid >= lo) & (grid <= hi)]
            xs.extend(grid)
            vals.extend(objective(x) for x in grid)
        log_step = 2 * log_step / (fine - 1)
    i = int(np.argmin(vals))
    return float(xs[i]), float(vals[i])


class _Law(LnetModel):
    """Shared plumbing: float64 evaluation, no trainable weights."""

    task = COUNTING

    def set_stats(self, stats: Mapping[str, Any]) -> None:
        """Laws need no normalisation."""

    def predict_numpy(self, W: np.ndarray, E: np.ndarray) -> np.ndarray:  # pragma: no cover
        raise NotImplementedError

    def forward(
        self, V: torch.Tensor, W: torch.Tensor, dW: torch.Tensor, E: torch.Tensor
    ) -> torch.Tensor:
        """E ``(b,)`` -> ``(b,)``, or energies grouped by potential ``(b, m)`` -> ``(b, m)``."""
        Wn = W.detach().cpu().double().numpy()
        En = E.detach().cpu().double().numpy()
        out = self.predict_numpy(Wn, En[:, None] if En.ndim == 1 else En)
        return torch.from_numpy(out[:, 0] if En.ndim == 1 else out).to(W.device)


class BoxCountingLaw(_Law):
    def __init__(
        self,
        c1: float = 1.0,
        c2: float = 1.0,
        fit: bool = True,
        c2_range: tuple[float, float] = (1 / 32, 32.0),
        coarse: int = 121,
        fine: int = 17,
    ) -> None:
        super().__init__()
        if not (0 < c2_range[0] < c2_range[1]):
            raise ConfigError("model.net.c2_range", f"must be 0 < low < high, got {list(c2_range)}")
        self.register_buffer("c1", torch.tensor(float(c1), dtype=torch.float64))
        self.register_buffer("c2", torch.tensor(float(c2), dtype=torch.float64))

    def predict_numpy(self, W: np.ndarray, E: np.ndarray) -> np.ndarray:
        return float(self.c1) * box_count(W, float(self.c2) * E)

    def fit(self, W: np.ndarray, E: np.ndarray, N: np.ndarray) -> dict[str, float]:
        """Global least-squares fit on training arrays W (P, n), E (P, m), N (P, m)."""
        if not self.config["fit"]:
            return {"c1": float(self.c1), "c2": float(self.c2)}
        N = N.astype(np.float64)

        def best_c1(c2: float) -> tuple[float, float]:
            B = box_count(W, c2 * E).astype(np.float64)
            bb = float(np.sum(B * B))
            c1 = float(np.sum(N * B)) / bb if bb > 0 else 0.0
            return c1, float(np.mean((c1 * B - N) ** 2))

        c2, _ = _grid_search(
            lambda x: best_c1(x)[1],
            *self.config["c2_range"],
            self.config["coarse"],
            self.config["fine"],
        )
        c1, mse = best_c1(c2)
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
    ) -> None:
        super().__init__()
        if kind not in ("continuum", "lattice"):
            raise ConfigError("model.net.kind", f"must be 'continuum' or 'lattice', got {kind!r}")
        self.form = kind  # the Weyl law's form, not a task
        self.register_buffer("scale", torch.tensor(float(scale), dtype=torch.float64))

    def predict_numpy(self, W: np.ndarray, E: np.ndarray) -> np.ndarray:
        return weyl_count(W, float(self.scale) * E, kind=self.form)

    def fit(self, W: np.ndarray, E: np.ndarray, N: np.ndarray) -> dict[str, float]:
        if not self.config["fit_scale"]:
            return {"scale": float(self.scale)}
        N = N.astype(np.float64)
        s, mse = _grid_search(
            lambda s: float(np.mean((weyl_count(W, s * E, kind=self.form) - N) ** 2)),
            *self.config["scale_range"],
            61,
            17,
        )
        self.scale.fill_(s)
        return {"scale": s, "train_mse": mse}
