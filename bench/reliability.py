"""The proof that nothing is lost (`python -m bench.reliability [--trials N] [--fuzz N]
[--minutes M]`): kill trials, several processes at once, fuzzed inputs, a backup restored into
a fresh folder, and the redaction corpus, each reported beside its target.

- kill trials (bench.kill_trials): SIGKILL at random moments of a mixed workload, every restart
  checked against a journal of acknowledged writes, SQLite's and FTS5's integrity checks, the
  vector index against SQLite, pictures, vault secrets, and deleted canaries;
- several processes (bench.concurrent): the app's host, CLI writers and CLI searches at once;
- fuzzing (bench.fuzz): hypothesis-generated inputs into every parser a user's file or a
  model's output reaches;
- backup and restore: the kill trials' folder, backed up and restored into a fresh one, must
  hold every memory (same revision and content), source and vault secret;
- redaction (bench.redaction): a corpus of real secret formats and of look-alikes.

Prints a table and, last, one JSON line of figures.
"""

import argparse
import json
import shutil
import sqlite3
import tempfile
import time
from pathlib import Path
from typing import Any

from bench import concurrent, kill_trials
from bench.report import report

TARGETS = {
    "kill_trials": (">=", 50),
    "fuzz_cases": (">=", 1000),
    "concurrent_minutes": (">=", 5),
    "lost_writes": ("==", 0),
    "corrupt_dbs": ("==", 0),
    "inconsistent_indexes": ("==", 0),
    "crashes": ("==", 0),
    "lock_errors_shown": ("==", 0),
    "secret_canary_leaks": ("==", 0),
    "deleted_canary_leftovers": ("==", 0),
    "backup_restore_ok": ("==", True),
    "redaction_corpus_cases": (">=", 300),
    "redaction_misses": ("==", 0),
}


def backup_restore(folder: Path) -> tuple[bool, list[str]]:
    """Back `folder` up, restore it into a fresh folder, compare what each holds."""
    from core import backup
    from core.llm.embedder import LlamaEmbedder
    from core.settings import Settings
    from core.store.memories import MemoryStore

    problems: list[str] = []
    root = Path(tempfile.mkdtemp(prefix="mnemo-restore-"))
    try:
        info = backup.backup(folder, root / "backups")
        fresh = root / "fresh"
        backup.restore(info.path, fresh)
        snapshot = sqlite3.connect(info.path / backup.DB_FILE)
        want = dict(snapshot.execute("SELECT id, rev || data FROM memories"))
        want_sources = {r[0] for r in snapshot.execute("SELECT id FROM sources")}
        snapshot.close()
        # The embedder the store was written with: another would re-embed the original.
        embedder = LlamaEmbedder.bundled(folder / "models")
        with (
            MemoryStore(folder, embedder, Settings.load(folder), repair=False) as old,
            MemoryStore(fresh, embedder, Settings.load(fresh)) as new,
        ):
            have = {
                r["id"]: f"{r['rev']}{r['data']}" for r in new.db.query("SELECT * FROM memories")
            }
            if have != want:
                problems.append(f"{len(set(want) ^ set(have))} memories differ after restore")
            have_sources = {r["id"] for r in new.db.query("SELECT id FROM sources")}
            if have_sources != want_sources:
                problems.append("sources differ after restore")
            for row in new.db.query("SELECT id FROM memories WHERE type = 'knowledge_vault'"):
                restored = new.get(row["id"], reveal=True).secret_value  # type: ignore[attr-defined]
                original = old.get(row["id"], reveal=True).secret_value  # type: ignore[attr-defined]
                if restored.get_secret_value() != original.get_secret_value():
                    problems.append(f"vault secret {row['id']} differs after restore")
            pictures = [
                r["thumbnail"]
                for r in new.db.query("SELECT thumbnail FROM sources WHERE thumbnail != ''")
            ]
            problems += [f"picture {p} not restored" for p in pictures if not (fresh / p).exists()]
        embedder.close()
    except Exception as exc:  # counted, with its message: the figure is what matters here
        problems.append(f"backup or restore failed: {type(exc).__name__}: {exc}")
    finally:
        shutil.rmtree(root, ignore_errors=True)
    return not problems, problems


def run(trials: int, fuzz_cases: int, minutes: float, seed: int = 1) -> dict[str, Any]:
    from bench import fuzz, redaction

    started = time.monotonic()
    root = Path(tempfile.mkdtemp(prefix="mnemo-reliability-"))
    folder = root / "data"
    kills = kill_trials.run(trials, folder=folder, seed=seed)
    restored, restore_problems = backup_restore(folder)
    together = concurrent.run(minutes * 60, seed=seed)
    fuzzed = fuzz.run(fuzz_cases, seed=seed)
    redacted = redaction.measure()
    figures: dict[str, Any] = {
        "kill_trials": kills["kill_trials"],
        "acknowledged_writes": kills["acknowledged_writes"] + together["concurrent_acknowledged"],
        "lost_writes": kills["lost_writes"] + together["concurrent_lost_writes"],
        "corrupt_dbs": kills["corrupt_dbs"] + together["concurrent_corrupt_dbs"],
        "inconsistent_indexes": kills["inconsistent_indexes"]
        + together["concurrent_inconsistent_indexes"],
        "picture_problems": kills["picture_problems"],
        "fuzz_cases": fuzzed["fuzz_cases"],
        "crashes": fuzzed["crashes"] + kills["workload_crashes"],
        "concurrent_minutes": together["concurrent_minutes"],
        "concurrent_commands": together["concurrent_commands"],
        "lock_errors_shown": together["lock_errors_shown"],
        "other_errors_shown": together["other_errors_shown"],
        "commands_on_merged_memories": together["commands_on_merged_memories"],
        "maintenance_runs": together["maintenance_runs"],
        "maintenance_overlaps": together["maintenance_overlaps"],
        "secret_canary_leaks": kills["secret_canary_leaks"],
        "deleted_canary_leftovers": kills["deleted_canary_leftovers"],
        "backup_restore_ok": restored,
        "redaction_corpus_cases": redacted["redaction_corpus_cases"],
        "redaction_misses": redacted["redaction_misses"],
        "redaction_false_positives": redacted["redaction_false_positives"],
        "detect_secrets_misses": redacted["detect_secrets_misses"],
        "acknowledged_by_kind": kills["acknowledged_by_kind"],
        "killed_mid_write": kills["killed_mid_write"],
        "minutes": round((time.monotonic() - started) / 60, 1),
        "problems": (
            kills["problems"]
            + restore_problems
            + together["concurrent_problems"]
            + fuzzed["failures"]
        )[:30],
    }
    if not figures["problems"]:
        shutil.rmtree(root, ignore_errors=True)
    return figures


def verdict(name: str, value: Any) -> str:
    if name not in TARGETS:
        return ""
    how, target = TARGETS[name]
    met = value >= target if how == ">=" else value == target
    return f"target {how} {json.dumps(target)}: {'met' if met else 'MISSED'}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--trials", type=int, default=50, help="kill trials")
    parser.add_argument("--fuzz", type=int, default=1200, help="fuzz cases in all")
    parser.add_argument("--minutes", type=float, default=5, help="minutes of processes at once")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    figures = run(args.trials, args.fuzz, args.minutes, args.seed)
    for problem in figures["problems"]:
        print("problem:", problem)
    rows = [
        (name, str(value), verdict(name, value))
        for name, value in figures.items()
        if name not in ("problems", "acknowledged_by_kind", "killed_mid_write")
    ]
    report(rows, figures)


if __name__ == "__main__":
    main()
