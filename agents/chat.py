"""The chat agent: answers from memory, with citations, and takes "remember …" / "forget …".

Active retrieval, as in MIRIX, made to work with a small local model:
1. The question becomes a plan: the question itself, up to three search queries the model
   proposes (a schema-constrained call; off by default, since the bundled 135M model's queries
   lowered LoCoMo recall: settings' agents.plan_queries), and
   a time filter read from the question's own words ("last week", "in May") by code, because
   small models cannot do calendar arithmetic.
2. Every query searches memories (all types) and the verbatim sources; the rankings are fused
   by reciprocal rank, so a poor query can only add candidates, never lose the question's own.
   When the time filter finds nothing, the search runs again without it.
3. The best items, numbered [1]…[n], fill a token budget in the prompt; the answer streams.
4. Citations are the items the answer cites by number, or, when it cites none, all the items it
   was shown (`Answer.cited_by_model` says which).

High-sensitivity vault items are never searched for a prompt, so their values (and captions)
never reach a model; low and medium ones ("home address", "wifi password") are shown with their
value, which is what the user asks for.

"remember …" and "forget …" are recognised by their first word, not by the model: a misread
"forget" would delete the user's memories. "remember" sends the text to the memory team;
"forget" only lists what matches, and deleting waits for the user's confirmation (`forget()`).
"""

