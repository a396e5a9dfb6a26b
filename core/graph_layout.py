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
    for _ in range(iterations):
        shift = np.zeros_like(pos)
        near = cKDTree(pos).query_pairs(cutoff, output_type="ndarray")
        if len(near):
            delta = pos[near[:, 0]] - pos[near[:, 1]]
            dist = np.maximum(np.linalg.norm(delta, axis=1), 0.01)
            push = (delta / dist[:, None]) * (k * k / dist)[:, None]
            shift += _spread(near[:, 0], push, n) - _spread(near[:, 1], push, n)
        if len(pairs):
            delta = pos[pairs[:, 0]] - pos[pairs[:, 1]]
            dist = np.maximum(np.linalg.norm(delta, axis=1), 0.01)
            pull = (delta / dist[:, None]) * (dist * dist / k)[:, None]
            shift += _spread(pairs[:, 1], pull, n) - _spread(pairs[:, 0], pull, n)
        length = np.maximum(np.linalg.norm(shift, axis=1), 0.01)
        pos += shift / length[:, None] * np.minimum(length, temperature)[:, None]
        temperature *= 0.95
    return {node: (float(pos[i, 0]), float(pos[i, 1])) for node, i in index.items()}


def _spread(index: np.ndarray, force: np.ndarray, n: int) -> np.ndarray:
    """Each node's sum of the forces listed for it (bincount: far faster than np.add.at)."""
    return np.stack(
        [np.bincount(index, force[:, 0], n), np.bincount(index, force[:, 1], n)], axis=1
    )
