"""Performance table: lnet's O(n) numerics against the naive dense route, side by side.

    python pipelines/benchmark.py            # full table (about a minute on 2 cores)
    python pipelines/benchmark.py --quick    # smaller sizes, for a smoke run
    python pipelines/benchmark.py --markdown bench.md

A second table times inference: LandscapeNet against the exact count, box counting
and the Weyl law at n = 10^3 and 10^4, every route starting from V.

Every row is measured in this run on this machine; the ratio column is
naive time / lnet time.  Timings are the best of a few repeats (wall clock).
"""

from __future__ import annotations

import argparse
import os
import platform
import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from rich.console import Console
from rich.table import Table

from lnet.physics import count_eigenvalues, hamiltonian, landscape, lowest_eigenvalues


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


def dense_count(V: np.ndarray, E: np.ndarray) -> np.ndarray:
    return np.stack(
        [
            np.searchsorted(np.linalg.eigvalsh(hamiltonian(v).toarray()), e, side="right")
            for v, e in zip(V, E, strict=True)
        ]
    )


def dense_landscape(V: np.ndarray) -> np.ndarray:
    return np.stack([np.linalg.solve(hamiltonian(v).toarray(), np.ones(v.size)) for v in V])


def dense_lowest(V: np.ndarray, k: int) -> np.ndarray:
    return np.stack([np.linalg.eigvalsh(hamiltonian(v).toarray())[:k] for v in V])


def physics_rows(rng: np.random.Generator, quick: bool) -> list[Row]:
    rows = []
    B, m, n = (16, 100, 1000) if quick else (64, 100, 1000)
    V = rng.random((B, n))
    E = rng.uniform(0.0, 0.6, (B, m))
    count_eigenvalues(V[:1], E[:1])  # JIT warm-up (cached on disk after the first run)
    lowest_eigenvalues(V[:1], 2)
    ours = best_time(lambda: count_eigenvalues(V, E))
    naive = best_time(lambda: dense_count(V, E), repeats=1)
    if not np.array_equal(count_eigenvalues(V, E), dense_count(V, E)):
        raise AssertionError("counts differ from the dense route")
    rows.append(
        Row(
            f"count N_V(E): {B} potentials x {m} energies, n={n}",
            ours,
            naive,
            "dense eigvalsh + searchsorted",
        )
    )

    ours = best_time(lambda: landscape(V))
    naive = best_time(lambda: dense_landscape(V), repeats=1)
    rows.append(
        Row(f"landscape u = H^-1 1: {B} potentials, n={n}", ours, naive, "dense LAPACK solve")
    )

    P = 64 if quick else 256
    Vk = rng.random((P, n))
    ours = best_time(lambda: lowest_eigenvalues(Vk, 20), repeats=1)
    naive = best_time(lambda: dense_lowest(Vk[:16], 20), repeats=1) * (P / 16)
    rows.append(
        Row(
            f"20 lowest eigenvalues: {P} potentials, n={n}",
            ours,
            naive,
            "dense eigvalsh (timed on 16, scaled)",
        )
    )
    return rows


def dense_counting_dataset(V: np.ndarray, levels: int, rng: np.random.Generator) -> None:
    """The naive route to the same data: dense eigvalsh and solve per potential."""
    for v in V:
        H = hamiltonian(v).toarray()
        lam = np.concatenate([[0.0], np.linalg.eigvalsh(H)[:levels]])
        E = lam[:-1] + rng.random(levels) * np.diff(lam)
        np.searchsorted(np.linalg.eigvalsh(H), E, side="right")
        np.linalg.solve(H, np.ones(v.size))


def dataset_rows(rng: np.random.Generator, quick: bool) -> list[Row]:
    """Default datasets built from scratch (cache in a temporary folder), and a cache hit."""
    import tempfile

    from lnet.data import CountingDataModule, EigenvalueDataModule, load_or_build

    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        dm = CountingDataModule(data_dir=tmp, show_progress=False)
        t0 = time.perf_counter()
        entry = load_or_build(dm.spec, tmp, show_progress=False)
        build = time.perf_counter() - t0
        P = sum(dm.spec.sizes.values())
        sample = rng.random((36, dm.spec.n))
        naive = best_time(lambda: dense_counting_dataset(sample, 100, rng), repeats=1) * (P / 36)
        rows.append(
            Row(
                f"counting dataset from scratch: {P} potentials x 100 energies",
                build,
                naive,
                "dense eigvalsh + solve per potential (timed on 36, scaled)",
            )
        )
        hit = best_time(lambda: load_or_build(dm.spec, tmp, show_progress=False))
        rows.append(Row("counting dataset: verified cache hit", hit, build, "vs building it"))
        assert entry.arrays["train"]["N"].shape == (300, 100)
        if not quick:
            edm = EigenvalueDataModule(data_dir=tmp, show_progress=False)
            t0 = time.perf_counter()
            load_or_build(edm.spec, tmp, show_progress=False)
            build = time.perf_counter() - t0
            P = sum(edm.spec.sizes.values())
            naive = best_time(lambda: dense_lowest(rng.random((16, edm.spec.n)), 20), repeats=1) * (
                P / 16
            )
            rows.append(
                Row(
                    f"eigenvalue dataset from scratch: {P} potentials x 20 eigenvalues",
                    build,
                    naive,
                    "dense eigvalsh per potential (timed on 16, scaled)",
                )
            )
    return rows


