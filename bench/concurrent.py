"""Several processes on one data folder at once, as a person's machine has them: the app's host
(capturing recorded frames, purging, compacting, consolidating and backing up on its own), the
`mnemo` command line adding, editing, deleting, importing and ingesting in a loop, and `mnemo
search` in another loop.

Counted: error messages a user would see (any "database is locked", any "unexpected error",
any failed command), acknowledged CLI writes missing or changed at the end, and maintenance
runs that overlapped (core.locks traces each holder of the maintenance lock to a file).

`python -m bench.concurrent [--minutes M]` runs it alone; bench.reliability runs it with the
rest of the proof.
"""

import argparse
import json
import os
import random
import re
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from bench.kill_trials import RecordedScreen, export_file, integrity
from bench.report import report
from core.locks import TRACE_ENV

CLI_TIMEOUT_S = 300  # a command that takes this long is stuck: counted as an error shown
SEARCHES = ["standup thursday", "deploy steps", "budget review", "flight booking", "build server"]
ID = re.compile(r"^[0-9a-f]{32}$", re.M)


@dataclass
class Shown:
    """What the user would have seen go wrong."""

    lock_errors: list[str] = field(default_factory=list)
    other_errors: list[str] = field(default_factory=list)
    merged_away: list[str] = field(default_factory=list)  # commands on merged memories
    commands: int = 0
    lock = threading.Lock()

    def note(self, argv: list[str], result: subprocess.CompletedProcess[str] | None) -> None:
        with self.lock:
            self.commands += 1
            if result is None:
                self.other_errors.append(f"{argv[0]}: no answer in {CLI_TIMEOUT_S} s")
                return
            text = result.stderr + result.stdout
            if result.returncode != 0 and "was merged into" in text:
                # The workload's own stale id: consolidation merged that memory meanwhile,
                # and the message says where it went (what a user would need to know).
                self.merged_away.append(f"{' '.join(argv[:2])}: {_first_error(text)}")
            elif "locked" in text.lower():
                self.lock_errors.append(f"{' '.join(argv[:2])}: {_first_error(text)}")
            elif result.returncode != 0 or "unexpected error" in text:
                self.other_errors.append(f"{' '.join(argv[:2])}: {_first_error(text)}")


def _first_error(text: str) -> str:
    lines = [ln for ln in text.splitlines() if "mnemo:" in ln or "Error" in ln]
    return (lines or text.splitlines() or [""])[0][:200]


def mnemo(folder: Path, env: dict[str, str], shown: Shown, *argv: str) -> str | None:
    """Run one `mnemo` command as its own process; its stdout when it succeeded."""
    command = [sys.executable, "-m", "app.cli", "--data-dir", str(folder), *argv]
    try:
        result = subprocess.run(
            command, capture_output=True, text=True, env=env, timeout=CLI_TIMEOUT_S
        )
    except subprocess.TimeoutExpired:
        shown.note(list(argv), None)
        return None
    shown.note(list(argv), result)
    return result.stdout if result.returncode == 0 else None


# -- the loops ------------------------------------------------------------------------------


def writer(folder: Path, env: dict[str, str], shown: Shown, until: float, seed: int) -> dict:
    """Adds, edits, deletes, imports and ingests through the CLI; returns the acknowledged
    final state: memory id -> its summary (None when its delete was acknowledged)."""
    rng = random.Random(seed)
    state: dict[str, str | None] = {}
    scratch = Path(tempfile.mkdtemp(prefix="mnemo-concurrent-"))
    n = 0
    while time.monotonic() < until:
        n += 1
        live = [i for i, s in state.items() if s is not None]
        roll = rng.random()
        if roll < 0.4 or not live:
            summary = f"cc{seed}x{n} is the name of a build server"
            out = mnemo(folder, env, shown, "add", "semantic", f"name=cc{n}", f"summary={summary}")
            if out and ID.search(out):
                state[ID.search(out).group(0)] = summary  # type: ignore[union-attr]
        elif roll < 0.65:
            memory_id = rng.choice(live)
            summary = f"edited {n}: cc{seed} builds nightly"
            if mnemo(folder, env, shown, "edit", memory_id, f"summary={summary}") is not None:
                state[memory_id] = summary
        elif roll < 0.8:
            memory_id = rng.choice(live)
            if mnemo(folder, env, shown, "delete", "--yes", memory_id) is not None:
                state[memory_id] = None
        elif roll < 0.9:
            summary = f"cc{seed}x{n} came from an import"
            path, memory_id = export_file(scratch, f"cc{seed}x{n}", summary)
            if mnemo(folder, env, shown, "import", str(path)) is not None:
                state[memory_id] = summary
        else:
            mnemo(folder, env, shown, "ingest", "chat", str(_chat(scratch, seed, n)))
    return state


