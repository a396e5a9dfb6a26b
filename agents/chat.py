"""The chat agent: answers from memory, with citations, and takes "remember …" / "forget …".

Retrieval (agents.chat_retrieval) finds the best memories and kept inputs for the question,
numbered [1]…[n]; they fill a token budget in the prompt and the answer streams. Citations are
the items the answer cites by number, or, when it cites none, all the items it was shown
(`Answer.cited_by_model` says which).

"remember …" and "forget …" are recognised by their first word, not by the model: a misread
"forget" would delete the user's memories. "remember" sends the text to the memory team;
"forget" only lists what matches, and deleting waits for the user's confirmation (`forget()`).
A high-sensitivity vault item "remember" wrote or changed is as if it were not there: neither
its caption nor its id is in the answer, for any front end.
"""

import dataclasses
import logging
import re
from collections.abc import Callable, Collection, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

from agents import about
from agents import answer as grounding
from agents.chat_retrieval import (
    POOL,
    Item,
    RetrievalMixin,
    SearchPlan,
    is_high,
    source_item,
)
from agents.team import Batch, BatchReport, MemoryTeam, prompt
from core.capture.redact import redact
from core.errors import NotFound
from core.llm.chat import ChatModel
from core.llm.service import Priority
from core.memory.models import CoreBlock, MemoryType, Source, SourceKind
from core.store.memories import CORE_LABELS, MemoryStore
from core.store.search import search
from core.store.source_search import search_sources
from core.timeutil import now as utc_now

__all__ = ["Answer", "AnswerStream", "ChatAgent", "Item", "SearchPlan", "intent_of"]

log = logging.getLogger(__name__)

CORE_CHARS = 1500  # of each core block in the answer prompt
CHARS_PER_TOKEN = 4  # a budget, not a count: the tokenizer lives on the model's thread


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


class ChatAgent(RetrievalMixin):
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
        source_kinds: Collection[SourceKind] | None = None,
        show_block: Callable[[CoreBlock], CoreBlock] | None = None,
    ) -> None:
        """For answers to another tool, what it may read: `reveal_vault=False`, vault values
        never go into a prompt; `source_kinds`, the kinds of kept inputs quoted (None: all;
        screen text only where the user allows it); `show_block`, a core block as the tool
        may see it (the block itself by default)."""
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
        self.source_kinds = None if source_kinds is None else frozenset(source_kinds)
        self._show_block = show_block or (lambda block: block)

    def core_block(self, label: str) -> CoreBlock:
        """A core block as this agent may show it to its model and its reader."""
        return self._show_block(self.store.core_block(label))

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
        block = self.core_block("human")
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
        core = [self.core_block(label) for label in CORE_LABELS]
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
        # As if it were not there: a high-sensitivity vault item the team filed or changed
        # is in nothing this answer carries, the report's ids included (front ends list those).
        found = self.store.get_many(report.memory_ids)
        written = [
            found[i]
            for i in dict.fromkeys(report.memory_ids)
            if i in found and not is_high(found[i])
        ]
        report = dataclasses.replace(report, memory_ids=[m.id for m in written])
        answer = Answer(question=text, intent="remember", report=report)
        answer.items = [source_item(source)]
        answer.citations = [self._memory_item(m, shown=False) for m in written]
        for number, item in enumerate(answer.citations, 1):
            item.number = number
        refused = sum(report.refused.values())
        answer.text = (
            "Remembered:\n" + "\n".join(f"- {m.headline}" for m in written)
            if written
            else f"Kept your words. What the memory managers wrote ({refused}) did not pass "
            "the quality gate."
            if refused
            else "Kept your words; there is no new memory to show from them."
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
                answer.items.append(source_item(source_hit.source))
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
