"""`mnemo list` and `mnemo search`: memories by time, and search over memories and what was
said or seen, with the filters both take."""

import argparse
from collections.abc import Callable
from typing import Any

from agents.host import Host
from app import cli_output as out
from core.memory.models import SourceKind
from core.store.search import SearchFilters
from core.timeutil import parse_when


def _filters(args: argparse.Namespace) -> SearchFilters:
    return SearchFilters.make(
        types=args.type,
        since=parse_when(args.since) if args.since else None,
        until=parse_when(args.until) if args.until else None,
        source_apps=args.app,
        sensitivities=getattr(args, "sensitivity", None),
        max_sensitivity=getattr(args, "max_sensitivity", None),
    )


# -- commands -----------------------------------------------------------------------------


def cmd_list(host: Host, args: argparse.Namespace) -> int:
    filters = _filters(args)
    memories = host.store.memories(
        types=filters.types,
        since=filters.since,
        until=filters.until,
        source_app=args.app[0] if args.app else None,
        limit=args.limit,
    )
    if args.json_out:
        out.emit_json([out.memory_json(m) for m in memories])
    else:
        for memory in memories:
            print(out.memory_row(memory))
    return 0


def cmd_search(host: Host, args: argparse.Namespace) -> int:
    query = " ".join(args.query)
    hits = []
    if args.within in ("all", "memories"):
        hits = host.search(query, filters=_filters(args), limit=args.limit)
    inputs = []
    if args.within in ("all", "sources"):
        inputs = host.search_sources(
            query,
            since=parse_when(args.since) if args.since else None,
            until=parse_when(args.until) if args.until else None,
            kinds=args.source_kind or None,
            limit=args.limit,
        )
    if args.json_out:
        out.emit_json([out.hit_json(h) for h in hits] + [out.source_hit_json(h) for h in inputs])
    else:
        if args.within != "sources":
            out.print_hits(hits, explain=args.explain)
        if args.within != "memories":
            out.print_source_hits(inputs)
    return 0


def _add_filters(parser: argparse.ArgumentParser, *, sensitivity: bool) -> None:
    parser.add_argument("--type", "-t", action="append", help="memory type (repeatable)")
    parser.add_argument("--since", help="from this time: 2024-05-01, 2024-05-01T14:30, 7d, 12h")
    parser.add_argument("--until", help="up to this time (same forms as --since)")
    parser.add_argument("--app", action="append", help="source application (repeatable)")
    if sensitivity:
        parser.add_argument(
            "--sensitivity",
            action="append",
            choices=["low", "medium", "high"],
            help="only these sensitivities (repeatable; non-vault memories count as low)",
        )
        parser.add_argument(
            "--max-sensitivity", choices=["low", "medium", "high"], help="at most this sensitive"
        )


def _command(sub: Any, name: str, func: Callable, help: str) -> argparse.ArgumentParser:
    p = sub.add_parser(name, help=help, description=help)
    p.set_defaults(func=func)
    return p


def add_commands(sub: Any) -> None:
    p = _command(sub, "list", cmd_list, "list memories, newest first")
    _add_filters(p, sensitivity=False)
    p.add_argument("--limit", "-n", type=int, default=50)

    p = _command(
        sub,
        "search",
        cmd_search,
        "hybrid keyword + vector + recency search over memories and what was said or seen",
    )
    p.add_argument("query", nargs="+")
    _add_filters(p, sensitivity=True)
    p.add_argument(
        "--in",
        dest="within",
        choices=["all", "memories", "sources"],
        default="all",
        help="memories, the kept inputs (chat turns, captures, files), or both (default)",
    )
    p.add_argument(
        "--source-kind",
        action="append",
        choices=[k.value for k in SourceKind],
        help="only these kinds of input (repeatable)",
    )
    p.add_argument("--limit", "-n", type=int, default=10)
    p.add_argument("--explain", action="store_true", help="show each ranking's contribution")
