"""Force-directed layout of the memory graph (Fruchterman–Reingold), in numpy, for a worker
thread: numpy and scipy release the GIL in their loops, so the window keeps painting.

Repulsion only acts within a cut-off distance, found with scipy's cKDTree, so an iteration costs
about the number of near pairs rather than n²; attraction runs along the edges. A layout starts
from the previous positions when the graph changes, so nodes stay where the user saw them.
The issue measured this approach at ~0.5 s for 2,000 nodes / 4,000 edges (networkx: 6–9 s).
"""

from collections.abc import Mapping, Sequence

import numpy as np
from scipy.spatial import cKDTree

SPACING = 60.0  # the ideal distance between linked nodes, in scene units
CUTOFF = 2.0  # × SPACING: farther nodes do not push each other


def layout(
    nodes: Sequence[str],
    edges: Sequence[tuple[str, str]],
    *,
    previous: Mapping[str, tuple[float, float]] | None = None,
    iterations: int = 60,
    seed: int = 7,
) -> dict[str, tuple[float, float]]:
    """Positions for `nodes` (ids) joined by `edges` (pairs of ids)."""
    n = len(nodes)
    if n == 0:
        return {}
    index = {node: i for i, node in enumerate(nodes)}
    rng = np.random.default_rng(seed)
    radius = SPACING * np.sqrt(n)
    pos = rng.uniform(-radius / 2, radius / 2, size=(n, 2))
    for node, (x, y) in (previous or {}).items():
        if node in index:
            pos[index[node]] = (x, y)
    pairs = np.array(
        [(index[a], index[b]) for a, b in edges if a in index and b in index and a != b],
        dtype=np.int64,
    ).reshape(-1, 2)
    k, cutoff = SPACING, SPACING * CUTOFF
    temperature = radius / 10
    src, dst = pairs[:, 0].copy(), pairs[:, 1].copy()
    for _ in range(iterations):
        # Repulsion k²/d along the unit vector is delta·k²/d², and attraction d²/k is
        # delta·d/k: no square root for the (up to ~150,000) near pairs, one for the edges.
        shift = np.zeros_like(pos)
        near = cKDTree(pos).query_pairs(cutoff, output_type="ndarray")
        if len(near):
            i, j = near[:, 0].copy(), near[:, 1].copy()
            delta = pos[i] - pos[j]
            d2 = np.maximum(np.einsum("ij,ij->i", delta, delta), 1e-4)
            push = delta * (k * k / d2)[:, None]
            shift += _spread(i, push, n) - _spread(j, push, n)
        if len(src):
            delta = pos[src] - pos[dst]
            dist = np.sqrt(np.einsum("ij,ij->i", delta, delta))
            pull = delta * (dist / k)[:, None]
            shift += _spread(dst, pull, n) - _spread(src, pull, n)
        length = np.maximum(np.sqrt(np.einsum("ij,ij->i", shift, shift)), 0.01)
        pos += shift * (np.minimum(length, temperature) / length)[:, None]
        temperature *= 0.95
    return {node: (float(pos[i, 0]), float(pos[i, 1])) for node, i in index.items()}


def _spread(index: np.ndarray, force: np.ndarray, n: int) -> np.ndarray:
    """Each node's sum of the forces listed for it (bincount: far faster than np.add.at)."""
    return np.stack(
        [np.bincount(index, force[:, 0], n), np.bincount(index, force[:, 1], n)], axis=1
    )
