"""The chat agent's retrieval: the best memories and kept inputs for a question, numbered as the
model will see them. A mixin of ChatAgent (agents.chat), kept apart for size: it shares its state.

Active retrieval, as in MIRIX, made to work with a small local model:
1. The question becomes a plan: the question itself, up to three search queries the model
   proposes (a schema-constrained call; off by default, since the bundled 135M model's queries
   lowered LoCoMo recall: settings' agents.plan_queries), and
   a time filter read from the question's own words ("last week", "in May") by code, because
   small models cannot do calendar arithmetic.
2. Every query searches memories (all types) and the verbatim sources; the rankings are fused
   by reciprocal rank, so a poor query can only add candidates, never lose the question's own.
   When the time filter finds nothing, the search runs again without it.
3. The best items, numbered [1]…[n], fill a token budget in the prompt (agents.chat).

High-sensitivity vault items are never searched for a prompt, so their values (and captions)
never reach a model; low and medium ones ("home address", "wifi password") are shown with their
value, which is what the user asks for.
"""

import logging
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

from agents.dates import time_range
from agents.entities import relatives
from agents.team import prompt
from core.capture.redact import redact
from core.llm.chat import ChatModel, StructuredOutputError
from core.llm.service import Priority
from core.memory.models import (
    CoreBlock,
    KnowledgeVaultItem,
    Memory,
    MemoryType,
    Sensitivity,
    Source,
    SourceKind,
)
from core.store.fusion import best as fused_best
from core.store.fusion import fuse
from core.store.memories import MemoryStore
from core.store.search import SearchFilters, search
from core.store.source_search import search_sources
from core.timeutil import now as utc_now

log = logging.getLogger(__name__)

ITEM_CHARS = 400  # of one memory or source, as the model sees it
RRF_K = 10  # the best hits of each ranking lead: +0.013 recall@10 on LoCoMo dev over k=60
POOL = 30  # candidates per ranking: recall at 50 is far above recall at 10 (see bench.locomo)


class SearchPlan(BaseModel):
    """The model's search queries for a question."""

    model_config = ConfigDict(extra="forbid")
    queries: list[Annotated[str, Field(min_length=2, max_length=60)]] = Field(max_length=3)


@dataclass
class Item:
    """One retrieved memory or source, as numbered in the prompt."""

    kind: Literal["memory", "source"]
    id: str
    label: str  # a memory's headline, a source's attributed line
    text: str  # what the model is shown
    when: datetime | None
    source_ids: list[str]  # the inputs it points back to (a source: itself)
    score: float = 0.0
    number: int = 0


