"""An ensemble of counting nets (the training seeds of one model) behind the Predictor API.

:class:`EnsemblePredictor` is a :class:`lnet.predict.Predictor`: the same inputs, checks,
shapes and input-domain warnings (one :class:`lnet.errors.OutOfRangeWarning` per
statistic and predictor; the energy check on the members' mean μ), computed once for
all members. For K members with counts N̂_1 .. N̂_K it predicts their mean, clipped
at 0,

    μ(V, E) = max(0, (1/K) Σ_k N̂_k(V, E))

(the universal nets never go below 0, so μ is exactly the mean there), and with a
calibration (:class:`lnet.conformal.IntervalCalibration`) the 90 % interval

    [max(0, μ − q·σ̃), μ + q·σ̃],   σ̃ = s + κ·(μ + 1)^γ·(1 + a)^δ,   s = std_k N̂_k (ddof 0),

a = ⟨V⟩ the mean of the input potential,

q the quantile of the input's lattice (the calibration lattice nearest in log(sites))
and, where the calibration has them, of its zero-site class (some V(x) = 0, or none),
calibrated by split conformal prediction (:mod:`lnet.conformal`, which says what the
coverage guarantee covers and what it does not). This module knows nothing of MLflow
or of the shipped models (:mod:`lnet.pretrained`).

Whole states at the bottom of the spectrum (``integer_below`` T >= 0; by default the
calibration's, else 0: off). The count returned is

    N̂ = round(μ) where μ < T,    N̂ = μ elsewhere,

the nearest integer (half to even). Where few states lie below E they sit in isolated
wells, the members place them to well under one level, and a whole number is the
better answer (N is an integer; the relative error |N̂ − N| / max(N, 1) weighs those
energies most); higher up the error is several levels and rounding would only add
quantisation noise (variance 1/12). The interval is computed from μ and then widened,
if need be, to contain N̂ (low = min(low, N̂), high = max(high, N̂)), and N̂ of the
calibration's own T: a calibration made with the rule scores a pair whose count is
exact as covered (:mod:`lnet.conformal`, "Whole states"), so the interval must hold
that count; a T given per call only adds its N̂ to the hull. Either way the hull
contains the conformal set: the coverage guarantee holds.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from typing import Any

import numpy as np
from torch import nn

from lnet.conformal import IntervalCalibration, check_integer_below, whole_states_below
from lnet.domain import InputDomain, has_zero_site, potential_amplitude
from lnet.predict import CountingFields, Predictor
from lnet.tasks import COUNTING


def _describe(net: nn.Module) -> str:
    dim = int(getattr(net, "dim", 1))
    return f"{type(net).__name__} ({dim}-D, task {getattr(net, 'task', None)!r})"


def check_members(members: Sequence[nn.Module], names: Sequence[str]) -> None:
    """ValueError, one line naming the members, unless every member is a counting model
    of one class, one lattice dimension and one fixed lattice (if any)."""
    if not members:
        raise ValueError("an ensemble needs at least one member net")
    if len(names) != len(members):
        raise ValueError(f"got {len(names)} names for {len(members)} members")
    for net, name in zip(members, names, strict=True):
        if getattr(net, "task", None) != COUNTING:
            raise ValueError(
                f"{name}: {_describe(net)} is not a counting model; an ensemble predicts "
                "counts N_V(E) and takes counting models only"
            )
    first, head = members[0], names[0]
    for net, name in zip(members[1:], names[1:], strict=True):
        same = (
            type(net) is type(first)
            and int(getattr(net, "dim", 1)) == int(getattr(first, "dim", 1))
            and getattr(net, "n", None) == getattr(first, "n", None)
            and getattr(net, "shape", None) == getattr(first, "shape", None)
        )
        if not same:
            raise ValueError(
                f"ensemble members differ: {head} is {_describe(first)} but {name} is "
                f"{_describe(net)}; every member must be the same kind of model"
            )


def joint_domain(members: Sequence[nn.Module]) -> InputDomain | None:
    """The union of the members' distinct input domains (None if none has one): the
    members of one model are trained on the same data, so this is their common domain
    (equal domains are taken once, so ``potentials`` is not counted K times)."""
    domains: list[InputDomain] = []
    for d in (getattr(m, "input_domain", None) for m in members):
        if d is not None and d not in domains:
            domains.append(d)
    return functools.reduce(InputDomain.union, domains) if domains else None


class EnsemblePredictor(Predictor):
    """The mean of K counting nets, with calibrated intervals (module docstring).

    ``members``: K >= 1 counting nets of one class and dimension (:func:`check_members`;
    ValueError otherwise); ``names``: one label per member for messages (e.g. the
    training seed); ``calibration``: the interval, None for an ensemble without one;
    ``domain``: by default the union of the members' input domains.

    It offers the :class:`~lnet.predict.Predictor` API (``predict_counts``, ``dim``,
    ``task``, ``n``, ``shape``, ``accepts``, ``domain``, ``warned``), with ``net`` the
    first member (for its attributes); :meth:`member_counts` gives every member's counts.
    """

    def __init__(
        self,
        members: Sequence[nn.Module],
        calibration: IntervalCalibration | None = None,
        batch_size: int = 256,
        domain: InputDomain | None = None,
        names: Sequence[str] | None = None,
        integer_below: float | None = None,
    ) -> None:
        members = list(members)
        names = [f"member {i}" for i in range(len(members))] if names is None else list(names)
        check_members(members, names)
        super().__init__(
            members[0], batch_size, domain if domain is not None else joint_domain(members)
        )
        self.members = members
        self.names = names
        self.calibration = calibration
        if integer_below is None:
            integer_below = calibration.integer_below if calibration is not None else 0.0
        self.integer_below = check_integer_below(integer_below)

    def __len__(self) -> int:
        return len(self.members)

    def _member_counts(self, V: Any, E: Any) -> tuple[np.ndarray, bool]:
        fields = self._counting_fields(V, E)
        # once for all members; stacklevel 4: the caller of predict_counts / member_counts
        self._check_domain(fields.V, fields.W, stacklevel=4)
        counts = np.stack([self._counts(net, fields) for net in self.members])
        self._check_counts(np.maximum(counts.mean(axis=0), 0.0), fields.sites, stacklevel=4)
        return counts, fields.single

    def member_counts(self, V: Any, E: Any) -> np.ndarray:
        """Every member's counts: V ``(n,)``, E ``(m,)`` -> ``(K, m)``; V ``(B, n)``, E
        ``(B, m)`` -> ``(K, B, m)`` (2-D and 3-D lattices as in ``predict_counts``)."""
        counts, single = self._member_counts(V, E)
        return counts[:, 0] if single else counts

    def predict_counts(  # type: ignore[override]
        self,
        V: Any,
        E: Any,
        return_interval: bool = False,
        integer_below: float | None = None,
    ) -> np.ndarray | tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The members' mean count μ (clipped at 0), rounded where μ < ``integer_below``
        (None: the ensemble's own ``integer_below``; module docstring): V ``(n,)`` with
        E ``(m,)`` -> ``(m,)``; ``(B, n)``, ``(B, m)`` -> ``(B, m)``; 2-D and 3-D lattices
        as :meth:`lnet.predict.Predictor.predict_counts`.

        ``return_interval=True``: ``(count, low, high)``, three arrays of that shape
        with 0 <= low <= count <= high, the calibrated interval (module docstring);
        ValueError for an ensemble without a calibration. Inputs outside the training
        domain are warned about once per statistic, as by a Predictor.
        """
        fields = self._counting_fields(V, E)
        out = self._predict_fields(fields, return_interval, integer_below)
        if not return_interval:
            return out[0][0] if fields.single else out[0]
        return tuple(a[0] for a in out) if fields.single else out

    def _predict_fields(
        self, fields: CountingFields, return_interval: bool, integer_below: float | None
    ) -> tuple[np.ndarray, ...]:
        """(count,) or (count, low, high), each ``(B, m)``, on prepared inputs, with the
        domain and energy warnings; call it straight from a ``predict_counts`` (the
        warnings point at that method's caller)."""
        self._check_domain(fields.V, fields.W, stacklevel=4)
        counts = np.stack([self._counts(net, fields) for net in self.members])
        self._check_counts(np.maximum(counts.mean(axis=0), 0.0), fields.sites, stacklevel=4)
        if not return_interval:
            return (self.point(counts, integer_below),)
        # one amplitude and zero-site class per potential (B, 1): the cell's q (lnet.conformal)
        amplitude = potential_amplitude(fields.V, self.dim).reshape(-1, 1)
        zero = has_zero_site(fields.V, self.dim).reshape(-1, 1)
        return self.point_and_interval(counts, fields.sites, amplitude, integer_below, zero)

    def point(self, counts: np.ndarray, integer_below: float | None = None) -> np.ndarray:
        """The count N̂ from the member counts ``(K, ...)`` -> ``(...)``: their mean μ,
        clipped at 0, rounded where μ < ``integer_below`` (None: the ensemble's own)."""
        below = self.integer_below if integer_below is None else check_integer_below(integer_below)
        return whole_states_below(np.maximum(counts.mean(axis=0), 0.0), below)

    def point_and_interval(
        self,
        counts: np.ndarray,
        sites: int | None,
        amplitude: np.ndarray | float | None,
        integer_below: float | None = None,
        zero_sites: np.ndarray | bool | None = None,
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(N̂, low, high) from the member counts ``(K, ...)`` of inputs on a lattice of
        ``sites`` sites with amplitudes ``amplitude`` and zero-site classes
        ``zero_sites`` (:func:`lnet.domain.has_zero_site`; each broadcastable to
        ``(...)``; None: the lattice's pooled quantile): the calibrated interval of μ,
        widened to contain N̂ (module docstring). ValueError without a calibration."""
        if self.calibration is None:
            raise ValueError(
                "this ensemble has no interval calibration: pass calibration=... or load a "
                "calibrated model (lnet.pretrained.load)"
            )
        mean = np.maximum(counts.mean(axis=0), 0.0)
        count = self.point(counts, integer_below)
        low, high = self.calibration.interval(
            mean, counts.std(axis=0), sites, amplitude, zero_sites
        )
        calibrated = whole_states_below(mean, self.calibration.integer_below)
        low = np.minimum(np.minimum(low, count), calibrated)
        high = np.maximum(np.maximum(high, count), calibrated)
        return count, low, high
