"""Reciprocal-rank fusion, the one way Mnemo combines rankings (keyword, vector, recency;
memories and sources; several queries): each ranking adds weight / (k + rank) to the items it
ranks, so an item high in several rankings wins, and no ranking's raw scores need to be
comparable with another's."""

from collections.abc import Hashable, Mapping, Sequence
from typing import TypeVar

K = TypeVar("K", bound=Hashable)


def tied_ranks(keys: Sequence[K], values: Sequence[float]) -> dict[K, int]:
    """1-based ranks of keys whose values are sorted best first, equal values sharing a rank
    ("1224"), so that a tie in one ranking is left for the others to break."""
    ranks: dict[K, int] = {}
    previous: tuple[float, int] | None = None
    for position, (key, value) in enumerate(zip(keys, values, strict=True), start=1):
        rank = previous[1] if previous is not None and previous[0] == value else position
        ranks[key] = rank
        previous = (value, rank)
    return ranks


def fuse(
    rankings: Mapping[str, Mapping[K, int]], weights: Mapping[str, float], k: int
) -> dict[K, dict[str, float]]:
    """Each key's contribution from every named ranking (its rank there: `rankings[name]`)."""
    parts: dict[K, dict[str, float]] = {}
    for name, ranks in rankings.items():
        weight = weights.get(name, 1.0)
        for key, rank in ranks.items():
            parts.setdefault(key, {})[name] = weight / (k + rank)
    return parts


def best(parts: Mapping[K, Mapping[str, float]], limit: int) -> list[K]:
    """The `limit` keys with the highest fused score, best first."""
    return sorted(parts, key=lambda key: sum(parts[key].values()), reverse=True)[:limit]
