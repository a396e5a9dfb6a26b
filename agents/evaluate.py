"""The LoCoMo evaluation: ingest each conversation, then ask its questions.

Each conversation goes into its own fresh data folder, one dated session per ingestion, as a
user's chats would arrive. Retrieval is scored by whether the gold evidence turns (`dia_id`s)
are among the sources of the items the chat agent retrieves: a kept turn is its own source, a
memory points to the turns it was written from. Recall counts the share of a question's
evidence turns found, averaged over questions of categories 1–4 (5, adversarial, has no
evidence to find). QA mode also answers, and scores each answer by token F1 against the gold
answer and by the configured model as a judge.

`turns_at_10` reports how many distinct turns the top ten items point to: a memory written from
a whole batch points to many, which raises recall without retrieving better, so the figure says
how much of the recall came from that.
"""

import json
import re
import string
import tempfile
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from agents.chat import ChatAgent, Item
from agents.ingest import ingest_sessions
from agents.team import MemoryTeam
from core.engine import Engine
from core.errors import ImportFailed
from core.ingest.chats import Session, read_chats
from core.ingest.keep import keep_session
from core.memory.models import EpisodicMemory, SourceKind
from core.settings import Settings

CATEGORIES = {1: "multi-hop", 2: "temporal", 3: "open-domain", 4: "single-hop"}
Progress = Callable[[str, int, int], None]  # (stage, done, total)


class Verdict(BaseModel):
    """The judge's one-word verdict."""

    model_config = ConfigDict(extra="forbid")
    verdict: Literal["CORRECT", "WRONG"]


@dataclass
class QuestionResult:
    conversation: str
    category: int
    question: str
    gold: list[str]
    found_at_5: float
    found_at_10: float
    turns_at_10: int
    answer: str | None = None
    gold_answer: str | None = None
    f1: float | None = None
    judged_correct: bool | None = None


@dataclass
class Evaluation:
    mode: str
    conversations: list[str] = field(default_factory=list)
    results: list[QuestionResult] = field(default_factory=list)
    ingest_s: float = 0.0
    ask_s: float = 0.0
    turns: int = 0
    memories: int = 0
    llm_calls: int = 0

    def figures(self) -> dict[str, Any]:
        results = self.results
        out: dict[str, Any] = {
            "mode": self.mode,
            "conversations": len(self.conversations),
            "questions": len(results),
            "recall_at_5": _mean(r.found_at_5 for r in results),
            "recall_at_10": _mean(r.found_at_10 for r in results),
        }
        for category in CATEGORIES:
            out[f"recall_at_10_cat{category}"] = _mean(
                r.found_at_10 for r in results if r.category == category
            )
        out["turns_at_10"] = _mean(r.turns_at_10 for r in results)
        if self.mode == "qa":
            out["f1"] = _mean(r.f1 or 0.0 for r in results)
            out["judge_accuracy"] = _mean(float(bool(r.judged_correct)) for r in results)
        out.update(
            turns=self.turns,
            memories=self.memories,
            llm_calls=self.llm_calls,
            ingest_s=round(self.ingest_s, 1),
            seconds_per_question=round(self.ask_s / max(len(results), 1), 3),
        )
        return out


def evaluate_locomo(
    data: Path,
    *,
    settings: Settings | None = None,
    conversations: int | None = None,
    mode: Literal["retrieval", "qa"] = "retrieval",
    agents: bool = True,
    oracle: bool = False,
    plan_queries: bool | None = None,
    progress: Progress | None = None,
    work_dir: Path | None = None,
) -> Evaluation:
    """Run the LoCoMo evaluation on `data`; each conversation in a fresh temporary store.

    `agents=False` keeps the turns without running the memory team (retrieval then works on
    the verbatim turns alone, and a run takes minutes instead of hours on a CPU).
    `oracle=True` (with agents=False) indexes LoCoMo's own gold `observation` facts and session
    summaries as memories, as if a capable model had written them: the design's ceiling. Each
    fact cites its evidence turns; each summary sentence cites the session turn it shares
    most words with.
    """
    samples = _load(data)[:conversations]
    sessions = read_chats(data)
    report = Evaluation(mode=mode)
    with tempfile.TemporaryDirectory(prefix="mnemo-locomo-", dir=work_dir) as tmp:
        for sample in samples:
            sample_id = sample["sample_id"]
            report.conversations.append(sample_id)
            mine = [s for s in sessions if s.title.startswith(f"{sample_id} session ")]
            with Engine(Path(tmp) / sample_id, settings=settings) as engine:
                started = time.perf_counter()
                _ingest(engine, mine, agents, sample_id, progress)
                if oracle:
                    _oracle_memories(engine, sample, sample_id)
                report.ingest_s += time.perf_counter() - started
                report.turns += sum(len(s.turns) for s in mine)
                report.memories += sum(engine.store.counts().values()) - 2  # the core blocks
                agent = ChatAgent(engine.store, engine.chat, plan_queries=plan_queries)
                questions = [q for q in sample["qa"] if q.get("category") in CATEGORIES]
                started = time.perf_counter()
                for n, qa in enumerate(questions, 1):
                    report.results.append(_ask(engine, agent, sample_id, qa, mine, mode))
                    if progress:
                        progress(f"{sample_id} questions", n, len(questions))
                report.ask_s += time.perf_counter() - started
                report.llm_calls += engine.chat.usage.calls
    return report


