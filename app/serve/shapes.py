"""What other tools send and get back: the typed shapes of the MCP tools and the REST API, and
the limits on what they may send (the MCP schemas and the OpenAPI schema show them)."""

from datetime import datetime
from typing import Annotated, Any, Literal, Union

from pydantic import BaseModel, ConfigDict, Field, create_model

from agents.chat import Answer, Item
from core.memory.models import MEMORY_MODELS, MemoryType, Source
from core.timeutil import to_iso

# The types another tool may search, list and add (core blocks are read as resources).
TypeName = Literal["episodic", "semantic", "procedural", "resource", "knowledge_vault"]
MAX_LIMIT = 100
SNIPPET_CHARS = 300
URI = "mnemo://memory/{id}"

# What one call may carry. A question or a query is a few lines; what a tool asks to be
# remembered is a note, not a book (a document goes through `mnemo ingest`). Beyond these the
# server would spend minutes of the one local model, or of keyword planning, on one call.
MAX_QUERY_CHARS = 1_000
MAX_QUESTION_CHARS = 2_000
MAX_TEXT_CHARS = 20_000
MAX_FIELDS_CHARS = 200_000  # a memory given whole, all its fields (a resource's content)
MAX_BODY_BYTES = 1_048_576  # of one HTTP request, REST and MCP alike


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


def iso(when: datetime | None) -> str | None:
    return to_iso(when) if when else None


def source_out(source: Source, snippet: str | None = None) -> SourceOut:
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


def cited(answer: Answer) -> list[Item]:
    """The items the answer cites; all it was shown when it cites none by number."""
    return answer.citations or answer.items


def citation(item: Item) -> Citation:
    return Citation(
        number=item.number,
        kind=item.kind,
        id=item.id,
        label=item.label,
        when=iso(item.when),
        source_ids=item.source_ids,
    )