def scaling_rows(rng: np.random.Generator, quick: bool) -> list[Row]:
    """Cost per site as n grows, at fixed total work (n x energies = sites x potentials = 1e7)."""
    rows = []
    sizes = [10**3, 10**4, 10**5] if quick else [10**3, 10**4, 10**5, 10**6]
    work = 10**6 if quick else 10**7
    for n in sizes:
        reps = max(1, work // n)
        V = rng.random(n)
        E = rng.uniform(0.0, 0.6, reps)
        Vb = rng.random((reps, n)) if reps > 1 else V
        t_count = best_time(lambda V=V, E=E: count_eigenvalues(V, E))
        t_land = best_time(lambda Vb=Vb: landscape(Vb))
        rows.append(
            Row(
                f"scaling n={n:,}: {reps} energies / {reps} potentials",
                t_count,
                note=f"count {1e9 * t_count / (n * reps):.2f} ns per site per energy; "
                f"landscape {1e9 * t_land / (n * reps):.2f} ns per site",
            )
        )
    return rows


def inference_rows(rng: np.random.Generator, quick: bool) -> list[Row]:
    """Cost of one prediction of N_V(E) from a potential: learned, laws, exact.

    Every route starts from V alone (B potentials x m energies), so the landscape
    W = 1/u is part of the cost of the nets, box counting and Weyl.  The nets have
    their default architectures (LandscapeNet 75,071 parameters; FactorizedLandscapeNet
    76,427, which encodes each potential once for all its energies), float32, eval
    mode; weights do not change the cost, so untrained nets are timed.  The ratio column is
    exact time / route time: above 1 the route is faster than the exact count.
    """
    import torch

    from lnet.models import FactorizedLandscapeNet, LandscapeNet
    from lnet.physics import box_count, landscape_potential, weyl_count
    from lnet.predict import Predictor

    torch.manual_seed(0)
    repeats = 1 if quick else 3
    rows = []
    for n in (1000, 10_000):
        B, m = (2, 20) if quick else (16, 100)
        V = rng.random((B, n))
        E = np.sort(rng.uniform(0.05, 0.6, (B, m)), axis=1)
        pairs = B * m
        exact = best_time(lambda V=V, E=E: count_eigenvalues(V, E), repeats)
        nets = {
            "LandscapeNet (W + forward pass)": Predictor(LandscapeNet(n=n).eval(), batch_size=256),
            "FactorizedLandscapeNet (W + forward pass)": Predictor(
                FactorizedLandscapeNet(n=n).eval(), batch_size=256
            ),
        }
        for predictor in nets.values():
            predictor.predict_counts(V[:1], E[:1, :2])  # warm-up (thread pool, allocator)
        routes = {
            "exact count_eigenvalues (Sturm)": exact,
            **{
                name: best_time(lambda V=V, E=E, p=predictor: p.predict_counts(V, E), repeats)
                for name, predictor in nets.items()
            },
            "box counting N^W (W + boxes)": best_time(
                lambda V=V, E=E: box_count(landscape_potential(V), E), repeats
            ),
            "Weyl law (W + sum)": best_time(
                lambda V=V, E=E: weyl_count(landscape_potential(V), E), repeats
            ),
        }
        for name, t in routes.items():
            rows.append(
                Row(
                    f"inference n={n:,}: {name}, {B}x{m} pairs",
                    t,
                    exact,
                    f"{pairs / t:,.0f} predictions/s",
                )
            )
    return rows


NUMERICS_COLUMNS = ("task", "lnet [s]", "naive [s]", "speed-up", "naive route / notes")
INFERENCE_COLUMNS = ("route", "time [s]", "exact [s]", "speed vs exact", "throughput")


def _ratio(r: Row) -> str:
    if r.ratio is None:
        return ""
    return f"{r.ratio:,.0f}x" if r.ratio >= 10 else f"{r.ratio:.3g}x"


def render(rows: list[Row], console: Console, title: str, columns: tuple[str, ...]) -> str:
    """Print a rich table and return the same rows as Markdown."""
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
        lines.append("| " + " | ".join(cells) + " |")
    console.print(table)
    return "\n".join(lines)


def machine_summary() -> str:
    cpu = platform.processor() or platform.machine()
    return (
        f"{cpu}, {os.cpu_count()} cores, Python {platform.python_version()}, numpy {np.__version__}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="smaller sizes (smoke run)")
    parser.add_argument("--markdown", help="also write the table as Markdown to this file")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    console = Console(width=200)
    rng = np.random.default_rng(args.seed)
    console.print(f"[bold]machine:[/] {machine_summary()}")
    rows = (
        physics_rows(rng, args.quick)
        + dataset_rows(rng, args.quick)
        + scaling_rows(rng, args.quick)
    )
    md = render(
        rows, console, "lnet numerics vs the naive route (best-of wall clock)", NUMERICS_COLUMNS
    )
    md_inf = render(
        inference_rows(rng, args.quick),
        console,
        "inference cost: one N_V(E) prediction from V (best-of wall clock)",
        INFERENCE_COLUMNS,
    )
    if args.markdown:
        with open(args.markdown, "w") as fh:
            fh.write(f"Machine: {machine_summary()}\n\n{md}\n\n{md_inf}\n")


if __name__ == "__main__":
    main()