def searcher(folder: Path, env: dict[str, str], shown: Shown, until: float) -> int:
    done = 0
    while time.monotonic() < until:
        mnemo(folder, env, shown, "search", SEARCHES[done % len(SEARCHES)])
        done += 1
    return done


def host_process(folder: Path, seconds: float) -> None:
    """The app's host, owning the background work: capture, purge, compaction, backups and
    consolidation, much more often than the app would, so that they meet the CLI's writes."""
    from agents.host import Host
    from core.memory import SemanticMemory

    screen = RecordedScreen()
    errors: list[str] = []
    done: dict[str, int] = {"captures": 0, "consolidations": 0, "backups": 0, "purges": 0}
    with Host(
        folder, capture_options={"screen": screen, "desktop_factory": screen.desktop}
    ) as host:
        host.start(background=True)
        until = time.monotonic() + seconds
        turn = 0
        while time.monotonic() < until:
            turn += 1
            try:
                host.capture_once(agents=turn % 5 == 0)
                done["captures"] += 1
                if turn % 3 == 0:
                    temp = host.store.add(SemanticMemory(name=f"tmp{turn}", summary="to delete"))
                    host.store.delete(temp.id)
                    host.store.purge()
                    done["purges"] += 1
                elapsed = seconds - (until - time.monotonic())
                if elapsed > 15 + 40 * done["consolidations"]:
                    host.consolidate()
                    done["consolidations"] += 1
                if elapsed > 20 + 30 * done["backups"] and host.backup() is not None:
                    done["backups"] += 1
            except Exception as exc:  # counted: the app would have shown it
                errors.append(f"{type(exc).__name__}: {exc}"[:200])
    print(json.dumps({"errors": errors, **done}))


MERGED = re.compile(r"deleted memory (\w+) \(\w+\) by agent:consolidation: merged into (\w+)")
DELETED_BY_USER = re.compile(r"deleted memory (\w+) \(\w+\) by user:")


def _log_text(log: Path) -> str:
    return "".join(p.read_text(errors="replace") for p in log.parent.glob(log.name + "*"))


def merges(log: Path) -> dict[str, str]:
    """Memories consolidation merged into another (merged id -> kept id), from the log."""
    return dict(MERGED.findall(_log_text(log)))


def deleted_by_user(log: Path) -> set[str]:
    """Memories a `mnemo delete` removed: one that had taken in a merged memory's text took
    that text with it, as the user asked."""
    return set(DELETED_BY_USER.findall(_log_text(log)))


def overlaps(trace: Path) -> tuple[int, int]:
    """Maintenance runs, and those that began while another holder's run was going on."""
    if not trace.exists():
        return 0, 0
    events = sorted(
        (int(t), pid, tid, event)
        for pid, tid, event, t in (line.split() for line in trace.read_text().splitlines())
    )
    depth: dict[tuple[str, str], int] = {}
    runs = found = 0
    for _, pid, tid, event in events:
        holder = (pid, tid)
        if event == "begin":
            if any(d > 0 for h, d in depth.items() if h != holder):
                found += 1
            runs += depth.get(holder, 0) == 0
            depth[holder] = depth.get(holder, 0) + 1
        else:
            depth[holder] = depth.get(holder, 1) - 1
    return runs, found


# -- the run --------------------------------------------------------------------------------


