"""A generalist ensemble that hands the inputs of its experts' training laws to them.

A universal net serves every law and pays for the breadth: the same architecture
trained on uniform [0, 1) alone is twice as accurate on that law (docs: Universal
scaling, "What the breadth of the training law costs"). :class:`RoutedPredictor` keeps
both. For each potential V of a batch it takes the first expert k that

1. has V's lattice dimension,
2. accepts V by its gate (:class:`lnet.gate.LawGate`: V is consistent with i.i.d. draws
   of the expert's training law), and
3. holds V inside its input domain (:meth:`lnet.domain.InputDomain.inside`: every
   statistic, the lattice size included),

and the generalist otherwise. Each potential's count and 90 % interval are those of the
ensemble that answers it (its own members, calibration and whole-states rule), so the
coverage guarantee of each holds on its own inputs; the mix is measured, per law and
size, in the generalist's model card. ``route(V)`` says who answers which potential.

Input checks and errors are the generalist's (the same shapes and messages as any
:class:`lnet.ensemble.EnsemblePredictor`); the domain warnings come from the ensemble
that answers (an expert answers only inputs inside its domain, so it warns only about
energies above its training ones).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from lnet.ensemble import EnsemblePredictor
from lnet.gate import LawGate
from lnet.physics import landscape_potential
from lnet.predict import CountingFields

GENERALIST = -1  # route() of a potential the generalist answers


@dataclass
class Expert:
    """An ensemble trained on one law: ``name`` (e.g. ``uniform-1d``), ``gate`` (the
    test that its training law fits an input) and ``model``."""

    name: str
    gate: LawGate
    model: EnsemblePredictor


class RoutedPredictor(EnsemblePredictor):
    """The generalist ensemble (its members, calibration, domain, warnings and
    ``member_counts``) whose ``predict_counts`` hands each potential to the first expert
    that takes it (module docstring). ``experts``: of the generalist's task and
    dimension, distinct names (ValueError otherwise)."""

    def __init__(self, generalist: EnsemblePredictor, experts: Sequence[Expert]) -> None:
        super().__init__(
            generalist.members,
            calibration=generalist.calibration,
            batch_size=generalist.batch_size,
            domain=generalist.domain,
            names=generalist.names,
            integer_below=generalist.integer_below,
        )
        self.experts = list(experts)
        names = [e.name for e in self.experts]
        if len(set(names)) != len(names):
            raise ValueError(f"expert names must be distinct, got {names}")
        for e in self.experts:
            if (e.model.task, e.model.dim) != (self.task, self.dim):
                raise ValueError(
                    f"expert {e.name!r} is a {e.model.dim}-D {e.model.task} model; this "
                    f"generalist is a {self.dim}-D {self.task} model"
                )

    def _route(self, V: np.ndarray, W: np.ndarray) -> np.ndarray:
        who = np.full(len(V), GENERALIST)
        for k, e in enumerate(self.experts):
            free = np.flatnonzero(who == GENERALIST)
            if free.size == 0:
                break
            take = e.gate.accepts(V[free], self.dim)
            if e.model.domain is not None:
                take &= e.model.domain.inside(V[free], W[free])
            who[free[take]] = k
        return who

    def route(self, V: Any) -> np.ndarray:
        """Who answers each potential of V (``(n,)`` or ``(B, n)``; 2-D and 3-D lattices
        as in ``predict_counts``): ``(B,)`` integers (``(1,)`` for one potential), the
        index into ``experts`` or :data:`GENERALIST` (-1)."""
        Va = self._potential(V)
        V2 = Va[None] if Va.ndim == self.dim else Va
        return self._route(V2, landscape_potential(V2, dim=self.dim))

    def predict_counts(  # type: ignore[override]
        self,
        V: Any,
        E: Any,
        return_interval: bool = False,
        integer_below: float | None = None,
    ) -> np.ndarray | tuple[np.ndarray, np.ndarray, np.ndarray]:
        """As :meth:`lnet.ensemble.EnsemblePredictor.predict_counts`, each potential
        answered by the ensemble :meth:`route` picks (``integer_below``, when given,
        applies to every one of them)."""
        fields = self._counting_fields(V, E)
        who = self._route(fields.V, fields.W)
        out = [np.empty(fields.E.shape) for _ in range(3 if return_interval else 1)]
        for k in np.unique(who):
            rows = np.flatnonzero(who == k)
            part = CountingFields(
                False, fields.V[rows], fields.W[rows], fields.dW[rows], fields.E[rows]
            )
            if k == GENERALIST:
                answer = EnsemblePredictor._predict_fields(
                    self, part, return_interval, integer_below
                )
            else:
                answer = self.experts[k].model._predict_fields(part, return_interval, integer_below)
            for a, b in zip(out, answer, strict=True):
                a[rows] = b
        if fields.single:
            out = [a[0] for a in out]
        return tuple(out) if return_interval else out[0]
