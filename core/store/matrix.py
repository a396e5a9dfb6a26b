"""The in-memory matrix that vector searches scan: float32 rows with filter columns, grown by
doubling, with an optional IVF index (core.store.ivf) over the rows it was built from."""

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np

from core.store import ivf as ivf_index


@dataclass(frozen=True)
class VectorRow:
    id: str
    rev: int
    type: str
    event_ts: float
    source_app: str
    sensitivity: str
    vector: np.ndarray


@dataclass(frozen=True)
class VectorFilter:
    types: frozenset[str] | None = None
    since_ts: float | None = None
    until_ts: float | None = None
    source_apps: frozenset[str] | None = None
    sensitivities: frozenset[str] | None = None


class Matrix:
    """Rows of vectors and filter columns, grown by doubling; deleted rows become holes."""

    def __init__(self, dim: int, capacity: int = 1024) -> None:
        self.dim = dim
        self.vectors = np.zeros((capacity, dim), dtype=np.float32)
        self.alive = np.zeros(capacity, dtype=bool)
        self.event_ts = np.zeros(capacity, dtype=np.float64)
        self.codes = {c: np.zeros(capacity, dtype=np.int32) for c in ("type", "app", "sens")}
        self.vocab: dict[str, dict[str, int]] = {c: {} for c in self.codes}
        self.ids: list[str | None] = []
        self.row_of: dict[str, int] = {}
        self.ivf: ivf_index.Ivf | None = None
        self.generation = 0  # bumped whenever rows move, which makes an IVF index stale

    def put(self, rows: Sequence[VectorRow]) -> None:
        self.put_columns(
            [r.id for r in rows],
            np.stack([r.vector for r in rows]),
            np.array([r.event_ts for r in rows], dtype=np.float64),
            {
                "type": [r.type for r in rows],
                "app": [r.source_app for r in rows],
                "sens": [r.sensitivity for r in rows],
            },
        )

    def put_columns(
        self,
        ids: list[str],
        vectors: np.ndarray,
        event_ts: np.ndarray,
        labels: dict[str, list[str]],
    ) -> None:
        """Add or replace rows given column-wise, the shape LanceDB hands them back in."""
        self.remove(ids)
        need = len(self.ids) + len(ids)
        if need > len(self.alive):
            self._grow(max(need, 2 * len(self.alive)))
        start = len(self.ids)
        block = slice(start, start + len(ids))
        self.vectors[block] = vectors
        self.alive[block] = True
        self.event_ts[block] = event_ts
        for column, values in labels.items():
            vocab = self.vocab[column]
            self.codes[column][block] = [vocab.setdefault(v, len(vocab)) for v in values]
        self.row_of.update(zip(ids, range(start, start + len(ids)), strict=True))
        self.ids.extend(ids)

    def remove(self, ids: Iterable[str]) -> None:
        for id_ in ids:
            row = self.row_of.pop(id_, None)
            if row is not None:
                self.alive[row] = False
                self.ids[row] = None
        if len(self.ids) > 1024 and len(self.row_of) < len(self.ids) // 2:
            self._pack()

    def _grow(self, capacity: int) -> None:
        def grown(array: np.ndarray) -> np.ndarray:
            out = np.zeros((capacity, *array.shape[1:]), dtype=array.dtype)
            out[: len(array)] = array
            return out

        self.vectors, self.alive, self.event_ts = map(
            grown, (self.vectors, self.alive, self.event_ts)
        )
        self.codes = {c: grown(a) for c, a in self.codes.items()}

    def _pack(self) -> None:
        self.generation += 1
        self.ivf = None
        keep = np.flatnonzero(self.alive[: len(self.ids)])
        self.vectors[: len(keep)] = self.vectors[keep]
        self.event_ts[: len(keep)] = self.event_ts[keep]
        for array in self.codes.values():
            array[: len(keep)] = array[keep]
        self.alive[:] = False
        self.alive[: len(keep)] = True
        self.ids = [self.ids[i] for i in keep]
        self.row_of = {id_: row for row, id_ in enumerate(self.ids)}  # type: ignore[misc]

    def _in(self, column: str, values: frozenset[str], n: int) -> np.ndarray:
        vocab = self.vocab[column]
        wanted = np.zeros(len(vocab) + 1, dtype=bool)  # a lookup by code: np.isin sorts
        wanted[[vocab[v] for v in values if v in vocab]] = True
        return wanted[self.codes[column][:n]]

    def _mask(self, where: VectorFilter, n: int) -> np.ndarray:
        mask = self.alive[:n].copy()
        if where.types is not None:
            mask &= self._in("type", where.types, n)
        if where.sensitivities is not None:
            mask &= self._in("sens", where.sensitivities, n)
        if where.source_apps is not None:
            mask &= self._in("app", where.source_apps, n)
        if where.since_ts is not None:
            mask &= self.event_ts[:n] >= where.since_ts
        if where.until_ts is not None:
            mask &= self.event_ts[:n] <= where.until_ts
        return mask

    def search(
        self, query: np.ndarray, k: int, where: VectorFilter, probe_share: float
    ) -> list[tuple[str, float, float]]:
        n = len(self.ids)
        if n == 0 or k <= 0:
            return []
        query = query.astype(np.float32)
        mask = self._mask(where, n)
        selected = int(mask.sum())
        if selected == 0:
            return []
        if self.ivf is None or selected <= 2 * probe_share * n:
            # No index yet, or a filter so selective that scanning its rows is cheaper anyway.
            rows = np.flatnonzero(mask) if selected < n else np.arange(n)
        else:
            rows = np.concatenate(
                [self.ivf.candidates(query, probe_share), np.arange(self.ivf.rows, n)]
            )
            rows = rows[mask[rows]]
            if len(rows) < k:  # the probed partitions hold too few rows that pass the filter
                rows = np.flatnonzero(mask)
        # Most rows: one product over the matrix beats copying them out first (10k × 384
        # floats gathered took longer than the product itself).
        scores = (
            (self.vectors[:n] @ query)[rows] if len(rows) > n // 4 else self.vectors[rows] @ query
        )
        k = min(k, len(rows))
        top = np.argpartition(-scores, k - 1)[:k]
        top = top[np.argsort(-scores[top])]
        return [
            (str(self.ids[rows[i]]), float(scores[i]), float(self.event_ts[rows[i]])) for i in top
        ]
