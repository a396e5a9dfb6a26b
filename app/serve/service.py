"""What Mnemo offers other tools (MCP clients, scripts): one set of operations and rules.

The MCP server (app.serve.mcp_server) and the HTTP API (app.serve.http_api) both call this,
so they never differ in what they return or refuse:

- Whatever goes to another tool goes to a model, so high-sensitivity vault items are treated
  as the chat agent treats them: never searched, never listed, their value never given out.
  Other vault values only when `[serve] share_vault_values` is on (off by default).
- Writes pass the same validation and quality gate as the rest of Mnemo, and every one is
  recorded in the memory's history with the tool's name as the actor (`mcp:Claude Desktop`).
- Everything runs on the Host the server started, so it shares the store's locks with the
  app in another process; the app sees these writes as another process's and refreshes.
"""

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Annotated, Any, Literal, Union

from pydantic import BaseModel, ConfigDict, Field, create_model

from agents import gate
from agents.chat import Answer, ChatAgent, Item
from agents.host import Host
from agents.team import near_duplicate
from core.capture.redact import redact
from core.errors import InvalidInput, MnemoError, NotFound
from core.memory.models import (
    MEMORY_MODELS,
    KnowledgeVaultItem,
    Memory,
    MemoryType,
    Sensitivity,
    Source,
    parse_memory,
)
from core.settings import Settings
from core.store.memories import CORE_LABELS, check_fields
from core.store.search import SearchFilters, SearchHit
from core.timeutil import as_utc, parse_when, to_iso

# The types another tool may search, list and add (core blocks are read as resources).
TypeName = Literal["episodic", "semantic", "procedural", "resource", "knowledge_vault"]
MAX_LIMIT = 100
SNIPPET_CHARS = 300
URI = "mnemo://memory/{id}"


class Refused(MnemoError):
    """A memory the quality gate would not write."""


class MemoryOut(BaseModel):
    id: str
    uri: str = Field(description="The memory as an MCP resource")
    type: str
    headline: str = Field(description="One line naming it")
    rev: int
    created_at: str | None
    updated_at: str | None
    event_time: str | None = Field(description="When what it remembers happened")
    fields: dict[str, Any] = Field(description="Its content, as its type defines it")
    secret_withheld: str | None = Field(
        None, description="Why a vault value is not included (sensitivity or settings)"
    )


class SourceOut(BaseModel):
    id: str
    kind: str = Field(description="chat, capture or file")
    occurred_at: str
    speaker: str | None
    app: str | None
    title: str | None
    url: str | None
    snippet: str


class ScoreParts(BaseModel):
    keyword_rank: int | None = None
    bm25: float | None = None
    vector_rank: int | None = None
    similarity: float | None = None
    recency_rank: int | None = None
    parts: dict[str, float] = Field(
        default_factory=dict, description="Each ranking's share of the fused score"
    )


class MemoryHit(BaseModel):
    """A found memory, in brief (get_memory has it whole): a search result goes into a
    model's context, where ten whole documents would crowd out the conversation."""

    id: str
    uri: str
    type: str
    headline: str
    event_time: str | None = Field(description="When what it remembers happened")
    updated_at: str | None
    snippet: str = Field(description="The matching words, [marked]")
    score: float
    score_parts: ScoreParts


class SourceHit(BaseModel):
    id: str
    kind: str = Field(description="chat, capture or file")
    occurred_at: str
    speaker: str | None
    app: str | None
    title: str | None
    snippet: str
    score: float
    keyword_rank: int | None = None
    vector_rank: int | None = None


class SearchResult(BaseModel):
    query: str
    memories: list[MemoryHit]
    sources: list[SourceHit] = Field(description="Kept inputs: what was said, seen or read")


class LinkOut(BaseModel):
    src: str
    dst: str
    relation: str


class MemoryDetail(BaseModel):
    memory: MemoryOut
    sources: list[SourceOut] = Field(description="The inputs it was written from")
    links: list[LinkOut]


