"""The cost-accuracy frontier of N(E): exact counting, KPM, the landscape laws and a net.

Every route computes the whole curve N_V(E) at the same energies E ``(B, m)`` of the
same potentials V ``(B, *shape)`` and is scored against the exact counts N by the mean
relative count error |N̂ - N| / max(N, 1) (:func:`lnet.models.metrics.relative_count_error`);
its cost is the wall time per potential (best of ``repeats``), from V to N̂:

- **exact**: :func:`lnet.physics.count_eigenvalues` at all m energies (error 0), and
  at m/k evenly spaced energies with N̂ linearly interpolated in between: a cheaper,
  coarser exact curve;
- **KPM**: :func:`lnet.physics.kpm_counts` on a grid of moments M and random vectors R;
- **laws**: the lattice and torus Weyl laws of W (no parameter; the torus law counts
  with the free staircase of the lattice itself) and the box law c1·N^W(c2·E)
  fitted on separate training potentials, each timed with its landscape solve;
- **net**: a :class:`lnet.predict.Predictor` (a logged or registered model), if given.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
from matplotlib.figure import Figure

from lnet.benchmarks.timing import best_time
from lnet.models.metrics import relative_count_error
from lnet.physics import count_eigenvalues, kpm_counts, landscape_potential, weyl_count

__all__ = [
    "FrontierPoint",
    "energy_at_fraction",
    "frontier_figure",
    "frontier_points",
    "frontier_test_set",
    "interpolated_exact",
]


@dataclass(frozen=True)
class FrontierPoint:
    """One route's cost and error on a test set.

    ``seconds`` is wall time per potential for its whole curve; ``rel_err`` the mean
    relative count error over all (potential, energy) pairs."""

    method: str  # exact | kpm | weyl_lattice | weyl_torus | box_law | net
    setting: str  # e.g. "m=1000", "M=512 R=8"
    seconds: float
    rel_err: float


def interpolated_exact(V: np.ndarray, E: np.ndarray, every: int, dim: int) -> np.ndarray:
    """Exact counts at every ``every``-th of the sorted energies of each potential (and
    the last), linearly interpolated in E at the others: ``(B, m)`` float64."""
    out = np.empty(E.shape)
    for b in range(E.shape[0]):
        order = np.argsort(E[b])
        keep = np.unique(np.append(order[::every], order[-1]))
        knots = E[b, keep]
        counts = count_eigenvalues(V[b], knots, dim=dim).astype(np.float64)
        sort = np.argsort(knots)
        out[b] = np.interp(E[b], knots[sort], counts[sort])
    return out


def frontier_points(
    V: np.ndarray,
    E: np.ndarray,
    N: np.ndarray,
    dim: int,
    *,
    kpm_grid: Sequence[tuple[int, int]] = ((64, 4), (256, 4), (512, 8), (1024, 8), (2048, 16)),
    exact_every: Sequence[int] = (1, 10, 100),
    exact_timed: int | None = None,
    box_law: Callable[[np.ndarray, np.ndarray], np.ndarray] | None = None,
    net: Callable[[np.ndarray, np.ndarray], np.ndarray] | None = None,
    repeats: int = 1,
    seed: int = 0,
) -> list[FrontierPoint]:
    """Time and score every route on V ``(B, *shape)``, E ``(B, m)`` against exact N ``(B, m)``.

    ``box_law(V, E)`` and ``net(V, E)`` map potentials to predicted counts ``(B, m)``
    (None: not measured); the box law's fitted constants are the caller's, on other
    potentials. ``exact_timed = k < m``: the full exact curve is timed on the first k
    energies of each potential and scaled by m / k (a count's cost does not depend on
    the energy; its error is 0 by definition, N being the exact counts), for lattices
    where counting every energy twice would take too long. Returns the points in the
    order measured.
    """
    B = V.shape[0]
    points: list[FrontierPoint] = []

    def add(method: str, setting: str, fn: Callable[[], np.ndarray]) -> None:
        pred = fn()
        seconds = best_time(fn, repeats=repeats) / B
        points.append(FrontierPoint(method, setting, seconds, relative_count_error(pred, N)))

    m = E.shape[1]
    for every in exact_every:
        if every == 1 and exact_timed is not None and exact_timed < m:
            k = exact_timed
            t = best_time(lambda k=k: count_eigenvalues(V, E[:, :k], dim=dim), repeats=repeats)
            points.append(
                FrontierPoint("exact", f"m={m} (timed on {k}, x{m / k:g})", t * m / k / B, 0.0)
            )
        elif every == 1:
            add("exact", f"m={m}", lambda: count_eigenvalues(V, E, dim=dim))
        elif every < m:
            add(
                "exact",
                f"m={m}/{every} + interp",
                lambda every=every: interpolated_exact(V, E, every, dim),
            )
    for M, R in kpm_grid:
        add("kpm", f"M={M} R={R}", lambda M=M, R=R: kpm_counts(V, E, M, R, seed=seed, dim=dim))
    add(
        "weyl_lattice",
        "no parameter",
        lambda: weyl_count(landscape_potential(V, dim=dim), E, kind="lattice", dim=dim),
    )
    add(
        "weyl_torus",
        "no parameter",
        lambda: weyl_count(landscape_potential(V, dim=dim), E, kind="torus", dim=dim),
    )
    if box_law is not None:
        add("box_law", "c1, c2 fitted on train", lambda: box_law(V, E))
    if net is not None:
        add("net", "trained model", lambda: net(V, E))
    return points


_STYLE = {
    "exact": ("k", "s"),
    "kpm": ("tab:blue", "o"),
    "weyl_lattice": ("tab:green", "^"),
    "weyl_torus": ("tab:olive", "<"),
    "box_law": ("tab:orange", "v"),
    "net": ("tab:red", "*"),
}


def frontier_figure(points: Sequence[FrontierPoint], title: str, floor: float = 1e-5) -> Figure:
    """Wall time per potential (x, log) against mean relative count error (y, log);
    error-free points (the exact count at every energy) sit on ``floor``, marked."""
    fig = Figure(figsize=(7, 4.8))
    ax = fig.subplots()
    for method, (color, marker) in _STYLE.items():
        pts = [p for p in points if p.method == method]
        if not pts:
            continue
        x = [p.seconds for p in pts]
        y = [max(p.rel_err, floor) for p in pts]
        ax.plot(x, y, marker=marker, color=color, linestyle="-" if method == "kpm" else "")
        ax.plot([], [], marker=marker, color=color, linestyle="", label=method)
        for p, xi, yi in zip(pts, x, y, strict=True):
            label = p.setting if p.rel_err > 0 else f"{p.setting} (exact)"
            ax.annotate(label, (xi, yi), fontsize=7, xytext=(4, 3), textcoords="offset points")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.axhline(floor, color="0.8", linewidth=0.8)
    ax.set_xlabel("wall time per potential, whole curve (s)")
    ax.set_ylabel("mean relative count error |N̂ − N| / max(N, 1)")
    ax.set_title(title, fontsize=10)
    ax.legend(fontsize=8, loc="upper right")
    fig.tight_layout()
    return fig


def energy_at_fraction(V: np.ndarray, fraction: float, dim: int, rtol: float = 1e-4) -> float:
    """λ_k of one potential V ``shape``, k = ⌈fraction·n⌉, to relative ``rtol``, by
    bisection on the exact count (N(λ) >= k at the returned upper end)."""
    n = V.size
    k = max(1, int(np.ceil(fraction * n)))
    lo, hi = float(V.min()), float(V.max()) + 4.0 * dim
    while hi - lo > rtol * max(hi, 1e-12):
        mid = 0.5 * (lo + hi)
        if count_eigenvalues(V, [mid], dim=dim)[0] >= k:
            hi = mid
        else:
            lo = mid
    return hi


def frontier_test_set(
    shape: tuple[int, ...], potentials: int, energies: int, fraction: float, seed: int
) -> dict[str, np.ndarray]:
    """V uniform [0, 1) iid ``(B, *shape)``, E uniform in [0, λ_⌈fraction·n⌉] of each
    potential ``(B, m)``, and the exact N ``(B, m)``."""
    rng = np.random.default_rng(seed)
    dim = len(shape)
    V = rng.random((potentials, *shape))
    top = np.array([energy_at_fraction(v, fraction, dim) for v in V])
    E = rng.random((potentials, energies)) * top[:, None]
    return {"V": V, "E": E, "N": count_eigenvalues(V, E, dim=dim)}


def run_frontier(
    shape: tuple[int, ...],
    *,
    potentials: int = 4,
    energies: int = 1000,
    fraction: float = 0.1,
    net_uri: str | None = None,
    train_potentials: int = 8,
    seed: int = 0,
    **grid: object,
) -> tuple[list[FrontierPoint], Figure]:
    """The frontier on fresh uniform [0, 1) potentials of ``shape`` (see
    :func:`frontier_test_set`); in 2-D the box law is fitted on ``train_potentials``
    other potentials of the same shape (seed + 1); ``net_uri`` (a ``runs:/`` or
    ``models:/`` URI of lnet's store) adds the net. ``grid`` goes to
    :func:`frontier_points` (``kpm_grid``, ``exact_every``, ``repeats``)."""
    dim = len(shape)
    test = frontier_test_set(shape, potentials, energies, fraction, seed)
    box_law = None
    if dim == 2:
        from lnet.models import BoxCountingLaw2D
        from lnet.predict import Predictor

        train = frontier_test_set(shape, train_potentials, 50, fraction, seed + 1)
        law = BoxCountingLaw2D()
        law.fit(landscape_potential(train["V"], dim=2), train["E"], train["N"].astype(float))
        box_law = Predictor(law).predict_counts
    net = None
    if net_uri is not None:
        from lnet import load_model

        net = load_model(net_uri).predict_counts
    points = frontier_points(
        test["V"], test["E"], test["N"], dim, box_law=box_law, net=net, seed=seed, **grid
    )
    sides = "×".join(map(str, shape))
    title = (
        f"{sides}: {potentials} uniform [0, 1) potentials × {energies} energies in "
        f"[0, λ_⌈{fraction}·n⌉]"
    )
    return points, frontier_figure(points, title)
