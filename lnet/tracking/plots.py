"""Figures logged with every run: people would rather look at these than read numbers."""

from __future__ import annotations

from collections.abc import Mapping

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

from lnet.physics import box_count, count_eigenvalues, weyl_count  # noqa: E402
from lnet.predict import Predictor  # noqa: E402


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
    """Test MSE per ``eval_families`` entry; entries outside the training law (``held_out``:
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


def rel_error_vs_size(
    rows: Mapping[int, Mapping[str, float]],
    label: str,
    train_n: int | None = None,
    skipped: tuple[int, ...] = (),
) -> Figure:
    """Relative count error (:func:`lnet.models.metrics.relative_count_error`) against the
    lattice length n, log-x; ``rows`` maps n to its metrics (``rel_err``), the training
    length is marked, and lengths the model cannot take are named in the title."""
    ns = sorted(rows)
    fig, ax = plt.subplots(figsize=(6, 4))
    ax.plot(ns, [rows[n]["rel_err"] for n in ns], "o-", color="C3", label=label)
    if train_n is not None:
        ax.axvline(train_n, color="0.5", ls="--", lw=0.9, label=f"training n = {train_n}")
    ax.set_xscale("log")
    ax.set_xticks(ns, [f"{n:,}" for n in ns])
    ax.minorticks_off()
    ax.set_ylim(bottom=0)
    ax.set_xlabel("lattice sites n")
    ax.set_ylabel("mean |N̂ − N| / max(N, 1)")
    title = "relative count error against lattice length"
    if skipped:
        title += "\n(not applicable: n = " + ", ".join(str(n) for n in skipped) + ")"
    ax.set_title(title, fontsize=10)
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


def counting_curve(
    E: np.ndarray,
    exact: np.ndarray,
    pred: np.ndarray,
    label: str,
    title: str,
    samples: tuple[np.ndarray, np.ndarray] | None = None,
) -> Figure:
    """One potential: the exact N(E) and the model's N̂(E) against E (left), and N̂(E)
    against N(E) with the diagonal (right). ``E``, ``exact``, ``pred``: ``(points,)``;
    ``samples``: the test energies and their exact counts, drawn as dots."""
    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4.2))
    left.step(E, exact, where="post", color="k", lw=1.4, label="exact $N_V(E)$")
    left.plot(E, pred, color="C3", lw=1.2, label=label)
    if samples is not None:
        left.plot(samples[0], samples[1], ".", color="0.5", ms=3, label="test samples")
    left.set_xlabel("E")
    left.set_ylabel("N(E)")
    left.legend(fontsize=8, loc="upper left")
    right.plot(exact, pred, ".", ms=3, color="C3")
    hi = float(max(np.max(exact), np.max(pred), 1.0))
    right.plot([0, hi], [0, hi], "k-", lw=0.8)
    right.set_xlabel("exact N(E)")
    right.set_ylabel("predicted N̂(E)")
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    return fig
