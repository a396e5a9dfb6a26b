"""Kill trials: a child process writes through the app's host (memory-team ingestion with the
bundled model, capture batches from recorded frames, consolidation, edits, deletes, imports,
vault writes) and is SIGKILLed at a random moment; the store is then reopened, as the next
start of the app would, and checked against a journal of every write the child saw
acknowledged.

The journal is written by the child itself, outside the data folder, one fsynced JSON line per
event: "begin" before a write (naming what it may change), "ack" once the call returned. A write
the kill interrupted (a begin without its ack) may or may not be there; every acknowledged one
must be, equal to what was acknowledged. Trials share one data folder and one journal, so each
restart is checked against everything written in all earlier trials.

`python -m bench.kill_trials [--trials N]` runs them alone; bench.reliability runs them with
the rest of the proof.
"""

import argparse
import hashlib
import json
import os
import random
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from bench.report import report

CANARY = "KILLCANARY"  # + a random tail: a memory deleted and acknowledged, then grepped for
PICTURE_NAME = "*.webp"
MAX_RUN_S = 12.0  # a trial's child is killed within this long after it is ready


# -- the journal ----------------------------------------------------------------------------


class Journal:
    """Append-only, one JSON line per event, fsynced before the call returns: what the child
    acknowledged survives its kill as surely as the store is supposed to."""

    def __init__(self, path: Path) -> None:
        self._fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)

    def write(self, **event: Any) -> None:
        os.write(self._fd, (json.dumps(event) + "\n").encode())
        os.fsync(self._fd)


def read_journal(path: Path) -> list[dict[str, Any]]:
    events = []
    if not path.exists():
        return events
    for line in path.read_text().splitlines():
        try:
            events.append(json.loads(line))
        except json.JSONDecodeError:  # the kill cut the last line: it was never acknowledged
            break
    return events


def digest(data: str) -> str:
    return hashlib.sha256(data.encode()).hexdigest()[:16]


# -- the child's workload -------------------------------------------------------------------


class RecordedScreen:
    """Frames recorded from bench.capture_memories' working-day windows, replayed in turn."""

    def __init__(self) -> None:
        from bench.capture_memories import SCREENS, draw

        self.screens = SCREENS
        self.frames = [draw(s) for s in SCREENS]
        self.turn = 0

    def monitors(self) -> list[Any]:
        from core.capture.change import Box
        from core.capture.screen import Monitor

        return [Monitor(1, Box(0, 0, 1280, 800))]

    def grab(self, _monitor: Any) -> Any:
        self.turn += 1
        return self.frames[self.turn % len(self.frames)].copy()

    def desktop(self) -> Any:
        from core.capture.change import Box
        from core.capture.desktop import DesktopState, Window

        screen = self.screens[self.turn % len(self.screens)]
        window = Window(screen.app, screen.title, Box(0, 0, 1280, 800), pid=1, focused=True)

        class Desktop:
            def state(self) -> DesktopState:
                return DesktopState(windows=[window], idle_s=0.0, locked=False)

            def close(self) -> None:
                pass

        return Desktop()


