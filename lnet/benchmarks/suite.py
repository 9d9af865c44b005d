"""The benchmark's measurements: each function times lnet beside other routes and
returns :class:`lnet.benchmarks.timing.Row` s (``quick``: smaller sizes, a smoke run).

Every row is measured in the same run on the same machine; the ratio column is the
other route's time / lnet's time, each the best of a few repeats (wall clock).
"""

import copy
import time

import numpy as np

from lnet.benchmarks.reference import (
    dense_count,
    dense_landscape,
    dense_lowest,
    eigsh_count,
    open_chain_count,
    sparse_periodic_hamiltonian,
    spsolve_landscape,
    superlu_count,
)
from lnet.benchmarks.timing import Row, best_time
from lnet.physics import count_eigenvalues, hamiltonian, landscape, lowest_eigenvalues


def fast_route_rows(
    V: np.ndarray,
    E: np.ndarray,
    t_count: float,
    t_land: float,
    sub_eigsh: int,
    sub_stebz: int,
) -> list[Row]:
    """lnet against the fast routes a user would take, on the same V and E.

    t_count and t_land are lnet's times for count_eigenvalues(V, E) and landscape(V).
    eigsh is timed on the first sub_eigsh potentials and the stebz bisection on the
    first sub_stebz, and scaled to all B; spsolve and sterf run on all B.
    """
    B, m = E.shape
    n = V.shape[1]
    N = count_eigenvalues(V, E)
    u = landscape(V)
    H = [sparse_periodic_hamiltonian(v) for v in V]  # built outside the timing
    spsolve_landscape(H[:1])  # warm-up (imports, SuperLU)
    rows = []

    t = best_time(lambda: open_chain_count(V, E, "sterf"), repeats=1)
    diff = np.abs(open_chain_count(V, E, "sterf") - N)
    open_check = (
        f"max |N_open - N_V| = {diff.max()}, differs on {np.count_nonzero(diff)} of {diff.size}"
    )
    rows.append(
        Row(
            f"count N_V(E): {B} potentials x {m} energies, n={n}",
            t_count,
            t,
            "eigvalsh_tridiagonal, all eigenvalues (sterf) + searchsorted; OPEN chain, "
            f"a different operator: {open_check}",
        )
    )
    s = min(sub_stebz, B)
    t = best_time(lambda: open_chain_count(V[:s], E[:s], "stebz"), repeats=1) * (B / s)
    diff = np.abs(open_chain_count(V[:s], E[:s], "stebz") - N[:s])
    rows.append(
        Row(
            f"count N_V(E): {B} potentials x {m} energies, n={n}",
            t_count,
            t,
            "eigvalsh_tridiagonal select='v' up to max E (stebz bisection) + searchsorted; "
            f"OPEN chain (timed on {s}, scaled): max |N_open - N_V| = {diff.max()}",
        )
    )
    s = min(sub_eigsh, B)
    k = N.max(axis=1)
    eigsh_count(H[:1], E[:1], k[:1])  # warm-up (ARPACK)
    t = best_time(lambda: eigsh_count(H[:s], E[:s], k[:s]), repeats=1) * (B / s)
    bad = np.count_nonzero(eigsh_count(H[:s], E[:s], k[:s]) != N[:s])
    rows.append(
        Row(
            f"count N_V(E): {B} potentials x {m} energies, n={n}",
            t_count,
            t,
            f"sparse shift-invert eigsh (sigma=0, k = N_V(max E) = {k.min()}-{k.max()}, "
            f"k given to it) + searchsorted (timed on {s}, scaled): "
            + (f"counts equal on all {s * m} pairs" if bad == 0 else f"counts differ on {bad}"),
        )
    )

    t = best_time(lambda: spsolve_landscape(H))
    rel = np.abs(spsolve_landscape(H) - u).max() / np.abs(u).max()
    rows.append(
        Row(
            f"landscape u = H^-1 1: {B} potentials, n={n}",
            t_land,
            t,
            f"sparse spsolve (SuperLU) on periodic CSC H, H prebuilt, not timed: "
            f"max |u_spsolve - u| / max u = {rel:.1e}",
        )
    )
    return rows


