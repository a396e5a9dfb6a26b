"""`mnemo ingest …`: inputs kept verbatim and read by the memory team on the chat model."""

import argparse
import json
from collections import Counter
from pathlib import Path
from typing import Any

from agents.ingest import ingest_file, ingest_sessions
from agents.team import BatchReport, MemoryTeam
from app import cli_output as out
from core.engine import Engine
from core.ingest.chats import read_chats


def _summary(reports: list[BatchReport]) -> dict[str, Any]:
    inserted: Counter[str] = Counter()
    for report in reports:
        inserted.update(report.inserted)
    return {
        "batches": len(reports),
        "inserted": dict(inserted),
        "updated": sum(r.updated for r in reports),
        "dropped_answers": sum(len(r.invalid) for r in reports),
        "llm_calls": sum(r.calls for r in reports),
        "prompt_tokens": sum(r.prompt_tokens for r in reports),
    }


def _print(args: argparse.Namespace, head: dict[str, Any], reports: list[BatchReport]) -> None:
    figures = {**head, **_summary(reports)}
    if args.json_out:
        print(json.dumps(figures, indent=2))
        return
    inserted = ", ".join(f"{n} {kind}" for kind, n in figures["inserted"].items()) or "none"
    print(
        f"{figures['batches']} batches read: memories inserted: {inserted}; "
        f"{figures['updated']} updated; {figures['dropped_answers']} answers dropped "
        f"({figures['llm_calls']} model calls, {figures['prompt_tokens']} prompt tokens)"
    )


def cmd_ingest_chat(engine: Engine, args: argparse.Namespace) -> int:
    sessions = read_chats(Path(args.file))
    team = MemoryTeam(engine.store, engine.chat)
    report = ingest_sessions(team, sessions, progress=out.progress("reading", "turn"))
    head = {"sessions": report.sessions, "turns": report.turns, "already_known": report.known}
    if not args.json_out:
        print(
            f"kept {report.turns} new turns from {report.sessions} sessions "
            f"({report.known} known already)"
        )
    _print(args, head, report.batches)
    return 0


def cmd_ingest_file(engine: Engine, args: argparse.Namespace) -> int:
    report = ingest_file(MemoryTeam(engine.store, engine.chat), Path(args.path))
    _print(args, {"file": args.path}, [report])
    return 0


def add_commands(sub: Any) -> None:
    ingest = sub.add_parser(
        "ingest",
        help="keep chats and documents, and write memories from them",
        description="Inputs are kept verbatim as sources; the memory team, on the chat model "
        "in use, writes memories that point back to them.",
    )
    isub = ingest.add_subparsers(dest="ingest_command", required=True, metavar="WHAT")
    p = isub.add_parser(
        "chat",
        help="a chat history: Mnemo's JSON, LoCoMo JSON, or ChatGPT's conversations.json",
    )
    p.add_argument("file")
    p.set_defaults(func=cmd_ingest_chat)
    p = isub.add_parser("file", help="a text document (notes, Markdown, code), as a resource")
    p.add_argument("path")
    p.set_defaults(func=cmd_ingest_file)
