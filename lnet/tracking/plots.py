"""Figures logged with every run: people would rather look at these than read numbers.

The figures of a training run's splits, and those of the evaluation's results
(:mod:`lnet.evaluation`: the laws, the lattice sets, the report of ``evaluate.py``),
which :func:`lnet.tracking.results.log_result` logs.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

from lnet.models.protocol import LnetModel  # noqa: E402
from lnet.physics import (  # noqa: E402
    box_count,
    count_eigenvalues,
    landscape_potential,
    weyl_count,
)
from lnet.predict import Predictor  # noqa: E402

if TYPE_CHECKING:
    from lnet.evaluation.lattices import LatticeResult


def box_scale(train: Mapping[str, np.ndarray]) -> float:
    """Least-squares c1 of N ≈ c1 · N^W(E) on the training split (c2 = 1): one box count,
    so the reference curve in the plots is on the right scale without the full fit."""
    B = box_count(train["W"], train["E"]).astype(np.float64)
    return float(np.sum(train["N"] * B) / max(np.sum(B * B), 1e-300))


def counting_curves(
    predictor: Predictor,
    test: Mapping[str, np.ndarray],
    label: str,
    box_c1: float = 1.0,
    potentials: int = 4,
    points: int = 300,
) -> Figure:
    """N(E) exact staircase vs model for several test potentials, with the landscape
    laws (box count box_c1 · N^W(E), Weyl law of W) for reference; one panel each."""
    P = test["V"].shape[0]
    chosen = np.linspace(0, P - 1, min(potentials, P)).round().astype(int)
    cols = 2
    rows = int(np.ceil(len(chosen) / cols))
    fig, axes = plt.subplots(rows, cols, figsize=(11, 3.6 * rows), squeeze=False)
    for ax, p in zip(axes.ravel(), chosen, strict=False):
        V, W = test["V"][p], test["W"][p]
        E = np.linspace(0.0, float(test["E"][p].max()) * 1.05, points)
        ax.step(E, count_eigenvalues(V, E), where="post", color="k", lw=1.6, label="exact $N_V(E)$")
        ax.plot(E, predictor.predict_counts(V, E), color="C3", lw=1.4, label=label)
        ax.plot(
            E,
            box_c1 * box_count(W, E),
            color="C0",
            lw=0.9,
            alpha=0.8,
            label=f"{box_c1:.3g} $N^W(E)$",
        )
        ax.plot(E, weyl_count(W, E), color="C2", lw=0.9, ls="--", label="Weyl law of $W$")
        ax.plot(test["E"][p], test["N"][p], ".", color="0.5", ms=3, label="test samples")
        ax.set_title(f"test potential {p}")
        ax.set_xlabel("E")
        ax.set_ylabel("N(E)")
    for ax in axes.ravel()[len(chosen) :]:
        ax.axis("off")
    axes.ravel()[0].legend(fontsize=8, loc="upper left")
    fig.tight_layout()
    return fig


def scatter(pred: np.ndarray, true: np.ndarray, label: str, what: str) -> Figure:
    """Predicted against true on the test split, with the diagonal."""
    fig, ax = plt.subplots(figsize=(5, 5))
    ax.plot(true.ravel(), pred.ravel(), ".", ms=2, alpha=0.4, color="C3")
    lo, hi = float(min(true.min(), pred.min())), float(max(true.max(), pred.max()))
    ax.plot([lo, hi], [lo, hi], "k-", lw=0.8)
    ax.set_xlabel(f"true {what}")
    ax.set_ylabel(f"predicted {what}")
    ax.set_title(f"{label}: test split")
    fig.tight_layout()
    return fig


def per_index_mape(metrics: Mapping[str, Mapping[str, float]], label: str) -> Figure:
    """MAPE per eigenvalue index, one bar group per split."""
    fig, ax = plt.subplots(figsize=(8, 4))
    splits = list(metrics)
    keys = sorted(k for k in metrics[splits[0]] if k.startswith("mape_"))
    idx = np.arange(1, len(keys) + 1)
    width = 0.8 / len(splits)
    for i, split in enumerate(splits):
        ax.bar(
            idx + (i - (len(splits) - 1) / 2) * width,
            [metrics[split][k] for k in keys],
            width,
            label=split,
        )
    ax.set_xlabel("eigenvalue index j")
    ax.set_ylabel("MAPE [%]")
    ax.set_title(f"{label}: error per eigenvalue")
    ax.set_xticks(idx)
    ax.legend()
    fig.tight_layout()
    return fig


def family_bars(table: Mapping[str, Mapping[str, float]]) -> Figure:
    """Test MSE per ``eval.families`` entry; entries outside the training law (``held_out``:
    a family it never draws or a parameter outside its range) are hatched."""
    names = list(table)
    fig, ax = plt.subplots(figsize=(max(6, 0.8 * len(names)), 4))
    for i, name in enumerate(names):
        held = bool(table[name].get("held_out"))
        ax.bar(i, table[name]["mse"], color="C1" if held else "C0", hatch="//" if held else None)
    ax.set_xticks(range(len(names)), names, rotation=30, ha="right")
    ax.set_yscale("log")
    ax.set_ylabel("test MSE [counts²]")
    ax.set_title("per-family test error (hatched: outside the training law)")
    fig.tight_layout()
    return fig


# -- the evaluation's figures (lnet.evaluation): laws, lattice sets, 2-D curves, the report
def law_label(name: str, law: LnetModel) -> str:
    """A legend label: ``1.02 N^W(0.87 E)``, ``Weyl (continuum)``, ``Weyl (lattice, E/1.3)``,
    ``KPM (M = 256, R = 8)``."""
    if name == "box":
        return f"{float(law.c1):.3g} $N^W$({float(law.c2):.3g} E)"
    if name == "weyl_shifted":
        return f"Weyl (lattice, E/{float(law.c):.3g})"
    if name == "kpm":
        return f"KPM (M = {law.moments}, R = {law.vectors})"
    return f"Weyl ({name.removeprefix('weyl_')})"


def law_curves(
    laws: Mapping[str, LnetModel], W: np.ndarray, E: np.ndarray, V: np.ndarray | None = None
) -> dict[str, tuple[LnetModel, np.ndarray]]:
    """Each law's N(E) for one landscape W ``(*lattice)`` (and its potential V, for the
    laws that count from V: ``kpm``) on the energies E ``(m,)``."""
    from lnet.evaluation.laws import law_counts

    V1 = None if V is None else V[None]
    return {name: (law, law_counts(law, W[None], E[None], V=V1)[0]) for name, law in laws.items()}


def plot_laws(
    ax: Any, curves: Mapping[str, tuple[LnetModel, np.ndarray]], E: np.ndarray, alpha: float = 1.0
) -> None:
    """Draw the laws' N(E) of :func:`law_curves` (Weyl laws dashed), in the colours the
    evaluation's figures share."""
    for i, (name, (law, counts)) in enumerate(curves.items()):
        ax.plot(
            E,
            counts,
            color=f"C{i % 3}",
            lw=0.9,
            ls="--" if name.startswith("weyl") else "-",
            alpha=alpha,
            label=law_label(name, law),
        )


