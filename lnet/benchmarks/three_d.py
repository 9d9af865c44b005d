"""3-D benchmark rows: exact counting against dense ``eigvalsh``, its cost as L grows,
and the 3-D net's whole N(E) curve against exact counting of the same energies.

Two costs are too large to measure in full, and are scaled from a measurement whose
cost law is known; each row's note says which and by how much:

- dense ``eigvalsh`` of the n × n Hamiltonian costs O(n³): timed at ``dense_side``³ and
  multiplied by (n / n_timed)³ for a larger lattice;
- exact counting costs the same for every energy (one factorisation of H − E each):
  timed on k energies and multiplied by m / k.
"""

from __future__ import annotations

import numpy as np

from lnet.benchmarks.timing import Row, best_time
from lnet.physics import count_eigenvalues, hamiltonian, kth_eigenvalue


def bottom_energies(V: np.ndarray, m: int, rng: np.random.Generator, fraction: float = 0.1):
    """m energies uniform in [0, λ_⌈fraction·n⌉] of one 3-D potential ``(L1, L2, L3)``,
    sorted ``(m,)``."""
    top = float(kth_eigenvalue(V, int(np.ceil(fraction * V.size)), dim=3))
    return np.sort(rng.uniform(0.0, top, m))


def dense_counts(V: np.ndarray, E: np.ndarray) -> np.ndarray:
    """All eigenvalues by dense LAPACK ``eigvalsh``, then a search: ``(m,)`` counts."""
    ev = np.linalg.eigvalsh(hamiltonian(V, dim=3).toarray())
    return np.searchsorted(ev, E, side="right")


def three_d_rows(rng: np.random.Generator, quick: bool) -> list[Row]:
    """Exact 3-D counting (100 energies in the bottom tenth) against dense ``eigvalsh``:
    measured side by side where dense fits (the counts compared), then at 32³ against
    dense timed at ``dense_side``³ and scaled by n³; and the count's cost per energy as
    L grows (energies uniform in [0, 0.3]: the cost of a count does not depend on E)."""
    m = 100
    rows = []
    dense_side = 12 if quick else 20
    sides = (8, 12) if quick else (12, 16)
    for L in sides:
        V = rng.random((L, L, L))
        E = bottom_energies(V, m, rng)
        count_eigenvalues(V, E[:1], dim=3)  # symbolic analysis, cached per shape
        ours = best_time(lambda V=V, E=E: count_eigenvalues(V, E, dim=3), 2)
        naive = best_time(lambda V=V, E=E: dense_counts(V, E), 1)
        agree = np.array_equal(dense_counts(V, E), count_eigenvalues(V, E, dim=3))
        rows.append(
            Row(
                f"3-D count {L}³: {m} energies (bottom 10 %)",
                ours,
                naive,
                f"dense eigvalsh + searchsorted; counts {'agree' if agree else 'DIFFER'}",
            )
        )
    V = rng.random((dense_side,) * 3)
    t_dense = best_time(lambda: np.linalg.eigvalsh(hamiltonian(V, dim=3).toarray()), 1)
    L, k = (16, 10) if quick else (32, 10)
    V = rng.random((L, L, L))
    E = bottom_energies(V, m, rng)
    count_eigenvalues(V, E[:1], dim=3)
    t_count = best_time(lambda: count_eigenvalues(V, E[:k], dim=3), 1) * m / k
    scale = (L / dense_side) ** 9  # (n / n_timed)^3 with n = L^3
    rows.append(
        Row(
            f"3-D count {L}³: {m} energies (bottom 10 %)",
            t_count,
            t_dense * scale,
            f"dense eigvalsh timed at {dense_side}³ ({t_dense:.3g} s) x{scale:,.0f} (n³); "
            f"count timed on {k} energies x{m // k}",
        )
    )
    for L, k in ((12, 4), (16, 2)) if quick else ((16, 10), (24, 4), (32, 2), (48, 1)):
        V = rng.random((L, L, L))
        E = rng.uniform(0.0, 0.3, k)
        count_eigenvalues(V, E[:1], dim=3)
        t = best_time(lambda V=V, E=E: count_eigenvalues(V, E, dim=3), 1)
        rows.append(
            Row(
                f"3-D count scaling {L}³: {k} energies",
                t,
                note=f"{t / k:.3g} s per energy; nested dissection predicts x{2**6} per "
                "doubling of L (O(n²))",
            )
        )
    return rows


def three_d_curve_rows(rng: np.random.Generator, quick: bool) -> list[Row]:
    """The whole 3-D N(E) curve, 1000 energies uniform in [0, 0.3] (the low-energy tail;
    neither route's cost depends on where the energies lie, and locating the bottom
    tenth's edge at 64³ would itself take minutes): UniversalLandscapeNet(dim=3) in the
    3-D default form (``form="weyl"``, ``free_spectrum="torus"``,
    conf/model/universal_landscape_net_3d.yaml; untrained weights: the cost does not
    depend on them; W + one pass) against exact counting of the same energies, timed
    on k of them and scaled by 1000 / k."""
    import torch

    from lnet.models import UniversalLandscapeNet
    from lnet.predict import Predictor

    torch.manual_seed(0)
    m = 1000
    predictor = Predictor(UniversalLandscapeNet(dim=3, form="weyl", free_spectrum="torus").eval())
    predictor.predict_counts(rng.random((6, 6, 6)), np.array([0.1, 0.2]))  # warm-up
    rows = []
    for L, k in ((16, 20), (24, 4)) if quick else ((32, 10), (48, 2), (64, 1)):
        V = rng.random((L, L, L))
        E = np.sort(rng.uniform(0.0, 0.3, m))
        t_net = best_time(lambda V=V, E=E: predictor.predict_counts(V, E), 2)
        count_eigenvalues(V, E[:1], dim=3)  # symbolic analysis, cached per shape
        t_sub = best_time(lambda V=V, E=E[:k]: count_eigenvalues(V, E, dim=3), 1)
        exact = t_sub * m / k
        rows.append(
            Row(
                f"3-D whole curve {L}³: UniversalLandscapeNet(dim=3, weyl on the torus), {m} energies",
                t_net,
                exact,
                f"exact count_eigenvalues {exact:.3g} s (timed on {k} energies, x{m // k}); "
                f"net {m / t_net:,.0f} predictions/s",
            )
        )
    return rows
