"""`mnemo mcp` driven by the MCP SDK's own client, over stdio and over HTTP, on a real store with
the bundled models: every tool, the resources, the vault rules, the history's actor, the token,
the loopback rule, and schemathesis against the REST API's OpenAPI schema."""

import json
import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import anyio
import httpx2
import pytest
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from mcp import Client
from mcp.client.stdio import StdioServerParameters
from mcp.client.streamable_http import streamable_http_client
from mcp_types import Implementation

from agents.host import Host
from core.memory import EpisodicMemory, KnowledgeVaultItem, SemanticMemory
from core.memory.models import Source, SourceKind

pytestmark = pytest.mark.slow

HIGH_SECRET = "ghp_R8x2Lq9ZpT4vW7yK1mN3bC6dF0hJ5sA2uE8i"
MEDIUM_SECRET = "garden-hunter-2291"
MNEMO = [sys.executable, "-m", "app.cli"]
GARAGE = "7731-44"
GARAGE_LINE = f"the garage door code is {GARAGE}, remember it"
PERSONA = "Answer in one short paragraph."
TOOLS = {"search_memory", "get_memory", "list_recent", "ask", "add_memory", "remember"}
WRITERS = {"add_memory", "remember"}
LONG_V6 = "0:0:0:0:0:0:0:1"  # ::1 in a spelling of its own


def server_env() -> dict[str, str]:
    # The keyring of the machine running the tests is not the test's: the key goes to a file.
    return {**os.environ, "PYTHON_KEYRING_BACKEND": "keyring.backends.fail.Keyring"}


def allow(folder: Path, **serve: bool) -> None:
    """The [serve] settings as the user leaves them in the app (the server reads them live)."""
    lines = "".join(f"{key} = {str(value).lower()}\n" for key, value in serve.items())
    (folder / "settings.toml").write_text(f"[serve]\n{lines}")


def seed(folder: Path, **serve: bool) -> dict[str, str]:
    folder.mkdir(parents=True, exist_ok=True)
    allow(folder, **serve)
    with Host(folder, watch_s=None) as host:
        host.start(background=False)
        store = host.store
        at = datetime(2026, 4, 2, 18, tzinfo=UTC)
        store.update("core:persona", {"value": PERSONA})
        ids = {
            "docker": store.add(
                SemanticMemory(name="Docker", summary="Container runtime the team deploys with")
            ).id,
            "trip": store.add(
                EpisodicMemory(
                    event_type="trip",
                    summary="Hiked the Rota Vicentina with Marta",
                    details="Five days on the coast of Portugal in May",
                    occurred_at=datetime(2026, 5, 10, 9, tzinfo=UTC),
                )
            ).id,
            "high": store.add(
                KnowledgeVaultItem(
                    caption="GitHub deploy token", secret_value=HIGH_SECRET, sensitivity="high"
                )
            ).id,
            "garage": store.add(
                KnowledgeVaultItem(caption="Garage door", secret_value=GARAGE, sensitivity="low"),
                # The words it was filed from say the value, and redaction cannot know it.
                sources=[
                    store.add_source(
                        Source(kind=SourceKind.CHAT, occurred_at=at, text=GARAGE_LINE, actor="user")
                    ).id
                ],
            ).id,
            "medium": store.add(
                KnowledgeVaultItem(
                    caption="Home wifi password", secret_value=MEDIUM_SECRET, sensitivity="medium"
                )
            ).id,
        }
    return ids


def stdio(folder: Path, name: str = "test-client") -> Client:
    params = StdioServerParameters(
        command=sys.executable,
        args=["-m", "app.cli", "--data-dir", str(folder), "mcp"],
        env=server_env(),
        cwd=str(Path(__file__).parents[2]),
    )
    return Client(params, client_info=Implementation(name=name, version="1"))


def payload(result: Any) -> Any:
    assert not result.is_error, result.content[0].text
    data = result.structured_content
    return data["result"] if set(data) == {"result"} else data


def error_text(result: Any) -> str:
    assert result.is_error
    return result.content[0].text


