"""How Mnemo starts one of its own modules in a process of its own, from a source checkout or
from a frozen bundle, which has no `python -m`: there the app's executable runs the module
(`mnemo --run-module NAME ARGS...`, handled first thing by app.cli)."""

import sys

RUN_MODULE = "--run-module"


def module_command(module: str, *args: str) -> list[str]:
    """The command line that runs `module` as __main__ with `args`."""
    if getattr(sys, "frozen", False):
        return [sys.executable, RUN_MODULE, module, *args]
    return [sys.executable, "-m", module, *args]