@dataclass
class Workload:
    host: Any
    journal: Journal
    rng: random.Random
    scratch: Path
    seed: int
    live: dict[str, str] = field(default_factory=dict)  # memory id -> type
    n: int = 0

    def tag(self) -> str:
        self.n += 1
        return f"kt{self.seed}x{self.n}"

    def state(self, memory: Any) -> dict[str, Any]:
        row = self.host.store.db.query("SELECT rev, data FROM memories WHERE id = ?", [memory.id])[
            0
        ]
        return {"id": memory.id, "rev": row["rev"], "data": digest(row["data"])}

    def add(self) -> None:
        from core.memory import EpisodicMemory, ProceduralMemory, SemanticMemory

        tag = self.tag()
        kind = self.rng.choice(["episodic", "semantic", "procedural"])
        memory = {
            "episodic": lambda: EpisodicMemory(
                event_type="note",
                summary=f"Met the {tag} team about the spring release",
                occurred_at=datetime.now(UTC),
            ),
            "semantic": lambda: SemanticMemory(name=tag, summary=f"{tag} is a build server"),
            "procedural": lambda: ProceduralMemory(
                summary=f"Deploy {tag}", steps=["build", "test", "push"]
            ),
        }[kind]()
        self.journal.write(op="begin", what="add", tag=tag)
        stored = self.host.store.add(memory)
        self.journal.write(op="ack", what="add", **self.state(stored))
        self.live[stored.id] = kind

    def edit(self) -> None:
        if not self.live:
            return self.add()
        memory_id = self.rng.choice(sorted(self.live))
        self.journal.write(op="begin", what="edit", ids=[memory_id])
        stored = self.host.store.update(memory_id, {"summary": f"edited {self.tag()}"})
        self.journal.write(op="ack", what="edit", **self.state(stored))

    def delete(self) -> None:
        if not self.live:
            return self.add()
        memory_id = self.rng.choice(sorted(self.live))
        self.journal.write(op="begin", what="delete", ids=[memory_id])
        self.host.store.delete(memory_id)
        self.journal.write(op="ack", what="delete", id=memory_id)
        del self.live[memory_id]

    def vault(self) -> None:
        from core.memory import KnowledgeVaultItem

        secret = f"vault-{self.rng.getrandbits(64):016x}"
        self.journal.write(op="begin", what="vault")
        stored = self.host.store.add(
            KnowledgeVaultItem(entry_type="credential", caption=self.tag(), secret_value=secret)
        )
        self.journal.write(op="ack", what="vault", secret=secret, **self.state(stored))

    def canary(self) -> None:
        """A memory whose delete is acknowledged: its words must be in no file afterwards."""
        from core.memory import SemanticMemory

        canary = f"{CANARY}{self.rng.getrandbits(48):012x}"
        self.journal.write(op="begin", what="canary")
        stored = self.host.store.add(SemanticMemory(name=canary, summary=f"{canary} code"))
        self.journal.write(op="begin", what="delete", ids=[stored.id])
        self.host.store.delete(stored.id)
        self.journal.write(op="ack", what="delete", id=stored.id, canary=canary)

    def ingest(self) -> None:
        tag = self.tag()
        start = datetime(2026, 11, 1, tzinfo=UTC) + timedelta(hours=self.n)
        lines = [
            ("Sam", f"I moved the {tag} standup to Thursdays at 10."),
            ("Ana", "Fine by me. Is the budget review still on Friday?"),
            ("Sam", f"Yes, and my sister Maria visits on the {self.n % 28 + 1}th."),
        ]
        turns = [
            {
                "speaker": who,
                "text": text,
                "id": f"{tag}-{i}",
                "time": (start + timedelta(minutes=i)).isoformat(),
            }
            for i, (who, text) in enumerate(lines)
        ]
        path = self.scratch / f"{tag}.json"
        path.write_text(json.dumps({"title": tag, "turns": turns}))
        self.journal.write(op="begin", what="ingest", ids=list(self.live))
        self.host.ingest_chat(path)
        self.journal.write(op="ack", what="ingest", refs=[t["id"] for t in turns])

    def capture(self) -> None:
        self.journal.write(op="begin", what="capture", ids=list(self.live))
        stored, _status = self.host.capture_once(agents=True)
        ids = [s.id for s in (stored if isinstance(stored, list) else [stored]) if s]
        self.journal.write(op="ack", what="capture", sources=ids)

    def consolidate(self) -> None:
        # It may merge or re-rank any memory: all of them are in flight until it returns.
        self.journal.write(op="begin", what="consolidate", ids=list(self.live))
        self.host.consolidate()
        rows = self.host.store.db.query_in(
            "SELECT id, rev, data FROM memories WHERE id IN ({marks})", list(self.live)
        )
        states = {r["id"]: {"rev": r["rev"], "data": digest(r["data"])} for r in rows}
        gone = [i for i in self.live if i not in states]
        for memory_id in gone:
            del self.live[memory_id]
        self.journal.write(op="ack", what="consolidate", states=states, gone=gone)

    def import_export(self) -> None:
        from core.store.transfer import import_json

        tag = self.tag()
        path, memory_id = export_file(self.scratch, tag, f"{tag} came from an import")
        self.journal.write(op="begin", what="import", ids=[memory_id])
        import_json(self.host.store, path)
        stored = self.host.store.get(memory_id)
        self.journal.write(op="ack", what="import", **self.state(stored))
        self.live[memory_id] = "semantic"

    def step(self) -> None:
        ops = [
            (self.add, 30),
            (self.edit, 20),
            (self.delete, 8),
            (self.vault, 8),
            (self.canary, 5),
            (self.ingest, 6),
            (self.capture, 3),  # seconds each (OCR): kills land in it most often anyway
            (self.import_export, 5),
            (self.consolidate, 2),
        ]
        op = self.rng.choices([o for o, _ in ops], [w for _, w in ops])[0]
        op()


