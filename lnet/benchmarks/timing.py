"""Benchmark rows, best-of timing and rendering (rich table and Markdown)."""

import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from rich.console import Console
from rich.table import Table

from lnet.machine import describe_machine


@dataclass
class Row:
    task: str
    ours_s: float
    naive_s: float | None = None
    note: str = ""

    @property
    def ratio(self) -> float | None:
        return None if self.naive_s is None else self.naive_s / self.ours_s


def best_time(fn: Callable[[], object], repeats: int = 3) -> float:
    best = float("inf")
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return best


NUMERICS_COLUMNS = ("task", "lnet [s]", "other [s]", "speed-up", "other route / notes")


INFERENCE_COLUMNS = ("route", "time [s]", "exact [s]", "speed vs exact", "throughput")


def _ratio(r: Row) -> str:
    if r.ratio is None:
        return ""
    return f"{r.ratio:,.0f}x" if r.ratio >= 10 else f"{r.ratio:.3g}x"


def render(rows: list[Row], console: Console, title: str, columns: tuple[str, ...]) -> str:
    """Print a rich table and return the same rows as Markdown (a "|" in a cell escaped)."""
    table = Table(title=title)
    for col in columns:
        table.add_column(col)
    lines = ["| " + " | ".join(columns) + " |", "|---|---:|---:|---:|---|"]
    for r in rows:
        cells = (
            r.task,
            f"{r.ours_s:.4g}",
            "" if r.naive_s is None else f"{r.naive_s:.4g}",
            _ratio(r),
            r.note,
        )
        table.add_row(*cells)
        lines.append("| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |")
    console.print(table)
    return "\n".join(lines)


def machine_summary() -> str:
    """The machine (:func:`lnet.machine.describe_machine`) and numpy's version."""
    return f"{describe_machine()}, numpy {np.__version__}"
