"""The levels form's whole counting curve from one sweep over its ramps.

UniversalLandscapeNet's ``levels`` form predicts, for one potential with K = n·J ramps
(start s_k = log e_j(x), log-width w_k > 0, weight a_k >= 0),

    N̂(t) = Σ_k a_k · clamp((t - s_k) / w_k, 0, 1),        t = log E.

N̂ is piecewise linear in t with 2K breakpoints: ramp k's slope a_k/w_k turns on at s_k
and off at s_k + w_k.  The chunked route evaluates every ramp at every energy, O(m·K)
for m energies.  :func:`level_curve` sorts the m energies t_0 <= ... <= t_{m-1} once and
places each ramp's two breakpoints among them by binary search (``torch.searchsorted``,
batched over potentials), O((K + m) log m); at energy q ramp k is

- off (0) for q < on_k = #{t_q <= s_k},
- on, (a_k/w_k)(t_q - s_k), for on_k <= q < off_k = #{t_q < s_k + w_k},
- complete (a_k) from off_k on,

so with running sums over the sorted energies (a difference array, scattered and
cumulated),

    N̂(t_q) = C_q + (t_q - c) · A_q - B_q,   C_q = Σ_{complete} a_k,
    A_q = Σ_{on} a_k/w_k,   B_q = Σ_{on} (a_k/w_k)(s_k - c),

c = the mean of the s_k (an anchor: t - c and s - c are of the size of the levels'
spread, not of |log E|).  A ramp that starts at or above the highest energy asked
(s_k >= t_{m-1}) is 0 at every one of them and is dropped before the search: for
energies in the bottom of the spectrum that is most of them (about 3 in 4 for a
10^5-site chain up to λ_⌈n/10⌉).  Each sum is accumulated in int64 fixed point (each term rounded
once to a multiple of 2^-62 times the sum of its magnitudes), so a ramp's +q and -q cancel
exactly: nothing drifts, A_q >= 0, and A_q = B_q = 0 exactly where no ramp is on (below
every level N̂ = 0 exactly; above every level N̂ = Σ_k a_k, the completed weights, with
no t·A - B cancellation left).  A running max over the sorted energies makes the result
non-decreasing in E despite rounding.  Computed in float64 whatever the input dtype, it
agrees with the direct float64 sum to about 1e-14 of max N̂ (about 1e-11 relative where
N̂ is small, widths down to 1e-3 measured); the result has the dtype of the levels.

Shapes: levels, widths, weights ``(b, *ramps)`` (e.g. ``(b, n, J)``, flattened to K),
log E ``(b, m)`` -> ``(b, m)``.
"""

from __future__ import annotations

import torch

SLOPE_BITS = 62  # |Σ q| <= 2^62 (1 + ε) + K/2 < 2^63: the int64 sums cannot overflow


def running_sum(value: torch.Tensor, on: torch.Tensor, off: torch.Tensor, m: int) -> torch.Tensor:
    """S_q = Σ_k value_k over the k with on_k <= q < off_k, for q < m: value, on, off
    ``(b, K)`` (0 <= on <= off <= m) -> ``(b, m)`` float64, summed exactly in int64 fixed
    point (``SLOPE_BITS`` bits for the sum of |value| of each potential)."""
    magnitude = value.abs().sum(dim=1, keepdim=True)
    scale = (2.0**SLOPE_BITS / magnitude).clamp(max=1e300)  # finite when every value is 0
    q = torch.round(value * scale).to(torch.int64)
    delta = torch.zeros(value.shape[0], m + 1, dtype=torch.int64, device=value.device)
    delta.scatter_add_(1, torch.cat([on, off], dim=1), torch.cat([q, -q], dim=1))
    return delta[:, :m].cumsum(dim=1).double() / scale


def level_curve(
    log_level: torch.Tensor,
    width: torch.Tensor,
    weight: torch.Tensor,
    log_e: torch.Tensor,
) -> torch.Tensor:
    """Σ_k a_k · clamp((t - s_k) / w_k, 0, 1) at every t = log E (module docstring).

    log_level s, width w > 0, weight a >= 0: ``(b, *ramps)``; log_e ``(b, m)`` ->
    ``(b, m)`` in the dtype of ``log_level``, >= 0 and non-decreasing in log_e.
    """
    b = log_level.shape[0]
    s, w, a = (x.reshape(b, -1) for x in (log_level, width, weight))
    t, order = torch.sort(log_e.double(), dim=1)  # (b, m)
    m = t.shape[1]
    # no curve for a row with a level, width or weight that is not finite or a width <= 0,
    # nor at a NaN energy
    fine = s.isfinite() & w.isfinite() & a.isfinite() & (w > 0)
    bad = ~fine.all(dim=1, keepdim=True) | t.isnan()
    # a ramp that starts at or above every energy is 0 at all of them: drop it (a ramp
    # column live in any row is kept for all rows); most ramps, for low energies
    live = (s < t[:, -1:]).any(dim=0)  # compared in float64
    if not bool(live.all()):
        keep = live.nonzero()[:, 0]
        s, w, a = (x.index_select(1, keep) for x in (s, w, a))
    s, w, a = s.double(), w.double(), a.double()
    on = torch.searchsorted(t, s, right=True)  # first energy with t > s_k
    off = torch.searchsorted(t, s + w)  # first energy with t >= s_k + w_k
    never = torch.full_like(off, m)
    c = s.mean(dim=1, keepdim=True) if s.shape[1] else torch.zeros_like(t[:, :1])
    slope = a / w
    A = running_sum(slope, on, off, m)
    B = running_sum(slope * (s - c), on, off, m)
    C = running_sum(a, off, never, m)
    ramps = torch.where(A > 0, ((t - c) * A - B).clamp_min(0.0), torch.zeros_like(A))
    curve = (C + ramps).cummax(dim=1).values
    bad = bad | ~(slope.sum(dim=1, keepdim=True) + c).isfinite()  # the sums overflowed
    curve = curve.masked_fill(bad, float("nan"))
    return torch.empty_like(curve).scatter_(1, order, curve).to(log_level.dtype)
