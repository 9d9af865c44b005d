"""PaperLandscapeNet: the slides' layout of Landscape Net, kept for the paper comparison.

A learned generalisation of the landscape box count N^W(E).  The decider runs on every
(potential, energy) pair; :class:`~lnet.models.LandscapeNet` computes the same kind of
function with the energy-independent work done once per potential, and is the default.

Shapes: V, W, dW ``(b, n)``, E ``(b,)`` -> predicted N_V(E) ``(b,)``, >= 0; E ``(b, m)``
(energies grouped by potential) -> ``(b, m)``.

1. Inputs. x0 = ((V - E)/σ_V, (W - E)/σ_W), 2 channels, plus auxiliary channels
   (default V, W, W', standardised on the training split).
2. Decider blocks (local, "is this site below the landscape at energy E?"):
   h = Conv_k(x_i),  x_{i+1} = LeakyReLU(h) + tanh(Conv_k([x_i, aux])) · tanh(h),
   i.e. f1(x) + f2(x, aux) · f3(x) with f1 and f3 sharing one convolution; kernel 5,
   circular padding (the lattice is periodic), channels 2 -> 10 -> 20 -> 30.
3. Box-sum stage: Conv1d(kernel = stride = s) per level with normalisation and
   LeakyReLU, strides (10, 10, 10) and channels (40, 50, 60): n = 1000 -> 100 -> 10 -> 1,
   then a sum over whatever positions remain (the count is extensive).
4. Dense head 60 -> 40 -> 20 -> 1 with normalisation on the hidden layers only, and
   softplus · mean(N_train) on the scalar, so the output is a non-negative count.

``width`` multiplies every channel and hidden width (rounded), one knob for sweeps.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from lnet.models.features import Normalizer, aux_channels, check_channels
from lnet.models.layers import check_box_stage, dense_head, norm_layer, width_scaler
from lnet.models.protocol import COUNTING, LnetModel


class DeciderBlock(nn.Module):
    """x -> LeakyReLU(h) + tanh(Conv([x, aux])) * tanh(h), h = Conv(x).

    Inputs arrive circularly padded by ``kernel_size // 2`` (the lattice is periodic),
    so the convolutions themselves use no padding; the output is unpadded.
    """

    def __init__(self, c_in: int, c_out: int, n_aux: int, kernel_size: int, slope: float):
        super().__init__()
        self.conv = nn.Conv1d(c_in, c_out, kernel_size)
        self.gate = nn.Conv1d(c_in + n_aux, c_out, kernel_size)
        self.pad = kernel_size // 2
        self.slope = slope

    def forward(self, x: torch.Tensor, aux_padded: torch.Tensor) -> torch.Tensor:
        xp = F.pad(x, (self.pad, self.pad), mode="circular") if self.pad else x
        h = self.conv(xp)
        gate = torch.tanh(self.gate(torch.cat([xp, aux_padded], dim=1)))
        return F.leaky_relu(h, self.slope) + gate * torch.tanh(h)


class PaperLandscapeNet(LnetModel):
    task = COUNTING

    def __init__(
        self,
        n: int = 1000,
        aux: Sequence[str] = ("V", "W", "dW"),
        decider_channels: Sequence[int] = (10, 20, 30),
        kernel_size: int = 5,
        box_channels: Sequence[int] = (40, 50, 60),
        box_strides: Sequence[int] = (10, 10, 10),
        head: Sequence[int] = (40, 20),
        norm: str = "batch",
        negative_slope: float = 0.01,
        width: float = 1.0,
    ) -> None:
        super().__init__()
        scale = width_scaler(width)
        self.aux = check_channels(aux, "model.net.aux")
        check_box_stage(n, box_channels, box_strides, kernel_size)
        self.n = int(n)
        self.normalizer = Normalizer()
        self.deciders = nn.ModuleList()
        c = 2
        for c_out in scale(decider_channels):
            self.deciders.append(DeciderBlock(c, c_out, len(self.aux), kernel_size, negative_slope))
            c = c_out
        box: list[nn.Module] = []
        for c_out, s in zip(scale(box_channels), box_strides, strict=True):
            box += [
                nn.Conv1d(c, c_out, s, stride=s),
                norm_layer(norm, c_out, 1),
                nn.LeakyReLU(negative_slope),
            ]
            c = c_out
        self.box_sum = nn.Sequential(*box)
        self.head = dense_head(c, scale(head), norm, negative_slope)
        self.register_buffer("output_scale", torch.ones(()))

    def set_stats(self, stats: Mapping[str, Mapping[str, Any]]) -> None:
        """Take normalisation statistics of the training split (see DataModule.stats)."""
        self.normalizer.set_stats(stats)
        if "N" in stats:
            self.output_scale.fill_(max(float(stats["N"]["mean"]), 1.0))

    def forward(
        self, V: torch.Tensor, W: torch.Tensor, dW: torch.Tensor, E: torch.Tensor
    ) -> torch.Tensor:
        if E.ndim == 2:  # (b, m) energies per potential: one pair per (potential, energy)
            b, m = E.shape
            rep = lambda t: t.repeat_interleave(m, dim=0)  # noqa: E731
            return self(rep(V), rep(W), rep(dW), E.reshape(-1)).view(b, m)
        dtype = self.head[-1].weight.dtype
        V, W, dW, E = (t.to(dtype) for t in (V, W, dW, E))
        e = E[:, None]
        x = torch.stack(
            [(V - e) / self.normalizer.std("V"), (W - e) / self.normalizer.std("W")], dim=1
        )
        aux = aux_channels(self.normalizer, self.aux, V, W, dW)
        pad = self.config["kernel_size"] // 2
        aux = F.pad(aux, (pad, pad), mode="circular") if pad else aux  # padded once for all blocks
        for block in self.deciders:
            x = block(x, aux)
        boxes = self.box_sum(x).sum(dim=-1)
        return F.softplus(self.head(boxes).squeeze(-1)) * self.output_scale
