"""`mnemo export` and `mnemo import`: the whole store as a JSON (or Markdown) file, and back
(core.store.transfer)."""

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from agents.host import Host
from app import cli_output as out
from core.store.transfer import export_json, export_markdown, import_json, write_private


def cmd_export(host: Host, args: argparse.Namespace) -> int:
    if args.format == "json":
        text = json.dumps(
            export_json(host.store, include_secrets=args.include_secrets),
            indent=2,
            ensure_ascii=False,
        )
    else:
        text = export_markdown(host.store, include_secrets=args.include_secrets)
    if args.output in (None, "-"):
        sys.stdout.write(text + "\n")
    else:
        write_private(Path(args.output), text + "\n")
        print(f"exported to {args.output}", file=sys.stderr)
    if args.include_secrets:
        print("warning: the export holds vault secrets in plain text", file=sys.stderr)
    return 0


def cmd_import(host: Host, args: argparse.Namespace) -> int:
    counts = import_json(host.store, Path(args.file), progress=out.progress("embedding", "memory"))
    print(", ".join(f"{v} {k}" for k, v in counts.items()))
    return 0


def add_commands(sub: Any) -> None:
    description = "export everything as JSON or Markdown"
    p = sub.add_parser("export", help=description, description=description)
    p.set_defaults(func=cmd_export)
    p.add_argument("--format", "-f", choices=["json", "markdown"], default="json")
    p.add_argument("--output", "-o", help="file to write (default: standard output)")
    p.add_argument(
        "--include-secrets",
        action="store_true",
        help="include vault secrets in plain text (and the lines they were filed from)",
    )

    description = "import a Mnemo JSON export (all of it or nothing)"
    p = sub.add_parser("import", help=description, description=description)
    p.set_defaults(func=cmd_import)
    p.add_argument("file")


__all__ = ["add_commands"]
