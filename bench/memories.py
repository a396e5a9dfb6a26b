"""What the memory team writes, judged against LoCoMo's gold facts, by checks of its own.

    python -m bench.memories [--data FILE] [--conversations N] [--questions 100]
    python -m bench.memories --captures

Each conversation is ingested into a fresh store with the configured models (one ingestion per
dated session, as it happened). Then:
- fact_recall: share of the gold `observation` facts of a session covered by a memory written
  from that session (covered: at least half of the fact's content words are among the first
  500 characters of the memory's text; resources do not count);
- memory_precision: share of the chat memories that cover a gold fact of their session;
- junk_rate: memories with placeholder text, proper nouns or numbers none of their sources
  holds, or a date outside their sources' time (these checks are the benchmark's own, not the
  gate's: the gate must not mark its own homework);
- entities_per_100_turns, entity_duplicates (one name, two nodes);
- on `--questions` questions spread over the conversations: answer_echo_rate (the answer
  repeats the prompt's instructions or copies several notes), answer_supported_rate (the
  answer's content words are in the items it cites), qa_f1 (token F1 against the gold answer).

`--captures` instead feeds the scripted screens of bench.capture (windows with known facts on
them) to capture batches and reports capture_fact_recall and junk_rate.
"""

import argparse
import re
import tempfile
import time
from collections import defaultdict
from collections.abc import Iterable, Sequence
from datetime import timedelta
from pathlib import Path
from typing import Any

from agents.chat import Answer, ChatAgent
from agents.evaluate import CATEGORIES, _load, token_f1
from agents.ingest import ingest_sessions
from agents.team import MemoryTeam, prompt
from app.cli_output import staged_progress
from bench.report import report
from core.engine import Engine
from core.ingest.chats import read_chats
from core.memory.models import Memory, MemoryType, Source

DEFAULT_DATA = Path(__file__).resolve().parents[1].parent / "shared/data/locomo/locomo_dev.json"
COVER_CHARS = 500
STOP = set(
    """a about above after again against all am an and any are as at be because been before
    being below between both but by can could did do does doing down during each few for from
    further had has have having he her here hers herself him himself his how i if in into is it
    its itself just me more most my myself no nor not now of off on once only or other our ours
    ourselves out over own same she should so some such than that the their theirs them
    themselves then there these they this those through to too under until up very was we were
    what when where which while who whom why will with would you your yours yourself also really
    got get go going went like one lot much many thing things s t ll ve re d m""".split()
)
PLACEHOLDERS = re.compile(
    r"\b(memory_name|event_type|memory_type|source_app|occurred_at|entry_type|lorem ipsum)\b|"
    r"^(name|summary|details|title|event|string|text|none|null|n/a)$",
    re.I,
)
_WORD = re.compile(r"[a-z0-9]+")
_NAME = re.compile(r"(?<![.!?:\"“]\s)(?<!^)\b[A-Z][a-zA-Z]+", re.M)
_NUMBER = re.compile(r"\b\d[\d.,:]*\b")


def content_words(text: str) -> set[str]:
    return {w for w in _WORD.findall(text.lower()) if w not in STOP}


def covers(memory_text: str, fact: str) -> bool:
    wanted = content_words(fact)
    return bool(wanted) and len(wanted & content_words(memory_text[:COVER_CHARS])) * 2 >= len(
        wanted
    )


def text_of(memory: Memory) -> str:
    return memory.search_text()


def junk(memory: Memory, sources: Sequence[Source]) -> str | None:
    """Why this memory is junk, or None: the benchmark's own checks."""
    text = text_of(memory)
    said = " ".join(f"{s.text} {s.actor or ''} {s.title or ''} {s.app or ''}" for s in sources)
    heard = said.lower()
    if PLACEHOLDERS.search(text) or re.fullmatch(r"[\d\-_ :]+", text.strip()):
        return "placeholder"
    fields = [v for v in memory.payload().values() if isinstance(v, str) and v.strip()]
    if len(fields) >= 2 and len({f.strip().lower() for f in fields[:2]}) == 1:
        return "placeholder"
    for name in _NAME.findall(text):
        if name.lower() not in heard:
            return f"ungrounded name: {name}"
    for number in _NUMBER.findall(text):
        if number.strip(".,:") not in said:
            return f"ungrounded number: {number}"
    when = memory.event_time
    if memory.type == MemoryType.EPISODIC and sources and when is not None:
        first = min(s.occurred_at for s in sources) - timedelta(days=400)
        last = max(s.occurred_at for s in sources) + timedelta(days=400)
        if not first <= when <= last:
            return "impossible date"
    return None


