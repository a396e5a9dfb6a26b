"""Memories from the screen (`python -m bench.memories --captures`): scripted windows with
known facts on them are drawn, read by the real OCR, kept as capture sources the way the
capture pipeline keeps them (the lines new on screen, joined by newlines), and handed to the
memory team as capture batches with the configured models. Each known fact is a few words that
must all appear in one memory for it to count as found.

The windows are those a person has open on a working day: the notes bench.capture types into,
a mail inbox with a flight booking and a dentist appointment, a deploy wiki, Python's docs and
a man page; each has its application's menu bar and toolbar (noise that is never a fact).
"""

import tempfile
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from PIL import Image, ImageDraw, ImageFont

from agents.team import Batch, MemoryTeam
from bench.capture import NOTES
from bench.memories import junk, text_of
from core.capture.ocr import Ocr
from core.capture.redact import redact
from core.engine import Engine
from core.memory.models import MemoryType, Source, SourceKind


@dataclass
class Screen:
    app: str
    title: str
    lines: list[str]
    facts: list[tuple[str, ...]]  # each: words one memory must hold


MAIL_MENU = "File   Edit   View   Go   Message   Tools   Help"
MAIL_TOOLS = "Get Messages   Write   Reply   Forward   Archive   Delete"
BROWSER_MENU = "File   Edit   View   History   Bookmarks   Tools   Help"
SCREENS = [
    Screen(
        "Notes",
        "Notes — Project Lisbon",
        ["File   Edit   Format   View   Help", *[ln for ln in NOTES.splitlines() if ln]],
        [("tp 1337", "14 march"), ("21 march",), ("alfama", "3 nights"), ("1,450 eur",)],
    ),
    Screen(
        "Thunderbird",
        "Your flight booking is confirmed - Inbox",
        [
            MAIL_MENU,
            MAIL_TOOLS,
            "From: TAP Air Portugal <bookings@flytap.com>",
            "Your booking is confirmed: flight TP 1337 from Lisbon to Berlin",
            "Departs 14 March at 07:45 from Terminal 1, seat 14C",
            "Booking reference QX7P2L",
            "Baggage: one cabin bag of 8 kg is included in your fare",
        ],
        [("07:45",), ("seat 14c",), ("qx7p2l",)],
    ),
    Screen(
        "Thunderbird",
        "Reminder: dentist appointment - Inbox",
        [
            MAIL_MENU,
            MAIL_TOOLS,
            "From: Clinica Sorriso <reminders@sorriso.pt>",
            "Your dentist appointment with Dr. Ortiz is on Tuesday 4 June at 9:30",
            "Please arrive ten minutes early and bring your insurance card",
            "Clinic address: Rua Augusta 12, Lisbon",
        ],
        [("dentist", "9:30"), ("4 june",), ("rua augusta",)],
    ),
    Screen(
        "Firefox",
        "Deploy runbook - Team Wiki",
        [
            BROWSER_MENU,
            "Deploy runbook",
            "Deploys run every Thursday at 15:00 after the release review",
            "Run make deploy ENV=prod from the release branch",
            "Rollback: run make rollback, then post in the ops channel",
            "On-call this week: Priya Nair, extension 4412",
        ],
        [("thursday", "15:00"), ("make deploy",), ("priya", "4412")],
    ),
    Screen(
        "Firefox",
        "asyncio — Asynchronous I/O — Python 3.12 documentation",
        [
            BROWSER_MENU,
            "asyncio is a library to write concurrent code using the async/await syntax",
            "asyncio.run(main()) runs the coroutine and manages the event loop",
            "Tasks are used to schedule coroutines concurrently",
        ],
        [("asyncio",)],
    ),
    Screen(
        "xterm",
        "man tar",
        [
            "TAR(1)                 GNU TAR Manual                 TAR(1)",
            "tar -xzf archive.tar.gz extracts a gzip compressed archive",
            "tar -czf backup.tar.gz folder creates one",
        ],
        [("tar",)],
    ),
]


def draw(screen: Screen) -> Image.Image:
    image = Image.new("RGB", (1280, 800), "white")
    pen = ImageDraw.Draw(image)
    font = ImageFont.load_default(18)  # Pillow's own font: no system fonts needed
    pen.rectangle((0, 0, 1280, 34), fill=(235, 235, 235))
    for n, line in enumerate(screen.lines):
        pen.text((24, 8 + n * 40), line, fill="black", font=font)
    return image


def run_captures() -> dict[str, Any]:
    ocr = Ocr(threads=2)
    start = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="mnemo-screen-") as tmp, Engine(Path(tmp)) as engine:
        sources = []
        for n, screen in enumerate(SCREENS):
            # Redacted as the capture pipeline redacts what it keeps.
            text = redact("\n".join(line.text for line in ocr.read(draw(screen)))).text
            for minute in (0, 3):  # a visit: the page, and the same page a little later
                sources.append(
                    Source(
                        kind=SourceKind.CAPTURE,
                        occurred_at=start + timedelta(minutes=10 * n + minute),
                        text=text if minute == 0 else "",
                        app=screen.app,
                        title=screen.title,
                    )
                )
        stored = engine.store.add_sources(sources)
        report = MemoryTeam(engine.store, engine.chat).process(Batch(stored, "capture"))
        memories = [m for m in engine.store.memories() if m.type != MemoryType.CORE]
        texts = [text_of(m).lower() for m in memories]
        facts = [fact for screen in SCREENS for fact in screen.facts]
        found = [f for f in facts if any(all(w in t for w in f) for t in texts)]
        junked = [reason for m in memories if (reason := junk(m, engine.store.sources_of(m.id)))]
        return {
            "captures": len(sources),
            "memories": len(memories),
            "capture_fact_recall": len(found) / len(facts),
            "facts_found": len(found),
            "facts": len(facts),
            "missed": [" ".join(f) for f in facts if f not in found],
            "junk_rate": len(junked) / (len(memories) or 1),
            "junk": junked,
            "refused": report.refused,
            "seconds": time.perf_counter() - started,
            "written": [text_of(m)[:160] for m in memories],
        }
