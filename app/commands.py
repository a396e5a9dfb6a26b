"""`mnemo COMMAND`: the command line front end, on the same host as the window.

Exit codes: 0 done, 1 refused (invalid input, failed import, …), 2 usage error, 3 not found.
"""

import argparse
import dataclasses
import json
import logging
import os
import sys
import typing
from collections.abc import Callable, Sequence
from typing import Any

from agents.host import Host
from app import (
    cli_agents,
    cli_backup,
    cli_capture,
    cli_graph,
    cli_models,
    cli_search,
    cli_serve,
    cli_transfer,
    selftest,
)
from app import cli_output as out
from core.capture.pictures import picture_file
from core.errors import Ambiguous, MnemoError, NotFound
from core.memory.models import (
    MEMORY_MODELS,
    MemoryType,
    Source,
    parse_memory,
)
from core.paths import ENV_VAR, data_dir
from core.store.memories import check_fields

EXIT_REFUSED, EXIT_USAGE, EXIT_NOT_FOUND = 1, 2, 3


def parse_assignments(kind: MemoryType, pairs: Sequence[str]) -> dict[str, Any]:
    """`key=value` pairs into a dict. A key given twice, or a list field, becomes a list; a
    value starting with [ or { is read as JSON."""
    model = MEMORY_MODELS[kind]
    values: dict[str, Any] = {}
    for pair in pairs:
        key, sep, raw = pair.partition("=")
        if not sep or not key:
            raise MnemoError(f"expected key=value, got {out.one_line(pair, 60)!r}")
        value: Any = raw
        if raw[:1] in ("[", "{"):  # not `in "[{"`: an empty value ("details=") is text too
            try:
                value = json.loads(raw)
            except json.JSONDecodeError as exc:
                raise MnemoError(
                    f"{out.one_line(key, 40)}: value is not valid JSON: {exc}"
                ) from None
            except RecursionError:  # the parser recurses once per level of nesting
                raise MnemoError(
                    f"{out.one_line(key, 40)}: value is JSON nested too deeply"
                ) from None
        field = model.model_fields.get(key)
        is_list = field is not None and typing.get_origin(field.annotation) is list
        if key in values:
            previous = values[key]
            values[key] = [*previous, value] if isinstance(previous, list) else [previous, value]
        else:
            values[key] = [value] if is_list and not isinstance(value, list) else value
    return values


def cmd_add(host: Host, args: argparse.Namespace) -> int:
    kind = MemoryType.parse(args.kind)
    if args.from_json:
        try:
            data = json.loads(args.from_json)
        except RecursionError:  # the parser recurses once per level of nesting
            raise MnemoError("--from-json is JSON nested too deeply") from None
        if not isinstance(data, dict):  # a list or a string would be read as field names
            raise MnemoError('--from-json needs a JSON object: {"field": value, …}')
    else:
        data = parse_assignments(kind, args.fields)
    check_fields(kind, data)
    memory = parse_memory({**data, "type": kind.value})
    stored = host.store.add(memory, sources=args.source or ())
    if args.json_out:
        out.emit_json(out.memory_json(stored))
    else:
        print(stored.id)
    return 0


def cmd_show(host: Host, args: argparse.Namespace) -> int:
    try:
        memory = host.store.get(args.id, reveal=args.reveal)
    except NotFound:
        try:  # the chat agent cites inputs too: they open here as well
            source = host.store.get_source(host.store.resolve_source(args.id))
        except NotFound:
            raise NotFound(f"no memory or source with id {args.id!r}") from None
        return _show_source(host, source, args)
    sources = host.store.sources_of(memory.id)
    links = host.store.links(memory.id)
    if args.json_out:
        data = out.memory_json(memory, reveal=args.reveal)
        data["sources"] = [s.model_dump(mode="json") for s in sources]
        data["links"] = [link.model_dump(mode="json") for link in links]
        out.emit_json(data)
    else:
        out.print_memory(memory, reveal=args.reveal, sources=sources, links=links)
    return 0