def export_file(folder: Path, name: str, summary: str) -> tuple[Path, str]:
    """A Mnemo JSON export of one new semantic memory (its id made from `name`)."""
    memory_id = hashlib.md5(name.encode()).hexdigest()
    at = datetime.now(UTC).isoformat()
    memory = {"id": memory_id, "type": "semantic", "created_at": at, "updated_at": at, "rev": 1}
    export = {
        "format": "mnemo-export",
        "version": 1,
        "exported_at": at,
        "includes_secrets": False,
        "memories": [{**memory, "name": name, "summary": summary}],
        **{k: [] for k in ("versions", "sources", "provenance", "entities", "links")},
    }
    path = folder / f"{name}-export.json"
    path.write_text(json.dumps(export))
    return path, memory_id


def worker(folder: Path, journal_path: Path, seed: int) -> None:
    from agents.host import Host

    journal = Journal(journal_path)
    screen = RecordedScreen()
    host = Host(
        folder,
        capture_options={"screen": screen, "desktop_factory": screen.desktop},
        watch_s=None,
    )
    host.start(background=True)
    live = _settle(host.store, journal, journal_path)
    scratch = Path(tempfile.mkdtemp(prefix="mnemo-kill-"))
    work = Workload(host, journal, random.Random(seed), scratch, seed, live)
    journal.write(op="ready", pid=os.getpid(), seed=seed)
    while True:  # until killed
        work.step()


def _settle(store: Any, journal: Journal, journal_path: Path) -> dict[str, str]:
    """Journal what became of the write the last kill interrupted (the check after that kill
    skipped it: it may or may not have happened), so later checks are strict about it again.
    Returns the live memories the workload may edit (not vault items: they have no summary)."""
    state, in_flight, _, _, secrets = expected_state(read_journal(journal_path))
    rows = store.db.query_in(
        "SELECT id, rev, data FROM memories WHERE id IN ({marks})", list(in_flight)
    )
    now = {r["id"]: {"rev": r["rev"], "data": digest(r["data"])} for r in rows}
    journal.write(op="settled", states=now, gone=[i for i in in_flight if i not in now])
    state.update({i: now.get(i) for i in in_flight})
    return {i: "memory" for i, s in state.items() if s and i not in secrets}


# -- the checks after each kill -------------------------------------------------------------


def expected_state(
    events: list[dict[str, Any]],
) -> tuple[dict[str, dict[str, Any] | None], set[str], list[str], list[str], dict[str, str]]:
    """From the journal: each memory's acknowledged state (None: deleted), the ids a write was
    changing when the child died, chat refs and capture sources acknowledged, vault secrets."""
    state: dict[str, dict[str, Any] | None] = {}
    refs: list[str] = []
    sources: list[str] = []
    secrets: dict[str, str] = {}
    in_flight: set[str] = set()
    for event in events:
        if event["op"] == "begin":
            in_flight = set(event.get("ids", []))
        elif event["op"] in ("ack", "settled"):
            in_flight = set()
            what = event.get("what", "settled")
            if what == "delete":
                state[event["id"]] = None
            elif what == "ingest":
                refs += event["refs"]
            elif what == "capture":
                sources += event["sources"]
            elif what in ("consolidate", "settled"):
                for memory_id in event["gone"]:
                    state[memory_id] = None
                for memory_id, now in event["states"].items():
                    state[memory_id] = now
            else:
                state[event["id"]] = {"rev": event["rev"], "data": event["data"]}
                if what == "vault":
                    secrets[event["id"]] = event["secret"]
    last = events[-1] if events else {}
    if last.get("op") == "begin":
        in_flight = set(last.get("ids", []))
    return state, in_flight, refs, sources, secrets