import logging
import re
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from agents import about
from agents import answer as grounding
from agents.dates import time_range
from agents.entities import relatives
from agents.team import Batch, BatchReport, MemoryTeam, prompt
from core.capture.redact import redact
from core.errors import NotFound
from core.llm.chat import ChatModel, StructuredOutputError
from core.llm.service import Priority
from core.memory.models import (
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
CORE_CHARS = 1500  # of each core block in the answer prompt
CHARS_PER_TOKEN = 4  # a budget, not a count: the tokenizer lives on the model's thread
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


@dataclass
class Answer:
    question: str
    text: str = ""
    intent: Literal["ask", "remember", "forget"] = "ask"
    items: list[Item] = field(default_factory=list)  # what the model was shown
    citations: list[Item] = field(default_factory=list)
    cited_by_model: bool = False
    queries: list[str] = field(default_factory=list)
    time_filter: tuple[datetime, datetime] | None = None
    report: BatchReport | None = None  # what "remember" wrote


class AnswerStream:
    """An answer being generated: iterate for its text; `answer` is complete at the end.

    Retrieval is done before the first piece, so `answer.items` can be shown at once.
    """

    def __init__(self, answer: Answer, pieces: Iterator[str]) -> None:
        self.answer = answer
        self._pieces = pieces

    def __iter__(self) -> Iterator[str]:
        parts = []
        try:
            for piece in self._pieces:
                parts.append(piece)
                yield piece
        finally:
            stopped = self.job is not None and self.job.cancelled
            self.close()  # a consumer that stopped early must not leave the model generating
            _finish(self.answer, "".join(parts).strip(), stopped=stopped)

    @property
    def job(self) -> Any:
        """The model's job writing this answer (None for remember/forget, which write none)."""
        return getattr(self._pieces, "job", None)

    def close(self) -> None:
        """Stop generating (the model's job is cancelled); safe from any thread."""
        stop = getattr(self._pieces, "cancel", None) or getattr(self._pieces, "close", None)
        if stop:
            stop()

    cancel = close


_REMEMBER = re.compile(r"^\s*(?:please\s+)?remember(?:\s+that)?[\s:,]+(?P<rest>.+)", re.I | re.S)
_FORGET = re.compile(
    r"^\s*(?:please\s+)?forget(?:\s+(?:about|that|everything about))?[\s:,]+(?P<rest>.+)",
    re.I | re.S,
)


def intent_of(text: str) -> tuple[Literal["ask", "remember", "forget"], str]:
    """What the user wants, by the message's first words, and the rest of the message."""
    if match := _REMEMBER.match(text):
        return "remember", match.group("rest").strip()
    if match := _FORGET.match(text):
        return "forget", match.group("rest").strip()
    return "ask", text.strip()


class ChatAgent:
    def __init__(
        self,
        store: MemoryStore,
        chat: ChatModel,
        team: MemoryTeam | None = None,
        *,
        budget_tokens: int | None = None,
        plan_queries: bool | None = None,
        memories: int = POOL,
        sources: int = POOL,
        memory_weight: float = 1.0,
        reveal_vault: bool = True,
    ) -> None:
        """`reveal_vault=False`: vault values never go into a prompt (answers for another
        tool, when the settings do not let it read them)."""
        self.store = store
        self.chat = chat
        self.team = team or MemoryTeam(store, chat)
        settings = store.settings.agents
        self.budget_tokens = budget_tokens or settings.answer_budget_tokens
        self.plan_queries = settings.plan_queries if plan_queries is None else plan_queries
        self.memories = memories
        self.sources = sources
        self.memory_weight = memory_weight  # of the memory ranking against the sources' (1)
        self.reveal_vault = reveal_vault

    # -- retrieval -------------------------------------------------------------------------

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
        known = relatives(self.store.core_block("human").value)
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
                if not _high(hit.memory)  # raised to high in another process a moment ago
            ]
            sources = [
                hit
                for hit in search_sources(
                    self.store, query, since=since, until=until, limit=max(self.sources, limit)
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
                    self.store, rest, since=since, until=until, actor=name, limit=self.sources
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
            item = _source_item(record) if isinstance(record, Source) else self._memory_item(record)
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
                revealed = self.store.get(memory.id, reveal=True)
                secret = revealed.secret_value if isinstance(revealed, KnowledgeVaultItem) else None
                if secret is not None:
                    body += f": {secret.get_secret_value()}"
        return f"({date}{memory.type} memory) {body}"[:ITEM_CHARS]

    # -- answering -------------------------------------------------------------------------

    def ask(self, question: str, *, now: datetime | None = None) -> Answer:
        """Answer a message whole (see `stream` for the same, piece by piece)."""
        stream = self.stream(question, now=now)
        for _ in stream:
            pass
        return stream.answer

    def stream(
        self, message: str, *, now: datetime | None = None, commands: bool = True
    ) -> AnswerStream:
        """`commands=False`: the message is a question even when it starts "remember …" or
        "forget …" (another tool's question must not write)."""
        # An unpaired surrogate (pasted from a broken page) is no character: SQLite could
        # neither store nor search it.
        message = message.encode("utf-8", "replace").decode("utf-8")
        intent, rest = intent_of(message) if commands else ("ask", message)
        if intent == "remember":
            answer = self.remember(rest, now=now)
            return AnswerStream(answer, iter([answer.text]))
        if intent == "forget":
            answer = self.find_to_forget(rest)
            return AnswerStream(answer, iter([answer.text]))
        items, queries, span = self.retrieve(rest, now=now)
        answer = Answer(question=rest, queries=queries, time_filter=span)
        answer.items = self._fit(items)
        if self.chat.small:  # a 135M model echoes its notes: the answer is extractive
            # The human block first, as in a capable model's prompt.
            answer.items = self._about_items() + answer.items
            for number, item in enumerate(answer.items, 1):
                item.number = number
            text = grounding.extractive(rest, answer.items, self._similarity)
            return AnswerStream(answer, iter([text]))
        pieces = self.chat.stream(
            self._messages(rest, answer.items, now), max_tokens=256, priority=Priority.CHAT
        )
        return AnswerStream(answer, pieces)

    def _about_items(self) -> list[Item]:
        """The human block's lines as notes of their own (a capable model reads the block in
        its prompt; an extractive answer must be able to quote it)."""
        block = self.store.core_block("human")
        sources = [s.id for s in self.store.sources_of(block.id)]
        lines = [about.unquote(line) for line in block.value.splitlines() if line.strip()]
        return [Item("memory", block.id, "About you", line, None, sources) for line in lines]

    def _similarity(self, question: str, sentences: Sequence[str]) -> list[float]:
        vectors = self.store.embedder.embed([question, *sentences])
        return [float(v) for v in vectors[1:] @ vectors[0]]

    def _fit(self, items: list[Item]) -> list[Item]:
        """The items that fit the token budget, best first, numbered from 1."""
        kept: list[Item] = []
        used = 0
        for item in items:
            cost = len(item.text) // CHARS_PER_TOKEN + 8
            if kept and used + cost > self.budget_tokens:
                break
            used += cost
            item.number = len(kept) + 1
            kept.append(item)
        return kept

    def _messages(
        self, question: str, items: list[Item], now: datetime | None
    ) -> list[dict[str, str]]:
        core = self.store.core_blocks()
        # The newest end of each block: a full pair of blocks would crowd the notes out of a
        # 4k context (consolidation halves a block that is over 90% full).
        about = "\n".join(f"{b.label}: {b.value[-CORE_CHARS:]}" for b in core if b.value.strip())
        notes = "\n".join(f"[{item.number}] {item.text}" for item in items) or "(nothing found)"
        today = (now or utc_now()).strftime("%Y-%m-%d")
        # The fixed instructions and the user's core blocks come first and change rarely, so
        # llama.cpp keeps them in its KV cache from one question to the next.
        system = f"{prompt('chat')}\n\nAbout the user:\n{about or '(nothing yet)'}"
        # A token pasted into a question is not needed to answer it (what is kept of it is
        # redacted too) and must not reach a model, which may be a server's.
        asked = redact(question).text
        user = f"Today is {today}.\n\nNotes:\n{notes}\n\nQuestion: {asked}"
        return [{"role": "system", "content": system}, {"role": "user", "content": user}]

    # -- remember and forget ---------------------------------------------------------------

    def remember(
        self, text: str, *, now: datetime | None = None, on_behalf_of: str | None = None
    ) -> Answer:
        """Keep the user's words as a source and have the memory team file them.
        `on_behalf_of`: the tool that sent them (kept with the source, and named in the
        history of every memory written from them)."""
        # The kept words are redacted like every input; the team sees them whole, since a
        # secret the user asks to remember belongs in the vault, encrypted.
        redacted = redact(text)
        source = self.store.add_source(
            Source(
                kind=SourceKind.CHAT,
                occurred_at=now or utc_now(),
                text=redacted.text,
                actor="user",
                meta=({"redacted": dict(redacted.found)} if redacted.found else {})
                | ({"via": on_behalf_of} if on_behalf_of else {}),
            )
        )
        # The user is waiting for this one: it goes ahead of background memory writing.
        report = self.team.process(
            Batch(
                [source.model_copy(update={"text": text})],
                "chat",
                requested=True,
                on_behalf_of=on_behalf_of,
            ),
            priority=Priority.CHAT,
        )
        written = self.store.get_many(report.memory_ids)
        lines = [f"- {written[i].headline}" for i in report.memory_ids if i in written]
        answer = Answer(question=text, intent="remember", report=report)
        answer.items = [_source_item(source)]
        # A list for the user, not a prompt: a high-sensitivity vault item just filed is
        # listed by its caption (its value is never decrypted for this).
        answer.citations = [
            self._memory_item(written[i], shown=False) for i in report.memory_ids if i in written
        ]
        for number, item in enumerate(answer.citations, 1):
            item.number = number
        refused = sum(report.refused.values())
        answer.text = (
            "Remembered:\n" + "\n".join(lines)
            if lines
            else "Kept your words. "
            + (
                f"What the memory managers wrote ({refused}) did not pass the quality gate."
                if refused
                else "The memory managers found nothing to add to your memories."
            )
        )
        return answer

    def find_to_forget(self, text: str) -> Answer:
        """What "forget …" would delete: memories and kept inputs that match the words.

        Only keyword matches and close vector matches count, so nothing merely nearby is listed;
        nothing is deleted until `forget()` is called with the user's confirmation.
        """
        answer = Answer(question=text, intent="forget")
        for hit in search(self.store, text, limit=10):
            close = hit.keyword_rank is not None or (hit.similarity or 0) >= 0.6
            if close and hit.memory.type != MemoryType.CORE:
                answer.items.append(self._memory_item(hit.memory, shown=False))
        for source_hit in search_sources(self.store, text, limit=10):
            if source_hit.keyword_rank is not None:
                answer.items.append(_source_item(source_hit.source))
        for number, item in enumerate(answer.items, 1):
            item.number = number
        answer.text = (
            f"Found {len(answer.items)} item(s) matching {text!r}; confirm to delete them:\n"
            + "\n".join(f"[{i.number}] {i.kind}: {i.label[:100]}" for i in answer.items)
            if answer.items
            else f"Nothing in memory matches {text!r}."
        )
        return answer

    def forget(self, items: Sequence[Item], progress: Callable[[int], None] | None = None) -> int:
        """Delete confirmed items everywhere; returns how many were deleted."""
        deleted = 0
        for item in items:
            try:
                if item.kind == "memory":
                    self.store.delete(item.id, cause="forgotten on request", actor="user")
                else:
                    self.store.delete_source(item.id)
                deleted += 1
            except NotFound:
                pass  # already gone
            if progress:
                progress(deleted)
        return deleted


_NOT_SPEAKERS = {"user", "assistant", "system", "tool", "mnemo"}  # roles, and the app itself


def _repeats(headline: str, line: str) -> bool:
    """Whether a memory's headline is that line's own words ("Caroline: I went …" or the
    line's first sentences, cut with an ellipsis)."""
    words = " ".join(headline.split(": ", 1)[-1].rstrip("…").split())
    return len(words.split()) >= 4 and words[:80] in " ".join(line.split())


_CITE = re.compile(r"\[(\d{1,3})\]")


def _finish(answer: Answer, text: str, *, stopped: bool = False) -> None:
    if (
        answer.intent == "ask"
        and text
        and not stopped  # what the user stopped stays as it was
        and not grounding.grounded(text, answer.items)
    ):
        # What the model wrote repeats its prompt or says what no note says: the user sees
        # the notes' own best sentence instead (the pane shows the final text).
        # Its length only: what a model writes may repeat a vault value it was shown.
        log.info("a generated answer (%d characters) was replaced by an extractive one", len(text))
        text = grounding.extractive(answer.question, answer.items)
    answer.text = text
    if answer.intent != "ask":
        return
    numbers = {int(n) for n in _CITE.findall(text)}
    cited = [item for item in answer.items if item.number in numbers]
    answer.cited_by_model = bool(cited)
    answer.citations = cited or list(answer.items)


def _source_item(source: Source) -> Item:
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


def _high(memory: Memory) -> bool:
    return isinstance(memory, KnowledgeVaultItem) and memory.sensitivity == Sensitivity.HIGH
