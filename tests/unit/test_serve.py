"""The pieces of `mnemo mcp` that need no server: the token, the loopback rule, the actor's
name, times from scripts, and the setup snippet."""

import json
import os
import threading
from datetime import UTC, datetime
from pathlib import Path

import pytest

from app.serve import token as tokens
from app.serve.guards import NotLoopback, check_loopback
from app.serve.inputs import when as _when
from app.serve.service import tool_actor
from core.errors import InvalidInput, MnemoError


def test_the_token_is_made_once_private_and_shared_by_processes(tmp_path: Path) -> None:
    made: list[str] = []
    barrier = threading.Barrier(4)

    def make() -> None:
        barrier.wait(30)
        made.append(tokens.load_or_create(tmp_path))

    threads = [threading.Thread(target=make) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(set(made)) == 1 and len(made[0]) >= 40
    assert os.stat(tokens.token_path(tmp_path)).st_mode & 0o777 == 0o600
    assert sorted(p.name for p in tmp_path.iterdir()) == ["api-token"]  # no temporary left
    assert tokens.load_or_create(tmp_path) == made[0]


def test_a_damaged_token_is_refused_not_used(tmp_path: Path) -> None:
    tokens.token_path(tmp_path).write_text("short\n")
    with pytest.raises(MnemoError, match="damaged"):
        tokens.load_or_create(tmp_path)


def test_the_header_must_carry_the_token_exactly() -> None:
    token = "t" * 43
    assert tokens.matches(f"Bearer {token}", token)
    assert tokens.matches(f"bearer {token}", token)
    for header in (None, "", token, f"Bearer {token}x", f"Basic {token}", "Bearer "):
        assert not tokens.matches(header, token)


def test_only_loopback_addresses_are_served() -> None:
    assert check_loopback("127.0.0.1") == "127.0.0.1"
    assert check_loopback("::1") == "::1"
    assert check_loopback("localhost") == "127.0.0.1"
    # Spelled as the Host check and MCP's DNS-rebinding check know it, whatever the user wrote.
    assert check_loopback("0:0:0:0:0:0:0:1") == check_loopback("[::1]") == "::1"
    for host in ("0.0.0.0", "::", "192.168.0.10", "10.0.0.1", "127.0.0.2", "example.com", ""):
        with pytest.raises(NotLoopback, match="only on this machine"):
            check_loopback(host)


def test_actor_names_say_which_tool_and_stay_one_short_line() -> None:
    assert tool_actor("mcp", "Claude Desktop") == "mcp:Claude Desktop"
    assert tool_actor("mcp", None) == "mcp:unnamed client"
    assert tool_actor("api", "") == "api:script"
    assert tool_actor("api", "a\nb   c" + "x" * 200) == "api:a b c" + "x" * 55


def test_times_from_scripts_and_models() -> None:
    assert _when(None, "since") is None
    assert _when(datetime(2024, 5, 1, tzinfo=UTC), "since") == datetime(2024, 5, 1, tzinfo=UTC)
    assert _when("2024-05-01T10:00Z", "since") == datetime(2024, 5, 1, 10, tzinfo=UTC)
    week = _when("7d", "since")
    assert week is not None and (datetime.now(UTC) - week).days == 7
    # A bound UTC cannot hold means the end of time, not an error.
    assert _when(datetime(9999, 12, 31, 23), "until") is not None
    with pytest.raises(InvalidInput, match="since"):
        _when("last tuesday-ish", "since")


def test_print_config_gives_the_snippet_for_clients(mnemo, capsys) -> None:  # type: ignore[no-untyped-def]
    code, out, err = mnemo("mcp", "--print-config")
    assert code == 0
    stdio = json.loads(out)["mcpServers"]["mnemo"]
    assert stdio["args"] == ["--data-dir", str(mnemo.folder), "mcp"]
    assert "claude_desktop_config.json" in err and "Cursor" in err
    assert not tokens.token_path(mnemo.folder).exists()  # stdio needs none
    code, out, _ = mnemo("mcp", "--http", "--print-config", "--port", "9100")
    http = json.loads(out)["mcpServers"]["mnemo"]
    assert http["url"] == "http://127.0.0.1:9100/mcp"
    token = tokens.load_or_create(mnemo.folder)
    assert http["headers"]["Authorization"] == f"Bearer {token}"
