"""The reduced proof that nothing is lost (bench.reliability at full size): a few kill trials,
the store they leave backed up and restored, and a short run of several processes at once.

The kill moments are random, but nothing here depends on when they fall: whatever a kill
interrupts, every acknowledged write must be there afterwards.
"""

from pathlib import Path

from bench import concurrent, kill_trials, reliability


def test_kill_trials_lose_nothing_and_the_store_restores_from_a_backup(tmp_path: Path) -> None:
    folder = tmp_path / "data"
    figures = kill_trials.run(3, folder=folder, seed=3, max_run_s=4)
    assert figures["problems"] == []
    assert figures["kill_trials"] == 3
    assert figures["acknowledged_writes"] > 0
    for name in (
        "lost_writes",
        "corrupt_dbs",
        "inconsistent_indexes",
        "picture_problems",
        "secret_canary_leaks",
        "deleted_canary_leftovers",
        "workload_crashes",
    ):
        assert figures[name] == 0, name

    restored, problems = reliability.backup_restore(folder)
    assert problems == [] and restored


def test_processes_at_once_show_no_lock_errors_and_lose_nothing() -> None:
    figures = concurrent.run(30, seed=3)
    assert figures["concurrent_problems"] == []
    assert figures["concurrent_commands"] > 0 and figures["maintenance_runs"] > 0
    for name in (
        "lock_errors_shown",
        "other_errors_shown",
        "concurrent_lost_writes",
        "concurrent_corrupt_dbs",
        "concurrent_inconsistent_indexes",
        "maintenance_overlaps",
    ):
        assert figures[name] == 0, name
