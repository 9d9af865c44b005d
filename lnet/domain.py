"""The input domain of a trained model: the range of the inputs it was trained on.

A model learns N_V(E) from potentials of one law (or a mixture of laws) on a few
lattices; anything else is extrapolation. :class:`InputDomain` summarises the training
inputs by per-potential statistics of V and of the landscape W = 1/u (Hu = 1), each
reduced to its minimum and maximum over the training potentials, and
:meth:`InputDomain.check` says which statistics of a new input fall outside.
:class:`lnet.predict.Predictor` warns about them (:class:`lnet.errors.OutOfRangeWarning`).

The statistics of one potential V on a lattice of N sites x (N = n in 1-D, L1·L2 in 2-D,
L1·L2·L3 in 3-D), with W its landscape (same shape):

- ``amplitude``: the mean of V, ⟨V⟩ = (1/N) Σ_x V(x). Potentials are >= 0, so this is
  their scale: amplitude/2 for the uniform law, p·amplitude for Bernoulli(p), and V -> cV
  multiplies it by c. It is also the first-order shift of the spectrum (tr H / N = 2d + ⟨V⟩).
- ``log_w_spread``: the standard deviation of log W over the sites,
  sqrt((1/N) Σ_x (log W(x) - ⟨log W⟩)²), how rugged the landscape is (0 for a constant
  V; it grows with the disorder and sets how localized the low states are).
- ``zero_fraction``: the fraction of sites where V is exactly zero, #{x : V(x) = 0} / N
  (0 for continuous laws, 1 - p for Bernoulli(p)).
- ``sites``: N, the number of sites.
- ``L1``, ``L2`` (, ``L3``): the sides of a 2-D (3-D) lattice, one statistic per axis.

Accepted ranges. The first three are continuous and sampled: a fresh potential of the
training law can fall outside the extremes of a finite training set, so each observed
range [lo, hi] (width w = hi - lo) is widened to

    [lo - m·w - t·lo - ε,  hi + m·w + t·hi + ε]   (the lower end clipped at 0)

with m = ``margin``·min(1, :data:`MARGIN_POTENTIALS` / P) for P training potentials
(:data:`DEFAULT_MARGIN` = 0.5: half the observed width on each side, for the sampling
noise of the extremes; a fresh draw lands beyond the extreme of P draws with
probability 1/(P + 1), so the margin shrinks once P exceeds 20 and a large training set
is held to the range it really covered), t = ``tolerance``
(:data:`DEFAULT_TOLERANCE` = 0.1: 10 % of the bound, so that a few per cent more
amplitude is not an alarm on large lattices, where w is tiny) and ε = :data:`ROUND_OFF`
(a constant potential has a log W spread of 1e-16, not 0). Both are stored with the
domain. Measured (2026-12-05) on 2000 fresh potentials of the training law (uniform,
Bernoulli(1/2), exponential) per case: at most 2.4 % of them flagged per statistic for
11 training potentials of 64 sites (the log W spread, the most skewed), at most 0.2 %
for 100 to 2000 potentials of 64 sites, and none for 11 to 2000 potentials of 1000
sites. The
lattice statistics are exact: no margin. A size-free model (``size_free``: a net whose
layers do not fix the lattice, such as UniversalLandscapeNet, a sum of local terms built
to be applied to larger lattices than it was trained on) accepts any lattice at least
as large as its smallest training lattice: [min, ∞) for ``sites`` and each side.

The energies. A counting model also learns N_V(E) only up to the energies it was
trained on (the universal nets: the bottom 10 % of each spectrum in 1-D and 2-D, 5 % in
3-D); far above them its count saturates (the shipped 1-D model answers about 400 of
the 1000 states of a chain at E = 10, where all 1000 lie below E). The domain records
``count_fraction``, the range of N_V(E)/N over the training (potential, energy) pairs,
and :meth:`InputDomain.check_counts` compares the *predicted* fraction N̂/N of each
pair with it: the universal nets' counts never decrease with E, so a pair whose
predicted fraction passes the training maximum lies above the training energies. Its
accepted range is [0, hi·(1 + :data:`COUNT_TOLERANCE`)], 1.5 × the training maximum.
Measured (2026-12-07) on fresh potentials with the shipped 1-D model
(training maximum 0.0998): at the top training energy E = λ_⌈0.1·n⌉ (100 potentials
each of nine laws and amplitudes, n = 10³ and 10⁴) its N̂/n reaches at most 0.106, so
none of those in-range energies is flagged; above them the count falls short more and more:
N̂/n = 0.149 where the exact fraction is 0.161 (7 % short; uniform amplitude 0.5,
E = 0.5), 0.201 for 0.230 (13 %; amplitude 1, E = 1), 0.270 for 0.419 (36 %; E = 2),
about 0.4 for 1 (E = 10). The 2-D model reaches 0.110 at its top energy and answers
more than N states at E = 10; the 3-D model (trained to 0.05) 0.053.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

DEFAULT_MARGIN = 0.5
MARGIN_POTENTIALS = 20  # the full margin up to this many training potentials, then ∝ 1/P
DEFAULT_TOLERANCE = 0.1
COUNT_TOLERANCE = 0.5  # accepted predicted count fraction: up to 1.5 × the training maximum
COUNT_FRACTION = "count_fraction"
ROUND_OFF = 1e-9
FORMAT_VERSION = 1
CONTINUOUS = ("amplitude", "log_w_spread", "zero_fraction")
SIDES = ("L1", "L2", "L3")
LABELS = {
    "amplitude": "amplitude (mean of V over the sites)",
    "log_w_spread": "log W spread (std of log W over the sites)",
    "zero_fraction": "zero-site fraction (fraction of sites with V = 0)",
    "sites": "number of lattice sites",
    "L1": "lattice side L1",
    "L2": "lattice side L2",
    "L3": "lattice side L3",
    COUNT_FRACTION: "count fraction (predicted N(E) / sites: how far up the spectrum E lies)",
}
DEFINITIONS = {
    "amplitude": "mean of V over the N sites: (1/N) sum_x V(x)",
    "log_w_spread": "standard deviation of log W over the N sites (ddof 0), W = 1/u, Hu = 1",
    "zero_fraction": "fraction of the N sites with V(x) == 0",
    "sites": "N, the number of lattice sites (n in 1-D, L1*L2 in 2-D, L1*L2*L3 in 3-D)",
    "L1": "first side of a 2-D or 3-D lattice",
    "L2": "second side of a 2-D or 3-D lattice",
    "L3": "third side of a 3-D lattice",
    COUNT_FRACTION: (
        "N_V(E) / N over the training (potential, energy) pairs; an input's is its predicted "
        "count / N"
    ),
}


def _lattice_batch(a: Any, dim: int, name: str) -> np.ndarray:
    """``a`` as a float64 batch ``(P, *lattice)``: one field ``(*lattice)`` gets P = 1."""
    x = np.asarray(a, dtype=np.float64)
    if x.ndim == dim:
        return x[None]
    if x.ndim != dim + 1:
        raise ValueError(
            f"{name} must have shape (*lattice) or (P, *lattice) with a {dim}-D lattice, "
            f"got shape {x.shape}"
        )
    return x


def potential_amplitude(V: Any, dim: int = 1) -> np.ndarray:
    """The ``amplitude`` statistic ⟨V⟩ = (1/N) Σ_x V(x) of each potential: V ``(n,)`` or
    ``(P, n)`` (dim 1; ``(L1, L2)`` / ``(P, L1, L2)`` for dim 2, and so on) -> ``(P,)``."""
    Va = _lattice_batch(V, dim, "V")
    return Va.mean(axis=tuple(range(1, dim + 1)))


def has_zero_site(V: Any, dim: int = 1) -> np.ndarray:
    """The zero-site class of each potential: True where V(x) == 0 exactly on at least one
    site (``zero_fraction`` > 0). V as in :func:`potential_amplitude` -> ``(P,)`` bool."""
    Va = _lattice_batch(V, dim, "V")
    return np.any(Va.reshape(Va.shape[0], -1) == 0, axis=1)


def statistics(V: Any, W: Any, dim: int = 1) -> dict[str, np.ndarray]:
    """The per-potential statistics (module docstring), each an array ``(P,)``.

    V, W: ``(n,)`` or ``(P, n)`` for dim = 1, ``(L1, L2)`` or ``(P, L1, L2)`` for dim = 2,
    ``(L1, L2, L3)`` or ``(P, L1, L2, L3)`` for dim = 3; W = 1/u of V (same shape, > 0).
    Keys: ``amplitude``, ``log_w_spread``, ``zero_fraction``, ``sites``, and ``L1`` ...
    ``L<dim>`` for dim >= 2.
    """
    if dim not in (1, 2, 3):
        raise ValueError(f"dim must be 1, 2 or 3, got {dim!r}")
    Va, Wa = _lattice_batch(V, dim, "V"), _lattice_batch(W, dim, "W")
    if Va.shape != Wa.shape:
        raise ValueError(f"V and W must have the same shape, got {Va.shape} and {Wa.shape}")
    axes = tuple(range(1, dim + 1))
    P, lattice = Va.shape[0], Va.shape[1:]
    out = {
        "amplitude": potential_amplitude(Va, dim),
        "log_w_spread": np.log(Wa).std(axis=axes),
        "zero_fraction": (Va == 0).mean(axis=axes),
        "sites": np.full(P, float(math.prod(lattice))),
    }
    if dim >= 2:
        out.update({SIDES[i]: np.full(P, float(L)) for i, L in enumerate(lattice)})
    return out


def _format(statistic: str, x: float) -> str:
    if math.isinf(x):
        return "∞"
    return str(int(x)) if statistic in ("sites", *SIDES) else f"{x:.4g}"


@dataclass(frozen=True)
class Range:
    """A closed interval [low, high] of one statistic (high = +∞: no upper bound)."""

    low: float
    high: float

    def __post_init__(self) -> None:
        finite_high = math.isfinite(self.high) or self.high == math.inf
        if not (math.isfinite(self.low) and finite_high and self.low <= self.high):
            raise ValueError(
                f"a range needs finite low <= high (high may be +inf), got [{self.low}, {self.high}]"
            )

    @classmethod
    def of(cls, values: np.ndarray) -> Range:
        """The range of a non-empty array of values."""
        return cls(float(np.min(values)), float(np.max(values)))

    def union(self, other: Range) -> Range:
        return Range(min(self.low, other.low), max(self.high, other.high))

    def widened(self, margin: float, tolerance: float) -> Range:
        """[low - m·w - t·low - ε, high + m·w + t·high + ε] with w = high - low, m =
        ``margin``, t = ``tolerance``; low clipped at 0 (module docstring)."""
        w = self.high - self.low
        low = max(0.0, self.low - margin * w - tolerance * abs(self.low) - ROUND_OFF)
        return Range(low, self.high + margin * w + tolerance * abs(self.high) + ROUND_OFF)

    def contains(self, values: np.ndarray) -> np.ndarray:
        """Whether each value lies in [low, high] (a boolean array of the same shape)."""
        return (values >= self.low) & (values <= self.high)


@dataclass(frozen=True)
class Violation:
    """One statistic of an input outside the domain.

    ``values``: the range of the input's values over its ``total`` potentials, ``outside``
    of which are outside ``accepted`` (the training range ``observed``, widened by the
    domain's margin and tolerance for the continuous statistics).
    """

    statistic: str
    values: Range
    outside: int
    total: int
    observed: Range
    accepted: Range

    @property
    def message(self) -> str:
        s = self.statistic

        def span(r: Range) -> str:
            close = ")" if math.isinf(r.high) else "]"
            return f"[{_format(s, r.low)}, {_format(s, r.high)}{close}"

        unit = "(potential, energy) pairs" if s == COUNT_FRACTION else "potentials"
        if self.total == 1:
            got = f"{LABELS.get(s, s)} of the input is {_format(s, self.values.low)}"
        else:
            got = (
                f"{LABELS.get(s, s)} of the input's {self.total} {unit} spans "
                f"{span(self.values)}, {self.outside} of them out of range"
            )
        text = f"{got}; the training data's range is {span(self.observed)}"
        if self.accepted != self.observed:
            text += f" (accepted: {span(self.accepted)})"
        text += ": the prediction there is an extrapolation"
        if s == COUNT_FRACTION:
            text += (
                " (E lies above the energies the model was trained on, where its count "
                "falls short; count those exactly with lnet.physics.count_eigenvalues)"
            )
        return text


@dataclass(frozen=True)
class InputDomain:
    """The ranges of the input statistics of a model's training data (module docstring).

    ``dim``: the lattice dimension; ``potentials``: how many potentials the ranges
    summarise; ``amplitude``, ``log_w_spread``, ``zero_fraction``, ``sites``: observed
    [min, max] over them; ``sides``: one range per lattice axis (L1, L2[, L3]) for
    dim >= 2, empty in 1-D (where ``sites`` is n); ``count_fraction``: observed [min,
    max] of N_V(E)/N over the training (potential, energy) pairs of a counting model
    (None: not recorded, no energy check); ``margin`` (fraction of the width)
    and ``tolerance`` (fraction of the bound): how much :meth:`check` widens the
    continuous ranges; ``size_free``: the lattice statistics are lower bounds only
    (module docstring).
    """

    dim: int
    potentials: int
    amplitude: Range
    log_w_spread: Range
    zero_fraction: Range
    sites: Range
    sides: tuple[Range, ...] = field(default=())
    margin: float = DEFAULT_MARGIN
    tolerance: float = DEFAULT_TOLERANCE
    size_free: bool = False
    count_fraction: Range | None = None

    def __post_init__(self) -> None:
        if self.dim not in (1, 2, 3):
            raise ValueError(f"dim must be 1, 2 or 3, got {self.dim!r}")
        if len(self.sides) != (self.dim if self.dim >= 2 else 0):
            raise ValueError(
                f"a {self.dim}-D domain has {self.dim if self.dim >= 2 else 0} side ranges, "
                f"got {len(self.sides)}"
            )
        for name in ("margin", "tolerance"):
            value = getattr(self, name)
            if not (math.isfinite(value) and value >= 0):
                raise ValueError(f"{name} must be finite and >= 0, got {value!r}")

    @classmethod
    def from_potentials(
        cls,
        V: Any,
        W: Any,
        dim: int = 1,
        margin: float = DEFAULT_MARGIN,
        tolerance: float = DEFAULT_TOLERANCE,
        counts: Any = None,
    ) -> InputDomain:
        """The domain of potentials V with their landscapes W = 1/u: V, W ``(P, *lattice)``
        (or one potential ``(*lattice)``) on a ``dim``-D lattice, as :func:`statistics`;
        ``counts``: the exact training counts N_V(E) ``(P, m)`` of a counting data set
        (their range over N sites is ``count_fraction``), None for none."""
        stats = statistics(V, W, dim)
        P = len(stats["sites"])
        if P == 0:
            raise ValueError("an input domain needs at least one potential")
        fraction = None
        if counts is not None:
            N = np.asarray(counts, dtype=np.float64)
            if N.size == 0 or len(N) != P:
                raise ValueError(
                    f"counts must hold the counts of the {P} potentials, got shape {N.shape}"
                )
            fraction = Range.of(N / stats["sites"][0])
        return cls(
            dim=dim,
            potentials=P,
            amplitude=Range.of(stats["amplitude"]),
            log_w_spread=Range.of(stats["log_w_spread"]),
            zero_fraction=Range.of(stats["zero_fraction"]),
            sites=Range.of(stats["sites"]),
            sides=tuple(Range.of(stats[s]) for s in SIDES[:dim]) if dim >= 2 else (),
            margin=margin,
            tolerance=tolerance,
            count_fraction=fraction,
        )

    def union(self, other: InputDomain) -> InputDomain:
        """The domain of both training sets (e.g. data.extra_train at other lattice sizes);
        this one's margin and tolerance; a count fraction only where both record one."""
        if other.dim != self.dim:
            raise ValueError(f"cannot join a {self.dim}-D and a {other.dim}-D input domain")
        return InputDomain(
            dim=self.dim,
            potentials=self.potentials + other.potentials,
            amplitude=self.amplitude.union(other.amplitude),
            log_w_spread=self.log_w_spread.union(other.log_w_spread),
            zero_fraction=self.zero_fraction.union(other.zero_fraction),
            sites=self.sites.union(other.sites),
            sides=tuple(a.union(b) for a, b in zip(self.sides, other.sides, strict=True)),
            margin=self.margin,
            tolerance=self.tolerance,
            size_free=self.size_free,
            count_fraction=(
                self.count_fraction.union(other.count_fraction)
                if self.count_fraction is not None and other.count_fraction is not None
                else None
            ),
        )

    @property
    def names(self) -> tuple[str, ...]:
        """The statistics this domain constrains, in order."""
        return (*CONTINUOUS, "sites", *SIDES[: len(self.sides)])

    def ranges(self) -> dict[str, Range]:
        """Statistic -> the observed training range (``count_fraction`` last, if recorded)."""
        out = {
            "amplitude": self.amplitude,
            "log_w_spread": self.log_w_spread,
            "zero_fraction": self.zero_fraction,
            "sites": self.sites,
        }
        out.update(zip(SIDES, self.sides, strict=False))
        if self.count_fraction is not None:
            out[COUNT_FRACTION] = self.count_fraction
        return out

    @property
    def effective_margin(self) -> float:
        """``margin``·min(1, MARGIN_POTENTIALS / potentials) (module docstring)."""
        return self.margin * min(1.0, MARGIN_POTENTIALS / max(self.potentials, 1))

    def accepted(self) -> dict[str, Range]:
        """Statistic -> the range :meth:`check` accepts: the continuous ones widened by
        the margin and tolerance (module docstring), the lattice ones as observed, or
        [smallest, ∞) for a size-free model, the count fraction [0, max·(1 +
        COUNT_TOLERANCE)]."""
        out = {}
        for name, r in self.ranges().items():
            if name == COUNT_FRACTION:
                out[name] = Range(0.0, r.high * (1 + COUNT_TOLERANCE) + ROUND_OFF)
            elif name in CONTINUOUS:
                out[name] = r.widened(self.effective_margin, self.tolerance)
            else:
                out[name] = Range(r.low, math.inf) if self.size_free else r
        return out

    def check(self, V: Any, W: Any) -> list[Violation]:
        """The statistics of V (with its landscape W, shapes as :func:`statistics`) that
        fall outside the accepted ranges, one :class:`Violation` each; [] when in range."""
        stats = statistics(V, W, self.dim)
        observed, accepted = self.ranges(), self.accepted()
        out = []
        for name in self.names:
            values = stats[name]
            inside = accepted[name].contains(values)
            if not inside.all():
                out.append(
                    Violation(
                        statistic=name,
                        values=Range.of(values),
                        outside=int((~inside).sum()),
                        total=len(values),
                        observed=observed[name],
                        accepted=accepted[name],
                    )
                )
        return out

    def inside(self, V: Any, W: Any) -> np.ndarray:
        """Whether each potential of V (with its landscape W, shapes as
        :func:`statistics`) has every statistic in the accepted range: ``(P,)`` booleans."""
        stats = statistics(V, W, self.dim)
        accepted = self.accepted()
        out = np.ones(len(stats["sites"]), dtype=bool)
        for name in self.names:
            out &= accepted[name].contains(stats[name])
        return out

    def above_training_energies(self, counts: Any, sites: int) -> np.ndarray:
        """Whether each predicted count (any shape) on a lattice of ``sites`` sites has a
        count fraction counts/sites past the accepted range (module docstring, "The
        energies"): a boolean array of the same shape, all False when no fraction is
        recorded (and for a NaN count, which has no place in the spectrum)."""
        fraction = np.asarray(counts, dtype=np.float64) / sites
        if self.count_fraction is None:
            return np.zeros(fraction.shape, dtype=bool)
        return fraction > self.accepted()[COUNT_FRACTION].high

    def check_counts(self, counts: Any, sites: int) -> Violation | None:
        """The pairs :meth:`above_training_energies`: counts ``(B, m)`` (any shape) of
        (potential, energy) pairs on a lattice of ``sites`` sites -> one
        :class:`Violation` over all pairs, or None (also when no fraction is recorded)."""
        above = self.above_training_energies(counts, sites).ravel()
        if self.count_fraction is None or not above.any():
            return None
        fraction = np.asarray(counts, dtype=np.float64).ravel() / sites
        judged = ~np.isnan(fraction)
        return Violation(
            statistic=COUNT_FRACTION,
            values=Range.of(fraction[judged]),
            outside=int(above.sum()),
            total=int(judged.sum()),
            observed=self.count_fraction,
            accepted=self.accepted()[COUNT_FRACTION],
        )

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON (and ``torch.load(weights_only=True)``) data: ``{"version", "dim",
        "potentials", "margin", "tolerance", "ranges": {statistic: {"min", "max"}},
        "definitions"}`` (the observed ranges; :meth:`accepted` derives the rest)."""
        ranges = {}
        for name, r in self.ranges().items():
            conv = int if name in ("sites", *SIDES) else float
            ranges[name] = {"min": conv(r.low), "max": conv(r.high)}
        return {
            "version": FORMAT_VERSION,
            "dim": self.dim,
            "potentials": self.potentials,
            "margin": self.margin,
            "tolerance": self.tolerance,
            "size_free": self.size_free,
            "ranges": ranges,
            "definitions": {name: DEFINITIONS[name] for name in ranges},
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> InputDomain:
        """The inverse of :meth:`to_dict` (``definitions`` and unknown keys are ignored)."""
        version = d.get("version", FORMAT_VERSION)
        if version > FORMAT_VERSION:
            raise ValueError(
                f"input domain format version {version} is newer than this lnet's "
                f"({FORMAT_VERSION}); upgrade lnet"
            )
        dim = int(d["dim"])
        ranges = {k: Range(float(v["min"]), float(v["max"])) for k, v in d["ranges"].items()}
        return cls(
            dim=dim,
            potentials=int(d["potentials"]),
            amplitude=ranges["amplitude"],
            log_w_spread=ranges["log_w_spread"],
            zero_fraction=ranges["zero_fraction"],
            sites=ranges["sites"],
            sides=tuple(ranges[s] for s in SIDES[:dim]) if dim >= 2 else (),
            margin=float(d.get("margin", DEFAULT_MARGIN)),
            tolerance=float(d.get("tolerance", DEFAULT_TOLERANCE)),
            size_free=bool(d.get("size_free", False)),
            count_fraction=ranges.get(COUNT_FRACTION),
        )


def is_size_free(net: Any) -> bool:
    """Whether a model takes any lattice: no fixed length ``n`` and no fixed ``shape``
    (UniversalLandscapeNet, the laws), so that its domain's lattice sizes are lower
    bounds only."""
    return getattr(net, "n", None) is None and getattr(net, "shape", None) is None
