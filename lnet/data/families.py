"""Random potential families V >= 0, drawn from a ``numpy.random.Generator``.

Every family has an ``amplitude`` (a scale factor, > 0) and draws one potential of
n sites at a time, so that each potential has its own seed stream.  A 2-D potential on
the periodic L1×L2 lattice is the draw of n = L1·L2 sites reshaped to ``(L1, L2)``
(row-major, site (x, y) at x·L2 + y): every iid family keeps its law per site, and
the speckle field is made on the torus by a 2-D FFT (below).  The laws
(one line each; X is the base variable, V(x) = amplitude · X(x) iid unless stated):

- constant:    X = 1
- uniform:     X ~ U[0, 1)
- bernoulli:   X ~ Bernoulli(p)                          (p in [0, 1])
- exponential: X ~ Exp(1)                                 (mean 1)
- poisson:     X ~ Poisson(rate)
- power:       X ~ Power(exponent): density a x^(a-1) on [0, 1]
- rayleigh:    X ~ Rayleigh(1)
- chisquare:   X ~ χ²(df)
- laplace:     X = max(0, loc + Laplace(0, 1))            (clipped at 0)
- normal:      X = max(0, loc + N(0, 1))                  (clipped at 0)
- logistic:    X = max(0, loc + Logistic(0, 1))           (clipped at 0)
- speckle:     X = |g|² with g a complex Gaussian field, E|g|² = 1, Gaussian
               correlation E[g(x) g*(y)] = exp(-(x-y)²/(2 ξ²)), ξ = correlation_length
               (made by FFT on the periodic lattice); X is Exp(1)-distributed, correlated.
               2-D: the same with E[g(x) g*(y)] = exp(-|x-y|²/(2 ξ²)), x, y on the
               L1×L2 torus (2-D FFT of the same L1·L2 complex normals)
- mixture:     per potential, a component family is drawn (by ``weights``), then each of
               its parameters: a number is fixed, ``[low, high]`` (or ``{uniform: [low,
               high]}``) is drawn uniformly, ``{log_uniform: [low, high]}`` (0 < low <= high)
               log-uniformly (uniform in log: every decade of the range equally likely)

A draw that is identically zero (possible for bernoulli, poisson and the clipped
laws on small lattices) would make H singular; it is redrawn from the same stream,
so the law is conditioned on V ≢ 0.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from lnet.errors import ConfigError

Sampler = Callable[[np.random.Generator, int, dict[str, float]], np.ndarray]
# a 2-D sampler: (rng, (L1, L2), params) -> (L1, L2); families without one draw L1·L2
# iid sites with their 1-D sampler and reshape
Sampler2D = Callable[[np.random.Generator, tuple[int, int], dict[str, float]], np.ndarray]
MAX_REDRAWS = 1000


@dataclass(frozen=True)
class Param:
    default: float
    check: Callable[[float], bool]
    allowed: str  # human-readable range, used in error messages


POSITIVE = Param(1.0, lambda v: v > 0, "> 0")


def _positive(default: float) -> Param:
    return Param(default, lambda v: v > 0, "> 0")


def _real(default: float) -> Param:
    return Param(default, lambda v: True, "any real number")


@dataclass(frozen=True)
class Family:
    name: str
    law: str
    sampler: Sampler
    params: dict[str, Param] = field(default_factory=dict)
    mean: Callable[[dict[str, float]], float] | None = None  # of X, before amplitude
    sampler_2d: Sampler2D | None = None  # correlated families only (speckle)

    def sample(
        self, rng: np.random.Generator, n: int, params: dict[str, float], shape: tuple[int, ...]
    ) -> np.ndarray:
        """X on a lattice of ``shape`` (``(n,)``, ``(L1, L2)`` or ``(L1, L2, L3)``, n sites in
        all); a correlated family has no 3-D sampler yet, and says so."""
        if len(shape) == 2 and self.sampler_2d is not None:
            return self.sampler_2d(rng, (int(shape[0]), int(shape[1])), params)
        if len(shape) == 3 and self.sampler_2d is not None:
            raise ValueError(
                f"data.potential.law: {self.law!r} is a correlated family with samplers in 1-D "
                "and 2-D only; use an iid law on 3-D lattices"
            )
        return self.sampler(rng, n, params).reshape(shape)


def _speckle(rng: np.random.Generator, n: int, p: dict[str, float]) -> np.ndarray:
    k = 2 * np.pi * np.fft.fftfreq(n)
    spectrum = np.exp(-0.5 * (k * p["correlation_length"]) ** 2)
    amplitude = np.sqrt(spectrum / spectrum.sum())
    noise = (rng.standard_normal(n) + 1j * rng.standard_normal(n)) / np.sqrt(2)
    g = np.fft.ifft(amplitude * noise) * n  # E|g(x)|² = Σ_k |amplitude_k|² = 1
    return np.abs(g) ** 2


def _speckle_2d(
    rng: np.random.Generator, shape: tuple[int, int], p: dict[str, float]
) -> np.ndarray:
    """The speckle law on the periodic L1×L2 lattice: isotropic Gaussian correlation
    exp(-|x-y|²/(2ξ²)) (periodised), E|g|² = 1, from L1·L2 complex normals drawn in the
    order of the 1-D sampler (real parts, then imaginary parts)."""
    L1, L2 = shape
    k1 = 2 * np.pi * np.fft.fftfreq(L1)
    k2 = 2 * np.pi * np.fft.fftfreq(L2)
    spectrum = np.exp(-0.5 * (k1[:, None] ** 2 + k2[None, :] ** 2) * p["correlation_length"] ** 2)
    amplitude = np.sqrt(spectrum / spectrum.sum())
    n = L1 * L2
    noise = (rng.standard_normal(n) + 1j * rng.standard_normal(n)).reshape(L1, L2) / np.sqrt(2)
    g = np.fft.ifft2(amplitude * noise) * n  # E|g(x)|² = Σ_k |amplitude_k|² = 1
    return np.abs(g) ** 2


def _normal_clip_mean(loc: float) -> float:
    return loc * 0.5 * math.erfc(-loc / math.sqrt(2)) + math.exp(-0.5 * loc**2) / math.sqrt(
        2 * math.pi
    )


FAMILIES: dict[str, Family] = {
    f.name: f
    for f in [
        Family("constant", "V = amplitude", lambda r, n, p: np.ones(n), mean=lambda p: 1.0),
        Family(
            "uniform", "V = amplitude · U[0,1)", lambda r, n, p: r.random(n), mean=lambda p: 0.5
        ),
        Family(
            "bernoulli",
            "V = amplitude · Bernoulli(p)",
            lambda r, n, p: (r.random(n) < p["p"]).astype(np.float64),
            {"p": Param(0.5, lambda v: 0 < v <= 1, "in (0, 1]")},
            mean=lambda p: p["p"],
        ),
        Family(
            "exponential",
            "V = amplitude · Exp(1)",
            lambda r, n, p: r.exponential(1.0, n),
            mean=lambda p: 1.0,
        ),
        Family(
            "poisson",
            "V = amplitude · Poisson(rate)",
            lambda r, n, p: r.poisson(p["rate"], n).astype(np.float64),
            {"rate": _positive(1.0)},
            mean=lambda p: p["rate"],
        ),
        Family(
            "power",
            "V = amplitude · Power(exponent) on [0, 1]",
            lambda r, n, p: r.power(p["exponent"], n),
            {"exponent": _positive(2.0)},
            mean=lambda p: p["exponent"] / (p["exponent"] + 1),
        ),
        Family(
            "rayleigh",
            "V = amplitude · Rayleigh(1)",
            lambda r, n, p: r.rayleigh(1.0, n),
            mean=lambda p: math.sqrt(math.pi / 2),
        ),
        Family(
            "chisquare",
            "V = amplitude · χ²(df)",
            lambda r, n, p: r.chisquare(p["df"], n),
            {"df": _positive(1.0)},
            mean=lambda p: p["df"],
        ),
        Family(
            "laplace",
            "V = amplitude · max(0, loc + Laplace(0, 1))",
            lambda r, n, p: np.maximum(0.0, p["loc"] + r.laplace(0.0, 1.0, n)),
            {"loc": _real(1.0)},
            mean=lambda p: (
                p["loc"] + 0.5 * math.exp(-p["loc"]) if p["loc"] >= 0 else 0.5 * math.exp(p["loc"])
            ),
        ),
        Family(
            "normal",
            "V = amplitude · max(0, loc + N(0, 1))",
            lambda r, n, p: np.maximum(0.0, p["loc"] + r.standard_normal(n)),
            {"loc": _real(1.0)},
            mean=lambda p: _normal_clip_mean(p["loc"]),
        ),
        Family(
            "logistic",
            "V = amplitude · max(0, loc + Logistic(0, 1))",
            lambda r, n, p: np.maximum(0.0, p["loc"] + r.logistic(0.0, 1.0, n)),
            {"loc": _real(1.0)},
            mean=lambda p: math.log1p(math.exp(p["loc"])),
        ),
        Family(
            "speckle",
            "V = amplitude · |g|², g complex Gaussian with correlation length ξ",
            _speckle,
            {"correlation_length": _positive(5.0)},
            mean=lambda p: 1.0,
            sampler_2d=_speckle_2d,
        ),
    ]
}
for _f in FAMILIES.values():
    _f.params["amplitude"] = POSITIVE

FAMILY_NAMES: tuple[str, ...] = (*FAMILIES, "mixture")


def _as_number(value: Any, key: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float | np.integer | np.floating):
        raise ConfigError(key, f"must be a number, got {value!r}")
    v = float(value)
    if not math.isfinite(v):
        raise ConfigError(key, f"must be finite, got {value!r}")
    return v


@dataclass(frozen=True)
class LogUniform:
    """A mixture parameter drawn log-uniformly in [low, high], 0 < low <= high."""

    low: float
    high: float

    def draw(self, rng: np.random.Generator) -> float:
        u = float(rng.uniform(math.log(self.low), math.log(self.high)))
        return min(max(math.exp(u), self.low), self.high)  # exp(log x) may round past x

    def to_config(self) -> dict[str, list[float]]:
        return {"log_uniform": [self.low, self.high]}


RANGE_FORMS = ("uniform", "log_uniform")  # the keys of a parameter given as a mapping


def _shown(value: Any) -> Any:
    return list(value) if isinstance(value, list | tuple) else value


def _check_range(value: Any, spec: Param, pkey: str, form: str) -> tuple[float, float]:
    """[low, high] of a uniform or log-uniform mixture parameter."""
    shown = _shown(value)
    if not isinstance(value, list | tuple) or len(value) != 2:
        raise ConfigError(pkey, f"a range must be [low, high], got {shown!r}")
    lo, hi = (_as_number(v, pkey) for v in value)
    if lo > hi:
        raise ConfigError(pkey, f"range [low, high] has low > high: {shown!r}")
    if form == "log_uniform" and lo <= 0:
        raise ConfigError(pkey, f"a log_uniform range needs 0 < low <= high, got {shown!r}")
    for v in (lo, hi):
        if not spec.check(v):
            raise ConfigError(pkey, f"must be {spec.allowed}, got {v!r} in {shown!r}")
    return lo, hi


def _check_params(
    family: Family, given: Mapping[str, Any], key: str, allow_ranges: bool
) -> dict[str, Any]:
    unknown = sorted(set(given) - set(family.params))
    if unknown:
        raise ConfigError(
            f"{key}.{unknown[0]}",
            f"unknown parameter for family '{family.name}'; allowed: {sorted(family.params)}",
        )
    out: dict[str, Any] = {}
    for name, spec in family.params.items():
        value = given.get(name, spec.default)
        pkey = f"{key}.{name}"
        if not allow_ranges and isinstance(value, list | tuple | Mapping):
            raise ConfigError(
                pkey,
                f"must be a number, got {_shown(value)!r} (ranges [low, high] and "
                "{log_uniform: [low, high]} are drawn per potential only in mixture components)",
            )
        if isinstance(value, list | tuple):
            out[name] = _check_range(value, spec, pkey, "uniform")
        elif isinstance(value, Mapping):
            forms = list(value)
            if len(forms) != 1 or forms[0] not in RANGE_FORMS:
                raise ConfigError(
                    pkey,
                    f"a parameter given as a mapping needs exactly one key of {list(RANGE_FORMS)} "
                    f"(e.g. {{log_uniform: [0.1, 10]}}), got keys {forms!r}",
                )
            form = forms[0]
            lo, hi = _check_range(value[form], spec, pkey, form)
            # {uniform: [lo, hi]} is stored as the plain [lo, hi]: same law, same dataset key
            out[name] = LogUniform(lo, hi) if form == "log_uniform" else (lo, hi)
        else:
            v = _as_number(value, pkey)
            if not spec.check(v):
                raise ConfigError(pkey, f"must be {spec.allowed}, got {value!r}")
            out[name] = v
    return out


@dataclass(frozen=True)
class PotentialLaw:
    """A validated potential law: a family (or a mixture of families) with its parameters.

    ``draw(rng, n)`` returns one potential of shape ``(n,)`` and the index of the
    family it came from in ``component_names``; ``draw(rng, n, shape=(L1, L2))`` (n =
    L1·L2) one 2-D potential of shape ``(L1, L2)`` from the same stream (the component
    and parameters are drawn first, as in 1-D).
    """

    family: str
    params: dict[str, Any]
    components: tuple[tuple[str, dict[str, Any]], ...] = ()
    weights: tuple[float, ...] = ()

    @property
    def component_names(self) -> tuple[str, ...]:
        return tuple(name for name, _ in self.components) if self.components else (self.family,)

    def draw_params(self, rng: np.random.Generator) -> tuple[int, dict[str, float]]:
        """The component index and its parameters for one potential (a mixture draws
        them from ``rng``, in the order: component, then parameters in the family's
        order, amplitude last; a single family returns its fixed parameters)."""
        if not self.components:
            return 0, dict(self.params)
        index = int(rng.choice(len(self.components), p=np.asarray(self.weights)))
        _, ranges = self.components[index]
        return index, {k: _draw_param(v, rng) for k, v in ranges.items()}

    def draw(
        self, rng: np.random.Generator, n: int, shape: tuple[int, ...] | None = None
    ) -> tuple[np.ndarray, int]:
        lattice = (n,) if shape is None else tuple(int(s) for s in shape)
        if math.prod(lattice) != n:
            raise ValueError(f"shape {lattice} does not hold n = {n} sites")
        index, params = self.draw_params(rng)
        family = FAMILIES[self.component_names[index]]
        return _draw_family(family, params, rng, n, lattice), index

    def to_config(self) -> dict[str, Any]:
        """The canonical config, every default filled in (what the cache key hashes)."""
        if not self.components:
            return {"family": self.family, **self.params}
        return {
            "family": "mixture",
            "components": {
                name: {k: _param_config(v) for k, v in params.items()}
                for name, params in self.components
            },
            "weights": list(self.weights),
        }

    def spectrum_bound(self, dim: int = 1) -> float | None:
        """An upper bound of spec(H) = spec(-Δ + V) ⊂ [0, max V + 4·dim] for bounded laws
        (None when V is unbounded or for a mixture); ``dim`` is the lattice dimension
        (0 <= -Δ <= 4 on the chain, 8 on the square lattice)."""
        bounded = {"constant", "uniform", "bernoulli", "power"}
        if self.components or self.family not in bounded:
            return None
        return float(self.params["amplitude"]) + 4.0 * dim

    def mean(self) -> float | None:
        """Mean of V(x) for a single family (None for a mixture)."""
        if self.components:
            return None
        f = FAMILIES[self.family]
        return None if f.mean is None else self.params["amplitude"] * f.mean(self.params)


def _draw_param(value: Any, rng: np.random.Generator) -> float:
    if isinstance(value, tuple):
        return float(rng.uniform(*value))
    if isinstance(value, LogUniform):
        return value.draw(rng)
    return value


def _param_config(value: Any) -> Any:
    if isinstance(value, tuple):
        return list(value)
    if isinstance(value, LogUniform):
        return value.to_config()
    return value


def _draw_family(
    family: Family,
    params: dict[str, float],
    rng: np.random.Generator,
    n: int,
    shape: tuple[int, ...] | None = None,
) -> np.ndarray:
    lattice = (n,) if shape is None else shape
    for _ in range(MAX_REDRAWS):
        V = params["amplitude"] * family.sample(rng, n, params, lattice)
        if np.any(V > 0):
            return V
    where = f"n = {n}" if len(lattice) == 1 else f"{lattice[0]}×{lattice[1]} = {n}"
    raise ConfigError(
        "data.potential",
        f"family '{family.name}' with {params} drew V ≡ 0 {MAX_REDRAWS} times on {where} "
        "sites; raise the probability/rate/loc or the lattice length",
    )


def make_law(cfg: Mapping[str, Any], key: str = "data.potential") -> PotentialLaw:
    """Validate a potential config (``family`` plus parameters) and return its law.

    Errors are :class:`ConfigError` naming the key, e.g. ``data.potential.p: must be in
    (0, 1], got 1.5``.
    """
    if not isinstance(cfg, Mapping):
        raise ConfigError(key, f"must be a mapping with a 'family' key, got {cfg!r}")
    cfg = dict(cfg)
    family = cfg.pop("family", None)
    if family not in FAMILY_NAMES:
        raise ConfigError(
            f"{key}.family", f"unknown family {family!r}; allowed: {list(FAMILY_NAMES)}"
        )
    if family != "mixture":
        return PotentialLaw(family, _check_params(FAMILIES[family], cfg, key, allow_ranges=False))

    comps = cfg.pop("components", None)
    weights = cfg.pop("weights", None)
    if cfg:
        raise ConfigError(
            f"{key}.{sorted(cfg)[0]}", "unknown key for a mixture; allowed: components, weights"
        )
    if not isinstance(comps, Mapping) or not comps:
        raise ConfigError(
            f"{key}.components", "a mixture needs a non-empty mapping family -> params"
        )
    components = []
    for name, params in comps.items():
        ckey = f"{key}.components.{name}"
        if name not in FAMILIES:
            raise ConfigError(ckey, f"unknown family {name!r}; allowed: {list(FAMILIES)}")
        components.append((name, _check_params(FAMILIES[name], dict(params or {}), ckey, True)))
    if weights is None:
        w = np.full(len(components), 1.0 / len(components))
    else:
        if not isinstance(weights, list | tuple) or len(weights) != len(components):
            raise ConfigError(
                f"{key}.weights", f"needs one weight per component ({len(components)})"
            )
        w = np.array([_as_number(v, f"{key}.weights") for v in weights])
        if np.any(w < 0) or w.sum() <= 0:
            raise ConfigError(
                f"{key}.weights", f"must be >= 0 with a positive sum, got {list(weights)}"
            )
        if abs(w.sum() - 1.0) > 1e-12:  # normalised weights (a law's own config) stay as given:
            w = w / w.sum()  # re-dividing can move the last bit, and with it the dataset key
    return PotentialLaw("mixture", {}, tuple(components), tuple(float(x) for x in w))
