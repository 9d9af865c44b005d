"""Split-conformal prediction intervals for an ensemble's counts N̂_V(E).

An ensemble of K nets (the training seeds of one model) predicts, for a potential V and
an energy E, the member counts N̂_1, ..., N̂_K. Their mean and spread

    μ = max(0, (1/K) Σ_k N̂_k)          s = sqrt((1/K) Σ_k (N̂_k − μ)²)   (ddof 0; s = 0 for K = 1)

give the normalised score of a calibration pair with exact count N,

    r = |N − μ| / σ̃,        σ̃ = s + κ · (μ + 1)^γ · (1 + a)^δ        (κ > 0, so σ̃ > 0),

a = ⟨V⟩ the potential's amplitude (the mean of V over the sites, the ``amplitude``
statistic of :mod:`lnet.domain`), δ >= 0 (δ = 0: the score ignores a),

and the interval at level 1 − α (α = 0.1 for 90 %)

    C(V, E) = [max(0, μ − q·σ̃),  μ + q·σ̃],     q = r_(k),  k = ⌈(n + 1)(1 − α)⌉,

r_(k) the k-th smallest of n calibration scores (:func:`conformal_rank`,
:func:`conformal_quantile`). Clipping the low end at 0 loses nothing: N >= 0, so
N ∈ C  ⟺  |N − μ| <= q·σ̃  ⟺  r <= q. N is an integer: it lies in C exactly when
⌈low⌉ <= N <= ⌊high⌋.

Why this score. Counts grow with the lattice (N ∝ sites at a fixed spectral fraction)
and the nets' errors grow with them (their relative error is about flat in n), while at
the bottom of the spectrum N is 0, 1, 2, ... and an error of about one level remains.
The members' spread s follows the per-input difficulty; κ·(μ + 1)^γ is a floor for what
the members agree on but get wrong alike: γ = 1/2 a Poisson-like floor, γ = 1 a
relative one. The factor (1 + a)^δ widens the floor for strong potentials: at a
given count the nets err more when V is large (deep, sparse wells), and a is known
for any input. A single q then fits small and large lattices, weak and strong
potentials and every law only if σ̃ scales like the errors do, so (κ, γ, δ) are chosen
on data (:func:`select_scale`).

Calibration (:func:`calibrate`), in two disjoint halves of the calibration pairs:

1. on the *selection* half, for each (κ, γ, δ) of a grid (:data:`KAPPAS` ×
   :data:`GAMMAS` × :data:`DELTAS`; δ = 0 only when no amplitudes are given)
   take q on that half and the coverage c_g of each group g (a law × lattice cell) of
   it, and the weighted squared miscoverage D = Σ_g n_g (c_g − (1 − α))² / Σ_g n_g.
   Even a perfectly calibrated score has D ≈ G·α(1 − α)/n from sampling alone (G
   groups, n pairs), so every candidate within that of the smallest D is as good;
   among those keep the one that leans most on the members' spread s (the smallest
   mean share of the floor in σ̃), then the narrowest mean relative width
   q·σ̃ / (μ + 1). The spread is the one part of σ̃ that grows on inputs unlike the
   calibration data, where the members disagree; a floor chosen for a difference in D
   below the noise would throw that away;
2. on the *quantile* half, q = r_(k) with k = ⌈(n + 1)(1 − α)⌉, n its number of pairs;
   and, when the pairs' lattice sizes are given, one such q_L per calibration lattice L
   from that lattice's pairs alone (a Mondrian split by lattice size). An input on a
   lattice of S sites gets the q_L of the calibrated lattice nearest to S in log S
   (the larger q_L on a tie); the pooled q serves when no lattice is known.
   When each pair's *zero-site class* z is given too (z = 1 if V(x) = 0 on some site x,
   else 0), each lattice's pairs are split once more, into one cell per class, and each
   cell with at least :func:`min_scores` pairs gets its own q_{L,z} (a Mondrian split by
   lattice and class) when the lattice has pairs of both classes. An input of class z
   on lattice L takes q_{L,z}, or q_L where that cell was too small or z is not known. The reason: laws with an atom at V = 0
   (Bernoulli, Poisson, clipped laws) leave whole stretches of the lattice free, and
   the nets err differently there than on potentials positive everywhere; one quantile
   for both classes covers one too much and the other too little.

Whole states (``integer_below`` T >= 0; 0: off). An ensemble that returns the count
N̂ = round(μ) where μ < T (:mod:`lnet.ensemble`) reports the interval widened to contain
N̂, so a pair is covered whenever N = N̂ whatever q is. Its score is then

    r' = 0 where μ < T and N = round(μ),   r' = r elsewhere,

and q is the conformal quantile of r' (selection and quantile alike): the prediction
set {N̂} ∪ C(V, E) is exactly {N : r'(N) <= q}, a split-conformal set, and the hull the
ensemble reports contains it. Without this the widening would add coverage above
1 − α at the bottom of the spectrum.

Guarantee (standard split conformal, e.g. Vovk et al. 2005, Lei et al. 2018): κ, γ and δ
depend on the selection half only, so if the pairs of the quantile half and a new pair
(V, E, N) are exchangeable (e.g. i.i.d. draws of the calibration distribution), then
P(N ∈ C(V, E)) >= 1 − α, and <= 1 − α + 1/(n + 1) when the scores have no ties. With
per-lattice quantiles the same holds on each calibration lattice L separately (n its
number of quantile pairs), and with cells on each (lattice, class) cell separately. The
probability is over the calibration draws and the new
pair together: the guarantee is *marginal* over (potential, energy) pairs of the
calibration distribution (on a calibration lattice), not conditional on a law, an
amplitude or an energy, and it says nothing about pairs from other distributions (laws,
sizes, energy ranges never calibrated on). Those are measured, not guaranteed
(lnet.pretrained's model cards).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

LEVEL = 0.9  # 1 − α: the intervals' nominal coverage
KAPPAS: tuple[float, ...] = tuple(float(k) for k in np.geomspace(1e-3, 10.0, 25))
GAMMAS: tuple[float, ...] = (0.5, 0.75, 1.0)
DELTAS: tuple[float, ...] = (0.0, 0.25, 0.5, 0.75, 1.0)
# 2: per-lattice quantiles (lattice_q); 3: the amplitude exponent delta; 4: integer_below;
# 5: per-(lattice, zero-site class) cells (lattice_q entries with zero_sites true/false)
FORMAT_VERSION = 5
SCORE = "r = |N - mu| / sigma, sigma = s + kappa * (mu + 1)^gamma * (1 + a)^delta"
SCORE_DEFINITION = (
    "mu = max(0, mean of the K member counts), s = their standard deviation (ddof 0), "
    "a = the mean of V over the sites, N the exact count; "
    "interval [max(0, mu - q*sigma), mu + q*sigma]"
)


def conformal_rank(n: int, level: float = LEVEL) -> int:
    """k = ⌈(n + 1)·level⌉: the rank (1-based) of the conformal quantile among n scores.

    Raises ValueError when k > n (fewer than level/(1 − level) scores: the interval
    would have to be infinite) or n < 1.
    """
    if not 0.0 < level < 1.0:
        raise ValueError(f"level must be in (0, 1), got {level!r}")
    n = int(n)
    # (n + 1)·level in floating point may land a hair above an integer: round first
    k = math.ceil(round((n + 1) * level, 9))
    if n < 1 or k > n:
        raise ValueError(
            f"a {100 * level:g} % conformal quantile needs at least {min_scores(level)} "
            f"calibration scores, got {n}"
        )
    return k


def min_scores(level: float = LEVEL) -> int:
    """The fewest scores a finite conformal quantile at ``level`` needs: the smallest n
    with ⌈(n + 1)·level⌉ <= n (9 at 90 %)."""
    # ⌈(n + 1)·level⌉ <= n  ⟺  (n + 1)·level <= n  ⟺  n >= level / (1 − level)
    return max(1, math.ceil(level / (1.0 - level) - 1e-9))


def conformal_quantile(scores: np.ndarray, level: float = LEVEL) -> float:
    """The k-th smallest of the n scores (any shape, flattened), k = :func:`conformal_rank`."""
    r = np.sort(np.asarray(scores, dtype=np.float64).ravel())
    if not np.all(np.isfinite(r)):
        raise ValueError("conformal scores must be finite")
    return float(r[conformal_rank(r.size, level) - 1])


def scale(
    mean: np.ndarray,
    std: np.ndarray,
    kappa: float,
    gamma: float,
    amplitude: np.ndarray | float | None = None,
    delta: float = 0.0,
) -> np.ndarray:
    """σ̃ = s + κ·(max(μ, 0) + 1)^γ·(1 + a)^δ, elementwise: ``mean`` μ and ``std`` s of
    one shape, ``amplitude`` a >= 0 broadcastable to it (e.g. ``(B, 1)`` for ``(B, m)``
    energies of B potentials); a may be None only when δ = 0."""
    mu = np.maximum(np.asarray(mean, dtype=np.float64), 0.0)
    floor = kappa * (mu + 1.0) ** gamma
    if delta != 0.0:
        if amplitude is None:
            raise ValueError(
                f"this interval scales with the amplitude (delta = {delta:g}): give it"
            )
        a = np.asarray(amplitude, dtype=np.float64)
        if not np.all(np.isfinite(a) & (a >= 0)):
            raise ValueError("amplitude (the mean of V) must be finite and >= 0")
        floor = floor * (1.0 + a) ** delta
    return np.asarray(std, dtype=np.float64) + floor


def whole_states_below(mean: np.ndarray, below: float) -> np.ndarray:
    """N̂ = round(μ) (half to even) where μ < ``below``, μ elsewhere; any shape."""
    mean = np.asarray(mean, dtype=np.float64)
    if not below > 0:
        return mean
    return np.where(mean < below, np.round(mean), mean)


def check_integer_below(value: Any) -> float:
    """``integer_below`` as a float >= 0 (inf: round every count); ValueError naming it."""
    try:
        below = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"integer_below must be a number >= 0, got {value!r}") from None
    if isinstance(value, bool) or not below >= 0:
        raise ValueError(f"integer_below must be a number >= 0, got {value!r}")
    return below


def scores(
    counts: np.ndarray,
    mean: np.ndarray,
    std: np.ndarray,
    kappa: float,
    gamma: float,
    amplitude: np.ndarray | float | None = None,
    delta: float = 0.0,
    integer_below: float = 0.0,
) -> np.ndarray:
    """r = |N − μ| / σ̃ elementwise: exact ``counts`` N, ensemble ``mean`` μ (clipped at 0)
    and ``std`` s, all of one shape; ``amplitude``, ``delta`` as in :func:`scale`; with
    ``integer_below`` T > 0, r' = 0 where μ < T and N = round(μ) (module docstring)."""
    mu = np.maximum(np.asarray(mean, dtype=np.float64), 0.0)
    sigma = scale(mu, std, kappa, gamma, amplitude, delta)
    return _normalised(np.asarray(counts, dtype=np.float64), mu, sigma, integer_below)