@dataclass
class Check:
    acknowledged: int = 0
    lost: list[str] = field(default_factory=list)
    corrupt: list[str] = field(default_factory=list)
    inconsistent: list[str] = field(default_factory=list)
    pictures: list[str] = field(default_factory=list)
    secrets: list[str] = field(default_factory=list)
    canaries: list[str] = field(default_factory=list)
    crashes: list[str] = field(default_factory=list)  # the workload failed before its kill


def check(folder: Path, journal_path: Path) -> Check:
    """Restart as the app would (the host, owning the background work: pending purge, index
    repair, picture sweep), let its start-up work finish, and compare."""
    from agents.host import Host

    events = read_journal(journal_path)
    state, in_flight, refs, sources, secrets = expected_state(events)
    found = Check(acknowledged=sum(1 for e in events if e["op"] == "ack"))
    found.corrupt += integrity(folder / "mnemo.db")
    if found.corrupt:
        return found
    with Host(folder, watch_s=None) as host:
        host.start(background=True)
        host.wait_for_startup_work()
        store = host.store
        rows = {r["id"]: r for r in store.db.query("SELECT id, rev, data FROM memories")}
        for memory_id, want in state.items():
            if memory_id in in_flight:
                continue
            have = rows.get(memory_id)
            if want is None and have is not None:
                found.lost.append(f"deleted memory {memory_id} is back")
            elif want is not None and have is None:
                found.lost.append(f"memory {memory_id} is missing")
            elif (
                want is not None
                and have is not None
                and (have["rev"], digest(have["data"])) != (want["rev"], want["data"])
            ):
                found.lost.append(f"memory {memory_id} is rev {have['rev']}, not {want['rev']}")
        kept_refs = {
            r["ref"] for r in store.db.query("SELECT ref FROM sources WHERE ref IS NOT NULL")
        }
        found.lost += [f"chat turn {r} is missing" for r in refs if r not in kept_refs]
        kept_sources = {r["id"] for r in store.db.query("SELECT id FROM sources")}
        found.lost += [f"capture {s} is missing" for s in sources if s not in kept_sources]
        for memory_id, secret in secrets.items():
            if state.get(memory_id) is None or memory_id in in_flight:
                continue
            value = store.get(memory_id, reveal=True).secret_value  # type: ignore[attr-defined]
            if value is None or value.get_secret_value() != secret:
                found.secrets.append(f"vault secret of {memory_id} does not decrypt to its value")
        for row in store.db.query("SELECT id FROM memories WHERE type = 'knowledge_vault'"):
            try:
                store.get(row["id"], reveal=True)
            except Exception as exc:
                found.secrets.append(f"vault secret of {row['id']} unreadable: {exc}")
        want_vectors = {r["id"]: r["rev"] for r in rows.values()}
        if store.vectors.revisions() != want_vectors:
            found.inconsistent.append("memory vectors differ from SQLite")
        if set(store.source_vectors.revisions()) != kept_sources:
            found.inconsistent.append("source vectors differ from SQLite")
        pictured = {
            r["thumbnail"]
            for r in store.db.query("SELECT thumbnail FROM sources WHERE thumbnail != ''")
        }
    on_disk = {str(p.relative_to(folder)) for p in (folder / "capture").rglob(PICTURE_NAME)}
    found.pictures += [f"missing picture {p}" for p in pictured - on_disk]
    found.pictures += [f"orphan picture {p}" for p in on_disk - pictured]
    canaries = [e["canary"] for e in events if e.get("canary")]
    plain = [s for s in secrets.values()]
    for path in files(folder):
        data = path.read_bytes()
        found.canaries += [f"{c} in {path.name}" for c in canaries if c.encode() in data]
        found.secrets += [
            f"vault secret in plain text in {path.name}" for s in plain if s.encode() in data
        ]
    return found


def integrity(db_path: Path) -> list[str]:
    conn = sqlite3.connect(db_path)
    try:
        problems = [r[0] for r in conn.execute("PRAGMA integrity_check") if r[0] != "ok"]
        for table in ("memories_fts", "sources_fts"):
            try:
                conn.execute(f"INSERT INTO {table} ({table}) VALUES ('integrity-check')")
            except sqlite3.DatabaseError as exc:
                problems.append(f"{table}: {exc}")
        return problems
    finally:
        conn.close()