def test_every_tool_over_stdio_with_vault_rules_and_history(tmp_path: Path) -> None:
    folder = tmp_path / "data"
    ids = seed(folder)
    app = Host(folder, watch_s=None)  # the app, open beside the server, as a user runs it
    app.start()

    async def scenario() -> dict[str, Any]:
        seen: dict[str, Any] = {}
        async with stdio(folder) as client:
            listed = (await client.list_tools()).tools
            seen["tools"] = {t.name: t for t in listed}

            found = payload(await client.call_tool("search_memory", {"query": "docker deploys"}))
            seen["search"] = found
            seen["search vault"] = payload(
                await client.call_tool("search_memory", {"query": "token password wifi github"})
            )
            seen["timed"] = payload(
                await client.call_tool(
                    "search_memory",
                    {"query": "docker", "since": "2001-01-01", "until": "2001-12-31"},
                )
            )
            seen["typed"] = payload(
                await client.call_tool("search_memory", {"query": "Marta", "types": ["episodic"]})
            )
            seen["get"] = payload(await client.call_tool("get_memory", {"id": ids["trip"]}))
            seen["get medium"] = payload(
                await client.call_tool("get_memory", {"id": ids["medium"]})
            )
            seen["get high"] = error_text(await client.call_tool("get_memory", {"id": ids["high"]}))
            seen["get garage"] = payload(
                await client.call_tool("get_memory", {"id": ids["garage"]})
            )
            seen["search garage"] = payload(
                await client.call_tool("search_memory", {"query": "garage door code"})
            )
            seen["ask garage"] = payload(
                await client.call_tool("ask", {"question": "What is the garage door code?"})
            )
            seen["missing"] = error_text(await client.call_tool("get_memory", {"id": "abcdef12"}))
            seen["recent"] = payload(await client.call_tool("list_recent", {"limit": 10}))

            pieces: list[str] = []

            async def progress(_: float, __: float | None, message: str | None) -> None:
                pieces.append(message or "")

            seen["ask"] = payload(
                await client.call_tool(
                    "ask", {"question": "Where did I hike with Marta?"}, progress_callback=progress
                )
            )
            seen["ask pieces"] = pieces
            seen["writes off"] = error_text(
                await client.call_tool("remember", {"text": "My dentist is Dr Silva."})
            )
            allow(folder, allow_writes=True)  # the user allows it while the client runs
            seen["added"] = payload(
                await client.call_tool(
                    "add_memory",
                    {
                        "type": "procedural",
                        "fields": {
                            "summary": "Release Mnemo",
                            "steps": ["tag the version", "build the wheel", "publish it"],
                        },
                    },
                )
            )
            seen["placeholder"] = error_text(
                await client.call_tool(
                    "add_memory", {"type": "semantic", "fields": {"name": "name", "summary": "x"}}
                )
            )
            seen["invalid"] = error_text(
                await client.call_tool("add_memory", {"type": "episodic", "fields": {"nope": 1}})
            )
            seen["duplicate"] = error_text(
                await client.call_tool(
                    "add_memory",
                    {
                        "type": "semantic",
                        "fields": {
                            "name": "Docker",
                            "summary": "Container runtime the team deploys with",
                        },
                    },
                )
            )
            seen["remember"] = payload(
                await client.call_tool(
                    "remember", {"text": "My dentist appointment is on Friday at 9 with Dr Silva."}
                )
            )
            human = await client.read_resource("mnemo://core/human")
            seen["human"] = human.contents[0].text
            persona = await client.read_resource("mnemo://core/persona")
            seen["persona"] = persona.contents[0].text
            memory = await client.read_resource(f"mnemo://memory/{ids['docker']}")
            seen["resource"] = json.loads(memory.contents[0].text)
            templates = await client.list_resource_templates()
            seen["templates"] = [t.uri_template for t in templates.resource_templates]
        return seen

    try:
        seen = anyio.run(scenario)
        everything = json.dumps(seen, default=str)

        assert set(seen["tools"]) == TOOLS
        for tool in seen["tools"].values():
            assert tool.description and tool.input_schema["type"] == "object"
            assert tool.output_schema and tool.output_schema["type"] == "object"
            assert tool.annotations.read_only_hint is (tool.name not in WRITERS)
        assert seen["tools"]["remember"].annotations.destructive_hint is True
        assert "Settings → Privacy" in seen["writes off"]
        assert "query" in seen["tools"]["search_memory"].input_schema["required"]

        top = seen["search"]["memories"][0]
        assert top["id"] == ids["docker"] and top["event_time"] and top["uri"].endswith(top["id"])
        assert "Docker" in top["snippet"] and top["score"] > 0
        assert top["score_parts"]["keyword_rank"] == 1 and top["score_parts"]["parts"]
        assert seen["timed"]["memories"] == []  # nothing was remembered in 2001
        assert {h["type"] for h in seen["typed"]["memories"]} == {"episodic"}
        assert seen["get"]["memory"]["fields"]["summary"].startswith("Hiked the Rota")

        # Vault: a high-sensitivity item is neither found nor listed; no value is given out.
        assert HIGH_SECRET not in everything and MEDIUM_SECRET not in everything
        assert GARAGE not in everything  # not even through the line it was filed from
        assert seen["get garage"]["sources"] == [] and seen["search garage"]["memories"]
        vault_hits = {h["id"] for h in seen["search vault"]["memories"]}
        assert ids["medium"] in vault_hits and ids["high"] not in vault_hits
        assert ids["high"] not in {m["id"] for m in seen["recent"]}
        assert "settings" in seen["get medium"]["memory"]["secret_withheld"]
        assert ids["high"] in seen["get high"]  # as if it were not there
        assert "abcdef12" in seen["missing"]

        assert "Rota Vicentina" in seen["ask"]["answer"]
        assert ids["trip"] in {c["id"] for c in seen["ask"]["citations"]}
        assert "".join(seen["ask pieces"]).strip()  # the answer came as progress too

        added = seen["added"]["memory"]
        assert added["fields"]["steps"] == ["tag the version", "build the wheel", "publish it"]
        assert "placeholder" in seen["placeholder"]
        assert "nope" in seen["invalid"]
        assert "near-duplicate" in seen["duplicate"]
        written = seen["remember"]["memories"]
        assert written and any("dentist" in m["headline"] for m in written)

        assert seen["persona"] == PERSONA and seen["resource"]["memory"]["headline"] == "Docker"
        assert "mnemo://memory/{memory_id}" in seen["templates"]

        # Every write names the client; the app, open beside the server, was told.
        assert app.poll_external() is True
        assert app.history(added["id"])[-1].actor == "mcp:test-client"
        remembered = next(m for m in written if "dentist" in m["headline"])
        assert app.history(remembered["id"])[-1].actor.startswith("mcp:test-client via agent:")
        assert app.memory(added["id"]).type == "procedural"
        refused = [m for m in app.store.memories() if getattr(m, "name", "") == "name"]
        assert refused == []
    finally:
        app.close()


