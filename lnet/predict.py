"""Use a trained model: a ``Predictor`` with the shapes of :mod:`lnet.physics`.

``Predictor.predict_counts(V, E)`` takes potentials only: it computes W = 1/u and W'
itself and applies the normalisation stored in the model, exactly as in training.
A 2-D model (attribute ``dim = 2``) takes potentials ``(L1, L2)`` or ``(B, L1, L2)``
on the periodic L1 × L2 lattice and gets W and ∇W (``(B, 2, L1, L2)``) the same way, a
3-D model (``dim = 3``) ``(L1, L2, L3)`` or ``(B, L1, L2, L3)`` with ∇W ``(B, 3, L1, L2,
L3)``; ``predict_eigenvalues`` likewise takes 2-D potentials for a 2-D eigenvalue model.
A model trained by ``lnet.training`` carries the range of its training inputs
(``net.input_domain``, an :class:`lnet.domain.InputDomain`); the predictor warns
(:class:`lnet.errors.OutOfRangeWarning`) when an input is outside it.
Models are saved as a small torch file (qualified class name, the constructor
arguments the model recorded, state dict, and the input domain when there is one).
This module knows nothing of MLflow:
:mod:`lnet.tracking.pyfunc` logs models and ``lnet.load_model`` gets one back.
"""

from __future__ import annotations

import contextlib
import os
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from itertools import chain
from typing import Any

import numpy as np
import torch
from torch import nn

from lnet.domain import COUNT_FRACTION, InputDomain, Violation
from lnet.errors import OutOfRangeWarning
from lnet.models.protocol import LnetModel, model_classes
from lnet.physics import landscape_potential, periodic_derivative
from lnet.physics.validation import MIN_SITES, as_energies, as_potential
from lnet.tasks import COUNTING, EIGENVALUES, TASKS


def save_net(net: LnetModel, path: str | os.PathLike) -> None:
    """Write the qualified class name, recorded constructor arguments and state dict,
    and under ``"domain"`` the net's ``input_domain`` (:meth:`InputDomain.to_dict`) if it
    has one.

    No pickled code: :func:`load_net` reads it back with ``weights_only=True``.
    """
    blob: dict[str, Any] = {
        "class": net.qualified_name(),
        "config": net.config,
        "state_dict": net.state_dict(),
    }
    domain = getattr(net, "input_domain", None)
    if domain is not None:
        blob["domain"] = domain.to_dict()
    torch.save(blob, path)


def load_net(path: str | os.PathLike) -> LnetModel:
    """Rebuild a net saved by :func:`save_net`: ``cls(**config)`` then its weights.

    Only lnet model classes are built (files saved before qualified names were
    recorded name the bare class, which is accepted too). A saved input domain becomes
    ``net.input_domain``; files without one (saved before domains were recorded) leave
    it None, and their predictors never warn.
    """
    blob = torch.load(path, map_location="cpu", weights_only=True)
    classes = model_classes()
    cls = classes.get(blob.get("class"))
    if cls is None:
        known = sorted(k for k in classes if "." not in k)
        raise ValueError(f"{path}: unknown model class {blob.get('class')!r}; known: {known}")
    net = cls(**blob["config"])
    net.load_state_dict(blob["state_dict"])
    if blob.get("domain") is not None:
        net.input_domain = InputDomain.from_dict(blob["domain"])
    return net.eval()


@dataclass(frozen=True)
class CountingFields:
    """The inputs of one counting prediction, as batches: ``single`` (one potential was
    given), V and W ``(B, *lattice)``, dW (``(B, n)`` in 1-D, ``(B, dim, *lattice)``
    otherwise) and E ``(B, m)``."""

    single: bool
    V: np.ndarray
    W: np.ndarray
    dW: np.ndarray
    E: np.ndarray

    @property
    def sites(self) -> int:
        """The number of lattice sites of each potential."""
        return int(np.prod(self.V.shape[1:]))