def _normalised(
    N: np.ndarray, mu: np.ndarray, sigma: np.ndarray, integer_below: float
) -> np.ndarray:
    """|N − μ| / σ̃, 0 where μ < T and N = round(μ) (μ already clipped at 0)."""
    r = np.abs(N - mu) / sigma
    if integer_below > 0:
        r = np.where((mu < integer_below) & (N == np.round(mu)), 0.0, r)
    return r


@dataclass(frozen=True)
class LatticeQuantile:
    """The conformal quantile ``q`` of the ``n`` quantile-half scores of one calibration
    lattice of ``sites`` sites: of all of them (``zero_sites`` None), or of the
    potentials with a zero site (True) or without one (False) alone."""

    sites: int
    q: float
    n: int
    zero_sites: bool | None = None

    @property
    def cell(self) -> str:
        """``1000 sites`` or ``1000 sites, some V = 0`` / ``1000 sites, V > 0``."""
        if self.zero_sites is None:
            return f"{self.sites} sites"
        return f"{self.sites} sites, {'some V = 0' if self.zero_sites else 'V > 0'}"


@dataclass(frozen=True)
class IntervalCalibration:
    """A calibrated interval (module docstring): ``level`` 1 − α, ``kappa`` κ, ``gamma``
    γ, ``q`` the conformal quantile of all ``n_cal`` calibration scores,
    ``lattice_q`` one :class:`LatticeQuantile` per calibration lattice (empty: q
    everywhere), and one per (lattice, zero-site class) cell when calibrated so,
    ``delta`` δ, the exponent of the amplitude factor (0: none), and
    ``integer_below`` T, the whole-states rule the scores were computed with (0: none;
    the interval must then contain N̂ = round(μ) below T, module docstring)."""

    level: float
    kappa: float
    gamma: float
    q: float
    n_cal: int
    lattice_q: tuple[LatticeQuantile, ...] = ()
    delta: float = 0.0
    integer_below: float = 0.0

    def __post_init__(self) -> None:
        for name, value in [
            ("kappa", self.kappa),
            ("q", self.q),
            ("delta", self.delta),
            ("integer_below", self.integer_below),
        ] + [(f"lattice_q[{lq.cell}]", lq.q) for lq in self.lattice_q]:
            if not (math.isfinite(value) and value >= 0):
                raise ValueError(f"{name} must be finite and >= 0, got {value!r}")
        if not self.kappa > 0:
            raise ValueError(f"kappa must be > 0 (sigma > 0), got {self.kappa!r}")
        if not 0.0 < self.level < 1.0:
            raise ValueError(f"level must be in (0, 1), got {self.level!r}")
        cells = [(lq.sites, lq.zero_sites) for lq in self.lattice_q]
        if any(n < 1 for n, _ in cells) or len(set(cells)) != len(cells):
            raise ValueError(
                f"lattice_q needs distinct (lattice size >= 1, zero_sites) cells, got {cells}"
            )
        pooled = {n for n, z in cells if z is None}
        if any(n not in pooled for n, _ in cells):
            raise ValueError("every lattice in lattice_q needs its pooled entry (zero_sites None)")

    def scale(
        self, mean: np.ndarray, std: np.ndarray, amplitude: np.ndarray | float | None = None
    ) -> np.ndarray:
        """σ̃ = s + κ·(μ + 1)^γ·(1 + a)^δ (:func:`scale`)."""
        return scale(mean, std, self.kappa, self.gamma, amplitude, self.delta)

    def q_at(self, sites: int | None, zero_sites: bool | None = None) -> float:
        """The quantile for an input of ``sites`` sites and zero-site class ``zero_sites``:
        on the calibration lattice nearest in log(sites) (the larger q on a tie), that
        lattice's cell of the class if calibrated, else the lattice's q_L; ``q`` without
        per-lattice quantiles or without ``sites``."""
        if not self.lattice_q or sites is None:
            return self.q
        pooled = [lq for lq in self.lattice_q if lq.zero_sites is None]
        gap = [abs(math.log(sites / lq.sites)) for lq in pooled]
        nearest = min(gap)
        chosen = []
        for lq, g in zip(pooled, gap, strict=True):
            if g > nearest + 1e-12:
                continue
            match = [
                c.q
                for c in self.lattice_q
                if zero_sites is not None and (c.sites, c.zero_sites) == (lq.sites, zero_sites)
            ]
            chosen.append(match[0] if match else lq.q)
        return max(chosen)

    @property
    def has_cells(self) -> bool:
        """Whether some lattice has quantiles per zero-site class."""
        return any(lq.zero_sites is not None for lq in self.lattice_q)

    def interval(
        self,
        mean: np.ndarray,
        std: np.ndarray,
        sites: int | None = None,
        amplitude: np.ndarray | float | None = None,
        zero_sites: np.ndarray | bool | None = None,
    ) -> tuple[np.ndarray, np.ndarray]:
        """(low, high) = (max(0, μ − q·σ̃), μ + q·σ̃), each of the shape of ``mean``, with
        q = :meth:`q_at` (``sites``: the inputs' number of lattice sites; ``zero_sites``:
        each input's zero-site class, bool broadcastable to ``mean``, e.g. ``(B, 1)``;
        None: the lattice's pooled q).

        ``mean`` μ >= 0 (the ensemble's clipped mean) and ``std`` s of one shape;
        ``amplitude`` a (the mean of each input potential, broadcastable to ``mean``)
        is needed when δ > 0. Then 0 <= low <= μ <= high.
        """
        mu = np.maximum(np.asarray(mean, dtype=np.float64), 0.0)
        if zero_sites is None or not self.has_cells:
            q: np.ndarray | float = self.q_at(sites)
        else:
            z = np.asarray(zero_sites, dtype=bool)
            q = np.where(z, self.q_at(sites, True), self.q_at(sites, False))
        half = q * self.scale(mu, std, amplitude)
        return np.maximum(mu - half, 0.0), mu + half

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON: the numbers, the score's definition and the conformal rank."""
        return {
            "version": FORMAT_VERSION,
            "method": "split conformal, normalised score",
            "score": SCORE,
            "definition": SCORE_DEFINITION,
            "level": self.level,
            "kappa": self.kappa,
            "gamma": self.gamma,
            "delta": self.delta,
            "integer_below": self.integer_below,
            "q": self.q,
            "n_cal": self.n_cal,
            "rank": conformal_rank(self.n_cal, self.level),
            "lattice_q": [
                {
                    "sites": lq.sites,
                    "zero_sites": lq.zero_sites,
                    "q": lq.q,
                    "n": lq.n,
                    "rank": conformal_rank(lq.n, self.level),
                }
                for lq in self.lattice_q
            ],
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> IntervalCalibration:
        """The inverse of :meth:`to_dict` (other keys are ignored)."""
        version = int(d.get("version", FORMAT_VERSION))
        if version > FORMAT_VERSION:
            raise ValueError(
                f"calibration format version {version} is newer than this lnet's "
                f"({FORMAT_VERSION}); upgrade lnet"
            )
        return cls(
            level=float(d["level"]),
            kappa=float(d["kappa"]),
            gamma=float(d["gamma"]),
            q=float(d["q"]),
            n_cal=int(d["n_cal"]),
            lattice_q=tuple(
                LatticeQuantile(int(e["sites"]), float(e["q"]), int(e["n"]), _cell(e))
                for e in d.get("lattice_q", [])
            ),
            delta=float(d.get("delta", 0.0)),  # versions 1 and 2: no amplitude factor
            integer_below=float(d.get("integer_below", 0.0)),  # versions 1-3: none
        )


def _cell(entry: dict[str, Any]) -> bool | None:
    """A lattice_q entry's zero-site class (versions 2-4: none, the pooled q_L)."""
    z = entry.get("zero_sites")
    if z is None or isinstance(z, bool):
        return z
    raise ValueError(f"lattice_q zero_sites must be true, false or null, got {z!r}")


@dataclass(frozen=True)
class ScaleChoice:
    """The (κ, γ, δ) :func:`select_scale` kept, its objective (weighted squared
    miscoverage), mean relative width and ``floor_share`` (the mean share of the floor
    κ(μ + 1)^γ(1 + a)^δ in σ̃) on the selection half, and the coverage per group there
    (``group_coverage``: label -> (coverage, pairs))."""

    kappa: float
    gamma: float
    objective: float
    width: float
    group_coverage: dict[str, tuple[float, int]]
    delta: float = 0.0
    floor_share: float = 1.0


def select_scale(
    counts: np.ndarray,
    mean: np.ndarray,
    std: np.ndarray,
    groups: Sequence[str] | np.ndarray,
    level: float = LEVEL,
    kappas: Sequence[float] = KAPPAS,
    gammas: Sequence[float] = GAMMAS,
    amplitude: np.ndarray | None = None,
    deltas: Sequence[float] = DELTAS,
    integer_below: float = 0.0,
) -> ScaleChoice:
    """Step 1 of :func:`calibrate` on the selection pairs: every argument ``(n,)``
    (``groups``: one label per pair, e.g. ``"uniform/1000"``; ``amplitude``: each
    pair's potential amplitude, None to keep δ = 0; ``integer_below``: the scores r')."""
    N, mu, s = (np.asarray(a, dtype=np.float64).ravel() for a in (counts, mean, std))
    labels = np.asarray(groups).ravel()
    if not (N.shape == mu.shape == s.shape == labels.shape):
        raise ValueError("counts, mean, std and groups must have one entry per pair")
    a = None if amplitude is None else np.asarray(amplitude, dtype=np.float64).ravel()
    if a is not None and a.shape != N.shape:
        raise ValueError("amplitude must have one entry per pair")
    grid = [
        (g, k, d) for d in (deltas if a is not None else (0.0,)) for g in gammas for k in kappas
    ]
    names, index = np.unique(labels, return_inverse=True)
    sizes = np.bincount(index, minlength=len(names)).astype(np.float64)
    if not grid:
        raise ValueError("select_scale needs at least one kappa, gamma and delta")
    candidates: list[ScaleChoice] = []
    for gamma, kappa, delta in grid:
        sigma = scale(mu, s, kappa, gamma, a, delta)
        r = _normalised(N, np.maximum(mu, 0.0), sigma, integer_below)
        q = conformal_quantile(r, level)
        covered = (r <= q).astype(np.float64)
        cov = np.bincount(index, weights=covered, minlength=len(names)) / sizes
        candidates.append(
            ScaleChoice(
                kappa=float(kappa),
                gamma=float(gamma),
                objective=float(np.sum(sizes * (cov - level) ** 2) / np.sum(sizes)),
                width=float(np.mean(q * sigma / (np.maximum(mu, 0.0) + 1.0))),
                group_coverage={
                    str(g): (float(c), int(k)) for g, c, k in zip(names, cov, sizes, strict=True)
                },
                delta=float(delta),
                floor_share=float(np.mean(1.0 - s / sigma)),
            )
        )
    # a perfectly calibrated score still scores about G·level·(1 − level)/n from sampling
    # alone: differences below that are noise, not evidence
    noise = len(names) * level * (1.0 - level) / float(np.sum(sizes))
    best = min(c.objective for c in candidates)
    ties = [c for c in candidates if c.objective <= best + noise]
    return min(ties, key=lambda c: (c.floor_share, c.width))


@dataclass(frozen=True)
class Calibrated:
    """What :func:`calibrate` returns: the calibration and the (κ, γ, δ) selection."""

    calibration: IntervalCalibration
    choice: ScaleChoice
    n_select: int


def calibrate(
    counts: np.ndarray,
    mean: np.ndarray,
    std: np.ndarray,
    groups: Sequence[str] | np.ndarray,
    select: np.ndarray,
    level: float = LEVEL,
    kappas: Sequence[float] = KAPPAS,
    gammas: Sequence[float] = GAMMAS,
    sites: np.ndarray | None = None,
    amplitude: np.ndarray | None = None,
    deltas: Sequence[float] = DELTAS,
    integer_below: float = 0.0,
    zero_sites: np.ndarray | None = None,
) -> Calibrated:
    """Split-conformal calibration (module docstring).

    ``counts`` N, ``mean`` μ, ``std`` s, ``groups`` (a label per pair) and ``select``
    (bool: True for the selection half, False for the quantile half), each ``(n,)``
    (or any one shape, flattened); ``sites``: each pair's number of lattice sites, for
    one quantile per lattice (None: the pooled q only); ``amplitude``: each pair's
    potential amplitude (the mean of V), for the factor (1 + a)^δ (None: δ = 0);
    ``integer_below``: the whole-states rule of the ensemble (scores r', module
    docstring; 0: none); ``zero_sites``: each pair's zero-site class (bool, its
    potential has a site with V = 0), for one quantile per (lattice, class) cell on top
    of the lattice's (needs ``sites``; None: per lattice only). (κ, γ, δ) come from the
    selection pairs only (:func:`select_scale`), the quantiles from the others only.
    """
    integer_below = check_integer_below(integer_below)
    if not math.isfinite(integer_below):
        raise ValueError("integer_below must be finite to be stored with a calibration")
    sel = np.asarray(select, dtype=bool).ravel()
    N, mu, s = (np.asarray(a, dtype=np.float64).ravel() for a in (counts, mean, std))
    labels = np.asarray(groups).ravel()
    if not (N.shape == mu.shape == s.shape == labels.shape == sel.shape):
        raise ValueError("counts, mean, std, groups and select must have one entry per pair")
    if sel.all() or not sel.any():
        raise ValueError("calibrate needs pairs in both halves (select True and False)")
    a = None if amplitude is None else np.asarray(amplitude, dtype=np.float64).ravel()
    if a is not None and a.shape != N.shape:
        raise ValueError("amplitude must have one entry per pair")
    choice = select_scale(
        N[sel],
        mu[sel],
        s[sel],
        labels[sel],
        level,
        kappas,
        gammas,
        None if a is None else a[sel],
        deltas,
        integer_below,
    )
    rest = ~sel
    r = scores(
        N[rest],
        mu[rest],
        s[rest],
        choice.kappa,
        choice.gamma,
        None if a is None else a[rest],
        choice.delta,
        integer_below,
    )
    lattice_q: list[LatticeQuantile] = []
    if sites is not None:
        size = np.asarray(sites).ravel()
        if size.shape != N.shape:
            raise ValueError("sites must have one entry per pair")
        z = None
        if zero_sites is not None:
            z = np.asarray(zero_sites, dtype=bool).ravel()
            if z.shape != N.shape:
                raise ValueError("zero_sites must have one entry per pair")
            z = z[rest]
        for n_sites in np.unique(size[rest]):
            at = size[rest] == n_sites
            lattice_q.append(
                LatticeQuantile(int(n_sites), conformal_quantile(r[at], level), int(at.sum()))
            )
            for cls in () if z is None else (False, True):
                mine = r[at & (z == cls)]
                # a cell under min_scores takes the lattice's q; so does a class alone on
                # its lattice (its cell would be the lattice)
                if min_scores(level) <= mine.size < at.sum():
                    lattice_q.append(
                        LatticeQuantile(
                            int(n_sites), conformal_quantile(mine, level), int(mine.size), cls
                        )
                    )
    elif zero_sites is not None:
        raise ValueError("zero-site cells split the lattices: give sites too")
    calibration = IntervalCalibration(
        level=level,
        kappa=choice.kappa,
        gamma=choice.gamma,
        q=conformal_quantile(r, level),
        n_cal=int(rest.sum()),
        lattice_q=tuple(lattice_q),
        delta=choice.delta,
        integer_below=integer_below,
    )
    return Calibrated(calibration, choice, int(sel.sum()))
