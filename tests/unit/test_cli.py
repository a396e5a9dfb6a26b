"""The `mnemo` command line: every command, its errors and its exit codes."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

from app.cli import main
from app.commands import EXIT_NOT_FOUND, EXIT_REFUSED, EXIT_USAGE


def test_add_show_edit_history_delete(mnemo) -> None:
    code, out, _ = mnemo("add", "procedural", "summary=Release", "steps=tag", "steps=upload")
    assert code == 0
    memory_id = out.strip()
    code, out, _ = mnemo("--json", "show", memory_id[:10])
    assert code == 0 and json.loads(out)["steps"] == ["tag", "upload"]
    assert mnemo("edit", memory_id, 'steps=["tag", "build", "upload"]', "--cause", "fix")[0] == 0
    code, out, _ = mnemo("history", memory_id)
    assert "rev 2" in out and "fix" in out and 'steps was: ["tag", "upload"]' in out
    assert mnemo("delete", memory_id, "--yes")[0] == 0
    assert mnemo("show", memory_id)[0] == EXIT_NOT_FOUND


def test_single_value_for_a_list_field_becomes_a_list(mnemo) -> None:
    code, out, _ = mnemo("--json", "add", "procedural", "summary=One step", "steps=only")
    assert code == 0 and json.loads(out)["steps"] == ["only"]


def test_list_and_search_with_filters(mnemo) -> None:
    mnemo("add", "episodic", "summary=Reviewed the budget", "occurred_at=2024-05-01T10:00")
    mnemo("add", "semantic", "name=Budget rules", "summary=Travel is capped at 10%")
    code, out, _ = mnemo("list", "--type", "episodic")
    assert code == 0 and "Reviewed the budget" in out and "Budget rules" not in out
    code, out, _ = mnemo(
        "--json", "search", "budget", "--since", "2024-04-01", "--type", "episodic"
    )
    hits = json.loads(out)
    assert [h["memory"]["summary"] for h in hits] == ["Reviewed the budget"]
    assert hits[0]["keyword_rank"] == 1
    code, out, _ = mnemo("search", "budget", "--explain")
    assert "keyword #1" in out


def test_vault_secrets_are_masked_unless_revealed(mnemo) -> None:
    _, out, _ = mnemo("add", "vault", "caption=Wifi", "secret_value=hunter2", "sensitivity=low")
    memory_id = out.strip()
    _, shown, _ = mnemo("show", memory_id)
    assert "hunter2" not in shown and "••••••" in shown
    _, revealed, _ = mnemo("show", memory_id, "--reveal")
    assert "hunter2" in revealed


def test_links_to_entities(mnemo) -> None:
    _, out, _ = mnemo("add", "semantic", "name=Mnemo", "summary=Memory app")
    memory_id = out.strip()
    code, out, _ = mnemo("link", memory_id, "person:Alice", "-r", "owner")
    assert code == 0 and "-[owner]->" in out
    _, shown, _ = mnemo("show", memory_id)
    assert "-[owner]->" in shown
    code, out, _ = mnemo("link", memory_id, "person:Alice", "--remove")
    assert "removed 1" in out


def test_export_import_round_trip_through_files(mnemo, tmp_path: Path) -> None:
    mnemo("add", "semantic", "name=Rust", "summary=A language")
    target = tmp_path / "export.json"
    assert mnemo("export", "-o", str(target))[0] == 0
    assert (target.stat().st_mode & 0o777) == 0o600
    other = tmp_path / "other"
    assert main(["--data-dir", str(other), "import", str(target)]) == 0
    assert main(["--data-dir", str(other), "--json", "search", "rust"]) == 0
    _, markdown, _ = mnemo("export", "--format", "markdown")
    assert "### Rust" in markdown


def test_stats_and_reindex(mnemo) -> None:
    mnemo("add", "semantic", "name=Rust", "summary=A language")
    code, out, _ = mnemo("--json", "stats")
    stats = json.loads(out)
    assert code == 0 and stats["memories"]["semantic"] == 1 and stats["vectors"] == 3
    code, out, _ = mnemo("reindex")
    assert code == 0 and "reindexed 3" in out


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (("add", "semantic", "name=x"), EXIT_REFUSED, "summary: Field required"),
        (("add", "diary", "text=x"), EXIT_REFUSED, "unknown memory type"),
        (("add", "semantic", "name"), EXIT_REFUSED, "expected key=value"),
        (("add", "semantic", "name=a", "summary=b", "colour=red"), EXIT_REFUSED, "fields: "),
        (("add", "semantic", "--from-json", "{bad"), EXIT_REFUSED, "not valid JSON"),
        (("show", "0123456789abcdef"), EXIT_NOT_FOUND, "no memory"),
        (("edit", "core:human", "colour=red"), EXIT_REFUSED, "no field 'colour'"),
        (("delete", "core:human", "--yes"), EXIT_REFUSED, "cannot be deleted"),
        (("search", "x", "--since", "someday"), EXIT_USAGE, "cannot read 'someday'"),
        (("import", "/nonexistent/file.json"), EXIT_REFUSED, "cannot read"),
    ],
)
def test_errors_are_clear_and_exit_codes_distinct(mnemo, args, code, message) -> None:
    got, _, err = mnemo(*args)
    assert got == code
    assert message in err
    assert "Traceback" not in err


def test_delete_without_yes_off_a_terminal_is_refused(mnemo, monkeypatch) -> None:
    _, out, _ = mnemo("add", "semantic", "name=x", "summary=y")
    monkeypatch.setattr(sys.stdin, "isatty", lambda: False)
    code, _, err = mnemo("delete", out.strip())
    assert code == EXIT_REFUSED and "--yes" in err


def test_the_installed_command_runs(tmp_path: Path) -> None:
    mnemo = Path(sys.executable).with_name("mnemo")
    result = subprocess.run(
        [str(mnemo), "--help"], capture_output=True, text=True, check=True, timeout=60
    )
    assert "local-first personal memory" in result.stdout
    for command in ("add", "search", "export", "import", "reindex", "history", "link", "generate"):
        assert command in result.stdout
    env_run = subprocess.run(
        [str(mnemo), "stats"],
        capture_output=True,
        text=True,
        timeout=60,
        env={"MNEMO_DATA_DIR": str(tmp_path / "env-data"), "PATH": "/usr/bin:/bin"},
    )
    assert env_run.returncode == 0, env_run.stderr
    assert str(tmp_path / "env-data") in env_run.stdout


def test_an_unexpected_error_is_one_line_and_logged(mnemo, monkeypatch) -> None:
    def broken(*args, **kwargs):
        raise RuntimeError("simulated bug")

    monkeypatch.setattr("core.store.memories.MemoryStore.counts", broken)
    code, _, err = mnemo("stats")
    assert code == EXIT_REFUSED
    assert "unexpected error" in err and "simulated bug" in err and "Traceback" not in err
    assert str(mnemo.folder / "mnemo.log") in err
    log = (mnemo.folder / "mnemo.log").read_text()
    assert "Traceback" in log and "simulated bug" in log


@pytest.mark.slow
def test_generate_streams_from_the_bundled_model(mnemo) -> None:
    code, out, _ = mnemo("generate", "Say hello.", "--max-tokens", "12")
    assert code == 0 and out.strip()
    # A quick prompt needs no store (only the requantized model in models/).
    assert not (mnemo.folder / "mnemo.db").exists()
    assert (mnemo.folder / "models" / "SmolLM2-135M-Instruct.Q8_0.gguf").exists()


def test_search_reaches_what_was_said_and_show_opens_an_input(mnemo, tmp_path: Path) -> None:
    chat = tmp_path / "chat.json"
    chat.write_text(
        json.dumps(
            {
                "title": "Trip planning",
                "started_at": "2026-03-01T10:00:00Z",
                "turns": [
                    {"speaker": "user", "text": "The ferry to Cacilhas leaves every 20 minutes."},
                    {"speaker": "assistant", "text": "Great, enjoy the ride across the river!"},
                ],
            }
        )
    )
    assert mnemo("ingest", "chat", str(chat))[0] == 0
    code, out, _ = mnemo("search", "ferry Cacilhas")
    assert code == 0 and "inputs (what was said, seen or read):" in out
    assert "user: The ferry to Cacilhas leaves every 20 minutes." in out
    code, out, _ = mnemo("--json", "search", "ferry", "--in", "sources", "--source-kind", "chat")
    (hit,) = [h for h in json.loads(out) if "ferry" in h["source"]["text"]]
    assert all("source" in h for h in json.loads(out))  # --in sources: no memory hits
    _, none, _ = mnemo("--json", "search", "ferry", "--in", "sources", "--source-kind", "file")
    assert json.loads(none) == []

    code, out, _ = mnemo("show", hit["source"]["id"][:8])
    assert code == 0 and out.startswith(f"chat input  {hit['source']['id']}")
    assert "speaker: user" in out and "title: Trip planning" in out
    assert "The ferry to Cacilhas leaves every 20 minutes." in out
    code, out, _ = mnemo("--json", "show", hit["source"]["id"])
    shown = json.loads(out)
    assert shown["text"].startswith("The ferry") and isinstance(shown["memories"], list)
    code, _, err = mnemo("show", "abcdef12")
    assert code == 3 and "no memory or source with id 'abcdef12'" in err
