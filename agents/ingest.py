"""Ingestion: inputs kept verbatim as sources, then read by the memory team in batches.

A chat session is split into batches that fit the model's context with room for the managers'
instructions and answers; a document (text or PDF) is one batch and always yields a resource
memory, once: the same document again is neither kept nor read twice.
"""

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from agents.team import LINE_CHARS, Batch, BatchReport, MemoryTeam
from core.ingest.chats import Session
from core.ingest.keep import keep_file, keep_session
from core.memory.models import Source
from core.store.reads import memories_of_source

Progress = Callable[[int, int], None]  # (turns done, turns in all)
BATCH_CHARS = 4000  # ~1,000 tokens of input: a 4k context keeps room for the rest


@dataclass
class FileReport(BatchReport):
    """What ingesting a document did; `known`: it was kept and filed before, so nothing was
    read or written this time."""

    known: bool = False


@dataclass
class IngestReport:
    sessions: int = 0
    turns: int = 0
    known: int = 0
    batches: list[BatchReport] = field(default_factory=list)


def batches(sources: Sequence[Source], kind: str, limit: int = BATCH_CHARS) -> Iterator[Batch]:
    """Consecutive runs of sources whose lines, as the model sees them, fit in `limit`."""
    run: list[Source] = []
    size = 0
    for source in sources:
        n = min(len(source.text), LINE_CHARS) + 40  # the line's number, time and speaker
        if run and size + n > limit:
            yield Batch(run, kind)
            run, size = [], 0
        run.append(source)
        size += n
    if run:
        yield Batch(run, kind)


def ingest_sessions(
    team: MemoryTeam, sessions: Sequence[Session], progress: Progress | None = None
) -> IngestReport:
    """Keep every session's new turns and have the team read them; turns already kept (an
    export ingested again) are neither stored nor read twice."""
    report = IngestReport(sessions=len(sessions))
    total = sum(len(s.turns) for s in sessions)
    done = 0
    if progress:
        progress(0, total)
    for session in sessions:
        kept, known = keep_session(team.store, session)
        report.turns += len(kept)
        report.known += known
        done += known
        for batch in batches(kept, "chat"):
            report.batches.append(team.process(batch))
            done += len(batch.sources)
            if progress:
                progress(done, total)
    return report


def ingest_file(team: MemoryTeam, path: Path) -> BatchReport:
    """Keep a document and file it as a resource memory (and whatever else it holds). A
    document kept before is read again only if no memory was made from it (the user deleted
    them, or the model's run was cut short): otherwise the answer is a FileReport, known."""
    source = keep_file(team.store, path)
    if memories_of_source(team.store, source.id):
        return FileReport(known=True)
    return team.process(Batch([source], "file"))
