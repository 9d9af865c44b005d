"""Metrics against a swept config key (``compare.py --by``): a table, its Markdown and
a log-log figure, per model and value of the key, mean ± sample std over runs."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from matplotlib.ticker import NullLocator  # noqa: E402

from lnet.comparison import label_of, mean_std  # noqa: E402


def scaling(runs: pd.DataFrame, key: str, metrics: list[str]) -> pd.DataFrame:
    """Mean and sample std over runs of each metric, per model and value of the logged
    config key ``key`` (a flattened param such as ``data.sizes.train``), sorted by value.

    Raises SystemExit naming the key or metric when no selected run logged it, or when
    a value is not a number (a curve needs a numeric axis)."""
    column = f"params.{key}"
    if column not in runs or runs[column].isna().all():
        raise SystemExit(f"--by {key}: no selected run logged the config key {key!r}")
    missing = [m for m in metrics if f"metrics.{m}" not in runs]
    if missing:
        raise SystemExit(f"--metrics: no selected run logged {', '.join(missing)}")
    runs = runs[runs[column].notna()]
    values = pd.to_numeric(runs[column], errors="coerce")
    if values.isna().any():
        bad = sorted(set(runs.loc[values.isna(), column]))
        raise SystemExit(f"--by {key}: not a number in run(s): {bad}")
    runs = runs.assign(label=runs.apply(label_of, axis=1), by=values)
    rows = []
    for (label, value), group in runs.groupby(["label", "by"], sort=True):
        row: dict[str, object] = {"model": label, key: value, "runs": len(group)}
        for m in metrics:
            row.update(mean_std(group, m))
        rows.append(row)
    return pd.DataFrame(rows)


def scaling_markdown(table: pd.DataFrame, key: str, metrics: list[str]) -> str:
    head = ["model", key, "runs", *metrics]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for _, r in table.iterrows():
        cells = [str(r["model"]), f"{r[key]:g}", str(r["runs"])]
        for m in metrics:
            mean, std = r[f"{m}_mean"], r[f"{m}_std"]
            cells.append(
                "–"
                if np.isnan(mean)
                else f"{mean:.4g} ± {std:.2g}"
                if r["runs"] > 1
                else f"{mean:.4g}"
            )
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def plot_scaling(table: pd.DataFrame, key: str, metrics: list[str], title: str) -> plt.Figure:
    """One panel per metric (three per row), log-log, a line per model (error bars: std
    over seeds); the x ticks are the key's values."""
    cols = min(3, len(metrics))
    rows = -(-len(metrics) // cols)
    fig, axes = plt.subplots(rows, cols, figsize=(4.3 * cols, 3.4 * rows), squeeze=False)
    values = sorted(table[key].unique())
    for ax, m in zip(axes.flat, metrics, strict=False):
        for label, group in table.groupby("model", sort=True):
            ax.errorbar(
                group[key],
                group[f"{m}_mean"],
                yerr=group[f"{m}_std"],
                marker="o",
                capsize=3,
                label=label,
            )
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xticks(values, [f"{v:g}" for v in values])
        ax.xaxis.set_minor_locator(NullLocator())
        ax.set_xlabel(key)
        ax.set_title(m, fontsize=9)
        ax.grid(True, alpha=0.3)
    for ax in list(axes.flat)[len(metrics) :]:
        ax.set_visible(False)
    axes[0][0].legend(fontsize=8)
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    return fig