class _Question(BaseModel):
    model_config = ConfigDict(extra="allow")  # answer, adversarial_answer
    question: str
    category: int | None = None
    evidence: list[str] = []


class _Sample(BaseModel):
    """What the evaluation reads of a sample, checked before hours of ingestion begin."""

    model_config = ConfigDict(extra="allow")  # observation, session_summary, …
    # A folder of the run is named after it: a name, never a path.
    sample_id: str = Field(pattern=r"^[\w-][\w.-]{0,99}$")
    conversation: dict[str, Any]
    qa: list[_Question]


def _load(data: Path) -> list[dict[str, Any]]:
    try:
        samples = json.loads(data.read_text("utf-8"))
    except (OSError, ValueError, RecursionError) as exc:
        reason = "nested too deeply" if isinstance(exc, RecursionError) else exc
        raise ImportFailed(f"cannot read LoCoMo data {data}: {reason}") from None
    if not isinstance(samples, list):
        raise ImportFailed(f"{data} is not LoCoMo data (a list of samples with qa)")
    checked = []
    for index, sample in enumerate(samples):
        try:
            checked.append(_Sample.model_validate(sample).model_dump())
        except ValidationError as exc:
            first = exc.errors()[0]
            where = ".".join(str(p) for p in (index, *first["loc"]))[:80]
            raise ImportFailed(f"{data} is not LoCoMo data: at {where}: {first['msg']}") from None
    return checked


def _ingest(
    engine: Engine,
    sessions: Sequence[Session],
    agents: bool,
    sample_id: str,
    progress: Progress | None,
) -> None:
    def report(done: int, total: int) -> None:
        if progress:
            progress(f"{sample_id} ingest", done, total)

    if agents:
        team = MemoryTeam(engine.store, engine.chat)
        for n, session in enumerate(sessions, 1):  # one ingestion per session, as it happened
            ingest_sessions(team, [session])
            report(n, len(sessions))
    else:
        for n, session in enumerate(sessions, 1):
            keep_session(engine.store, session)
            report(n, len(sessions))


def _oracle_memories(engine: Engine, sample: dict[str, Any], sample_id: str) -> None:
    store = engine.store
    turns = store.find_sources(
        SourceKind.CHAT,
        [
            f"{sample_id}:{turn['dia_id']}"
            for key, session in sample["conversation"].items()
            if key.startswith("session_") and isinstance(session, list)
            for turn in session
        ],
    )
    for by_speaker in sample.get("observation", {}).values():
        for speaker, facts in by_speaker.items():
            for fact in facts:
                evidence = fact[1] if len(fact) > 1 else []
                refs = _evidence(
                    {"evidence": evidence if isinstance(evidence, list) else [evidence]}, sample_id
                )
                cited = [turns[r] for r in refs if r in turns]
                if cited and isinstance(fact[0], str) and fact[0].strip():
                    memory = EpisodicMemory(
                        event_type="observation",
                        summary=fact[0],
                        actor=speaker,
                        occurred_at=cited[0].occurred_at,
                    )
                    store.add(memory, sources=[c.id for c in cited], actor="oracle")
    for key, summary in sample.get("session_summary", {}).items():
        number = re.findall(r"\d+", key)[0]
        session = [t for r, t in turns.items() if r.startswith(f"{sample_id}:D{number}:")]
        if not session or not isinstance(summary, str):
            continue
        for sentence in filter(str.strip, re.split(r"(?<=[.!?])\s+", summary)):
            words = set(_tokens(sentence))
            best = max(session, key=lambda t: len(words & set(_tokens(t.text))))
            memory = EpisodicMemory(
                event_type="session summary", summary=sentence, occurred_at=best.occurred_at
            )
            store.add(memory, sources=[best.id], actor="oracle")