def files(folder: Path) -> Iterator[Path]:
    return (p for p in folder.rglob("*") if p.is_file() and "backups" not in p.parts)


# -- the parent -----------------------------------------------------------------------------


def run(
    trials: int, folder: Path | None = None, seed: int = 1, max_run_s: float = MAX_RUN_S
) -> dict[str, Any]:
    """`trials` kill trials in one data folder; returns the figures (and the problems found)."""

    own = folder is None
    root = Path(tempfile.mkdtemp(prefix="mnemo-kill-trials-"))
    folder = folder or root / "data"
    folder.mkdir(parents=True, exist_ok=True)
    journal = root / "journal.jsonl"
    rng = random.Random(seed)
    totals = Check()
    kills = 0
    mid_write: dict[str, int] = {}
    for trial in range(trials):
        with open(root / f"child-{trial}.err", "wb") as errors:
            child = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "bench.kill_trials",
                    "--worker",
                    str(folder),
                    str(journal),
                    str(seed * 1000 + trial),
                ],
                stdout=subprocess.DEVNULL,
                stderr=errors,
            )
        if not _wait_ready(journal, trial, child):
            totals.crashes.append(f"trial {trial}: the child never became ready (see {root})")
            child.kill()
            child.wait()
            continue
        time.sleep(rng.uniform(0.05, max_run_s))  # the random moment
        if child.poll() is None:
            child.send_signal(signal.SIGKILL)
            kills += 1
        else:
            totals.crashes.append(f"trial {trial}: the workload died by itself (see {root})")
        child.wait()
        last = read_journal(journal)[-1]
        if last["op"] == "begin":  # the kill came in the middle of this write
            mid_write[last["what"]] = mid_write.get(last["what"], 0) + 1
        found = check(folder, journal)
        for name in ("lost", "corrupt", "inconsistent", "pictures", "secrets", "canaries"):
            getattr(totals, name).extend(f"trial {trial}: {p}" for p in getattr(found, name))
        totals.acknowledged = found.acknowledged
    kinds: dict[str, int] = {}
    for event in read_journal(journal):
        if event["op"] == "ack":
            kinds[event["what"]] = kinds.get(event["what"], 0) + 1
    figures = {
        "kill_trials": kills,
        "acknowledged_writes": totals.acknowledged,
        "lost_writes": len(totals.lost),
        "corrupt_dbs": len(totals.corrupt),
        "inconsistent_indexes": len(totals.inconsistent),
        "picture_problems": len(totals.pictures),
        "secret_canary_leaks": len(totals.secrets),
        "deleted_canary_leftovers": len(totals.canaries),
        "workload_crashes": len(totals.crashes),
        "acknowledged_by_kind": kinds,
        "killed_mid_write": mid_write,
        "problems": (
            totals.lost
            + totals.corrupt
            + totals.inconsistent
            + totals.pictures
            + totals.secrets
            + totals.canaries
            + totals.crashes
        )[:20],
    }
    if own and not figures["problems"]:
        import shutil

        shutil.rmtree(root, ignore_errors=True)
    return figures


def _wait_ready(journal: Path, trial: int, child: subprocess.Popen[bytes]) -> bool:
    """Until the child has journaled "ready" for this trial (its store is open)."""
    while child.poll() is None:
        readies = sum(1 for e in read_journal(journal) if e["op"] == "ready")
        if readies > trial:
            return True
        time.sleep(0.1)
    return False


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--trials", type=int, default=50)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument(
        "--worker", nargs=3, metavar=("FOLDER", "JOURNAL", "SEED"), help=argparse.SUPPRESS
    )
    args = parser.parse_args()
    if args.worker:
        folder, journal, seed = args.worker
        worker(Path(folder), Path(journal), int(seed))
        return
    figures = run(args.trials, seed=args.seed)
    for problem in figures["problems"]:
        print("problem:", problem)
    report([(k, str(v), "") for k, v in figures.items() if k != "problems"], figures)


if __name__ == "__main__":
    main()
