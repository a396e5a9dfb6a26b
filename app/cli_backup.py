"""`mnemo backup [DEST]` and `mnemo restore BACKUP`: copies of the store the user can keep
elsewhere, and getting one back (core.backup)."""

import argparse
from pathlib import Path
from typing import Any

from app import cli_output as out
from core import backup as backups
from core.paths import data_dir


def cmd_backup(_host: None, args: argparse.Namespace) -> int:
    folder = data_dir(args.data_dir)
    dest = Path(args.dest).expanduser() if args.dest else backups.default_folder(folder)
    if args.list:
        found = backups.backups(dest)
        if args.json_out:
            out.emit_json([info.to_json() for info in found])
        for info in found:
            print(f"{info.path}  {info.memories} memories, {info.sources} sources")
        if not found and not args.json_out:
            print(f"no backups in {dest}")
        return 0
    info = backups.backup(
        folder,
        dest,
        include_key=args.include_key,
        keep=args.keep,
        progress=out.staged_progress("page"),
    )
    if args.json_out:
        out.emit_json(info.to_json())
        return 0
    print(
        f"backed up {info.memories} memories, {info.sources} sources and {info.pictures} "
        f"pictures to {info.path}"
    )
    if info.key == "keyring":
        print(
            "vault secrets are encrypted with the key in this computer's keyring; to restore "
            "them on another computer, back up with --include-key"
        )
    return 0


def cmd_restore(_host: None, args: argparse.Namespace) -> int:
    from core.engine import Engine

    folder = data_dir(args.data_dir)
    info = backups.restore(Path(args.backup).expanduser(), folder, replace=args.replace)
    # The vector index is not in a backup: rebuilt from the restored database.
    with Engine(folder, repair=False) as engine:
        engine.store.reindex(progress=out.progress("rebuilding the search index", "memory"))
        counts: dict[str, Any] = engine.store.counts()
    if args.json_out:
        out.emit_json({**info.to_json(), "restored": counts})
        return 0
    print(f"restored {info.memories} memories and {info.sources} sources into {folder}")
    return 0


def add_commands(sub: Any) -> None:
    p = sub.add_parser(
        "backup",
        help="back up memories, sources, pictures and settings",
        description="A consistent copy made while Mnemo runs (SQLite's online backup). The "
        "search index is rebuilt on restore, so it is not copied.",
    )
    p.add_argument(
        "dest", nargs="?", help="folder for backups (default: backups/ in the data folder)"
    )
    p.add_argument("--keep", type=int, help="afterwards keep only the newest N backups there")
    p.add_argument(
        "--include-key",
        action="store_true",
        help="also copy the vault key when it is in the OS keyring (to restore elsewhere); "
        "keep such a backup as safe as the secrets themselves",
    )
    p.add_argument("--list", action="store_true", help="list the backups in DEST")
    p.set_defaults(func=cmd_backup, needs_store=False)

    p = sub.add_parser(
        "restore",
        help="restore a backup into the data folder",
        description="Refuses a backup from a newer Mnemo or a damaged one. A store already "
        "in the folder is kept: restore refuses unless --replace, which moves it aside.",
    )
    p.add_argument("backup", help="a folder made by `mnemo backup`")
    p.add_argument(
        "--replace", action="store_true", help="move the store in the data folder aside first"
    )
    p.set_defaults(func=cmd_restore, needs_store=False)


__all__ = ["add_commands"]