def counting_curves_2d(
    predictor: Predictor,
    test: Mapping[str, np.ndarray],
    label: str,
    laws: Mapping[str, LnetModel],
    potentials: int = 4,
    points: int = 300,
) -> Figure:
    """2-D and 3-D analogue of :func:`counting_curves`: the exact staircase N_V(E)
    (``count_eigenvalues(..., dim=d)`` on ``points`` energies) against the model and the
    given laws, for several test potentials ``(L1, L2)`` or ``(L1, L2, L3)``, one panel
    each."""
    P = test["V"].shape[0]
    dim = test["V"].ndim - 1
    chosen = np.linspace(0, P - 1, min(potentials, P)).round().astype(int)
    rows = int(np.ceil(len(chosen) / 2))
    fig, axes = plt.subplots(rows, 2, figsize=(11, 3.6 * rows), squeeze=False)
    for ax, p in zip(axes.ravel(), chosen, strict=False):
        V = test["V"][p]
        E = np.linspace(0.0, float(test["E"][p].max()) * 1.05, points)
        exact = count_eigenvalues(V, E, dim=dim)
        ax.step(E, exact, where="post", color="k", lw=1.6, label="exact $N_V(E)$")
        ax.plot(E, predictor.predict_counts(V, E), color="C3", lw=1.4, label=label)
        plot_laws(ax, law_curves(laws, test["W"][p], E, V), E, alpha=0.85)
        ax.plot(test["E"][p], test["N"][p], ".", color="0.5", ms=3, label="test samples")
        ax.set_title(f"test potential {p} ({'×'.join(map(str, V.shape))})")
        ax.set_xlabel("E")
        ax.set_ylabel("N(E)")
    for ax in axes.ravel()[len(chosen) :]:
        ax.axis("off")
    axes.ravel()[0].legend(fontsize=8, loc="upper left")
    fig.tight_layout()
    return fig