def _shingles(text: str, n: int = 6) -> set[str]:
    words = _WORD.findall(text.lower())
    return {" ".join(words[i : i + n]) for i in range(len(words) - n + 1)}


def echoes(answer: Answer, scaffold: str) -> bool:
    """The answer repeats the instructions (any six words in a row), the prompt's labels, or
    copies notes wholesale (two or more of its sentences are found verbatim in the notes; a
    quoted sentence is an answer, a list of them is an echo)."""
    text = answer.text
    said = " ".join(_WORD.findall(text.lower()))
    if any(s in said for s in _shingles(scaffold)) or re.search(r"(Notes|Question):", text):
        return True
    noted = set().union(*(_shingles(item.text) for item in answer.items)) if answer.items else set()
    sentences = re.split(r"(?<=[.!?”])\s+|\n+", text)
    return sum(bool(_shingles(s) & noted) for s in sentences) >= 2


def supported(answer: Answer) -> bool:
    """The answer's content words (beyond the words of attribution) are in its citations."""
    cited = answer.citations or answer.items
    seen = set().union(*(content_words(f"{i.label} {i.text}") for i in cited)) if cited else set()
    dates = {w for i in cited if i.when for w in content_words(f"{i.when:%-d %b %B %Y}")}
    words = content_words(re.sub(r"\[\d+\]", " ", answer.text)) - dates
    words -= {"said", "memory", "found", "nothing", "user"}
    return not words or len(words & seen) / len(words) >= 0.9


def _session(ref: str | None) -> int | None:
    match = re.search(r":D(\d+):\d+$", ref or "")
    return int(match.group(1)) if match else None


def _observations(sample: dict[str, Any]) -> dict[int, list[str]]:
    facts: dict[int, list[str]] = defaultdict(list)
    for key, by_speaker in sample.get("observation", {}).items():
        number = int(re.findall(r"\d+", key)[0])
        for items in by_speaker.values():
            facts[number] += [item[0] for item in items if item and isinstance(item[0], str)]
    return facts


