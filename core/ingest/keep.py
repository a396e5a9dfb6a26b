"""Keeping inputs verbatim as sources, before any agent reads them.

Verbatim except for secrets: API keys, tokens, passwords, card numbers and IBANs are replaced
by markers (core.capture.redact) before anything is stored, indexed or embedded.

Every memory the agents write points back to these rows, so the user can always see where a
memory came from, and search can fall back on the raw words. Inputs with an outside reference
(a chat message id, a LoCoMo turn, a document's hash) are kept once: ingesting the same export
or file again adds only what is new.
"""

import hashlib
from pathlib import Path

from core.capture.redact import redact
from core.errors import ImportFailed
from core.ingest.chats import Session
from core.ingest.pdf import MAX_PDF_BYTES, is_pdf, pdf_text
from core.memory.models import Source, SourceKind
from core.store.memories import MemoryStore
from core.timeutil import now

MAX_FILE_BYTES = 2_000_000  # of text (a PDF's, too); bigger files are refused, not truncated
CONTEXT_CHARS = 300  # of the previous turn, indexed with a turn (see Source.search_text)


def keep_session(store: MemoryStore, session: Session) -> tuple[list[Source], int]:
    """Store the session's new turns; returns them (in order) and how many were known."""
    refs = [turn.ref for turn in session.turns if turn.ref]
    known = store.find_sources(SourceKind.CHAT, refs) if refs else {}
    fresh = []
    previous: str | None = None  # the last turn's line, redacted, as the next one's context
    for turn in session.turns:
        text = redact(turn.text)
        if not (turn.ref and turn.ref in known):
            meta: dict[str, object] = {}
            if previous:
                meta["context"] = previous[:CONTEXT_CHARS]
            if text.found:
                meta["redacted"] = dict(text.found)
            fresh.append(
                Source(
                    kind=SourceKind.CHAT,
                    occurred_at=turn.time,
                    text=text.text,
                    actor=turn.speaker,
                    title=session.title,
                    ref=turn.ref,
                    meta=meta,
                )
            )
        previous = f"{turn.speaker}: {text.text}"
    return store.add_sources(fresh), len(session.turns) - len(fresh)


def keep_file(store: MemoryStore, path: Path) -> Source:
    """Store a document whole as a source: text (notes, Markdown, code) or a PDF's text.

    A document is known by the SHA-256 of its bytes: the same file ingested again (or a copy
    of it elsewhere) returns the source kept the first time and stores nothing."""
    try:
        size = path.stat().st_size
        with path.open("rb") as handle:
            head = handle.read(1024)
        pdf = is_pdf(path, head)
        if not pdf and size > MAX_FILE_BYTES:
            raise ImportFailed(f"{path} is {size:,} bytes; text files up to 2 MB are read")
        if pdf and size > MAX_PDF_BYTES:
            raise ImportFailed(f"{path} is {size:,} bytes; PDFs up to 100 MB are read")
        data = path.read_bytes()
    except OSError as exc:
        raise ImportFailed(f"cannot read {path}: {exc.strerror or exc}") from None
    ref = "sha256:" + hashlib.sha256(data).hexdigest()
    known = store.find_sources(SourceKind.FILE, [ref])
    if ref in known:
        return known[ref]
    meta: dict[str, object] = {}
    if pdf:
        text, pages = pdf_text(path, data, MAX_FILE_BYTES)
        meta["pages"] = pages
    else:
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError:
            raise ImportFailed(f"{path} is not UTF-8 text") from None
    if not text.strip():
        raise ImportFailed(f"{path} is empty")
    redacted = redact(text)
    if redacted.found:
        meta["redacted"] = dict(redacted.found)
    return store.add_source(
        Source(
            kind=SourceKind.FILE,
            occurred_at=now(),
            text=redacted.text,
            title=path.name,
            path=str(path.resolve()),
            ref=ref,
            meta=meta,
        )
    )