def landscape_figure_2d(
    predictor: Predictor,
    V: np.ndarray,
    label: str,
    laws: Mapping[str, LnetModel],
    e_max: float,
    points: int = 300,
) -> Figure:
    """One 2-D potential ``(L1, L2)``: its landscape potential W = 1/u as a map (left,
    log colour scale; the low valleys of W are where low-energy states live), and the
    exact staircase N_V(E) on ``points`` energies in [0, e_max] against the model's
    N̂(E) and the laws (right).  A 3-D potential ``(L1, L2, L3)`` shows the slice of W
    through its lowest site (x fixed there)."""
    from matplotlib.colors import LogNorm

    dim = V.ndim
    W = landscape_potential(V, dim=dim)
    E = np.linspace(0.0, e_max, points)
    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4.4))
    sides = "×".join(map(str, V.shape))
    if dim == 3:
        x0 = int(np.unravel_index(np.argmin(W), W.shape)[0])
        shown, where = W[x0], f" (slice x = {x0}, through min W)"
    else:
        shown, where = W, ""
    im = left.imshow(shown, norm=LogNorm(vmin=W.min(), vmax=W.max()), cmap="viridis")
    fig.colorbar(im, ax=left, label="W = 1/u")
    left.set_title(f"landscape potential W on the {sides} torus{where}", fontsize=9)
    left.set_xlabel("z" if dim == 3 else "y")
    left.set_ylabel("y" if dim == 3 else "x")
    exact = count_eigenvalues(V, E, dim=dim)
    right.step(E, exact, where="post", color="k", lw=1.6, label="exact $N_V(E)$")
    right.plot(E, predictor.predict_counts(V, E), color="C3", lw=1.4, label=label)
    plot_laws(right, law_curves(laws, W, E, V), E)
    right.set_xlabel("E")
    right.set_ylabel("N(E)")
    right.legend(fontsize=8, loc="upper left")
    fig.tight_layout()
    return fig


def rel_error_vs_lattice(result: LatticeResult) -> Figure:
    """Relative count error (:func:`lnet.models.metrics.relative_count_error`) against the
    number of sites of each lattice set (log-x, ticks named by lattice), for the model and
    every law; the training lattices are marked (dashed: the data's, dotted: each
    ``data.extra_train`` lattice) and the lattices the model cannot take are named."""
    from lnet.evaluation.lattices import lattice_text

    rows = {k: r for k, r in result.rows.items() if r["status"] == "ok"}
    keys = sorted(rows, key=lambda k: rows[k]["n"])
    ns = [rows[k]["n"] for k in keys]
    fig, ax = plt.subplots(figsize=(6, 4))
    ax.plot(ns, [rows[k]["rel_err"] for k in keys], "o-", color="C3", label=result.label)
    names = sorted({name for k in keys for name in rows[k].get("laws", {})})
    for i, name in enumerate(names):
        errors = [rows[k]["laws"][name]["rel_err"] for k in keys]
        ax.plot(ns, errors, "s--", color=f"C{i % 3}", ms=4, lw=0.9, label=name)
    for i, lattice in enumerate(result.train_lattices):
        ax.axvline(
            math.prod(lattice),
            color="0.5",
            ls="--" if i == 0 else ":",
            lw=0.9,
            label=f"training {lattice_text(lattice)}",
        )
    xs = ns + [math.prod(lattice) for lattice in result.train_lattices]
    if xs and min(xs) == max(xs):  # one lattice: a log axis needs a range around it
        ax.set_xlim(min(xs) / 2, max(xs) * 2)
    ax.set_xscale("log")
    one_d = result.dim == 1
    ax.set_xticks(ns, [f"{n:,}" for n in ns] if one_d else [k.replace("x", "×") for k in keys])
    ax.minorticks_off()
    ax.set_ylim(bottom=0)
    sides = " × ".join(f"L{i + 1}" for i in range(result.dim))
    ax.set_xlabel("lattice sites n" if one_d else f"lattice {sides}")
    ax.set_ylabel("mean |N̂ − N| / max(N, 1)")
    title = f"relative count error against lattice {'length' if one_d else 'size'}"
    if result.skipped:
        title += "\n(not applicable: " + ", ".join(lattice_text(t) for t in result.skipped) + ")"
    ax.set_title(title, fontsize=10)
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


