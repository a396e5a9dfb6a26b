"""An inverted-file (IVF) index over unit vectors, in numpy.

Rows are grouped by their nearest of ~√n centroids (spherical k-means); a query scans only the
partitions whose centroids are closest until it has covered a set share of the rows, then ranks
those rows exactly. At 100k × 384 on this machine that is ~10× less memory traffic than a full
scan, which is what a matrix–vector product on two cores is bound by.
"""

from dataclasses import dataclass

import numpy as np

SAMPLE = 20_000  # k-means learns from a sample; assignment then covers every row
ITERATIONS = 8


@dataclass(frozen=True)
class Ivf:
    centroids: np.ndarray  # (partitions, dim), unit rows
    order: np.ndarray  # row numbers grouped by partition
    starts: np.ndarray  # partition p holds order[starts[p]:starts[p + 1]]
    rows: int  # rows [0, rows) are indexed; later rows are the unindexed tail

    def candidates(self, query: np.ndarray, share: float) -> np.ndarray:
        """Indexed row numbers in the closest partitions, covering at least `share` of them."""
        ranked = np.argsort(-(self.centroids @ query))
        sizes = np.diff(self.starts)[ranked]
        enough = int(np.searchsorted(np.cumsum(sizes), share * self.rows)) + 1
        return np.concatenate(
            [self.order[self.starts[p] : self.starts[p + 1]] for p in ranked[:enough]]
        )


def build(vectors: np.ndarray, alive: np.ndarray, seed: int = 0) -> Ivf:
    """Cluster the live rows of `vectors` (unit length) into ~√n partitions."""
    rng = np.random.default_rng(seed)
    live = np.flatnonzero(alive)
    partitions = max(8, int(np.sqrt(len(live))))
    sample = vectors[rng.choice(live, size=min(SAMPLE, len(live)), replace=False)]
    centroids = sample[rng.choice(len(sample), size=partitions, replace=False)].copy()
    for _ in range(ITERATIONS):
        assign = np.argmax(sample @ centroids.T, axis=1)
        sums = np.zeros_like(centroids)
        np.add.at(sums, assign, sample)
        norms = np.linalg.norm(sums, axis=1, keepdims=True)
        empty = norms[:, 0] == 0
        sums[empty] = sample[rng.choice(len(sample), size=int(empty.sum()))]
        centroids = sums / np.where(empty[:, None], 1, norms)
    assign = np.empty(len(live), dtype=np.int32)
    for start in range(0, len(live), 20_000):
        block = live[start : start + 20_000]
        assign[start : start + len(block)] = np.argmax(vectors[block] @ centroids.T, axis=1)
    grouped = np.argsort(assign, kind="stable")
    starts = np.concatenate([[0], np.cumsum(np.bincount(assign, minlength=partitions))])
    return Ivf(
        centroids=centroids.astype(np.float32),
        order=live[grouped].astype(np.int64),
        starts=starts,
        rows=len(alive),
    )
