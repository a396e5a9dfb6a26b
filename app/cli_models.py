"""`mnemo models …` and `mnemo generate`: the model manager on the command line.

These commands never open the memory store, so they work while the app is running and on a
data folder whose store is broken.
"""

import argparse
import json
import sys
from collections.abc import Callable
from typing import Any

from core.llm.gguf_file import InvalidModelFile, read_header
from core.llm.manager import ROLES, ModelManager, recommended
from core.logs import setup_logging
from core.paths import data_dir


def _manager(args: argparse.Namespace) -> ModelManager:
    folder = data_dir(args.data_dir)
    setup_logging(folder)
    return ModelManager(folder)


def _size(n: int | None) -> str:
    if n is None:
        return "?"
    if n < 1000:
        return f"{n} B"
    value, unit = n / 1000, "KB"
    for bigger in ("MB", "GB"):
        if value < 1000:
            break
        value, unit = value / 1000, bigger
    return f"{value:.1f} {unit}"


def cmd_list(args: argparse.Namespace) -> int:
    manager = _manager(args)
    rows = []
    for entry in manager.entries():
        roles = [r for r in ROLES if manager.is_in_use(r, entry)]
        size = entry.path.stat().st_size if entry.path and entry.path.exists() else None
        problem = None
        if entry.path is not None and entry.origin != "bundled":  # bundled ones are remade
            try:
                read_header(entry.path)  # a few milliseconds: the header and the file's size
            except InvalidModelFile as exc:
                problem = str(exc)
        rows.append(
            {
                "name": entry.name,
                "origin": entry.origin,
                "in_use_for": roles,
                "size_bytes": size,
                "path": str(entry.path) if entry.path else None,
                "problem": problem,
            }
        )
    suggestions = [vars(r) for r in recommended()]
    if args.json_out:
        print(json.dumps({"models": rows, "recommended": suggestions}, indent=2))
        return 0
    for row in rows:
        use = f"  ← {', '.join(row['in_use_for'])}" if row["in_use_for"] else ""
        size = "" if row["size_bytes"] is None else _size(row["size_bytes"])
        print(f"{row['name']:<36} {row['origin']:<10} {size:>9}{use}")
        if row["problem"]:
            print(f"  unusable: {row['problem']}")
    print("\nRecommended downloads (mnemo models download NAME):")
    for r in suggestions:
        print(f"  {r['name']:<26} {r['role']:<7} {r['size']:>7}  {r['about']}")
    return 0


def cmd_add(args: argparse.Namespace) -> int:
    entry = _manager(args).add(args.path)
    print(f"added {entry.name} ({entry.path}); use it with: mnemo models use chat {entry.name}")
    return 0


def cmd_use(args: argparse.Namespace) -> int:
    entry = _manager(args).use(args.role, args.model)
    print(f"{args.role} model: {entry.name}")
    if args.role == "embedding":
        print("memories are re-embedded with it the next time the store opens", file=sys.stderr)
    return 0


def cmd_info(args: argparse.Namespace) -> int:
    manager = _manager(args)
    info = manager.info(args.model or manager.in_use("chat"))
    if args.json_out:
        print(json.dumps(info, indent=2))
        return 0
    for key, value in info.items():
        if key == "size_bytes":
            value = _size(value)
        elif key == "parameters":
            value = f"{value / 1e6:,.0f} M"
        elif isinstance(value, list):
            value = ", ".join(value) or "-"
        print(f"{key.removesuffix('_bytes').replace('_', ' '):<24} {value}")
    return 0


def cmd_download(args: argparse.Namespace) -> int:
    manager = _manager(args)
    progress = _bar(args.file or args.what)
    try:
        # Ctrl-C stops the transfer where it is; the partial file stays for the next run.
        entries = manager.download(args.what, args.file, progress=progress)
    except KeyboardInterrupt:
        print("\ninterrupted; run the same command again to resume", file=sys.stderr)
        return 130
    finally:
        progress(-1, None)
    for entry in entries:
        print(f"downloaded {entry.name} to {entry.path}")
    if not args.json_out:
        print(f"use it with: mnemo models use chat {entries[0].name}")
    return 0


def _bar(label: str) -> Callable[[int, int | None], None]:
    """A tqdm bar on stderr fed by (done, total) callbacks; (-1, None) closes it."""
    from tqdm import tqdm

    state: dict[str, Any] = {}

    def update(done: int, total: int | None) -> None:
        bar = state.get("bar")
        if done < 0:
            if bar is not None:
                bar.close()
            return
        if bar is None or bar.total != total:
            if bar is not None:
                bar.close()
            bar = state["bar"] = tqdm(
                total=total, desc=label, unit="B", unit_scale=True, file=sys.stderr
            )
        bar.n = done
        bar.refresh()

    return update


def cmd_generate(args: argparse.Namespace) -> int:
    chat = _manager(args).chat_model()
    try:
        messages = [{"role": "user", "content": " ".join(args.prompt)}]
        for piece in chat.stream(
            messages, max_tokens=args.max_tokens, temperature=args.temperature
        ):
            sys.stdout.write(piece)
            sys.stdout.flush()
        sys.stdout.write("\n")
    finally:
        chat.close()
    return 0


def add_commands(sub: Any) -> None:
    """Register `models` and `generate` on the main parser's subcommands."""

    def command(parent: Any, name: str, func: Callable, help: str) -> argparse.ArgumentParser:
        p = parent.add_parser(name, help=help, description=help)
        # These take no Engine: the main dispatcher calls func(None, args).
        p.set_defaults(func=lambda _engine, args: func(args), needs_store=False)
        return p

    models = sub.add_parser(
        "models",
        help="list, add, download and choose models",
        description="Models: the bundled ones, GGUF files you add or download, or a model "
        "on an OpenAI-compatible server, named openai:MODEL (its address is "
        "[models.openai] base_url in settings.toml).",
    )
    msub = models.add_subparsers(dest="models_command", required=True, metavar="ACTION")
    command(msub, "list", cmd_list, "models on this machine, and recommended downloads")
    p = command(msub, "add", cmd_add, "add a local GGUF file (it stays where it is)")
    p.add_argument("path")
    p = command(msub, "download", cmd_download, "download from Hugging Face (resumable)")
    p.add_argument("what", metavar="NAME|REPO", help="a recommended model, or a Hub repository")
    p.add_argument("file", nargs="?", metavar="FILE", help="the file in REPO")
    p = command(msub, "use", cmd_use, "choose the chat or embedding model")
    p.add_argument("role", choices=ROLES)
    p.add_argument("model", help="a name from `mnemo models list`, a GGUF path, or openai:MODEL")
    p = command(msub, "info", cmd_info, "size, quantization, context and GPU layers of a model")
    p.add_argument("model", nargs="?", help="default: the chat model in use")

    p = command(sub, "generate", cmd_generate, "a quick prompt to the chat model, streamed")
    p.add_argument("prompt", nargs="+")
    p.add_argument("--max-tokens", type=int, default=256)
    p.add_argument("--temperature", type=float, default=0.7)
