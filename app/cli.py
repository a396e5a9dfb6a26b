"""`mnemo`: the window when no command is given, else the command line (app.commands).

This module stays light on purpose: a bare `mnemo` opens the window, whose first paint must not
wait for what the commands import (LanceDB and pyarrow alone take seconds).
"""

import os
import runpy
import sys
from collections.abc import Sequence

from core.child import RUN_MODULE


def window_folder(argv: Sequence[str]) -> tuple[bool, str | None]:
    """Whether `argv` asks for the window (nothing but --data-dir), and that folder."""
    folder = None
    rest = list(argv)
    while rest:
        arg = rest.pop(0)
        if arg == "--data-dir" and rest:
            folder = rest.pop(0)
        elif arg.startswith("--data-dir="):
            folder = arg.split("=", 1)[1]
        else:
            return False, None
    return True, folder


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if args[:1] == [RUN_MODULE] and len(args) > 1:  # a child process of a frozen app
        sys.argv[:] = args[1:]
        runpy.run_module(args[1], run_name="__main__", alter_sys=True)
        return 0
    window, folder = window_folder(args)
    if window:
        os.umask(0o077)  # everything Mnemo writes is for its user's eyes only
        from app.gui.preflight import problem

        cannot = problem()  # before Qt loads: a missing X library would abort the process
        if cannot:
            print(cannot, file=sys.stderr)
            return 1
        from app.gui.main import main as open_window

        return open_window(folder=folder)
    from app.commands import main as run

    return run(args)


if __name__ == "__main__":
    sys.exit(main())