def _spread(samples: Sequence[dict[str, Any]], n: int) -> list[list[dict[str, Any]]]:
    """About n questions of categories 1–4, evenly over the conversations and their length."""
    asked = []
    per = max(1, n // max(len(samples), 1))
    for sample in samples:
        qa = [q for q in sample["qa"] if q.get("category") in CATEGORIES]
        step = max(1, len(qa) // per)
        asked.append(qa[::step][:per])
    return asked


def run_chats(data: Path, conversations: int | None, questions: int) -> dict[str, Any]:
    samples = _load(data)[:conversations]
    sessions = read_chats(data)
    progress = staged_progress("item")
    counts: dict[str, float] = defaultdict(float)
    junk_reasons: dict[str, int] = defaultdict(int)
    examples: list[str] = []
    f1s: list[float] = []
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="mnemo-memories-") as tmp:
        for sample, asked in zip(samples, _spread(samples, questions), strict=True):
            sample_id = sample["sample_id"]
            mine = [s for s in sessions if s.title.startswith(f"{sample_id} session ")]
            with Engine(Path(tmp) / sample_id) as engine:
                team = MemoryTeam(engine.store, engine.chat)
                for n, session in enumerate(mine, 1):
                    ingest_sessions(team, [session])
                    progress(f"{sample_id} ingest", n, len(mine))
                counts["turns"] += sum(len(s.turns) for s in mine)
                _judge_memories(engine, _observations(sample), counts, junk_reasons, examples)
                names = [e.name.casefold() for e in engine.store.entities()]
                counts["entities"] += len(names)
                counts["entity_duplicates"] += len(names) - len(set(names))
                agent = ChatAgent(engine.store, engine.chat)
                scaffold = prompt("chat")
                now = mine[-1].turns[-1].time if mine else None
                for n, qa in enumerate(asked, 1):
                    answer = agent.ask(qa["question"], now=now)
                    counts["questions"] += 1
                    counts["echoes"] += echoes(answer, scaffold)
                    counts["supported"] += supported(answer)
                    f1s.append(token_f1(answer.text, str(qa.get("answer", ""))))
                    progress(f"{sample_id} questions", n, len(asked))
    turns = counts["turns"] or 1
    written = counts["memories"] or 1
    return {
        "conversations": len(samples),
        "turns": int(counts["turns"]),
        "fact_recall": counts["facts_covered"] / (counts["facts"] or 1),
        "memory_precision": counts["memories_covering"] / (counts["chat_memories"] or 1),
        "junk_rate": counts["junk"] / written,
        "junk_reasons": dict(junk_reasons),
        "memories": int(counts["memories"]),
        "memories_per_100_turns": 100 * counts["memories"] / turns,
        "entities_per_100_turns": 100 * counts["entities"] / turns,
        "entity_duplicates": int(counts["entity_duplicates"]),
        "questions": int(counts["questions"]),
        "answer_echo_rate": counts["echoes"] / (counts["questions"] or 1),
        "answer_supported_rate": counts["supported"] / (counts["questions"] or 1),
        "qa_f1": sum(f1s) / len(f1s) if f1s else 0.0,
        "seconds": time.perf_counter() - started,
        "junk_examples": examples[:5],
    }


def _judge_memories(
    engine: Engine,
    facts: dict[int, list[str]],
    counts: dict[str, float],
    reasons: dict[str, int],
    examples: list[str],
) -> None:
    store = engine.store
    by_session: dict[int, list[str]] = defaultdict(list)
    for memory in _all_memories(store):
        sources = store.sources_of(memory.id)
        counts["memories"] += 1
        reason = junk(memory, sources)
        if reason:
            counts["junk"] += 1
            reasons[reason.split(":")[0]] += 1
            examples.append(f"{reason}: {text_of(memory)[:120]}")
        if memory.type == MemoryType.RESOURCE:
            continue
        sessions = {n for s in sources if (n := _session(s.ref)) is not None}
        counts["chat_memories"] += 1
        text = text_of(memory)
        counts["memories_covering"] += any(
            covers(text, fact) for n in sessions for fact in facts.get(n, [])
        )
        for n in sessions:
            by_session[n].append(text)
    for n, session_facts in facts.items():
        for fact in session_facts:
            counts["facts"] += 1
            counts["facts_covered"] += any(covers(text, fact) for text in by_session.get(n, []))


def _all_memories(store: Any) -> Iterable[Memory]:
    for memory in store.memories():
        if memory.type != MemoryType.CORE:
            yield memory


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--conversations", type=int)
    parser.add_argument("--questions", type=int, default=100)
    parser.add_argument("--captures", action="store_true", help="scripted screens instead")
    parser.add_argument("--threshold", type=float, help="the line selector's (agents.select)")
    args = parser.parse_args()
    if args.threshold is not None:
        from agents import select

        select.THRESHOLD = args.threshold
    if args.captures:
        from bench.capture_memories import run_captures

        figures = run_captures()
        rows = [
            ("capture_fact_recall", f"{figures['capture_fact_recall']:.3f}", "target >= 0.6"),
            ("junk_rate", f"{figures['junk_rate']:.3f}", "target <= 0.02"),
            ("memories", str(figures["memories"]), f"from {figures['captures']} captures"),
        ]
        report(rows, figures)
        return
    figures = run_chats(args.data, args.conversations, args.questions)
    rows = [
        ("fact_recall", f"{figures['fact_recall']:.3f}", "target >= 0.60"),
        ("memory_precision", f"{figures['memory_precision']:.3f}", "target >= 0.60"),
        ("junk_rate", f"{figures['junk_rate']:.3f}", "target <= 0.02"),
        ("memories_per_100_turns", f"{figures['memories_per_100_turns']:.1f}", "report"),
        ("entities_per_100_turns", f"{figures['entities_per_100_turns']:.1f}", "report"),
        ("entity_duplicates", str(figures["entity_duplicates"]), "target 0"),
        ("answer_echo_rate", f"{figures['answer_echo_rate']:.3f}", "target 0"),
        ("answer_supported_rate", f"{figures['answer_supported_rate']:.3f}", "target >= 0.95"),
        ("qa_f1", f"{figures['qa_f1']:.3f}", f"{figures['questions']} questions"),
        ("seconds", f"{figures['seconds']:.0f}", f"{figures['turns']} turns"),
    ]
    report(rows, figures)


if __name__ == "__main__":
    main()
