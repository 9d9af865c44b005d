"""How local is N(E)?  The count of the chain cut into pieces, against the exact count.

A net that sums local terms over a receptive field of R sites can only be as good as
N(E) is local at that scale.  Two measurements on fresh potentials of one law, at the
energies between consecutive levels (E_j = (λ_j + λ_{j+1}) / 2, so N(E_j) = j exactly,
j = 1 … ``levels``), the paper's protocol:

* **cuts every L sites** (:func:`lnet.physics.cut_count`): the chain cut into windows
  of L sites (bond (x, x+1) cut where x ≡ o mod L, the offsets o spread over [0, L));
  the error is what a sum of independent windows of L sites makes;
* **cuts at the landscape's barriers** (:func:`lnet.physics.valley_count`): the bonds
  at the peaks m of W with W(m) >= b·E, for each energy; the error says how well the
  landscape's peaks separate the states.

Each row gives the MSE, the mean signed error (``dirichlet`` is never above the exact
count and ``neumann`` never below: Dirichlet–Neumann bracketing), the error's variance
(what is left once a constant error per cut is taken off) and the mean number of cuts.

    python -m lnet.locality                                 # uniform [0, 1), n = 1000
    python -m lnet.locality --family laplace --amplitude 3 --potentials 60
"""

from __future__ import annotations

import argparse
from collections.abc import Callable, Sequence

import numpy as np
import pandas as pd

from lnet.data.families import make_law
from lnet.errors import ConfigError
from lnet.physics import (
    count_eigenvalues,
    cut_count,
    landscape_peaks,
    landscape_potential,
    lowest_eigenvalues,
    valley_count,
)
from lnet.physics.valleys import BOUNDARIES

SPACINGS = (25, 50, 100, 200, 500)
BARRIERS = (1.5, 2.0, 3.0, 4.0, 6.0)
OFFSETS = 4  # cut patterns per spacing, their errors averaged


def level_energies(V: np.ndarray, levels: int) -> tuple[np.ndarray, np.ndarray]:
    """Energies between consecutive levels, E ``(B, levels)`` with E[:, j-1] =
    (λ_j + λ_{j+1}) / 2, and their exact counts N ``(B, levels)`` (j, or more where
    λ_j = λ_{j+1}: N counts eigenvalues <= E)."""
    lam = lowest_eigenvalues(V, levels + 1)
    E = 0.5 * (lam[:, :-1] + lam[:, 1:])
    return E, count_eigenvalues(V, E)


def locality_table(
    V: np.ndarray,
    levels: int = 100,
    spacings: Sequence[int] = SPACINGS,
    barriers: Sequence[float] = BARRIERS,
    progress: Callable[[], None] | None = None,
) -> pd.DataFrame:
    """Cut-chain counts against the exact N at the ``levels`` energies between the
    lowest levels of each potential V ``(B, n)`` (module docstring).  One row per cut
    rule and boundary: ``rule`` ("every L sites" or "W >= b·E"), ``boundary``, ``mse``,
    ``bias`` (mean of count − N), ``variance`` (of count − N: the error a fitted
    constant per cut cannot remove) and ``cuts`` (mean cuts per potential and energy).
    ``progress``, if given, is called after each row.
    """
    V = np.atleast_2d(np.asarray(V, dtype=np.float64))
    n = V.shape[1]
    if not 1 <= levels < n:
        raise ValueError(f"levels must be in [1, n - 1] = [1, {n - 1}], got {levels}")
    E, N = level_energies(V, levels)
    W = landscape_potential(V)
    rows = []
    for L in spacings:
        if L < 1:
            raise ValueError(f"spacings must be >= 1 site, got {L}")
        offsets = np.unique(np.linspace(0, L, OFFSETS, endpoint=False).astype(int))
        for boundary in BOUNDARIES:
            err = []
            for o in offsets:
                cuts = np.zeros(n, bool)
                cuts[o::L] = True
                err.append(cut_count(V, E, cuts, boundary) - N)
            cuts_per_potential = np.mean([(n - 1 - o) // L + 1 for o in offsets])
            rows.append(_row(f"every {L} sites", boundary, np.stack(err), cuts_per_potential))
            if progress is not None:
                progress()
    peaks = landscape_peaks(W)
    for b in barriers:
        mean_cuts = (peaks[:, None, :] & (W[:, None, :] >= b * E[:, :, None])).sum(axis=2).mean()
        for boundary in BOUNDARIES:
            err = valley_count(V, E, barrier=b, boundary=boundary, W=W) - N
            rows.append(_row(f"W >= {b:g}·E", boundary, err, mean_cuts))
            if progress is not None:
                progress()
    return pd.DataFrame(rows)


def _row(rule: str, boundary: str, err: np.ndarray, cuts: float) -> dict[str, object]:
    return {
        "rule": rule,
        "boundary": boundary,
        "mse": float(np.mean(err.astype(np.float64) ** 2)),
        "bias": float(np.mean(err)),
        "variance": float(np.var(err.astype(np.float64))),
        "cuts": float(cuts),
    }


def main(argv: Sequence[str] | None = None) -> pd.DataFrame:
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
    from rich.table import Table

    p = argparse.ArgumentParser(prog="python -m lnet.locality", description=__doc__.split("\n")[0])
    p.add_argument("--family", default="uniform")
    p.add_argument("--amplitude", type=float, default=1.0)
    p.add_argument("--n", type=int, default=1000)
    p.add_argument("--levels", type=int, default=100)
    p.add_argument("--potentials", type=int, default=60)
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args(argv)
    if args.potentials < 1 or args.n < 3:
        p.error(f"need --potentials >= 1 and --n >= 3, got {args.potentials} and {args.n}")
    try:
        law = make_law({"family": args.family, "amplitude": args.amplitude}, key="potential")
    except ConfigError as err:  # e.g. potential.family: unknown family 'foo'; allowed: [...]
        p.error(str(err))
    rng = np.random.default_rng(args.seed)
    V = np.stack([law.draw(rng, args.n)[0] for _ in range(args.potentials)])
    if not 1 <= args.levels < args.n:
        p.error(f"--levels must be in [1, n - 1] = [1, {args.n - 1}], got {args.levels}")
    rows = (len(SPACINGS) + len(BARRIERS)) * len(BOUNDARIES)
    with Progress(
        TextColumn("cutting the chain"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        transient=True,
    ) as bar:
        task = bar.add_task("rows", total=rows)
        df = locality_table(V, levels=args.levels, progress=lambda: bar.advance(task))
    title = (
        f"{args.family}, amplitude {args.amplitude:g}, n = {args.n}, {args.potentials} "
        f"potentials (seed {args.seed}), the lowest {args.levels} levels"
    )
    table = Table(title=title)
    for col in ("rule", "boundary", "MSE", "mean error", "variance", "cuts"):
        table.add_column(col, justify="left" if col in ("rule", "boundary") else "right")
    for r in df.itertuples():
        table.add_row(
            r.rule,
            r.boundary,
            f"{r.mse:.3g}",
            f"{r.bias:+.3g}",
            f"{r.variance:.3g}",
            f"{r.cuts:.1f}",
        )
    Console().print(table)
    return df


if __name__ == "__main__":
    main()
