"""The memory views at scale: the browser, the graph and the timeline on a large store.

    python -m bench.gui_views [--memories 100000] [--entities 2000] [--captures 20000]

Seeds (once, kept in the user cache folder) a store of 100,000 memories of every type, 2,000
people, places and organisations with 4,000 links from 1,000 memories to 1,000 of them, and
20,000 captures over 30 days (1,000 on the 15th). Its vectors are random unit vectors stored
under the bundled MiniLM's name, as bench.search does: embedding 120,000 texts with MiniLM
takes ~30 minutes here, and a vector's values do not change what a scan costs. Queries typed
in the browser are embedded by the real MiniLM. The real app then runs in a process of its own
(bench.gui_views_run) under Xvfb and times what a user waits for. Run by bench.gui too; prints
a table, then one JSON line.
"""

import argparse
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from bench import seeds
from bench.display import virtual_display
from bench.report import report
from bench.search import DIM, PROJECTS, TOPICS, synthetic_memories

ROOT = Path(__file__).resolve().parent.parent
TARGETS = {
    "browser_open_ms_100k": 300,
    "browser_filter_ms_100k": 150,
    "graph_layout_ms_2000_nodes": 1000,
    "graph_max_gui_stall_ms": 50,
    "graph_frame_ms_p95_2000_nodes": 33,
    "timeline_day_ms": 300,
    "timeline_search_ms": 300,
    "timeline_max_gui_stall_ms": 50,
    "graph_reload_max_gui_stall_ms": 50,
    "max_gui_stall_ms_views": 50,
}
FIRST = "Ana Priya Tom Lena Kofi Marta Jun Sam Noor Diego Ines Yuki Omar Zoe Ravi".split()
FIRST += "Lucia Hana Felix Amara Bruno Chen Dara Eva Farah Goran Ilse Joao Kai Lior Mina".split()
LAST = "Silva Nair Okafor Berg Tanaka Costa Haddad Novak Reyes Lindqvist Moreau Ito".split()
LAST += "Petrov Santos Keller Mensah Ortiz Quinn Rossi Sato Varga Weber Young Zhou".split()
LAST += "Abbott Baker Clarke Duarte Evans Fischer Garcia Horvat Ivanova Jensen Kowalski".split()
LAST += "Larsen Murphy Nakamura Olsen Park Rahman Schmidt Torres Ueda Vogel".split()
DAY_OF_MANY = 15  # the day with 1,000 captures
APPS = ["firefox", "code", "thunderbird", "slack", "terminal", "obsidian"]


class NamedRandomEmbedder:
    """bench.search's random vectors under the bundled model's name (see the module's note)."""

    dim = DIM

    def __init__(self) -> None:
        from bench.search import RandomEmbedder
        from core.llm.embedder import bundled_name

        self.name = bundled_name()
        self._random = RandomEmbedder()

    def embed(self, texts: Any) -> Any:
        return self._random.embed(texts)


def seed(folder: Path, memories: int, entities: int, captures: int) -> None:
    from core.memory.models import Source, SourceKind
    from core.settings import Settings
    from core.store.memories import MemoryStore

    settings = Settings.load(folder)
    settings.app.first_run_done = True
    settings.security.use_keyring = False  # vault keys in the folder: no keyring on a bench
    settings.save(folder)
    store = MemoryStore(folder, NamedRandomEmbedder(), settings)  # type: ignore[arg-type]
    rows, _tail = synthetic_memories(memories)
    for i in range(0, len(rows), 2000):
        store.add_many(rows[i : i + 2000], cause="seeded", actor="bench")
        print(f"seeded {min(i + 2000, len(rows))} memories", file=sys.stderr)
    names = [f"{first} {last}" for last in LAST for first in FIRST][: entities // 2]
    names += [f"{p.title()} project" for p in PROJECTS] + [f"{t.title()} team" for t in TOPICS]
    kinds = ["person"] * (entities // 2) + ["project"] * len(PROJECTS)
    kinds += ["organization"] * len(TOPICS)
    nodes = []
    for n in range(entities):
        kind, name = (kinds[n], names[n]) if n < len(names) else ("place", f"Site {n}")
        nodes.append(store.entity(kind, name).id)
    linked = store.memories(limit=1000)
    rng = random.Random(5)
    for memory in linked:
        for node in rng.sample(nodes[:1000], 4):
            store.link(memory.id, node, "mentions")
    print(f"seeded {entities} entities and {4 * len(linked)} links", file=sys.stderr)
    start = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    start -= timedelta(days=30)
    many = min(1000, captures)
    batch: list[Source] = []
    for n in range(captures):
        if n < many:  # the busy day: 1,000 captures from 8:00, one every 40 s
            when = start + timedelta(days=DAY_OF_MANY, hours=8, seconds=40 * n)
        else:  # the rest spread over the other days
            day = (n % 29) + (1 if (n % 29) >= DAY_OF_MANY else 0)
            when = start + timedelta(days=day, hours=8, seconds=(n // 29) * 40)
        app = APPS[n % len(APPS)]
        batch.append(
            Source(
                kind=SourceKind.CAPTURE,
                occurred_at=when,
                app=app,
                title=f"{rng.choice(TOPICS)} — {app}",
                text=f"{rng.choice(TOPICS)} notes for {rng.choice(PROJECTS)} (frame {n})",
            )
        )
        if len(batch) == 2000:
            store.add_sources(batch)
            batch = []
            print(f"seeded {n + 1} captures", file=sys.stderr)
    if batch:
        store.add_sources(batch)
    (folder / "busy-day").write_text((start + timedelta(days=DAY_OF_MANY)).isoformat())
    store.close()


def seeded_store(memories: int, entities: int, captures: int) -> Path:
    return seeds.cached(
        f"views-seed-{memories}-{entities}-{captures}-v1",
        lambda folder: seed(folder, memories, entities, captures),
    )


def measure(memories: int, entities: int, captures: int) -> dict[str, Any]:
    """Run the app on a copy of the seeded store under Xvfb; returns its figures."""
    seed_folder = seeded_store(memories, entities, captures)
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "data"
        shutil.copytree(seed_folder, folder)
        with virtual_display():
            done = subprocess.run(
                [sys.executable, "-X", "faulthandler", "-m", "bench.gui_views_run", str(folder)],
                capture_output=True,
                text=True,
                env={**os.environ, "QT_QPA_PLATFORM": "xcb"},
                cwd=ROOT,
                timeout=1800,
            )
    lines = [ln for ln in done.stdout.splitlines() if ln.startswith("{")]
    if done.returncode != 0 or not lines:
        sys.exit(f"the views run failed ({done.returncode}):\n{done.stderr[-3000:]}")
    figures: dict[str, Any] = json.loads(lines[-1])
    return figures


def rows(figures: dict[str, Any], targets: dict[str, float]) -> list[tuple[str, str, str]]:
    """Each figure with its target and whether it was met, for bench.report."""
    out = []
    for name, value in figures.items():
        target = targets.get(name)
        note = f"target ≤ {target}" if target else ""
        if target and isinstance(value, int | float):
            note += " (met)" if value <= target else " (MISSED)"
        if name == "tray_visible":
            note = "target true"
        out.append((name, str(value), note))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--memories", type=int, default=100_000)
    parser.add_argument("--entities", type=int, default=2_000)
    parser.add_argument("--captures", type=int, default=20_000)
    args = parser.parse_args()
    figures = measure(args.memories, args.entities, args.captures)
    report(rows(figures, TARGETS), figures)


if __name__ == "__main__":
    main()