def test_vault_values_are_shared_only_when_the_settings_allow_and_never_high(
    tmp_path: Path,
) -> None:
    folder = tmp_path / "data"
    ids = seed(folder, share_vault_values=True)

    async def scenario() -> tuple[Any, ...]:
        async with stdio(folder) as client:
            medium = payload(await client.call_tool("get_memory", {"id": ids["medium"]}))
            garage = payload(await client.call_tool("get_memory", {"id": ids["garage"]}))
            high = error_text(await client.call_tool("get_memory", {"id": ids["high"]}))
            asked = payload(await client.call_tool("ask", {"question": "github deploy token"}))
            # The user turns sharing off in the app while the client keeps the server running.
            (folder / "settings.toml").write_text("[serve]\nshare_vault_values = false\n")
            later = payload(await client.call_tool("get_memory", {"id": ids["medium"]}))
            return medium, garage, high, asked, later

    medium, garage, high, asked, later = anyio.run(scenario)
    assert medium["memory"]["fields"]["secret_value"] == MEDIUM_SECRET
    assert medium["memory"]["secret_withheld"] is None
    assert GARAGE_LINE in garage["sources"][0]["snippet"]  # shared: its line may go too
    assert ids["high"] in high
    assert HIGH_SECRET not in json.dumps(asked)
    assert "secret_value" not in later["memory"]["fields"] and later["memory"]["secret_withheld"]


# -- HTTP -----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def http_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    folder = tmp_path_factory.mktemp("http") / "data"
    ids = seed(folder, allow_writes=True)
    process = subprocess.Popen(
        # The server must know that spelling as loopback all the same (the Host check).
        [*MNEMO, "--data-dir", str(folder), "mcp", "--http", "--port", "0", "--host", LONG_V6],
        stderr=subprocess.PIPE,
        text=True,
        env=server_env(),
    )
    assert process.stderr is not None
    lines = []
    for line in process.stderr:  # the server says where it listens once it does
        lines.append(line)
        if line.startswith("mnemo: serving"):
            break
    else:
        pytest.fail(f"the server did not start: {''.join(lines)[-2000:]}")
    base = line.split()[2].removesuffix("/mcp")
    # Read on, so the server never blocks on a full pipe when it logs (loading a model).
    threading.Thread(target=lines.extend, args=(process.stderr,), daemon=True).start()
    token = (folder / "api-token").read_text().strip()
    yield {"base": base, "token": token, "folder": folder, "ids": ids}
    process.terminate()
    process.wait(timeout=60)