class RetrievalMixin:
    # What these methods use of the agent (see ChatAgent).
    store: MemoryStore
    chat: ChatModel
    plan_queries: bool
    memories: int
    sources: int
    memory_weight: float
    reveal_vault: bool
    source_kinds: frozenset[SourceKind] | None
    core_block: Callable[[str], CoreBlock]

    def plan(self, question: str, now: datetime | None = None) -> tuple[list[str], tuple | None]:
        """The search queries (the question first) and the time range the question names."""
        queries = [question]
        if self.plan_queries:
            messages = [
                {"role": "system", "content": prompt("plan")},
                {"role": "user", "content": redact(question).text},
            ]
            try:
                plan = self.chat.structured(messages, SearchPlan, priority=Priority.CHAT)
                queries += [q for q in plan.queries if q.strip().lower() != question.lower()]
            except StructuredOutputError as exc:
                log.info("search plan dropped, searching with the question alone: %s", exc)
        queries += self._by_name(question)
        return list(dict.fromkeys(queries)), time_range(question, now or utc_now())

    def _by_name(self, question: str) -> list[str]:
        """The question again with the names of the people it means by relation ("my
        sister" → Marta, as the user told it): her lines rarely say "sister"."""
        asked = question.lower()
        known = relatives(self.core_block("human").value)
        return [
            f"{question} {name}"
            for relation, name in known.items()
            if re.search(rf"\bmy {re.escape(relation)}\b", asked) and name.lower() not in asked
        ]

    def retrieve(
        self, question: str, *, now: datetime | None = None, limit: int = 10
    ) -> tuple[list[Item], list[str], tuple | None]:
        """The `limit` best memories and sources for a question, best first."""
        queries, span = self.plan(question, now)
        items = self._search(queries, span, limit)
        if not items and span is not None:
            items = self._search(queries, None, limit)
        return items, queries, span

    def _search(self, queries: Sequence[str], span: tuple | None, limit: int) -> list[Item]:
        since, until = span if span else (None, None)
        filters = SearchFilters.make(
            types=[t for t in MemoryType if t != MemoryType.CORE],  # core is always in the prompt
            since=since,
            until=until,
            max_sensitivity="medium",
        )
        # Rank by id first: only the items that make the cut are built (a memory's prompt text
        # may need its vault value decrypted, and its sources looked up).
        found: dict[tuple[str, str], Memory | Source] = {}
        rankings: dict[str, dict[tuple[str, str], int]] = {}
        weights: dict[str, float] = {}
        # The lines a vault item was filed from may spell out its value: they go where the
        # value may go (never for a high-sensitivity item).
        hidden = self.store.vault_sources(high_only=self.reveal_vault)
        for n, query in enumerate(queries):
            memories = [
                hit
                for hit in search(
                    self.store, query, filters=filters, limit=max(self.memories, limit)
                )
                if not is_high(hit.memory)  # raised to high in another process a moment ago
            ]
            sources = [
                hit
                for hit in search_sources(
                    self.store,
                    query,
                    since=since,
                    until=until,
                    kinds=self.source_kinds,
                    limit=max(self.sources, limit),
                )
                if hit.source.id not in hidden
            ]
            for kind, ranking, weight in (
                ("memory", [hit.memory for hit in memories], self.memory_weight),
                ("source", [hit.source for hit in sources], 1.0),
            ):
                name = f"{kind} {n}"
                rankings[name] = {(kind, r.id): rank for rank, r in enumerate(ranking, 1)}
                weights[name] = weight
                found.update({(kind, r.id): r for r in ranking if (kind, r.id) not in found})
        for name in self._speakers_in(queries[0]):
            # "What did Melanie paint?": Melanie's own lines, searched without her name
            # (which every one of them carries), across all sessions.
            rest = re.sub(rf"\b{re.escape(name)}(['’]s)?\b", " ", queries[0], flags=re.I)
            hits = [
                hit
                for hit in search_sources(
                    self.store,
                    rest,
                    since=since,
                    until=until,
                    kinds=self.source_kinds,
                    actor=name,
                    limit=self.sources,
                )
                if hit.source.id not in hidden
            ]
            rankings[f"speaker {name}"] = {
                ("source", h.source.id): r for r, h in enumerate(hits, 1)
            }
            found.update({("source", h.source.id): h.source for h in hits})
        parts = fuse(rankings, weights, RRF_K)
        items: list[Item] = []
        lines: dict[str, str] = {}  # source id → its text, for the sources chosen
        kept: dict[str, list[str]] = {}  # source id → the chosen memories' words from it
        for key in fused_best(parts, len(parts)):
            record = found[key]
            try:
                item = (
                    source_item(record) if isinstance(record, Source) else self._memory_item(record)
                )
            except _RaisedToHigh:  # between the search and now: as if it were not there
                continue
            # A memory kept in a line's own words and that line say the same: one of them is
            # enough, and the slot goes to something new.
            if isinstance(record, Source):
                if any(_repeats(words, record.text) for words in kept.get(record.id, [])):
                    continue
                lines[record.id] = record.text
            else:
                if len(item.source_ids) == 1 and _repeats(
                    item.label, lines.get(item.source_ids[0], "")
                ):
                    continue
                for source_id in item.source_ids:
                    kept.setdefault(source_id, []).append(item.label)
            item.score = sum(parts[key].values())
            items.append(item)
            if len(items) == limit:
                break
        return items

    def _speakers_in(self, question: str) -> list[str]:
        """The people with lines in the kept chats whom the question names."""
        return [
            name
            for name in self.store.speakers()
            if name.lower() not in _NOT_SPEAKERS
            and re.search(rf"(?<!\w){re.escape(name)}(?!\w)", question, re.IGNORECASE)
        ]

    def _memory_item(self, memory: Memory, *, shown: bool = True) -> Item:
        """`shown`: the item goes into a prompt (else only into a list for the user)."""
        sources = [source.id for source in self.store.sources_of(memory.id)]
        return Item(
            kind="memory",
            id=memory.id,
            label=memory.headline,
            text=self._memory_text(memory) if shown else memory.headline,
            when=memory.event_time,
            source_ids=sources,
        )

    def _memory_text(self, memory: Memory) -> str:
        when = memory.event_time
        date = f"{when:%Y-%m-%d}, " if when else ""
        body = " ".join(memory.search_text().split())
        if isinstance(memory, KnowledgeVaultItem):
            if memory.sensitivity == Sensitivity.HIGH:  # never searched for; doubly sure
                raise AssertionError("a high-sensitivity vault item reached a prompt")
            if self.reveal_vault:
                # The copy whose value is shown is the copy checked: the item may have been
                # raised to high since it was searched.
                revealed = self.store.get(memory.id, reveal=True)
                if not isinstance(revealed, KnowledgeVaultItem) or (
                    revealed.sensitivity == Sensitivity.HIGH
                ):
                    raise _RaisedToHigh(memory.id)
                secret = revealed.secret_value
                if secret is not None:
                    body += f": {secret.get_secret_value()}"
        return f"({date}{memory.type} memory) {body}"[:ITEM_CHARS]


class _RaisedToHigh(Exception):
    """A vault item found as medium was high by the time its value was read."""


_NOT_SPEAKERS = {"user", "assistant", "system", "tool", "mnemo"}  # roles, and the app itself


def _repeats(headline: str, line: str) -> bool:
    """Whether a memory's headline is that line's own words ("Caroline: I went …" or the
    line's first sentences, cut with an ellipsis)."""
    words = " ".join(headline.split(": ", 1)[-1].rstrip("…").split())
    return len(words.split()) >= 4 and words[:80] in " ".join(line.split())


def source_item(source: Source) -> Item:
    when = source.occurred_at.astimezone(UTC)
    return Item(
        kind="source",
        id=source.id,
        label=" ".join(source.line.split())[:200],
        text=f"({when:%Y-%m-%d %H:%M}, {source.kind.value}) {' '.join(source.line.split())}"[
            :ITEM_CHARS
        ],
        when=source.occurred_at,
        source_ids=[source.id],
    )


def is_high(memory: Memory) -> bool:
    return isinstance(memory, KnowledgeVaultItem) and memory.sensitivity == Sensitivity.HIGH
