"""What Mnemo offers other tools (MCP clients, scripts): one set of operations and rules.

The MCP server (app.serve.mcp_server) and the HTTP API (app.serve.http_api) both call this,
so they never differ in what they return or refuse:

- Whatever goes to another tool goes to a model, so high-sensitivity vault items are treated
  as the chat agent treats them: never searched, never listed, never named in a summary,
  their value never given out. What else a tool sees follows the settings as they are now
  (app.serve.rules): vault values, screen text.
- Writes are off until the user turns them on (`[serve] allow_writes`); then they pass the
  same validation and quality gate as the rest of Mnemo, and every one is recorded in the
  memory's history with the tool's name as the actor (`mcp:Claude Desktop`).
- What one call may carry is bounded (app.serve.shapes: MAX_*), so no call can hold the one
  local model, or the store, for minutes.
- Everything runs on the Host the server started, so it shares the store's locks with the
  app in another process; the app sees these writes as another process's and refreshes.
"""

import json
from collections.abc import Callable
from datetime import datetime
from typing import Any, Literal

from agents import gate
from agents.chat import ChatAgent
from agents.chat_retrieval import is_high
from agents.host import Host
from agents.team import MemoryTeam
from agents.team_apply import near_duplicate
from app.serve.asking import Stop
from app.serve.inputs import bounded, check_limit, redacted, when
from app.serve.rules import LiveRules, Rules, hidden_sources, served_block
from app.serve.shapes import (
    ADDABLE,
    MAX_FIELDS_CHARS,
    MAX_QUERY_CHARS,
    MAX_QUESTION_CHARS,
    MAX_TEXT_CHARS,
    SNIPPET_CHARS,
    URI,
    AddResult,
    AskResult,
    CoreBlockOut,
    LinkOut,
    MemoryDetail,
    MemoryHit,
    MemoryOut,
    RememberResult,
    ScoreParts,
    SearchResult,
    SourceHit,
    TypeName,
    citation,
    cited,
    iso,
    source_out,
)
from core.errors import InvalidInput, MnemoError, NotFound
from core.memory.models import (
    CoreBlock,
    KnowledgeVaultItem,
    Memory,
    MemoryType,
    Sensitivity,
    SourceKind,
    parse_memory,
)
from core.store.memories import CORE_LABELS, check_fields
from core.store.search import SearchFilters, SearchHit
from core.timeutil import to_iso

NOT_SCREEN = frozenset(SourceKind) - {SourceKind.CAPTURE}  # what a tool sees without screen text


class Refused(MnemoError):
    """A memory the quality gate would not write."""


class WritesOff(MnemoError):
    """The user has not let other tools write."""


WRITES_OFF = (
    "other tools may not write to Mnemo: the user can allow it in Mnemo's Settings → Privacy "
    '("Let other tools add memories"; [serve] allow_writes in settings.toml)'
)


def tool_actor(kind: Literal["mcp", "api"], name: str | None) -> str:
    """The history's actor for a tool: `mcp:Claude Desktop`, `api:backup-script`."""
    clean = " ".join((name or "").split())[:60] or ("unnamed client" if kind == "mcp" else "script")
    return f"{kind}:{clean}"