def lattice_curve(result: LatticeResult) -> Figure:
    """Test potential 0 of the largest lattice set (``result.curve``): the model's N̂(E)
    and the laws on a fine grid with the exact counts (a staircase in 1-D; in 2-D the
    exact counts at the set's energies only, as each costs O(n^{3/2})) (left), and N̂
    against N over the whole set, the very predictions of the metrics (right)."""
    from lnet.evaluation.lattices import lattice_text

    c = result.curve
    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4.2))
    if c.exact is not None:
        left.step(c.E, c.exact, where="post", color="k", lw=1.4, label="exact $N_V(E)$")
    left.plot(c.E, c.pred, color="C3", lw=1.2, label=result.label)
    plot_laws(left, c.laws, c.E)
    if c.exact is not None:
        left.plot(*c.samples, ".", color="0.5", ms=3, label="test samples")
    else:
        left.plot(*c.samples, "o", color="k", ms=3.5, label="exact $N_V(E)$")
    left.set_xlabel("E")
    left.set_ylabel("N(E)")
    left.legend(fontsize=8, loc="upper left")
    right.plot(c.N.ravel(), c.N_hat.ravel(), ".", ms=3, color="C3")
    hi = float(max(np.max(c.N), np.max(c.N_hat), 1.0))
    right.plot([0, hi], [0, hi], "k-", lw=0.8)
    right.set_xlabel("exact N(E)")
    right.set_ylabel("predicted N̂(E)")
    right.set_title("all test potentials of this lattice", fontsize=9)
    fig.suptitle(
        f"{result.label}: test potential 0 at {lattice_text(c.lattice)} "
        f"(trained at {result.trained_on}), E in [0, λ_{c.top_level}]",
        fontsize=10,
    )
    fig.tight_layout()
    return fig


_LATTICE_METRIC = re.compile(r"(?:size|shape)_(\d+(?:x\d+)*)_test_rel_err")


def report_figure(results: Mapping[str, Mapping[str, float]]) -> Figure | None:
    """The figure beside ``evaluate.py``'s report: relative count error against the
    number of sites (log-log, one line per model or law with lattice-set metrics) and
    test MSE per family set (log-y bars); None when there is nothing to draw."""
    lattices = {
        label: sorted(
            (math.prod(int(s) for s in m.group(1).split("x")), m.group(1), v)
            for k, v in r.items()
            if (m := _LATTICE_METRIC.fullmatch(k))
        )
        for label, r in results.items()
    }
    families = sorted(
        {
            m.group(1)
            for r in results.values()
            for k in r
            if (m := re.fullmatch(r"family_(.+)_test_mse", k))
        }
    )
    has_lattices = any(lattices.values())
    panels = [p for p, has in (("lattices", has_lattices), ("families", families)) if has]
    if not panels:
        return None
    widths = {"lattices": 5.5, "families": min(14.0, max(5.0, 0.2 * len(families) * len(results)))}
    fig, axes = plt.subplots(
        1, len(panels), figsize=(sum(widths[p] for p in panels), 4.2), squeeze=False
    )
    for ax, panel in zip(axes[0], panels, strict=True):
        if panel == "lattices":
            keys: dict[int, str] = {}
            for i, (label, points) in enumerate(lattices.items()):
                if points:
                    ns, names, errs = zip(*points, strict=True)
                    keys.update(zip(ns, names, strict=True))
                    style = "s--" if label.startswith("law_") else "o-"
                    ax.plot(ns, errs, style, color=f"C{i % 10}", label=label)
            ax.set_xscale("log")
            ax.set_yscale("log")
            one_d = all("x" not in name for name in keys.values())
            if not one_d:  # name the shapes
                ax.set_xticks(list(keys), [keys[n].replace("x", "×") for n in keys])
                ax.minorticks_off()
            ax.set_xlabel("lattice length n" if one_d else "lattice (sites, log scale)")
            ax.set_ylabel("relative count error")
            ax.set_title(f"relative error against {'n' if one_d else 'lattice size'}", fontsize=10)
            ax.grid(True, which="both", alpha=0.3)
            ax.legend(fontsize=8)
        else:
            width = 0.8 / len(results)
            x = range(len(families))
            for i, (label, r) in enumerate(results.items()):
                heights = [r.get(f"family_{f}_test_mse", float("nan")) for f in families]
                ax.bar([j + i * width for j in x], heights, width, color=f"C{i % 10}", label=label)
            ax.set_xticks(
                [j + 0.4 - width / 2 for j in x], families, rotation=35, ha="right", fontsize=8
            )
            ax.set_yscale("log")
            ax.set_ylabel("test MSE")
            ax.set_title("family sets", fontsize=10)
            ax.legend(fontsize=8)
    fig.tight_layout()
    return fig