def test_http_needs_the_token_and_serves_mcp_and_rest(http_server: dict[str, Any]) -> None:
    base, token = http_server["base"], http_server["token"]
    assert os.stat(http_server["folder"] / "api-token").st_mode & 0o777 == 0o600
    good = {"Authorization": f"Bearer {token}"}
    with httpx2.Client(base_url=base, timeout=120) as http:
        for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": token}):
            assert (
                http.get("/api/search", params={"q": "docker"}, headers=headers).status_code == 401
            )
            assert http.post("/mcp", json={}, headers=headers).status_code == 401
        found = http.get("/api/search", params={"q": "docker"}, headers=good).json()
        assert found["memories"][0]["id"] == http_server["ids"]["docker"]
        added = http.post(
            "/api/memories",
            json={"type": "semantic", "name": "Grafana", "summary": "Dashboards"},
            headers={**good, "X-Mnemo-Client": "nightly-script"},
        )
        assert added.status_code == 201
        refused = http.post(
            "/api/memories",
            json={"type": "semantic", "name": "summary", "summary": "summary"},
            headers=good,
        )
        assert refused.status_code == 422 and "placeholder" in refused.json()["error"]
        assert http.get("/api/memories/abcdef12", headers=good).status_code == 404
        # A page elsewhere, or a name rebound to this machine, is refused before the token.
        rebound = http.get("/api/core", headers={**good, "Host": "mnemo.attacker.example"})
        page = http.get("/api/core", headers={**good, "Origin": "http://attacker.example"})
        assert (rebound.status_code, page.status_code) == (421, 403)
        mcp_rebound = http.post("/mcp", json={}, headers={**good, "Host": "attacker.example"})
        assert mcp_rebound.status_code == 421
        allow(http_server["folder"], allow_writes=False)
        try:
            off = http.post("/api/remember", json={"text": "Grafana is ours"}, headers=good)
        finally:
            allow(http_server["folder"], allow_writes=True)
        assert off.status_code == 403 and "allow_writes" in off.json()["error"]
        schema = http.get("/api/openapi.json", headers=good).json()
        assert {"/api/search", "/api/memories", "/api/ask", "/api/remember"} <= set(schema["paths"])

    async def over_mcp(headers: dict[str, str], name: str) -> Any:
        async with httpx2.AsyncClient(headers=headers) as session:
            transport = streamable_http_client(f"{base}/mcp", http_client=session)
            async with Client(
                transport, client_info=Implementation(name="Cursor", version="1")
            ) as c:
                tools = {t.name for t in (await c.list_tools()).tools}
                result = await c.call_tool(
                    "add_memory",
                    {"type": "semantic", "fields": {"name": name, "summary": "Log storage"}},
                )
                return tools, payload(result)

    tools, result = anyio.run(over_mcp, good, "Loki")
    assert tools == TOOLS
    with pytest.raises(Exception):  # noqa: B017 - the SDK reports the 401 as a generic error
        anyio.run(over_mcp, {}, "Tempo")

    with Host(http_server["folder"], watch_s=None) as host:
        host.start(background=False)
        assert host.history(result["memory"]["id"])[-1].actor == "mcp:Cursor"
        names = {getattr(m, "name", "") for m in host.store.memories()}
        assert (
            "Loki" in names and "Tempo" not in names
        )  # the client without the token wrote nothing
        grafana = added.json()["memory"]["id"]
        assert host.history(grafana)[-1].actor == "api:nightly-script"


def test_schemathesis_finds_no_failure_in_the_rest_api(http_server: dict[str, Any]) -> None:
    import schemathesis
    from schemathesis.checks import positive_data_acceptance

    base, token = http_server["base"], http_server["token"]
    headers = {"Authorization": f"Bearer {token}"}
    with httpx2.Client(base_url=base, headers=headers) as http:
        raw = http.get("/api/openapi.json").json()
    schema = schemathesis.openapi.from_dict(raw)
    checked = []
    for result in schema.get_all_operations():
        operation = result.ok()
        # A memory that fits the schema may still be refused by the quality gate (a
        # placeholder, a near duplicate of an earlier example): 422 with the reason, which
        # the schema documents. Every other check applies to every operation.
        gated = operation.method.upper() == "POST" and operation.path == "/api/memories"
        run_checks(operation, base, headers, [positive_data_acceptance] if gated else [])
        checked.append(operation.label)
    assert len(checked) == 7


def run_checks(operation: Any, base: str, headers: dict[str, str], excluded: list) -> None:
    @hypothesis_settings(
        max_examples=12,
        deadline=None,
        derandomize=True,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(case=operation.as_strategy())
    def check(case: Any) -> None:
        case.call_and_validate(base_url=base, headers=headers, excluded_checks=excluded)

    check()


def test_the_server_refuses_to_listen_beyond_this_machine(tmp_path: Path) -> None:
    for host in ("0.0.0.0", "192.168.1.20", "::", "example.com"):
        done = subprocess.run(
            [*MNEMO, "--data-dir", str(tmp_path / "d"), "mcp", "--http", "--host", host],
            capture_output=True,
            text=True,
            env=server_env(),
            timeout=120,
        )
        assert done.returncode == 1, done.stderr
        assert "refusing to listen" in done.stderr and "127.0.0.1" in done.stderr