def _evidence(qa: dict[str, Any], sample_id: str) -> list[str]:
    """Gold turn refs; a few LoCoMo entries hold several ids in one string ("D8:6; D9:17")."""
    ids = [part for entry in qa.get("evidence", []) for part in re.split(r"[;,\s]+", entry)]
    return [f"{sample_id}:{i}" for i in dict.fromkeys(ids) if re.fullmatch(r"D\d+:\d+", i)]


def _ask(
    engine: Engine,
    agent: ChatAgent,
    sample_id: str,
    qa: dict[str, Any],
    sessions: Sequence[Session],
    mode: str,
) -> QuestionResult:
    now = sessions[-1].turns[-1].time if sessions else None
    gold = _evidence(qa, sample_id)
    if mode == "qa":
        answer = agent.ask(qa["question"], now=now)
        items = answer.items
    else:
        items, _, _ = agent.retrieve(qa["question"], now=now, limit=10)
    refs = _refs(engine, items)
    top5 = {r for item in items[:5] for r in refs.get(item.id, [])}
    top10 = {r for item in items[:10] for r in refs.get(item.id, [])}
    result = QuestionResult(
        conversation=sample_id,
        category=int(qa["category"]),
        question=qa["question"],
        gold=gold,
        found_at_5=_share(gold, top5),
        found_at_10=_share(gold, top10),
        turns_at_10=len(top10),
    )
    if mode == "qa":
        result.answer = answer.text
        result.gold_answer = str(qa.get("answer", ""))
        result.f1 = token_f1(result.answer, result.gold_answer)
        result.judged_correct = _judge(engine, qa["question"], result.gold_answer, answer.text)
    return result


def _refs(engine: Engine, items: Sequence[Item]) -> dict[str, list[str]]:
    """Each item's sources as outside references (the LoCoMo turn ids)."""
    ids = sorted({s for item in items for s in item.source_ids})
    if not ids:
        return {}
    ref_of = {s.id: s.ref for s in engine.store.get_sources(ids).values()}
    return {item.id: [r for s in item.source_ids if (r := ref_of.get(s))] for item in items}


def _share(gold: Sequence[str], found: set[str]) -> float:
    return sum(g in found for g in gold) / len(gold) if gold else 0.0


def _judge(engine: Engine, question: str, gold: str, answer: str) -> bool:
    messages = [
        {
            "role": "system",
            "content": "You grade answers. Say CORRECT if the answer means the same as the gold "
            "answer (same fact, same date even if written differently), otherwise WRONG.",
        },
        {
            "role": "user",
            "content": f"Question: {question}\nGold answer: {gold}\nAnswer: {answer}",
        },
    ]
    return engine.chat.structured(messages, Verdict).verdict == "CORRECT"


_ARTICLES = re.compile(r"\b(a|an|the|and)\b")


def _tokens(text: str) -> list[str]:
    text = text.lower().translate(str.maketrans("", "", string.punctuation))
    return _ARTICLES.sub(" ", text).split()


def token_f1(prediction: str, gold: str) -> float:
    """SQuAD-style token F1, as LoCoMo's paper scores answers."""
    pred, want = _tokens(prediction), _tokens(gold)
    common = sum((Counter(pred) & Counter(want)).values())
    if not pred or not want or common == 0:
        return 0.0
    precision, recall = common / len(pred), common / len(want)
    return 2 * precision * recall / (precision + recall)


def _mean(values: Any) -> float:
    values = list(values)
    return round(sum(values) / len(values), 4) if values else 0.0


def per_category_table(evaluation: Evaluation) -> list[tuple[str, int, float, float]]:
    """(category, questions, recall@5, recall@10) rows for a readable table."""
    rows = []
    grouped: dict[int, list[QuestionResult]] = defaultdict(list)
    for result in evaluation.results:
        grouped[result.category].append(result)
    for category, name in CATEGORIES.items():
        results = grouped.get(category, [])
        rows.append(
            (
                f"{category} {name}",
                len(results),
                _mean(r.found_at_5 for r in results),
                _mean(r.found_at_10 for r in results),
            )
        )
    return rows
