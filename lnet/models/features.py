"""Normalised input channels for the counting and eigenvalue networks.

Statistics come from the training split (``DataModule.stats``) and are stored as
buffers, so a saved model carries its own normalisation.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import torch
from torch import nn

CHANNELS = ("V", "W", "dW", "invW", "dW2")


class Normalizer(nn.Module):
    """Per-field mean/std buffers for V, W, dW and E: z = (x - mean) / std."""

    FIELDS = ("V", "W", "dW", "E")

    def __init__(self) -> None:
        super().__init__()
        for f in self.FIELDS:
            self.register_buffer(f"{f}_mean", torch.zeros(()))
            self.register_buffer(f"{f}_std", torch.ones(()))

    def set_stats(self, stats: Mapping[str, Mapping[str, Any]]) -> None:
        for f in self.FIELDS:
            if f in stats:
                getattr(self, f"{f}_mean").fill_(float(stats[f]["mean"]))
                getattr(self, f"{f}_std").fill_(float(stats[f]["std"]) or 1.0)

    def mean(self, f: str) -> torch.Tensor:
        return getattr(self, f"{f}_mean")

    def std(self, f: str) -> torch.Tensor:
        return getattr(self, f"{f}_std")

    def z(self, f: str, x: torch.Tensor) -> torch.Tensor:
        return (x - self.mean(f)) / self.std(f)


def aux_channels(
    norm: Normalizer, names: Sequence[str], V: torch.Tensor, W: torch.Tensor, dW: torch.Tensor
) -> torch.Tensor:
    """Stack the requested auxiliary channels, each normalised: shape (b, len(names), n).

    V, W, dW: standardised fields; invW: mean(W)/W - 1; dW2: (dW/std(dW))².
    """
    out = []
    for name in names:
        if name == "V":
            out.append(norm.z("V", V))
        elif name == "W":
            out.append(norm.z("W", W))
        elif name == "dW":
            out.append(dW / norm.std("dW"))
        elif name == "invW":
            out.append(norm.mean("W") / W - 1.0)
        elif name == "dW2":
            out.append((dW / norm.std("dW")) ** 2)
        else:  # pragma: no cover - validated at construction
            raise ValueError(name)
    return torch.stack(out, dim=1)


def check_channels(names: Sequence[str], key: str) -> tuple[str, ...]:
    from lnet.errors import ConfigError

    names = tuple(names)
    if not names:
        raise ConfigError(key, f"needs at least one channel; allowed: {list(CHANNELS)}")
    bad = [c for c in names if c not in CHANNELS]
    if bad:
        raise ConfigError(key, f"unknown channel {bad[0]!r}; allowed: {list(CHANNELS)}")
    return names