def run(seconds: float, seed: int = 1) -> dict[str, Any]:
    from core.llm.embedder import LlamaEmbedder
    from core.settings import Settings
    from core.store.memories import MemoryStore

    root = Path(tempfile.mkdtemp(prefix="mnemo-concurrent-"))
    folder = root / "data"
    folder.mkdir()
    trace = root / "maintenance.trace"
    env = {**os.environ, TRACE_ENV: str(trace), "PYTHONUNBUFFERED": "1"}
    shown = Shown()
    started = time.monotonic()
    host = subprocess.Popen(
        [sys.executable, "-m", "bench.concurrent", "--host", str(folder), str(seconds)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    until = time.monotonic() + seconds
    results: dict[str, Any] = {}
    threads = [
        threading.Thread(
            target=lambda: results.update(state=writer(folder, env, shown, until, seed))
        ),
        threading.Thread(
            target=lambda: results.update(searches=searcher(folder, env, shown, until))
        ),
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    out, err = host.communicate(timeout=CLI_TIMEOUT_S)
    minutes = (time.monotonic() - started) / 60
    try:
        host_figures = json.loads(out.strip().splitlines()[-1])
    except (ValueError, IndexError):
        host_figures = {"errors": [f"the host process failed: {err.strip()[-300:]}"]}
    host_errors = host_figures.pop("errors")
    shown.lock_errors += [e for e in host_errors if "locked" in e.lower()]
    shown.other_errors += [e for e in host_errors if "locked" not in e.lower()]

    corrupt = integrity(folder / "mnemo.db")
    lost: list[str] = []
    embedder = LlamaEmbedder.bundled(folder / "models")
    with MemoryStore(folder, embedder, Settings.load(folder), repair=False) as store:
        rows = {
            r["id"]: json.loads(r["data"]).get("summary")
            for r in store.db.query("SELECT id, data FROM memories")
        }
        # Consolidation merges near-duplicates (the writer's memories are much alike): the
        # newer one goes and its text joins the older one. Not lost if the text is there.
        texts = {
            r["id"]: r["data"].lower() for r in store.db.query("SELECT id, data FROM memories")
        }
        merged = merges(folder / "mnemo.log")
        user_deleted = deleted_by_user(folder / "mnemo.log")
        for memory_id, summary in results.get("state", {}).items():
            if summary is None and memory_id in rows:
                lost.append(f"deleted {memory_id} is back")
            elif summary is not None and memory_id not in rows and memory_id in merged:
                kept = memory_id
                for _ in range(10):  # merged into one that was merged in turn
                    kept = merged.get(kept, kept)
                if kept in user_deleted and kept not in rows:
                    continue  # merged into a memory the workload deleted since: gone with it
                if summary.lower() not in texts.get(kept, ""):
                    lost.append(f"{memory_id} merged into {kept} without its text {summary!r}")
            elif summary is not None and rows.get(memory_id) != summary:
                lost.append(f"{memory_id}: {rows.get(memory_id)!r}, not {summary!r}")
        inconsistent = store.vectors.revisions() != {
            r["id"]: r["rev"] for r in store.db.query("SELECT id, rev FROM memories")
        }
    embedder.close()
    runs, overlapping = overlaps(trace)
    figures = {
        "concurrent_minutes": round(minutes, 2),
        "concurrent_commands": shown.commands,
        "concurrent_acknowledged": len(results.get("state", {})),
        "concurrent_searches": results.get("searches", 0),
        **{f"host_{k}": v for k, v in host_figures.items()},
        "lock_errors_shown": len(shown.lock_errors),
        "other_errors_shown": len(shown.other_errors),
        "commands_on_merged_memories": len(shown.merged_away),
        "concurrent_lost_writes": len(lost),
        "concurrent_merged_by_consolidation": len(set(merged) & set(results.get("state", {}))),
        "concurrent_corrupt_dbs": int(bool(corrupt)),
        "concurrent_inconsistent_indexes": int(inconsistent),
        "maintenance_runs": runs,
        "maintenance_overlaps": overlapping,
        "concurrent_problems": (shown.lock_errors + shown.other_errors + lost + corrupt)[:20],
    }
    return figures


def _chat(scratch: Path, seed: int, n: int) -> Path:
    start = datetime(2026, 11, 2, tzinfo=UTC) + timedelta(hours=n)
    turns = [
        {"speaker": "Sam", "text": f"The cc{seed}x{n} standup moved to Thursday.", "id": f"c{n}a"},
        {"speaker": "Ana", "text": "Noted, and the budget review is Friday.", "id": f"c{n}b"},
    ]
    for i, turn in enumerate(turns):
        turn["time"] = (start + timedelta(minutes=i)).isoformat()
    path = scratch / f"chat-{n}.json"
    path.write_text(json.dumps({"title": f"chat {n}", "turns": turns}))
    return path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--minutes", type=float, default=5)
    parser.add_argument("--host", nargs=2, metavar=("FOLDER", "SECONDS"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.host:
        host_process(Path(args.host[0]), float(args.host[1]))
        return
    figures = run(args.minutes * 60)
    for problem in figures["concurrent_problems"]:
        print("problem:", problem)
    report([(k, str(v), "") for k, v in figures.items() if k != "concurrent_problems"], figures)


if __name__ == "__main__":
    main()
