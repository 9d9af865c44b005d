"""A researcher's potential in, N(E) with its 90 % interval out: the docs' figure.

:func:`example_figure` draws, for one potential V of the model's dimension, the shipped
model's count N̂(E) with its calibrated interval as a band against the exact count
N_V(E) (``lnet.physics.count_eigenvalues``), and V with its landscape W = 1/u beside it.
``pipelines/pretrained.py figure NAME --out PATH`` draws it for a potential no model
was trained on: a quasi-periodic (Aubry–André-like) potential plus uniform noise,

    V(x) = a · (1 + cos(2π β x + φ)) + b · U(x),   β = (√5 − 1)/2,   U iid uniform [0, 1),

nonnegative, on n = 2000 sites, 500 energies evenly from just below its lowest
eigenvalue to λ_⌈0.2 n⌉: past the training energies (the bottom 10 % of a spectrum),
so that the figure also shows where the model stops answering well. Energies whose
predicted count warns (above the training energies, :mod:`lnet.domain`) are shaded and
left out of the coverage in the title.
"""

from __future__ import annotations

import warnings
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

GOLDEN = (np.sqrt(5.0) - 1.0) / 2.0


def quasi_periodic_potential(
    n: int = 2000, a: float = 0.5, b: float = 1.0, seed: int = 0
) -> np.ndarray:
    """V(x) = a·(1 + cos(2πβx + φ)) + b·U(x) on x = 0 .. n-1 (module docstring): ``(n,)``,
    φ and U drawn from ``seed``."""
    rng = np.random.default_rng(seed)
    x = np.arange(n)
    phase = rng.uniform(0.0, 2.0 * np.pi)
    return a * (1.0 + np.cos(2.0 * np.pi * GOLDEN * x + phase)) + b * rng.random(n)


def example_figure(model: Any, V: np.ndarray, E: np.ndarray, title: str) -> plt.Figure:
    """Left: V and W = 1/u on the first 200 sites; right: the exact N_V(E) (steps), the
    model's count and its 90 % interval (band), with the energies it warns about (above
    its training energies) shaded and left out of the coverage in the title. V ``(n,)``
    (1-D models), E ``(m,)`` sorted; ``model`` an
    :class:`lnet.ensemble.EnsemblePredictor` with a calibration."""
    from lnet.domain import COUNT_FRACTION
    from lnet.errors import OutOfRangeWarning
    from lnet.physics import count_eigenvalues, landscape_potential

    with warnings.catch_warnings(record=True) as record:
        warnings.simplefilter("always", OutOfRangeWarning)
        count, low, high = model.predict_counts(V, E, return_interval=True)
    for w in record:  # the energy range is drawn; any other warning goes to the caller
        if getattr(w.message, "statistic", None) != COUNT_FRACTION:
            warnings.warn(w.message, stacklevel=2)
    exact = count_eigenvalues(V, E)
    domain = getattr(model, "domain", None)
    warned = (
        domain.above_training_energies(count, V.size)
        if domain is not None
        else np.zeros(count.shape, dtype=bool)
    )
    inside = (np.ceil(low) <= exact) & (exact <= np.floor(high))
    W = landscape_potential(V)
    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4))
    shown = slice(0, min(200, V.size))
    left.plot(np.arange(V.size)[shown], V[shown], lw=0.8, label="V (your potential)")
    left.plot(np.arange(V.size)[shown], W[shown], lw=1.6, label="W = 1/u (landscape)")
    left.set_xlabel("site x")
    left.legend(fontsize=8)
    left.set_title(f"the first {shown.stop} of {V.size} sites", fontsize=9)
    right.fill_between(E, low, high, color="C1", alpha=0.3, step=None, label="90 % interval")
    right.plot(E, count, color="C1", lw=1.5, label="pretrained model")
    right.step(E, exact, where="post", color="k", lw=1.0, label="exact N_V(E)")
    where = "energies"
    if warned.any():
        right.axvspan(
            E[np.argmax(warned)],
            E[-1],
            color="0.85",
            zorder=0,
            label="above the training energies (warned)",
        )
        where = "energies below the shading"
    right.set_xlabel("E")
    right.set_ylabel("N(E)")
    right.legend(fontsize=8, loc="upper left")
    if warned.all():
        right.set_title("every energy lies above the training energies", fontsize=9)
    else:
        covered = 100 * float(np.mean(inside[~warned]))
        right.set_title(
            f"exact count inside the interval at {covered:.0f} % of {where}", fontsize=9
        )
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    return fig