class Predictor:
    """Predictions from a trained counting model or EigenNet, in float64 numpy.

    The net is used as the caller keeps it: each prediction runs it in eval mode without
    gradients and then restores its training flags, and the inputs go to the device and
    floating dtype of its parameters (a net moved to a GPU gets GPU tensors).

    ``domain``: the range of the training inputs (:class:`lnet.domain.InputDomain`);
    by default the net's ``input_domain`` (set by training and by :func:`load_net`), None
    for a net without one. ``predict_counts`` and ``predict_eigenvalues`` check each
    input against it and issue an :class:`lnet.errors.OutOfRangeWarning` naming the
    statistic, the input's values and the training range, once per predictor and
    statistic (``warned`` holds the statistics already reported); the prediction is
    made all the same. Set ``predictor.domain = None`` to stop checking.
    """

    def __init__(
        self, net: nn.Module, batch_size: int = 256, domain: InputDomain | None = None
    ) -> None:
        task = getattr(net, "task", None)
        if task not in TASKS:
            raise TypeError(
                f"{type(net).__name__} declares no task (one of {TASKS}); lnet models "
                "derive from lnet.models.protocol.LnetModel"
            )
        self.net = net
        self.task = task
        self.batch_size = batch_size
        self.domain: InputDomain | None = (
            domain if domain is not None else getattr(net, "input_domain", None)
        )
        self.warned: set[str] = set()

    def _check_domain(self, V: np.ndarray, W: np.ndarray, stacklevel: int = 3) -> None:
        """Warn once per statistic of the domain that V (with W = 1/u; batches
        ``(B, *lattice)``) leaves; ``stacklevel`` as for ``warnings.warn`` (3: the
        caller of the method that calls this one)."""
        domain = self.domain
        if domain is None or self.warned.issuperset(domain.names):
            return
        for v in domain.check(V, W):
            self._warn_once(v, stacklevel + 1)

    def _check_counts(self, counts: np.ndarray, sites: int, stacklevel: int = 3) -> None:
        """Warn once when a predicted count ``(B, m)`` on a lattice of ``sites`` sites
        lies above the training energies (:meth:`InputDomain.check_counts`: its count
        fraction passes the training range); ``stacklevel`` as for :meth:`_check_domain`."""
        domain = self.domain
        if domain is None or COUNT_FRACTION in self.warned:
            return
        v = domain.check_counts(counts, sites)
        if v is not None:
            self._warn_once(v, stacklevel + 1)

    def _warn_once(self, v: Violation, stacklevel: int) -> None:
        """The OutOfRangeWarning of ``v`` unless its statistic was warned about already;
        ``stacklevel`` counted from here (the caller of predict_counts /
        predict_eigenvalues)."""
        if v.statistic in self.warned:
            return
        self.warned.add(v.statistic)
        warnings.warn(
            OutOfRangeWarning(
                f"lnet: {v.message} (warned once per Predictor and statistic)", v.statistic
            ),
            stacklevel=stacklevel,
        )

    @contextlib.contextmanager
    def _evaluating(self, net: nn.Module | None = None) -> Iterator[None]:
        """The net (``self.net`` unless given) in eval mode, without gradients, for one
        prediction; afterwards every submodule's training flag is as the caller left it."""
        net = self.net if net is None else net
        modes = [(m, m.training) for m in net.modules()]
        net.eval()
        try:
            with torch.no_grad():
                yield
        finally:
            for module, training in modes:
                module.training = training

    def _converter(self, net: nn.Module | None = None) -> Callable[[np.ndarray], torch.Tensor]:
        """numpy -> tensor on the device of the net's (``self.net`` unless given) first
        parameter (or buffer), in the dtype of its first floating-point one; CPU and no
        cast for a net with neither."""
        net = self.net if net is None else net
        tensors = list(chain(net.parameters(), net.buffers()))
        device = tensors[0].device if tensors else torch.device("cpu")
        dtype = next((t.dtype for t in tensors if t.is_floating_point()), None)
        return lambda a: torch.from_numpy(np.ascontiguousarray(a)).to(device=device, dtype=dtype)

    @property
    def dim(self) -> int:
        """The lattice dimension the model takes: 1 (V ``(n,)``), 2 (V ``(L1, L2)``) or 3."""
        return int(getattr(self.net, "dim", 1))

    @property
    def n(self) -> int | None:
        """The one lattice length the model takes, or None when it takes any n >= 3.

        A model fixes its length with an attribute ``n`` (LandscapeNet, EigenNet, ...:
        their layers are sized for it). A model without one, or with ``n = None``
        (the landscape laws, whose box count and Weyl sum are defined on any lattice,
        and size-free networks), is size-free.
        """
        n = getattr(self.net, "n", None)
        return None if n is None else int(n)

    @property
    def shape(self) -> tuple[int, ...] | None:
        """The one lattice shape (L1, L2[, L3]) a 2-D or 3-D model takes, or None when it
        takes any.

        2-D eigenvalue nets (EigenNet, WellNet with ``shape=[L1, L2]``) fix their lattice
        with an attribute ``shape``; size-free 2-D counting models have none.
        """
        shape = getattr(self.net, "shape", None) if self.dim >= 2 else None
        return None if shape is None else tuple(int(L) for L in shape)

    def accepts(self, n: int) -> bool:
        """Whether the model takes potentials of ``n`` sites (any n >= 3 if size-free)."""
        return n >= MIN_SITES and (self.n is None or int(n) == self.n)

    def _check_dim(self, V: Any) -> None:
        """A clear error for a potential of another dimension than the model's."""
        ndim = np.ndim(V)
        if ndim in (self.dim, self.dim + 1):
            return
        if self.dim == 1:
            raise ValueError(
                f"V has shape {np.shape(V)} but this is a 1-D model: it takes potentials of "
                "shape (n,) or (B, n) (2-D and 3-D potentials need a model of their dimension)"
            )
        sides = ", ".join(f"L{i + 1}" for i in range(self.dim))
        raise ValueError(
            f"V has shape {np.shape(V)} but this is a {self.dim}-D model: it takes potentials "
            f"on the periodic {' × '.join(f'L{i + 1}' for i in range(self.dim))} lattice, V of "
            f"shape ({sides}) or (B, {sides})"
        )

    def _potential(self, V: Any) -> np.ndarray:
        self._check_dim(V)
        if self.dim >= 2:
            Va = as_potential(V, dim=self.dim)
            shape = self.shape
            if shape is not None and Va.shape[-self.dim :] != shape:
                got = " × ".join(map(str, Va.shape[-self.dim :]))
                want = " × ".join(map(str, shape))
                raise ValueError(
                    f"V has lattice shape {got} but this model takes {want} (its lattice "
                    f"shape); pass potentials of that shape, or a batch of them"
                )
            return Va
        Va = as_potential(V)  # n >= 3 for every model: the periodic lattice needs it
        if self.n is not None and Va.shape[-1] != self.n:
            raise ValueError(
                f"V has n = {Va.shape[-1]} sites but this model takes n = {self.n} "
                f"(its lattice length); pass potentials of shape (n,) or (B, n) with n = {self.n}"
            )
        return Va

    def predict_counts(self, V: Any, E: Any) -> np.ndarray:
        """Predicted N_V(E): V ``(n,)`` with E ``(m,)`` -> ``(m,)``; ``(B, n)``, ``(B, m)`` -> ``(B, m)``.

        2-D models: V ``(L1, L2)`` with E ``(m,)`` -> ``(m,)``; ``(B, L1, L2)``, ``(B, m)``
        -> ``(B, m)``, with W = 1/u and dW = ∇W ``(B, 2, L1, L2)`` computed here; 3-D
        models alike with ``(L1, L2, L3)`` and ∇W ``(B, 3, L1, L2, L3)``.

        An input outside the model's training domain gets an
        :class:`lnet.errors.OutOfRangeWarning` (class docstring), and so does an energy
        above the training energies (a predicted count fraction N̂/sites above the
        training range: :meth:`lnet.domain.InputDomain.check_counts`).
        """
        fields = self._counting_fields(V, E)
        self._check_domain(fields.V, fields.W)
        out = self._counts(self.net, fields)
        self._check_counts(out, fields.sites)
        return out[0] if fields.single else out

    def _counting_fields(self, V: Any, E: Any) -> CountingFields:
        """The checked inputs of a counting prediction as batches, with W = 1/u and dW
        (W' in 1-D, ∇W otherwise) computed once (:class:`CountingFields`)."""
        if self.task != COUNTING:
            raise ValueError("this is an eigenvalue model: use predict_eigenvalues(V)")
        Va = self._potential(V)
        if self.dim >= 2:
            from lnet.physics.landscape import periodic_gradient

            Ea = as_energies(E, Va, dim=self.dim)
            single = Va.ndim == self.dim
            V2 = Va[None] if single else Va
            E2 = np.atleast_2d(Ea)
            W = landscape_potential(V2, dim=self.dim)
            dW = periodic_gradient(W, dim=self.dim)
        else:
            Ea = as_energies(E, Va)
            single = Va.ndim == 1
            V2, E2 = np.atleast_2d(Va), np.atleast_2d(Ea)
            W = landscape_potential(V2)
            dW = periodic_derivative(W)
        return CountingFields(single, V2, W, dW, E2)

    def _counts(self, net: nn.Module, fields: CountingFields) -> np.ndarray:
        """``net``'s counts ``(B, m)`` on the prepared fields, in batches."""
        V2, W, dW, E2 = fields.V, fields.W, fields.dW, fields.E
        B, m = E2.shape
        t = self._converter(net)
        # energies grouped by potential (every counting model takes them), at most about
        # batch_size (potential, energy) pairs per pass: a potential with m > batch_size
        # energies is encoded once per chunk of its energies.  Size-free nets bound their
        # own memory (energy chunks of at most chunk_elements inside one pass), so they
        # take one potential's energies at once and encode it once.
        out = np.empty((B, m))
        if getattr(net, "chunk_elements", None) is not None:
            p_step, e_step = 1 if m > self.batch_size else self.batch_size // m, m
        else:
            p_step, e_step = max(1, self.batch_size // m), min(m, self.batch_size)
        with self._evaluating(net):
            for s in range(0, B, p_step):
                batch = (t(V2[s : s + p_step]), t(W[s : s + p_step]), t(dW[s : s + p_step]))
                for j in range(0, m, e_step):
                    pred = net(*batch, t(E2[s : s + p_step, j : j + e_step]))
                    out[s : s + p_step, j : j + e_step] = pred.double().cpu().numpy()
        return out

    def predict_eigenvalues(self, V: Any) -> np.ndarray:
        """Predicted k lowest eigenvalues: V ``(n,)`` -> ``(k,)``; ``(B, n)`` -> ``(B, k)``.

        2-D models: V ``(L1, L2)`` -> ``(k,)``; ``(B, L1, L2)`` -> ``(B, k)``, with
        W = 1/u on the periodic L1 × L2 lattice computed here. Inputs outside the
        training domain are warned about as in :meth:`predict_counts`.
        """
        if self.task != EIGENVALUES:
            raise ValueError("this is a counting model: use predict_counts(V, E)")
        Va = self._potential(V)
        single = Va.ndim == self.dim
        V2 = Va[None] if single else Va
        W = landscape_potential(V2, dim=self.dim)
        self._check_domain(V2, W)
        out = []
        t = self._converter()
        with self._evaluating():
            for s in range(0, len(V2), self.batch_size):
                pred = self.net(t(V2[s : s + self.batch_size]), t(W[s : s + self.batch_size]))
                out.append(pred.double().cpu().numpy())
        res = np.concatenate(out)
        return res[0] if single else res
