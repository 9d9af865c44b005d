"""Nested-dissection elimination trees of the periodic 2-D and 3-D lattices.

The symbolic half of the multifrontal counter (:mod:`lnet.physics.multifrontal`): an
ordering of the sites into a tree of fronts, computed once per lattice shape and
checked before any number is factorised.

- **2-D, L1×L2.**  The root separator is row 0 ∪ column 0 (L1 + L2 - 1 sites), which
  cuts the torus into an open (L1 - 1)×(L2 - 1) rectangle; rectangles are split across
  their longer side by a middle line, down to leaves of at most ``LEAF`` sites.  Fill
  O(n log n), work O(n^{3/2}) per energy.
- **3-D, L1×L2×L3.**  A region is a box that is either periodic or open along each
  axis (the torus: periodic along all three).  A periodic axis is cut by two planes,
  at its start and its middle (a torus needs both to fall apart), leaving two slabs
  open along it; once no axis wraps, a box is split across its longest side by a
  middle plane.  The root front then holds 2·L2·L3 sites instead of the three planes
  (about 3·L²) a one-shot cut to an open box would need, and work is O(n²) per
  energy, the optimum for 3-D grids.

Sites are flat indices in C order: (x, y) -> x·L2 + y, (x, y, z) -> (x·L2 + y)·L3 + z.
"""

from __future__ import annotations

import functools
import math

import numpy as np

__all__ = ["LEAF", "CountingError", "check_tree", "neighbours", "symbolic"]

LEAF = 16  # sites per leaf box of the dissection


class CountingError(RuntimeError):
    """The exact counter broke one of its own invariants: the count would be wrong.

    The message reads ``d-D count on the L1×…×Ld torus[ at E = e]: <what failed>``;
    ``shape`` is the lattice shape and ``energy`` is E (None for a symbolic failure).
    """

    def __init__(self, shape: tuple[int, ...], message: str, energy: float | None = None) -> None:
        self.shape = tuple(int(L) for L in shape)
        self.energy = None if energy is None else float(energy)
        self.detail = message
        at = "" if energy is None else f" at E = {self.energy!r}"
        sides = "×".join(str(L) for L in self.shape)
        super().__init__(f"{len(self.shape)}-D count on the {sides} torus{at}: {message}")

    def __reduce__(self) -> tuple:
        # picklable across process pools (the default would call __init__(full message))
        return type(self), (self.shape, self.detail, self.energy)


def neighbours(shape: tuple[int, ...]) -> np.ndarray:
    """``(n, 2·d)`` int64: the neighbours of every site of the periodic lattice ``shape``,
    +1 and -1 along each axis in turn (repeated when a side is 2)."""
    n = math.prod(shape)
    coords = np.unravel_index(np.arange(n, dtype=np.int64), shape)
    cols = []
    for axis, L in enumerate(shape):
        for step in (1, -1):
            moved = list(coords)
            moved[axis] = (coords[axis] + step) % L
            cols.append(np.ravel_multi_index(tuple(moved), shape))
    return np.stack(cols, axis=1).astype(np.int64)


def _box_sites(shape: tuple[int, ...], lo: tuple[int, ...], hi: tuple[int, ...]) -> np.ndarray:
    """Flat indices of the box lo <= x < hi (per axis), in C order."""
    grids = np.meshgrid(*(np.arange(a, b) for a, b in zip(lo, hi, strict=True)), indexing="ij")
    return np.ravel_multi_index(tuple(g.ravel() for g in grids), shape).astype(np.int64)


def _dissect_2d(shape: tuple[int, int], sites: list[np.ndarray], nchild: list[int]) -> None:
    L1, L2 = shape

    def rect(x0: int, x1: int, y0: int, y1: int) -> int:
        """Dissect [x0, x1)×[y0, y1); returns 1 if it made a node, 0 if empty."""
        h, w = x1 - x0, y1 - y0
        if h <= 0 or w <= 0:
            return 0
        if h * w <= LEAF:
            cells = np.arange(x0, x1)[:, None] * L2 + np.arange(y0, y1)[None, :]
            sites.append(cells.ravel().astype(np.int64))
            nchild.append(0)
            return 1
        if h >= w:
            xm = (x0 + x1) // 2
            k = rect(x0, xm, y0, y1) + rect(xm + 1, x1, y0, y1)
            sep = xm * L2 + np.arange(y0, y1)
        else:
            ym = (y0 + y1) // 2
            k = rect(x0, x1, y0, ym) + rect(x0, x1, ym + 1, y1)
            sep = np.arange(x0, x1) * L2 + ym
        sites.append(sep.astype(np.int64))
        nchild.append(k)
        return 1

    top = rect(1, L1, 1, L2)
    sites.append(np.concatenate([np.arange(L2), np.arange(1, L1) * L2]).astype(np.int64))
    nchild.append(top)