class Citation(BaseModel):
    number: int = Field(description="As [n] in the answer")
    kind: Literal["memory", "source"]
    id: str
    label: str
    when: str | None
    source_ids: list[str]


class AskResult(BaseModel):
    question: str
    answer: str
    citations: list[Citation]


class AddResult(BaseModel):
    memory: MemoryOut
    redacted: dict[str, int] = Field(
        default_factory=dict, description="Secrets taken out of its text, by kind"
    )


class RememberResult(BaseModel):
    summary: str
    memories: list[MemoryOut] = Field(description="What the memory team wrote or updated")
    refused: dict[str, int] = Field(description="Memories the quality gate refused, by rule")


class CoreBlockOut(BaseModel):
    label: str
    value: str
    char_limit: int


def _input_model(kind: MemoryType) -> type[BaseModel]:
    """What a caller gives for a memory of this type: its own fields (with their types and
    limits), not what Mnemo keeps (id, revision, dates of record)."""
    model = MEMORY_MODELS[kind]
    kept = model.BOOKKEEPING | {"type", "secret_stored"}
    fields: dict[str, Any] = {
        name: (info.annotation, info)
        for name, info in model.model_fields.items()
        if name not in kept
    }
    name = "".join(part.title() for part in kind.value.split("_")) + "Input"
    return create_model(
        name,
        __config__=ConfigDict(extra="forbid"),
        __doc__=model.__doc__,
        type=(Literal[kind.value], ...),  # type: ignore[valid-type]
        **fields,
    )


ADDABLE = [t for t in MemoryType if t != MemoryType.CORE]
MemoryInput = Annotated[
    Union[tuple(_input_model(t) for t in ADDABLE)],  # type: ignore[valid-type]  # noqa: UP007
    Field(discriminator="type"),
]


def tool_actor(kind: Literal["mcp", "api"], name: str | None) -> str:
    """The history's actor for a tool: `mcp:Claude Desktop`, `api:backup-script`."""
    clean = " ".join((name or "").split())[:60] or ("unnamed client" if kind == "mcp" else "script")
    return f"{kind}:{clean}"


