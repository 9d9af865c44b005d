"""The one protocol every lnet network and law follows.

Every model is an :class:`LnetModel` (a plain ``nn.Module``) and declares

- ``task``: what it predicts, :data:`COUNTING` or :data:`EIGENVALUES`.

  - counting: ``forward(V, W, dW, E)`` with V, W, dW ``(b, n)`` and energies either one
    per potential, E ``(b,)`` -> N̂ ``(b,)``, or grouped by potential, E ``(b, m)`` ->
    N̂ ``(b, m)``. Every counting model accepts both forms.
  - eigenvalues: ``forward(V, W)`` with V, W ``(b, n)`` -> the k lowest ``(b, k)``.

- ``config``: its constructor arguments, recorded when it is built (defaults filled in,
  sequences as lists), so ``type(net)(**net.config)`` builds the same architecture.
  Nothing is written by hand: the constructor signature is the single source.
- ``set_stats(stats)``: the training-split normalisation (a no-op for laws).
- ``input_domain``: the range of the inputs it was trained on
  (:class:`lnet.domain.InputDomain`), set by ``lnet.training`` and saved with the net;
  None (the class default) for a net that was never trained by the pipeline.

Datasets, LightningModules and the :class:`lnet.predict.Predictor` use the same
``task`` names.
"""

from __future__ import annotations

import functools
import inspect
import re
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, ClassVar

from torch import nn

from lnet.config import to_plain
from lnet.tasks import COUNTING, EIGENVALUES, TASKS

if TYPE_CHECKING:
    from lnet.domain import InputDomain

__all__ = ["COUNTING", "EIGENVALUES", "LnetModel", "model_classes"]


class LnetModel(nn.Module):
    """Base class of every lnet network and law (see the module docstring)."""

    task: ClassVar[str] = ""
    config: dict[str, Any]
    input_domain: InputDomain | None = None  # the training inputs' range (module docstring)

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if cls.task not in TASKS:
            raise TypeError(f"{cls.__name__}.task must be one of {TASKS}, got {cls.task!r}")
        init = cls.__dict__.get("__init__")
        if init is None:
            return
        signature = inspect.signature(init)
        params = list(signature.parameters.values())[1:]  # after self
        if any(p.kind is inspect.Parameter.VAR_POSITIONAL for p in params):
            raise TypeError(
                f"{cls.__name__}.__init__ takes *args: its arguments cannot be recorded"
            )
        var_kw = [p.name for p in params if p.kind is inspect.Parameter.VAR_KEYWORD]

        @functools.wraps(init)
        def recording_init(self: LnetModel, *args: Any, **kw: Any) -> None:
            init(self, *args, **kw)
            # a subclass's __init__ returns last and so overwrites its parents' record
            bound = signature.bind(self, *args, **kw)
            bound.apply_defaults()
            arguments = dict(bound.arguments)
            arguments.pop(next(iter(signature.parameters)))  # self
            for name in var_kw:  # **kwargs are recorded as the keywords they were
                arguments.update(arguments.pop(name))
            object.__setattr__(self, "config", to_plain(arguments))

        cls.__init__ = recording_init  # type: ignore[method-assign]

    @classmethod
    def config_name(cls) -> str:
        """The model's config name: ``conf/model/<name>.yaml``, run names and tags.

        The class name in snake case without a ``Law`` suffix: LandscapeNet ->
        ``landscape_net``, BoxCountingLaw -> ``box_counting``.
        """
        stem = cls.__name__.removesuffix("Law")
        return re.sub(r"(?<!^)(?=[A-Z])", "_", stem).lower()

    @classmethod
    def qualified_name(cls) -> str:
        return f"{cls.__module__}.{cls.__qualname__}"

    def set_stats(self, stats: Mapping[str, Any]) -> None:
        """Training-split normalisation statistics; models without any ignore them."""


def model_classes() -> dict[str, type[LnetModel]]:
    """Every concrete lnet model class, by qualified and by plain class name."""
    import lnet.models  # noqa: F401  (imports every model module)

    found: dict[str, type[LnetModel]] = {}
    stack = list(LnetModel.__subclasses__())
    while stack:
        cls = stack.pop()
        stack.extend(cls.__subclasses__())
        if cls.__module__.startswith("lnet."):
            found[cls.qualified_name()] = cls
            found.setdefault(cls.__name__, cls)
    return found