def _dissect_nd(shape: tuple[int, ...], sites: list[np.ndarray], nchild: list[int]) -> None:
    d = len(shape)

    def box(lo: tuple[int, ...], hi: tuple[int, ...], wraps: tuple[bool, ...]) -> int:
        """Dissect the box lo <= x < hi, periodic along the axes where ``wraps``;
        returns 1 if it made a node, 0 if empty."""
        size = [b - a for a, b in zip(lo, hi, strict=True)]
        if min(size) <= 0:
            return 0
        if math.prod(size) <= LEAF:
            sites.append(_box_sites(shape, lo, hi))
            nchild.append(0)
            return 1
        periodic = [a for a in range(d) if wraps[a]]
        if periodic:  # two planes, at the start and the middle, open the axis
            a = max(periodic, key=lambda q: size[q])
            cuts = (lo[a], (lo[a] + hi[a]) // 2)
            parts = [(cuts[0] + 1, cuts[1]), (cuts[1] + 1, hi[a])]
            open_wraps = wraps[:a] + (False,) + wraps[a + 1 :]
        else:  # one middle plane across the longest side
            a = max(range(d), key=lambda q: size[q])
            mid = (lo[a] + hi[a]) // 2
            cuts = (mid,)
            parts = [(lo[a], mid), (mid + 1, hi[a])]
            open_wraps = wraps
        k = 0
        for p0, p1 in parts:
            k += box(lo[:a] + (p0,) + lo[a + 1 :], hi[:a] + (p1,) + hi[a + 1 :], open_wraps)
        planes = [
            _box_sites(shape, lo[:a] + (c,) + lo[a + 1 :], hi[:a] + (c + 1,) + hi[a + 1 :])
            for c in sorted(set(cuts))
        ]
        sites.append(np.concatenate(planes))
        nchild.append(k)
        return 1

    box((0,) * d, tuple(shape), (True,) * d)


@functools.lru_cache(maxsize=32)
def symbolic(shape: tuple[int, ...]) -> tuple[np.ndarray, ...]:
    """Nested-dissection tree of the periodic lattice ``shape`` (2 or 3 sides), in
    postorder (children first, root last).

    Returns ``(nb, j_ptr, j_idx, b_ptr, b_idx, nchild)``: ``nb`` ``(n, 2·d)`` the
    neighbours of every site (:func:`neighbours`); node t eliminates the sites
    ``j_idx[j_ptr[t]:j_ptr[t+1]]``, its boundary is ``b_idx[b_ptr[t]:b_ptr[t+1]]`` and its
    children are the ``nchild[t]`` subtrees processed just before it. The arrays are
    read-only (cached); :func:`check_tree` has passed on them.
    """
    shape = tuple(int(L) for L in shape)
    n = math.prod(shape)
    nb = neighbours(shape)
    sites: list[np.ndarray] = []
    nchild: list[int] = []
    (_dissect_2d if len(shape) == 2 else _dissect_nd)(shape, sites, nchild)

    # boundary of each subtree's region: neighbours outside it (all in ancestor separators)
    bounds: list[np.ndarray] = []
    regions: list[np.ndarray] = []
    for t, J in enumerate(sites):
        k = nchild[t]
        parts = [J] + regions[len(regions) - k :] if k else [J]
        if k:
            del regions[len(regions) - k :]
        region = np.concatenate(parts)
        regions.append(region)
        inside = np.zeros(n, dtype=bool)
        inside[region] = True
        around = np.unique(nb[region].ravel())
        bounds.append(around[~inside[around]])
    if len(regions) != 1 or regions[0].size != n:
        raise CountingError(shape, f"the dissection left {len(regions)} trees, not one")

    def flat(arrays: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
        ptr = np.zeros(len(arrays) + 1, dtype=np.int64)
        ptr[1:] = np.cumsum([a.size for a in arrays])
        return ptr, np.concatenate(arrays).astype(np.int64)

    j_ptr, j_idx = flat(sites)
    b_ptr, b_idx = flat(bounds)
    out = (nb, j_ptr, j_idx, b_ptr, b_idx, np.array(nchild, dtype=np.int64))
    check_tree(shape, *out)
    for a in out:
        a.setflags(write=False)
    return out


def check_tree(
    shape: tuple[int, ...],
    nb: np.ndarray,
    j_ptr: np.ndarray,
    j_idx: np.ndarray,
    b_ptr: np.ndarray,
    b_idx: np.ndarray,
    nchild: np.ndarray,
) -> None:
    """Raise :class:`CountingError` unless the tree ``symbolic`` returns can be factorised.

    With T nodes in postorder, node t's front is ``J_t ∪ (children's delays) ∪ B_t``.
    The numeric phase relies on, and this checks, in O(n log n):

    * every site is eliminated by exactly one node, and the nodes form one tree;
    * ``B_t`` holds no site eliminated in t's subtree (nodes ``first_t .. t``);
    * every neighbour of ``J_t`` is eliminated in t's subtree or lies in ``B_t``
      (no coupling of H is dropped);
    * every child's boundary maps into its parent's front: the index of each site in
      ``J_t ⧺ B_t`` is >= 0 and < |J_t| + |B_t|.  A site outside would be assembled
      into row -1, which numba wraps silently.
    """
    shape = tuple(int(L) for L in shape)
    n = math.prod(shape)
    T = nchild.shape[0]
    nJ = np.diff(j_ptr)
    nB = np.diff(b_ptr)
    if j_idx.shape[0] != n or np.any((j_idx < 0) | (j_idx >= n)):
        raise CountingError(shape, f"the tree eliminates {j_idx.shape[0]} sites, not the {n} sites")
    times = np.bincount(j_idx, minlength=n)
    if np.any(times != 1):
        s = int(np.flatnonzero(times != 1)[0])
        raise CountingError(shape, f"site {s} is eliminated {times[s]} times, not once")
    if np.any((b_idx < 0) | (b_idx >= n)):
        raise CountingError(shape, "a boundary site index is outside 0..n-1")
    node_of = np.empty(n, dtype=np.int64)
    node_of[j_idx] = np.repeat(np.arange(T), nJ)
    pos_j = np.empty(n, dtype=np.int64)  # position of a site in its own node's J
    pos_j[j_idx] = np.arange(n) - np.repeat(j_ptr[:-1], nJ)

    first = np.empty(T, dtype=np.int64)  # t's subtree is nodes first[t] .. t (postorder)
    parent = np.full(T, -1, dtype=np.int64)
    stack: list[int] = []
    for t in range(T):
        k = int(nchild[t])
        if k < 0 or k > len(stack):
            raise CountingError(shape, f"node {t} claims {k} children, {len(stack)} are open")
        kids = stack[len(stack) - k :]
        del stack[len(stack) - k :]
        parent[kids] = t
        first[t] = first[kids[0]] if k else t
        stack.append(t)
    if stack != [T - 1] or nB[T - 1] != 0:
        raise CountingError(shape, f"the tree has roots {stack}, not one root with no boundary")

    b_node = np.repeat(np.arange(T), nB)
    below = node_of[b_idx] <= b_node
    if np.any(below):
        i = int(np.flatnonzero(below)[0])
        raise CountingError(
            shape,
            f"boundary site {b_idx[i]} of node {b_node[i]} is eliminated at node "
            f"{node_of[b_idx[i]]}, not at an ancestor",
        )
    # (node, site) -> position in that node's front J ⧺ B, by a sorted key t·n + site
    keys = b_node * n + b_idx
    order = np.argsort(keys, kind="stable")
    sorted_keys = keys[order]
    twice = np.flatnonzero(np.diff(sorted_keys) == 0)
    if twice.size:
        t, site = divmod(int(sorted_keys[twice[0]]), n)
        raise CountingError(shape, f"boundary site {site} appears twice in node {t}'s boundary")
    b_pos = nJ[b_node] + np.arange(b_idx.shape[0]) - b_ptr[b_node]

    def front_index(t: np.ndarray, site: np.ndarray) -> np.ndarray:
        """Index of ``site`` in node ``t``'s front ``J_t ⧺ B_t``, -1 where absent."""
        idx = np.where(node_of[site] == t, pos_j[site], -1)
        if sorted_keys.size:
            q = t * n + site
            i = np.minimum(np.searchsorted(sorted_keys, q), sorted_keys.size - 1)
            idx = np.where(sorted_keys[i] == q, b_pos[order[i]], idx)
        return idx

    # couplings of J_t: eliminated in t's subtree or in B_t
    t_site = node_of[j_idx]
    for r in range(nb.shape[1]):
        nbr = nb[j_idx, r]
        below = (node_of[nbr] >= first[t_site]) & (node_of[nbr] <= t_site)
        bad = ~below & (front_index(t_site, nbr) < 0)
        if np.any(bad):
            i = int(np.flatnonzero(bad)[0])
            raise CountingError(
                shape,
                f"site {j_idx[i]} of node {t_site[i]} couples to site {nbr[i]}, which is "
                "neither eliminated in its subtree nor on its boundary",
            )
    # every child's boundary inside its parent's front (the root has no boundary)
    child, site = b_node, b_idx
    par = parent[child]
    m = front_index(par, site)
    size = nJ[par] + nB[par]
    bad = (m < 0) | (m >= size)
    if np.any(bad):
        i = int(np.flatnonzero(bad)[0])
        raise CountingError(
            shape,
            f"boundary site {site[i]} of node {child[i]} maps to row {m[i]} of its parent "
            f"node {par[i]}'s front of {size[i]} rows (J ⧺ B): it lies outside the front",
        )
