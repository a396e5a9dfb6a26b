"""`mnemo capture start|stop|pause|resume|status|once`: screen capture from the terminal.

`start` runs in the foreground until stopped (Ctrl-C, `mnemo capture stop`, or SIGTERM); the
other commands find it through the status file it keeps in the data folder and signal it:
SIGTERM stops, SIGUSR1 pauses, SIGUSR2 resumes.
"""

import argparse
import json
import os
import signal
import sys
import threading
import time
from typing import Any

from agents.host import Host
from core.capture.service import read_status
from core.errors import MnemoError
from core.paths import data_dir


def _line(status: dict[str, Any]) -> str:
    return (
        f"{status['state']}: {status['frames_seen']} frames seen, {status['kept']} kept, "
        f"{status['unchanged']} unchanged, {status['excluded']} excluded, "
        f"{status['stored']} stored, {status['pictures']} pictures, "
        f"{status['batches']} batches, {status['failed']} failed"
    )


def cmd_start(host: Host, args: argparse.Namespace) -> int:
    running = read_status(host.data_dir)
    if running and running["alive"] and running.get("pid") != os.getpid():
        raise MnemoError(f"capture is already running (pid {running['pid']})")
    service = host.capture_start(interval_s=args.interval, agents=not args.no_agents)
    done = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: done.set())
    signal.signal(signal.SIGUSR1, lambda *_: service.pause())
    signal.signal(signal.SIGUSR2, lambda *_: service.resume())
    if not args.json_out:
        print(
            f"capturing every {service.settings.interval_s:g} s; "
            "stop with Ctrl-C or `mnemo capture stop`",
            file=sys.stderr,
        )
    tty = sys.stderr.isatty() and not args.json_out
    try:
        while not done.wait(2.0):
            if tty:
                print(f"\r{_line(service.status())}\033[K", end="", file=sys.stderr, flush=True)
    except KeyboardInterrupt:
        pass
    if tty:
        print(file=sys.stderr)
    host.capture_stop()
    status = service.status()
    print(json.dumps(status, indent=2) if args.json_out else _line(status))
    return 0


def _signal(args: argparse.Namespace, sig: signal.Signals, want: str, done: str) -> int:
    folder = data_dir(args.data_dir)
    status = read_status(folder)
    if not status or not status["alive"]:
        print("mnemo: capture is not running", file=sys.stderr)
        return 1
    os.kill(status["pid"], sig)
    deadline = time.monotonic() + (90 if want == "stopped" else 10)
    while time.monotonic() < deadline:
        status = read_status(folder) or status
        if status.get("state") == want:
            break
        time.sleep(0.2)
    else:
        print(f"mnemo: capture did not report {want} in time", file=sys.stderr)
        return 1
    print(json.dumps(status, indent=2) if args.json_out else f"capture {done}")
    return 0


def cmd_stop(_: None, args: argparse.Namespace) -> int:
    return _signal(args, signal.SIGTERM, "stopped", "stopped")


def cmd_pause(_: None, args: argparse.Namespace) -> int:
    return _signal(args, signal.SIGUSR1, "paused", "paused")


def cmd_resume(_: None, args: argparse.Namespace) -> int:
    return _signal(args, signal.SIGUSR2, "running", "resumed")


def cmd_status(_: None, args: argparse.Namespace) -> int:
    status = read_status(data_dir(args.data_dir))
    if args.json_out:
        print(json.dumps(status or {"state": "never run"}, indent=2))
        return 0
    if status is None:
        print("capture has not run in this data folder")
    elif not status["alive"]:
        print(f"not running (last run: {_line({**status, 'state': 'stopped'})})")
    else:
        print(f"{_line(status)} (pid {status['pid']}, since {status['started_at']})")
        if status.get("last_error"):
            print(f"last error: {status['last_error']}")
    return 0


def cmd_once(host: Host, args: argparse.Namespace) -> int:
    stored, status = host.capture_once(agents=not args.no_agents)
    if args.json_out:
        found = [
            {
                "id": s.id,
                "app": s.app,
                "title": s.title,
                "url": s.url,
                "picture": s.thumbnail,
                "text": s.text,
            }
            for s in stored
        ]
        print(json.dumps({"stored": found, "status": status}, indent=2))
        return 0
    if not stored:
        print(f"nothing stored ({_line(status)})")
        if status.get("last_error"):
            print(f"last error: {status['last_error']}")
    for source in stored:
        where = " — ".join(x for x in (source.app, source.title) if x) or "(no window)"
        print(f"{source.id}  {where}  picture: {source.thumbnail or 'none'}")
        print(source.text or "(no text)")
    return 0


def add_commands(sub: Any) -> None:
    capture = sub.add_parser(
        "capture",
        help="record the screen: text of what changes, small pictures, memories from both",
        description="Screenshots every few seconds; excluded windows (password managers, "
        "private browsing, your rules in settings.toml [capture.exclusions]) are never kept; "
        "secrets are redacted before anything is stored.",
    )
    csub = capture.add_subparsers(dest="capture_command", required=True, metavar="ACTION")
    p = csub.add_parser("start", help="capture until stopped (foreground)")
    p.add_argument("--interval", type=float, help="seconds between frames (default: settings)")
    p.add_argument("--no-agents", action="store_true", help="store captures; write no memories")
    p.set_defaults(func=cmd_start)
    p = csub.add_parser("once", help="capture one frame now and show what was stored")
    p.add_argument("--no-agents", action="store_true", help="store it; write no memories")
    p.set_defaults(func=cmd_once)
    for name, func, help in (
        ("stop", cmd_stop, "stop a running capture (it finishes its last batch)"),
        ("pause", cmd_pause, "pause a running capture"),
        ("resume", cmd_resume, "resume a paused capture"),
        ("status", cmd_status, "what capture is doing, and its counters"),
    ):
        p = csub.add_parser(name, help=help)
        p.set_defaults(func=func, needs_store=False)