class MemoryService:
    """The operations, over a started Host (`Host.start()` has returned)."""

    def __init__(self, host: Host) -> None:
        self.host = host
        self.rules = LiveRules(host.data_dir)

    # -- reading ---------------------------------------------------------------------------

    def search(
        self,
        query: str,
        *,
        types: list[TypeName] | None = None,
        since: str | datetime | None = None,
        until: str | datetime | None = None,
        limit: int = 10,
        include_sources: bool = True,
    ) -> SearchResult:
        bounded(query, "query", MAX_QUERY_CHARS)
        rules = self.rules()
        limit = check_limit(limit)
        start, end = when(since, "since"), when(until, "until")
        filters = SearchFilters.make(
            types=types or ADDABLE, since=start, until=end, max_sensitivity="medium"
        )
        hits = self.host.search(query, filters=filters, limit=limit)
        inputs = (
            self.host.search_sources(
                query, since=start, until=end, kinds=rules.source_kinds, limit=limit
            )
            if include_sources
            else []
        )
        hidden = hidden_sources(self.host.store, rules) if inputs else set()
        return SearchResult(
            query=query,
            # Filtered again: an item raised to high in the app a moment ago may still be in
            # this process's vector matrix as it was.
            memories=[self._hit(hit) for hit in hits if not is_high(hit.memory)],
            sources=[
                SourceHit(
                    id=hit.source.id,
                    kind=hit.source.kind.value,
                    occurred_at=to_iso(hit.source.occurred_at),
                    speaker=hit.source.actor,
                    app=hit.source.app,
                    title=hit.source.title,
                    snippet=(hit.snippet or hit.source.text)[:SNIPPET_CHARS],
                    score=hit.score,
                    keyword_rank=hit.keyword_rank,
                    vector_rank=hit.vector_rank,
                )
                for hit in inputs
                if rules.may_see(hit.source, hidden)
            ],
        )

    def get(self, ref: str) -> MemoryDetail:
        rules = self.rules()
        memory = self.host.memory(ref)
        shown = self._out(memory, rules)
        if shown is None:  # as if it were not there: not even its caption goes out
            raise NotFound(f"no memory with id {ref!r}")
        hidden = hidden_sources(self.host.store, rules)
        return MemoryDetail(
            memory=shown,
            sources=[
                source_out(s)
                for s in self.host.store.sources_of(memory.id)
                if rules.may_see(s, hidden)
            ],
            links=[
                LinkOut(src=link.src, dst=link.dst, relation=link.relation)
                for link in self.host.store.links(memory.id)
            ],
        )

    def recent(self, *, types: list[TypeName] | None = None, limit: int = 20) -> list[MemoryOut]:
        """The newest memories (by when what they remember happened), high-sensitivity vault
        items left out."""
        rules = self.rules()
        limit = check_limit(limit)
        found: list[MemoryOut] = []
        offset = 0
        while len(found) < limit:
            page = self.host.store.memories(
                types=[MemoryType(t) for t in types or ADDABLE], limit=limit, offset=offset
            )
            found += [shown for m in page if (shown := self._out(m, rules)) is not None]
            if len(page) < limit:
                break
            offset += limit
        return found[:limit]

    def core_block(self, label: str) -> CoreBlockOut:
        """A core block as tools may read it (app.serve.rules.served_block)."""
        block = self.host.store.core_block(label)
        value = served_block(self.host.store, block, self.rules())
        return CoreBlockOut(label=block.label, value=value, char_limit=block.char_limit)

    def core_blocks(self) -> list[CoreBlockOut]:
        return [self.core_block(label) for label in CORE_LABELS]

    def ask(
        self,
        question: str,
        on_piece: Callable[[str], None] | None = None,
        stop: Stop | None = None,
    ) -> AskResult:
        """Mnemo's chat agent answers from memory, with numbered citations. The question is
        only a question: "remember …" does not write, and nothing of it is kept. `stop`:
        called from another thread, it ends the answer and frees the model."""
        if not question.strip():
            raise InvalidInput("the question is empty")
        bounded(question, "question", MAX_QUESTION_CHARS)
        stream = self._agent(self.rules()).stream(question, commands=False)
        if stop is not None:
            stop.bind(stream.cancel)
        pieces = []
        for piece in stream:
            pieces.append(piece)
            if on_piece is not None:
                on_piece(piece)
        answer = stream.answer
        return AskResult(
            question=question,
            answer=answer.text or "".join(pieces).strip(),
            citations=[citation(item) for item in cited(answer)],
        )

    def _agent(self, rules: Rules) -> ChatAgent:
        """The chat agent as it answers another tool: what it quotes follows `rules`."""
        store = self.host.store
        chat = self.host.chat_model
        return ChatAgent(
            store,
            chat,
            MemoryTeam(store, chat),
            reveal_vault=rules.share_vault,
            source_kinds=None if rules.screen_text else NOT_SCREEN,
            show_block=lambda block: block.model_copy(
                update={"value": served_block(store, block, rules)}
            ),
        )

    # -- writing ---------------------------------------------------------------------------

    def add(self, type: str, fields: dict[str, Any], *, actor: str) -> AddResult:
        """A typed memory, validated like `mnemo add`, redacted, and through the quality
        gate's rules for a memory given whole (agents.gate.check_given), near duplicates
        included."""
        rules = self._writable()
        kind = MemoryType.parse(type)
        if kind == MemoryType.CORE:
            raise InvalidInput("core blocks are not added; remember the fact instead")
        if not isinstance(fields, dict):
            raise InvalidInput('fields must be a JSON object: {"field": value, …}')
        size = len(json.dumps(fields, default=str))
        if size > MAX_FIELDS_CHARS:
            raise InvalidInput(
                f"the memory's fields hold {size:,} characters; at most {MAX_FIELDS_CHARS:,} "
                "(a document goes in with `mnemo ingest`)"
            )
        check_fields(kind, fields)
        clean, found = redacted(fields, keep="secret_value")
        memory = parse_memory({**clean, "type": kind.value})
        verdict = gate.check_given(memory) or near_duplicate(self.host.store, memory)
        if verdict is not None and kind == MemoryType.VAULT and verdict[0] == "near-duplicate":
            verdict = ("near-duplicate", "it repeats a vault item there already")  # no id
        if verdict is not None:
            rule, reason = verdict
            raise Refused(f"not added ({rule}): {reason}")
        stored = self.host.store.add(memory, cause=f"added by {actor}", actor=actor)
        return AddResult(memory=self._shape(stored, rules), redacted=found)

    def remember(self, text: str, *, actor: str) -> RememberResult:
        """Free text to the memory team, as "remember …" in the app's chat. What it filed is
        listed as the tool may see it: a high-sensitivity item it filed is not named, not
        even in the summary."""
        rules = self._writable()
        if not text.strip():
            raise InvalidInput("nothing to remember: the text is empty")
        bounded(text, "text", MAX_TEXT_CHARS)
        answer = self._agent(rules).remember(text, on_behalf_of=actor)
        report = answer.report
        ids = list(dict.fromkeys(report.memory_ids if report else []))
        written = self.host.store.get_many(ids)
        shown = [out for i in ids if i in written and (out := self._out(written[i], rules))]
        refused = dict(report.refused) if report else {}
        return RememberResult(summary=_summary(shown, refused), memories=shown, refused=refused)

    def _writable(self) -> Rules:
        rules = self.rules()
        if not rules.allow_writes:
            raise WritesOff(WRITES_OFF)
        return rules

    # -- shaping ---------------------------------------------------------------------------

    def _out(self, memory: Memory, rules: Rules) -> MemoryOut | None:
        """`memory` as a tool may see it; None for a high-sensitivity item."""
        if isinstance(memory, KnowledgeVaultItem) and memory.secret_stored and rules.share_vault:
            # One read, and the decision on that same copy: the item may have been raised to
            # high since `memory` was read.
            memory = self.host.memory(memory.id, reveal=True)
        return None if is_high(memory) else self._shape(memory, rules)

    def _shape(self, memory: Memory, rules: Rules) -> MemoryOut:
        """`memory` as it goes out; a vault value only from a copy read revealed (`_out`)."""
        fields = memory.payload()
        for key in ("type", "tree_path"):
            fields.pop(key, None)
        withheld = None
        if isinstance(memory, KnowledgeVaultItem) and memory.secret_stored:
            if memory.sensitivity == Sensitivity.HIGH:
                withheld = "high sensitivity: never given to other tools"
            elif not rules.share_vault or memory.secret_value is None:
                withheld = "the settings do not share vault values ([serve] share_vault_values)"
            else:
                fields["secret_value"] = memory.secret_value.get_secret_value()
        if isinstance(memory, CoreBlock):
            fields["value"] = served_block(self.host.store, memory, rules)
        return MemoryOut(
            id=memory.id,
            uri=URI.format(id=memory.id),
            type=memory.type,
            headline=memory.headline,
            rev=memory.rev,
            created_at=iso(memory.created_at),
            updated_at=iso(memory.updated_at),
            event_time=iso(memory.event_time),
            fields=fields,
            secret_withheld=withheld,
        )

    def _hit(self, hit: SearchHit) -> MemoryHit:
        memory = hit.memory
        return MemoryHit(
            id=memory.id,
            uri=URI.format(id=memory.id),
            type=memory.type,
            headline=memory.headline,
            event_time=iso(memory.event_time),
            updated_at=iso(memory.updated_at),
            score=hit.score,
            snippet=hit.snippet[:SNIPPET_CHARS],
            score_parts=ScoreParts(
                keyword_rank=hit.keyword_rank,
                bm25=hit.bm25,
                vector_rank=hit.vector_rank,
                similarity=hit.similarity,
                recency_rank=hit.recency_rank,
                parts=hit.parts,
            ),
        )


def _summary(shown: list[MemoryOut], refused: dict[str, int]) -> str:
    """What "remember" did, in words, from what the tool is shown of it."""
    if shown:
        return "Remembered:\n" + "\n".join(f"- {m.headline}" for m in shown)
    if refused:
        return (
            f"Kept your words. What the memory managers wrote ({sum(refused.values())}) did "
            "not pass the quality gate."
        )
    return "Kept your words."


__all__ = ["MemoryService", "NotFound", "Refused", "Stop", "WritesOff", "tool_actor"]
