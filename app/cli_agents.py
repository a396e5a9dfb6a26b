"""`mnemo ingest …` and `mnemo ask …`: the memory team and the chat agent on the chat model."""

import argparse
import dataclasses
import json
import sys
from collections import Counter
from pathlib import Path
from typing import Any

from agents.chat import Answer, ChatAgent, Item
from agents.host import Host
from agents.ingest import FileReport
from agents.team import BatchReport
from app import cli_output as out
from core.errors import MnemoError


def _summary(reports: list[BatchReport]) -> dict[str, Any]:
    inserted: Counter[str] = Counter()
    refused: Counter[str] = Counter()
    for report in reports:
        inserted.update(report.inserted)
        refused.update(report.refused)
    return {
        "batches": len(reports),
        "inserted": dict(inserted),
        "updated": sum(r.updated for r in reports),
        "names_recorded": sum(r.entities for r in reports),
        "refused_by_gate": dict(refused),
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
    refused = ", ".join(f"{n} {rule}" for rule, n in figures["refused_by_gate"].items())
    print(
        f"{figures['batches']} batches read: memories inserted: {inserted}; "
        f"{figures['updated']} updated; {figures['names_recorded']} names for the graph; "
        f"refused by the quality gate: {refused or 'none'}; "
        f"{figures['dropped_answers']} answers dropped "
        f"({figures['llm_calls']} model calls, {figures['prompt_tokens']} prompt tokens)"
    )


def cmd_ingest_chat(host: Host, args: argparse.Namespace) -> int:
    report = host.ingest_chat(Path(args.file), progress=out.progress("reading", "turn"))
    head = {"sessions": report.sessions, "turns": report.turns, "already_known": report.known}
    if not args.json_out:
        print(
            f"kept {report.turns} new turns from {report.sessions} sessions "
            f"({report.known} known already)"
        )
    _print(args, head, report.batches)
    return 0


def cmd_ingest_file(host: Host, args: argparse.Namespace) -> int:
    report = host.ingest_file(Path(args.path))
    if isinstance(report, FileReport) and report.known:
        if args.json_out:
            print(json.dumps({"file": args.path, "already_known": True}, indent=2))
        else:
            print(f"{args.path} was ingested before: nothing new to keep")
        return 0
    _print(args, {"file": args.path, "already_known": False}, [report])
    return 0


def cmd_ingest_notes(host: Host, args: argparse.Namespace) -> int:
    report = host.ingest_notes(Path(args.folder), progress=out.progress("embedding", "item"))
    figures = {k: v for k, v in dataclasses.asdict(report).items() if k != "memory_ids"}
    if args.json_out:
        print(json.dumps(figures, indent=2))
        return 0
    print(
        f"read {report.notes} notes: {report.added} new, {report.updated} changed, "
        f"{report.unchanged} unchanged; {report.links_added} links added, "
        f"{report.links_removed} removed; {report.topics} tags and topics"
    )
    return 0


def _item_json(item: Item) -> dict[str, Any]:
    return {
        "n": item.number,
        "kind": item.kind,
        "id": item.id,
        "label": item.label,
        "when": item.when.isoformat() if item.when else None,
        "sources": item.source_ids,
    }


def _answer_json(answer: Answer) -> dict[str, Any]:
    return {
        "question": answer.question,
        "intent": answer.intent,
        "answer": answer.text,
        "citations": [_item_json(i) for i in answer.citations],
        "cited_by_model": answer.cited_by_model,
        "shown": [_item_json(i) for i in answer.items],
        "queries": answer.queries,
        "time_filter": [t.isoformat() for t in answer.time_filter] if answer.time_filter else None,
    }


def _confirm_forget(agent: ChatAgent, answer: Answer, yes: bool) -> str:
    if not answer.items:
        return "nothing deleted"
    if not yes:
        if not sys.stdin.isatty():
            raise MnemoError("forget needs --yes when not run from a terminal")
        reply = input(f"Delete these {len(answer.items)} item(s) everywhere? [y/N] ")
        if reply.strip().lower() not in ("y", "yes"):
            return "kept everything"
    return f"deleted {agent.forget(answer.items)} item(s)"


def cmd_ask(host: Host, args: argparse.Namespace) -> int:
    agent = host.agent
    if args.plan is not None:
        agent.plan_queries = args.plan
    stream = host.ask(" ".join(args.message))
    answer = stream.answer
    if args.json_out:
        for _ in stream:
            pass
        result = _answer_json(answer)
        if answer.intent == "forget" and answer.items:
            if not args.yes:
                raise MnemoError("forget with --json needs --yes")
            result["deleted"] = agent.forget(answer.items)
        print(json.dumps(result, indent=2, ensure_ascii=False))
        return 0
    for piece in stream:
        print(piece, end="", flush=True)
    print()
    if answer.intent == "forget":
        print(_confirm_forget(agent, answer, args.yes))
        return 0
    if answer.citations:
        head = "cited" if answer.cited_by_model else "from (the answer cites none by number)"
        print(f"\n{head}:")
        for item in answer.citations:
            when = f"{item.when:%Y-%m-%d} " if item.when else ""
            print(
                f"  [{item.number}] {item.kind} {item.id[:10]} {when}{out.one_line(item.label, 70)}"
            )
    return 0


def cmd_eval_locomo(host: None, args: argparse.Namespace) -> int:
    # A fresh temporary store per conversation, with the models this data folder uses: the
    # user's own memories are neither read nor touched.
    from agents.evaluate import evaluate_locomo, per_category_table
    from core.paths import data_dir
    from core.settings import Settings

    settings = Settings.load(data_dir(args.data_dir))
    evaluation = evaluate_locomo(
        Path(args.data),
        settings=settings,
        conversations=args.conversations,
        mode=args.mode,
        agents=not args.no_agents,
        plan_queries=args.plan,
        progress=out.staged_progress("item"),
    )
    figures = evaluation.figures()
    if args.json_out:
        print(json.dumps(figures, indent=2))
        return 0
    print(f"{'category':<16} {'questions':>9} {'recall@5':>9} {'recall@10':>9}")
    for name, n, r5, r10 in per_category_table(evaluation):
        print(f"{name:<16} {n:>9} {r5:>9.3f} {r10:>9.3f}")
    print(
        f"{'all':<16} {figures['questions']:>9} {figures['recall_at_5']:>9.3f} "
        f"{figures['recall_at_10']:>9.3f}"
    )
    if args.mode == "qa":
        print(f"token F1 {figures['f1']:.3f}, judged correct {figures['judge_accuracy']:.3f}")
    print(f"ingested {figures['turns']} turns in {figures['ingest_s']} s")
    return 0


def cmd_consolidate(host: Host, args: argparse.Namespace) -> int:
    report = host.consolidate(progress=out.progress("checking", "memory"))
    figures = {
        "checked": report.checked,
        "merged": [{"kept": kept, "merged": gone} for kept, gone in report.merged],
        "conflicts": [list(pair) for pair in report.conflicts],
        "decayed": report.decayed,
        "restored": report.restored,
        "core_rewritten": report.core_rewritten,
        "errors": report.errors,
    }
    if args.json_out:
        print(json.dumps(figures, indent=2))
        return 0
    print(
        f"checked {report.checked} changed memories: {len(report.merged)} duplicates merged, "
        f"{len(report.conflicts)} conflicts flagged, {report.decayed} ranked lower as stale, "
        f"{report.restored} restored"
    )
    for kept, gone in report.merged:
        print(f"  merged {gone[:10]} into {kept[:10]}")
    for a, b in report.conflicts:
        print(f"  conflict: {a[:10]} and {b[:10]} (see: mnemo show {a[:10]})")
    for label in report.core_rewritten:
        print(f"  core:{label} rewritten to half its limit (the old text is in its history)")
    for error in report.errors:
        print(f"  {error}", file=sys.stderr)
    return 0


def add_commands(sub: Any) -> None:
    p = sub.add_parser(
        "consolidate",
        help="merge duplicate memories, flag conflicts, rank stale ones lower",
        description="The same upkeep the app runs on a schedule. Merges keep history; "
        "conflicting memories are linked, not deleted.",
    )
    p.set_defaults(func=cmd_consolidate)

    p = sub.add_parser(
        "eval",
        help="measure retrieval and answers on a benchmark (LoCoMo)",
        description="Runs in temporary stores with this data folder's models; your memories "
        "are not touched.",
    )
    esub = p.add_subparsers(dest="eval_command", required=True, metavar="BENCHMARK")
    p = esub.add_parser("locomo", help="LoCoMo: recall@5/@10 of the evidence turns, per category")
    p.add_argument("--data", required=True, help="LoCoMo JSON (e.g. locomo10.json)")
    p.add_argument("--conversations", type=int, help="only the first N conversations")
    p.add_argument("--mode", choices=["retrieval", "qa"], default="retrieval")
    p.add_argument(
        "--no-agents", action="store_true", help="keep the turns but write no memories (fast)"
    )
    p.add_argument(
        "--plan", action=argparse.BooleanOptionalAction, help="model-proposed queries too"
    )
    p.set_defaults(func=cmd_eval_locomo, needs_store=False)

    p = sub.add_parser(
        "ask",
        help="ask your memory; answers cite the memories and inputs they come from",
        description='Answers from memories and kept inputs, with citations. "remember …" files '
        'what follows as memories; "forget …" lists what matches and deletes it once confirmed.',
    )
    p.add_argument("message", nargs="+")
    p.add_argument("--yes", "-y", action="store_true", help="forget without asking")
    p.add_argument(
        "--plan",
        action=argparse.BooleanOptionalAction,
        help="let the model propose search queries too (default: settings' agents.plan_queries)",
    )
    p.set_defaults(func=cmd_ask)

    ingest = sub.add_parser(
        "ingest",
        help="keep chats and documents, and write memories from them",
        description="Inputs are kept verbatim as sources; the memory team, on the chat model "
        "in use, writes memories that point back to them.",
    )
    isub = ingest.add_subparsers(dest="ingest_command", required=True, metavar="WHAT")
    p = isub.add_parser(
        "chat",
        help="a chat history: Mnemo's JSON, LoCoMo JSON, or the conversations.json of a "
        "ChatGPT or Claude export",
    )
    p.add_argument("file")
    p.set_defaults(func=cmd_ingest_chat)
    p = isub.add_parser(
        "file",
        help="a document (text, Markdown, code or PDF), as a resource; the same file again "
        "adds nothing",
    )
    p.add_argument("path")
    p.set_defaults(func=cmd_ingest_file)
    p = isub.add_parser(
        "notes",
        help="a folder of Markdown notes or an Obsidian vault: each note a resource, its tags "
        "and [[links]] the graph's edges",
        description="Every .md file under FOLDER (hidden folders such as .obsidian and .trash "
        "left out) is kept and filed as a resource memory, without the model. A note with "
        "broken front matter or text that is not UTF-8 refuses the whole folder. Importing "
        "again adds only new notes and updates changed ones.",
    )
    p.add_argument("folder")
    p.set_defaults(func=cmd_ingest_notes)
