"""How every benchmark reports: a readable table, then its figures as one JSON line, last."""

import json
from collections.abc import Sequence
from typing import Any


def report(rows: Sequence[tuple[str, str, str]], figures: dict[str, Any]) -> None:
    """Print `(figure, measured, note)` rows as a table, then `figures` as one JSON line."""
    width = max(len(name) for name, _, _ in rows)
    print(f"{'figure':<{width}}  {'measured':>14}  note")
    for name, value, note in rows:
        print(f"{name:<{width}}  {value:>14}  {note}")
    print(json.dumps(figures))