def _show_source(host: Host, source: Source, args: argparse.Namespace) -> int:
    path = picture_file(host.store.folder, source.thumbnail)
    picture = str(path) if path else None
    written = host.memories_of_source(source.id)
    if args.json_out:
        data = source.model_dump(mode="json")
        data["picture"] = picture
        data["memories"] = [out.memory_json(m) for m in written]
        out.emit_json(data)
    else:
        out.print_source(source, picture=picture, memories=written)
    return 0


def cmd_edit(host: Host, args: argparse.Namespace) -> int:
    memory = host.store.get(args.id)
    changes = parse_assignments(MemoryType(memory.type), args.fields)
    if not changes:
        raise MnemoError("nothing to change: give one or more field=value")
    updated = host.store.update(memory.id, changes, cause=args.cause)
    print(f"{updated.id} rev {updated.rev}")
    return 0


def cmd_delete(host: Host, args: argparse.Namespace) -> int:
    memory = host.store.get(args.id)
    # The inputs it was made from stay unless asked: other memories may come from the same
    # chat or screen, and an undo brings the memory back with them. A line a vault item was
    # filed from stays hidden from tools and exports either way (the mark is on the line).
    sources = [s.id for s in host.store.sources_of(memory.id)] if args.with_sources else []
    if not args.yes:
        if not sys.stdin.isatty():
            raise MnemoError("delete needs --yes when not run from a terminal")
        also = f" and the {len(sources)} input(s) it was made from" if sources else ""
        answer = input(
            f"Delete {memory.type} {memory.id[:10]} “{out.one_line(memory.headline, 60)}”"
            f"{also}? [y/N] "
        )
        if answer.strip().lower() not in ("y", "yes"):
            print("kept")
            return 0
    host.store.delete(memory.id)
    if args.with_sources:
        deleted = host.delete_sources(sources)
        print(f"deleted {memory.id} and {deleted} input(s) it was made from")
    else:
        print(f"deleted {memory.id}")
    return 0


def cmd_history(host: Host, args: argparse.Namespace) -> int:
    versions = host.store.history(args.id)
    if args.json_out:
        out.emit_json([v.model_dump(mode="json") for v in versions])
    else:
        out.print_history(versions)
    return 0


def cmd_stats(host: Host, args: argparse.Namespace) -> int:
    figures = host.stats()
    stats = {"data_dir": str(host.data_dir), **dataclasses.asdict(figures)}
    if args.json_out:
        out.emit_json(stats)
    else:
        for key, value in stats.items():
            if isinstance(value, dict):
                value = ", ".join(f"{k} {v}" for k, v in value.items())
            print(f"{key:>15}: {value}")
    return 0


def cmd_reindex(host: Host, args: argparse.Namespace) -> int:
    report = host.store.reindex(progress=out.progress("embedding", "memory"))
    print(f"reindexed {report.embedded} memories with {host.store.embedder.name}")
    return 0


# -- parser -------------------------------------------------------------------------------