class MemoryService:
    """The operations, over a started Host (`Host.start()` has returned)."""

    def __init__(self, host: Host) -> None:
        self.host = host
        self._agent: ChatAgent | None = None
        self._settings_seen: tuple[float, bool] | None = None

    @property
    def share_vault(self) -> bool:
        """Read from settings.toml as it is now: the user may turn sharing off in the app
        while a client keeps this server running for days."""
        path = self.host.data_dir / "settings.toml"
        try:
            stamp = path.stat().st_mtime
        except OSError:
            stamp = 0.0
        seen = self._settings_seen
        if seen is None or seen[0] != stamp:
            try:
                share = Settings.load(self.host.data_dir).serve.share_vault_values
            except (MnemoError, ValueError, OSError):  # a broken file shares nothing
                share = False
            seen = self._settings_seen = (stamp, share)
        return seen[1]

    def _hidden_sources(self) -> set[str]:
        """The inputs vault items came from, which may spell out their values."""
        return self.host.store.vault_sources(high_only=self.share_vault)

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
        limit = _limit(limit)
        start, end = _when(since, "since"), _when(until, "until")
        filters = SearchFilters.make(
            types=types or _SEARCHED, since=start, until=end, max_sensitivity="medium"
        )
        hits = self.host.search(query, filters=filters, limit=limit)
        inputs = (
            self.host.search_sources(query, since=start, until=end, limit=limit)
            if include_sources
            else []
        )
        hidden = self._hidden_sources() if inputs else set()
        inputs = [hit for hit in inputs if hit.source.id not in hidden]
        return SearchResult(
            query=query,
            # Filtered again: an item raised to high in the app a moment ago may still be in
            # this process's vector matrix as it was.
            memories=[self._hit(hit) for hit in hits if not _high(hit.memory)],
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
            ],
        )

    def get(self, ref: str) -> MemoryDetail:
        memory = self.host.memory(ref)
        if _high(memory):  # as if it were not there: not even its caption goes out
            raise NotFound(f"no memory with id {ref!r}")
        hidden = self._hidden_sources()
        return MemoryDetail(
            memory=self.memory_out(memory),
            sources=[
                _source(s) for s in self.host.store.sources_of(memory.id) if s.id not in hidden
            ],
            links=[
                LinkOut(src=link.src, dst=link.dst, relation=link.relation)
                for link in self.host.store.links(memory.id)
            ],
        )

    def recent(self, *, types: list[TypeName] | None = None, limit: int = 20) -> list[MemoryOut]:
        """The newest memories (by when what they remember happened), high-sensitivity vault
        items left out."""
        limit = _limit(limit)
        found: list[MemoryOut] = []
        offset = 0
        while len(found) < limit:
            page = self.host.store.memories(
                types=[MemoryType(t) for t in types or _SEARCHED], limit=limit, offset=offset
            )
            found += [self.memory_out(m) for m in page if not _high(m)]
            if len(page) < limit:
                break
            offset += limit
        return found[:limit]

    def core_block(self, label: str) -> CoreBlockOut:
        block = self.host.store.core_block(label)
        return CoreBlockOut(label=block.label, value=block.value, char_limit=block.char_limit)

    def core_blocks(self) -> list[CoreBlockOut]:
        return [self.core_block(label) for label in CORE_LABELS]

    def ask(self, question: str, on_piece: Callable[[str], None] | None = None) -> AskResult:
        """Mnemo's chat agent answers from memory, with numbered citations. The question is
        only a question: "remember …" does not write, and nothing of it is kept."""
        if not question.strip():
            raise InvalidInput("the question is empty")
        stream = self._chat_agent().stream(question, commands=False)
        pieces = []
        for piece in stream:
            pieces.append(piece)
            if on_piece is not None:
                on_piece(piece)
        answer = stream.answer
        return AskResult(
            question=question,
            answer=answer.text or "".join(pieces).strip(),
            citations=[_citation(item) for item in _cited(answer)],
        )

    def _chat_agent(self) -> ChatAgent:
        team = self.host.team
        agent = self._agent
        if agent is None or agent.chat is not team.chat or agent.reveal_vault != self.share_vault:
            agent = ChatAgent(self.host.store, team.chat, team, reveal_vault=self.share_vault)
            self._agent = agent
        return agent

    # -- writing ---------------------------------------------------------------------------

    def add(self, type: str, fields: dict[str, Any], *, actor: str) -> AddResult:
        """A typed memory, validated like `mnemo add`, redacted, and through the quality
        gate's rules for a memory given whole (agents.gate.check_given), near duplicates
        included."""
        kind = MemoryType.parse(type)
        if kind == MemoryType.CORE:
            raise InvalidInput("core blocks are not added; remember the fact instead")
        if not isinstance(fields, dict):
            raise InvalidInput('fields must be a JSON object: {"field": value, …}')
        check_fields(kind, fields)
        clean, found = _redacted(fields, keep="secret_value")
        memory = parse_memory({**clean, "type": kind.value})
        verdict = gate.check_given(memory) or near_duplicate(self.host.store, memory)
        if verdict is not None and kind == MemoryType.VAULT and verdict[0] == "near-duplicate":
            verdict = ("near-duplicate", "it repeats a vault item there already")  # no id
        if verdict is not None:
            rule, reason = verdict
            raise Refused(f"not added ({rule}): {reason}")
        stored = self.host.store.add(memory, cause=f"added by {actor}", actor=actor)
        return AddResult(memory=self.memory_out(stored), redacted=found)

    def remember(self, text: str, *, actor: str) -> RememberResult:
        """Free text to the memory team, as "remember …" in the app's chat."""
        if not text.strip():
            raise InvalidInput("nothing to remember: the text is empty")
        answer = self.host.agent.remember(text, on_behalf_of=actor)
        report = answer.report
        ids = report.memory_ids if report else []
        written = self.host.store.get_many(ids)
        return RememberResult(
            summary=answer.text,
            memories=[self.memory_out(written[i]) for i in dict.fromkeys(ids) if i in written],
            refused=dict(report.refused) if report else {},
        )

    # -- shaping ---------------------------------------------------------------------------

    def memory_out(self, memory: Memory) -> MemoryOut:
        fields = memory.payload()
        for key in ("type", "tree_path"):
            fields.pop(key, None)
        withheld = None
        if isinstance(memory, KnowledgeVaultItem) and memory.secret_stored:
            if memory.sensitivity == Sensitivity.HIGH:
                withheld = "high sensitivity: never given to other tools"
            elif not self.share_vault:
                withheld = "the settings do not share vault values ([serve] share_vault_values)"
            else:
                revealed = self.host.memory(memory.id, reveal=True)
                secret = getattr(revealed, "secret_value", None)
                fields["secret_value"] = secret.get_secret_value() if secret else None
        return MemoryOut(
            id=memory.id,
            uri=URI.format(id=memory.id),
            type=memory.type,
            headline=memory.headline,
            rev=memory.rev,
            created_at=_iso(memory.created_at),
            updated_at=_iso(memory.updated_at),
            event_time=_iso(memory.event_time),
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
            event_time=_iso(memory.event_time),
            updated_at=_iso(memory.updated_at),
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


_SEARCHED = ADDABLE


def _high(memory: Memory) -> bool:
    return isinstance(memory, KnowledgeVaultItem) and memory.sensitivity == Sensitivity.HIGH


def _limit(limit: int) -> int:
    if not 1 <= limit <= MAX_LIMIT:
        raise InvalidInput(f"limit must be between 1 and {MAX_LIMIT}, not {limit}")
    return limit


def _when(value: str | datetime | None, name: str) -> datetime | None:
    """A time as a script or a model gives it: a datetime, or text `mnemo --since` reads."""
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        try:
            return as_utc(value)
        except ValueError:  # a bound past the years UTC can hold: the end of time it means
            return (
                datetime.max.replace(tzinfo=UTC)
                if value.year > 1
                else datetime.min.replace(tzinfo=UTC)
            )
    try:
        return parse_when(value)
    except ValueError as exc:
        raise InvalidInput(f"{name}: {exc}") from None


def _iso(when: datetime | None) -> str | None:
    return to_iso(when) if when else None


def _source(source: Source, snippet: str | None = None) -> SourceOut:
    return SourceOut(
        id=source.id,
        kind=source.kind.value,
        occurred_at=to_iso(source.occurred_at),
        speaker=source.actor,
        app=source.app,
        title=source.title,
        url=source.url,
        snippet=(snippet or source.text)[:SNIPPET_CHARS],
    )


def _cited(answer: Answer) -> list[Item]:
    """The items the answer cites; all it was shown when it cites none by number."""
    return answer.citations or answer.items


def _citation(item: Item) -> Citation:
    return Citation(
        number=item.number,
        kind=item.kind,
        id=item.id,
        label=item.label,
        when=_iso(item.when),
        source_ids=item.source_ids,
    )


def _redacted(fields: dict[str, Any], *, keep: str) -> tuple[dict[str, Any], dict[str, int]]:
    """Every text in `fields` with secrets replaced by markers, but the `keep` field (a vault
    value, which is encrypted instead); and how many of each kind were found."""
    found: dict[str, int] = {}

    def clean(value: Any) -> Any:
        if isinstance(value, str):
            result = redact(value)
            for kind, count in result.found.items():
                found[kind] = found.get(kind, 0) + count
            return result.text
        if isinstance(value, list):
            return [clean(v) for v in value]
        if isinstance(value, dict):
            return {k: clean(v) for k, v in value.items()}
        return value

    return {k: v if k == keep else clean(v) for k, v in fields.items()}, found


__all__ = ["MemoryService", "NotFound", "Refused", "tool_actor"]