def physics_rows(rng: np.random.Generator, quick: bool) -> list[Row]:
    rows = []
    B, m, n = (16, 100, 1000) if quick else (64, 100, 1000)
    V = rng.random((B, n))
    E = rng.uniform(0.0, 0.6, (B, m))
    count_eigenvalues(V[:1], E[:1])  # JIT warm-up (cached on disk after the first run)
    lowest_eigenvalues(V[:1], 2)
    ours = best_time(lambda: count_eigenvalues(V, E))
    t0 = time.perf_counter()
    dense = dense_count(V, E)
    naive = time.perf_counter() - t0
    if not np.array_equal(count_eigenvalues(V, E), dense):
        raise AssertionError("counts differ from the dense route")
    rows.append(
        Row(
            f"count N_V(E): {B} potentials x {m} energies, n={n}",
            ours,
            naive,
            "dense eigvalsh + searchsorted",
        )
    )

    t_count = ours
    ours = best_time(lambda: landscape(V))
    naive = best_time(lambda: dense_landscape(V), repeats=1)
    land_row = Row(
        f"landscape u = H^-1 1: {B} potentials, n={n}", ours, naive, "dense LAPACK solve"
    )
    fast = fast_route_rows(
        V, E, t_count, ours, sub_eigsh=4 if quick else 8, sub_stebz=8 if quick else 16
    )
    rows += [r for r in fast if r.task.startswith("count")]
    rows.append(land_row)
    rows += [r for r in fast if r.task.startswith("landscape")]

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
    their default architectures (PaperLandscapeNet 75,071 parameters; LandscapeNet
    76,427, which encodes each potential once for all its energies), float32, eval
    mode; weights do not change the cost, so untrained nets are timed.  The ratio column is
    exact time / route time: above 1 the route is faster than the exact count.
    """
    import torch

    from lnet.models import LandscapeNet, PaperLandscapeNet
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
            "PaperLandscapeNet (W + forward pass)": Predictor(
                PaperLandscapeNet(n=n).eval(), batch_size=256
            ),
            "LandscapeNet (W + forward pass)": Predictor(LandscapeNet(n=n).eval(), batch_size=256),
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
    rows += whole_curve_rows(rng, quick)
    return rows


def whole_curve_rows(rng: np.random.Generator, quick: bool) -> list[Row]:
    """The whole N(E) curve of one potential (1000 energies): UniversalLandscapeNet's one
    pass against count_eigenvalues on the same energies, at n = 10^5 (10^4 with --quick).

    The levels form twice, with the same weights: its inference route (one breakpoint
    sweep, :mod:`lnet.models.level_curve`) and the per-energy route it replaces (every
    ramp at every energy, the training route); the note gives the speed-up and the
    largest difference between the two.  Energies uniform in [0, λ_⌈0.1 n⌉], the
    size-generalisation setting.  Untrained weights (the cost does not depend on them),
    float32, eval mode.
    """
    import torch

    from lnet.models import UniversalLandscapeNet
    from lnet.physics import kth_eigenvalue
    from lnet.predict import Predictor

    torch.manual_seed(0)
    n = 10_000 if quick else 100_000
    m = 1000
    repeats = 1 if quick else 3
    V = rng.random((1, n))
    top = float(kth_eigenvalue(V, int(np.ceil(0.1 * n)))[0])
    E = np.sort(rng.uniform(0.0, top, (1, m)), axis=1)
    exact = best_time(lambda: count_eigenvalues(V, E), repeats)
    predictor = Predictor(UniversalLandscapeNet().eval())
    predictor.predict_counts(V[:, :100], E[:, :2])  # warm-up
    rows = [
        Row(
            f"whole curve n={n:,}: exact count_eigenvalues, {m} energies",
            exact,
            exact,
            f"{m / exact:,.0f} predictions/s",
        )
    ]
    levels = UniversalLandscapeNet().eval()
    sweep = Predictor(levels)
    t_sweep = best_time(lambda: sweep.predict_counts(V, E), repeats)
    ramps = Predictor(copy.deepcopy(levels))
    ramps.net.curve_min_energies = m + 1  # the per-energy route for these m energies
    t_ramps = best_time(lambda: ramps.predict_counts(V, E), repeats)
    a, b = sweep.predict_counts(V, E), ramps.predict_counts(V, E)
    diff = np.abs(a - b).max() / max(np.abs(b).max(), 1e-300)
    rows += [
        Row(
            f"whole curve n={n:,}: UniversalLandscapeNet (levels), W + one pass + "
            f"breakpoint sweep, {m} energies",
            t_sweep,
            exact,
            f"{t_ramps / t_sweep:.3g}x faster than the per-energy route (same float32 net; "
            f"max |difference| / max N = {diff:.1e}); {m / t_sweep:,.0f} predictions/s",
        ),
        Row(
            f"whole curve n={n:,}: UniversalLandscapeNet (levels), W + one pass, per-energy "
            f"route (every ramp at every energy), {m} energies",
            t_ramps,
            exact,
            f"{m / t_ramps:,.0f} predictions/s",
        ),
    ]
    rows += shipped_curve_rows(V, E, exact, repeats)
    p = Predictor(UniversalLandscapeNet(form="decider").eval())
    t = best_time(lambda: p.predict_counts(V, E), repeats)
    rows.append(
        Row(
            f"whole curve n={n:,}: UniversalLandscapeNet (decider), W + one pass, {m} energies",
            t,
            exact,
            f"{m / t:,.0f} predictions/s",
        )
    )
    return rows


def shipped_curve_rows(V: np.ndarray, E: np.ndarray, exact: float, repeats: int) -> list[Row]:
    """The route a user of the shipped model takes: ``lnet.load_model("pretrained:
    universal-1d").predict_counts(V, E)`` (its expert's members where its gate takes V,
    :mod:`lnet.routing`), the mean of the K member nets (K passes), and
    the same with ``return_interval=True``; V ``(1, n)``, E ``(1, m)``. No rows when that
    model is not shipped."""
    import lnet.pretrained

    if "universal-1d" not in lnet.pretrained.available():
        return []
    model = lnet.pretrained.load("universal-1d")
    n, m = V.shape[1], E.shape[1]
    # the model as loaded: a potential of its expert's law goes to the expert (lnet.routing)
    who = int(model.route(V)[0]) if hasattr(model, "route") else -1
    name = (
        "universal-1d"
        if who < 0
        else f"universal-1d, answered by its expert {model.experts[who].name}"
    )
    k = len(model) if who < 0 else len(model.experts[who].model)
    model.predict_counts(V[:, :1000], E[:, :2])  # warm-up
    alone = lnet.pretrained.load("universal-1d", experts=False) if who >= 0 else None
    if alone is not None:  # the members alone first, then the model as loaded
        alone.predict_counts(V[:, :1000], E[:, :2])
        t_alone = best_time(lambda: alone.predict_counts(V, E), repeats)
    mean = best_time(lambda: model.predict_counts(V, E), repeats)
    both = best_time(lambda: model.predict_counts(V, E, return_interval=True), repeats)
    rows = [
        Row(
            f"whole curve n={n:,}: pretrained {name} ({k} members, their mean), {m} energies",
            mean,
            exact,
            f"{k} passes of the levels net; {m / mean:,.0f} predictions/s",
        ),
        Row(
            f"whole curve n={n:,}: pretrained {name}, with the 90 % interval, {m} energies",
            both,
            exact,
            f"{m / both:,.0f} predictions/s",
        ),
    ]
    if alone is not None:  # beside it, in the same run: the members alone (what routing costs)
        t = t_alone
        rows.append(
            Row(
                f"whole curve n={n:,}: pretrained universal-1d, its members alone "
                f"(experts=False), {m} energies",
                t,
                exact,
                f"routing costs {mean - t:+.3f} s; {m / t:,.0f} predictions/s",
            )
        )
    return rows


def _bottom_energies(V: np.ndarray, m: int, rng: np.random.Generator) -> np.ndarray:
    """m energies uniform in [0, λ_⌈0.1 n⌉] of a 2-D potential ``(L1, L2)``, sorted."""
    from lnet.physics import kth_eigenvalue

    top = float(kth_eigenvalue(V, int(np.ceil(0.1 * V.size)), dim=2))
    return np.sort(rng.uniform(0.0, top, m))


def two_d_rows(rng: np.random.Generator, quick: bool) -> list[Row]:
    """2-D physics: exact counting against dense eigvalsh + search, and against SuperLU
    per energy; the landscape against a dense solve; counting cost as L grows.

    Energies: 100 uniform in the bottom tenth of the spectrum, [0, λ_⌈0.1 n⌉].
    """
    rows = []
    m = 100
    for L in (16, 32) if quick else (16, 32, 48, 64):
        V = rng.random((L, L))
        E = _bottom_energies(V, m, rng)
        ours = best_time(lambda V=V, E=E: count_eigenvalues(V, E, dim=2))
        repeats = 1 if L >= 48 else 3

        def dense(V=V, E=E):
            ev = np.linalg.eigvalsh(hamiltonian(V, dim=2).toarray())
            return np.searchsorted(ev, E, side="right")

        naive = best_time(dense, repeats)
        agree = np.array_equal(dense(), count_eigenvalues(V, E, dim=2))
        rows.append(
            Row(
                f"2-D count {L}x{L}: {m} energies (bottom 10 %)",
                ours,
                naive,
                f"dense eigvalsh + searchsorted; counts {'agree' if agree else 'DIFFER'}",
            )
        )
        if L == (32 if quick else 64):
            t_lu = best_time(lambda V=V, E=E: superlu_count(V, E), 1)
            same = np.array_equal(superlu_count(V, E), count_eigenvalues(V, E, dim=2))
            rows.append(
                Row(
                    f"2-D count {L}x{L}: {m} energies (bottom 10 %)",
                    ours,
                    t_lu,
                    "scipy SuperLU of H - E per energy, diagonal pivots (not guaranteed "
                    f"exact); counts {'agree' if same else 'DIFFER'} here",
                )
            )
            t_land = best_time(lambda V=V: landscape(V, dim=2))
            t_dense = best_time(
                lambda V=V: np.linalg.solve(hamiltonian(V, dim=2).toarray(), np.ones(V.size)),
                repeats,
            )
            rows.append(Row(f"2-D landscape {L}x{L}", t_land, t_dense, "dense solve"))
    for L, k in ((64, 8), (128, 4)) if quick else ((64, 20), (128, 10), (256, 4), (512, 2)):
        V = rng.random((L, L))
        E = rng.uniform(0.0, 0.5, k)
        count_eigenvalues(V, E[:1], dim=2)  # symbolic analysis (cached per shape)
        t = best_time(lambda V=V, E=E: count_eigenvalues(V, E, dim=2), 1 if L >= 256 else 2)
        per = t / k
        rows.append(
            Row(
                f"2-D count scaling {L}x{L}: {k} energies",
                t,
                note=f"{1e3 * per:.3g} ms per energy, {1e9 * per / L**2:.0f} ns per site; "
                f"O(n^1.5) predicts x{2**3} per doubling of L",
            )
        )
    return rows


def two_d_curve_rows(rng: np.random.Generator, quick: bool) -> list[Row]:
    """The whole 2-D N(E) curve (1000 energies in the bottom tenth): UniversalLandscapeNet2D
    (untrained weights: the cost does not depend on them; W + one pass) against exact
    counting of the same energies.  Where exact counting of 1000 energies would take
    minutes (L >= 256) it is timed on k of them and scaled by 1000/k: its cost per
    energy does not depend on the energy (the note says so)."""
    import torch

    from lnet.models import UniversalLandscapeNet2D
    from lnet.predict import Predictor

    torch.manual_seed(0)
    m = 1000
    predictor = Predictor(UniversalLandscapeNet2D().eval())
    predictor.predict_counts(rng.random((8, 8)), np.array([0.1, 0.2]))  # warm-up
    rows = []
    for L, k in ((32, 1000), (64, 100)) if quick else ((64, 1000), (128, 200), (256, 20), (512, 4)):
        V = rng.random((L, L))
        E = rng.uniform(0.0, 0.5, m)
        t_net = best_time(lambda V=V, E=E: predictor.predict_counts(V, E), 1 if L >= 256 else 2)
        t_sub = best_time(lambda V=V, E=E[:k]: count_eigenvalues(V, E, dim=2), 1)
        exact = t_sub * m / k
        how = "measured" if k == m else f"timed on {k} energies, x{m // k}"
        rows.append(
            Row(
                f"2-D whole curve {L}x{L}: UniversalLandscapeNet2D, {m} energies",
                t_net,
                exact,
                f"exact count_eigenvalues {exact:.3g} s ({how}); net {m / t_net:,.0f} "
                "predictions/s",
            )
        )
    return rows