def build_parser() -> argparse.ArgumentParser:
    types = ", ".join(t.value for t in MemoryType)
    parser = argparse.ArgumentParser(
        prog="mnemo",
        description="Mnemo, a local-first personal memory. Everything stays in your data folder. "
        "With no command, opens the window.",
        epilog=f"The data folder is --data-dir, else ${ENV_VAR}, else the platform's user data "
        "folder. Exit codes: 0 done, 1 refused, 2 usage error, 3 not found.",
    )
    parser.add_argument("--data-dir", help=f"data folder (default: ${ENV_VAR} or the platform's)")
    parser.add_argument(
        "--json", dest="json_out", action="store_true", help="print machine-readable JSON"
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    def command(name: str, func: Callable, help: str, **kw: Any) -> argparse.ArgumentParser:
        p = sub.add_parser(name, help=help, description=help, **kw)
        p.set_defaults(func=func)
        return p

    p = command(
        "add",
        cmd_add,
        "add a memory",
        epilog="Examples:\n"
        '  mnemo add semantic name="Docker" summary="Container runtime"\n'
        '  mnemo add episodic summary="Met Alice" occurred_at=2024-05-01T10:00\n'
        '  mnemo add procedural summary="Deploy" steps="build" steps="push"\n'
        '  mnemo add vault caption="GitHub token" secret_value=ghp_... sensitivity=high',
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("kind", metavar="TYPE", help=f"one of: {types} (or vault)")
    p.add_argument("fields", nargs="*", metavar="FIELD=VALUE")
    p.add_argument("--from-json", metavar="OBJECT", help="all fields as one JSON object")
    p.add_argument("--source", action="append", help="id of a source it came from (repeatable)")

    p = command("show", cmd_show, "show one memory (or one kept input) with its sources and links")
    p.add_argument("id", help="id or unique id prefix of a memory or input, or core:human")
    p.add_argument("--reveal", action="store_true", help="show the vault secret in plain text")

    p = command("edit", cmd_edit, "change fields of a memory (its history keeps the old values)")
    p.add_argument("id")
    p.add_argument("fields", nargs="+", metavar="FIELD=VALUE")
    p.add_argument("--cause", default="edited", help="why, recorded in the history")

    p = command("delete", cmd_delete, "delete a memory everywhere, history included")
    p.add_argument("id")
    p.add_argument("--yes", "-y", action="store_true", help="do not ask for confirmation")
    p.add_argument(
        "--with-sources",
        action="store_true",
        help="also delete the inputs it was made from (chat turns, captures, files), whatever "
        "else was made from them; without it they stay, and a vault item's stay hidden",
    )

    cli_search.add_commands(sub)

    p = command("history", cmd_history, "show every change to a memory")
    p.add_argument("id")

    cli_graph.add_commands(sub)

    command("stats", cmd_stats, "counts and sizes of the store")
    command("reindex", cmd_reindex, "rebuild the vector index from SQLite")
    selftest.add_commands(sub)
    cli_transfer.add_commands(sub)

    cli_models.add_commands(sub)
    cli_agents.add_commands(sub)
    cli_capture.add_commands(sub)
    cli_backup.add_commands(sub)
    cli_serve.add_commands(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    os.umask(0o077)  # everything Mnemo writes is for its user's eyes only
    argv = list(sys.argv[1:] if argv is None else argv)
    for arg in argv:
        try:
            arg.encode("utf-8")
        except UnicodeEncodeError:  # a byte that is not UTF-8: Python keeps it as a surrogate
            print(f"mnemo: an argument is not UTF-8 text: {ascii(arg)[:80]}", file=sys.stderr)
            return EXIT_USAGE
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:  # app.cli opens the window for a bare `mnemo`
        parser.print_help()
        return EXIT_USAGE
    try:
        if not getattr(args, "needs_store", True):
            return args.func(None, args)
        with Host(args.data_dir) as host:
            host.start(background=False)
            return args.func(host, args)
    except (NotFound, Ambiguous) as exc:
        print(f"mnemo: {exc}", file=sys.stderr)
        return EXIT_NOT_FOUND
    except MnemoError as exc:
        print(f"mnemo: {exc}", file=sys.stderr)
        return EXIT_REFUSED
    except json.JSONDecodeError as exc:
        print(f"mnemo: --from-json is not valid JSON: {exc}", file=sys.stderr)
        return EXIT_REFUSED
    except ValueError as exc:  # bad --since/--until and similar
        print(f"mnemo: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:  # `mnemo list | head`: the reader has all it wanted
        sys.stderr.close()
        return 0
    except Exception as exc:  # a bug or a broken environment: one line here, details in the log
        logging.getLogger("mnemo.cli").exception("mnemo %s failed", args.command)
        try:
            where = str(data_dir(args.data_dir) / "mnemo.log")
        except OSError:
            where = "mnemo.log in the data folder"
        print(f"mnemo: unexpected error: {exc!r}; the traceback is in {where}", file=sys.stderr)
        return EXIT_REFUSED


if __name__ == "__main__":
    sys.exit(main())
