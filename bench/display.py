"""A virtual X screen with a window manager, and real windows on it: what bench.capture and
the capture tests run on. Xvfb alone has no window manager, hence no focus and no title bars;
openbox provides both."""

import contextlib
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path


def available(*extra: str) -> str | None:
    """None when a virtual display (and the `extra` programs) can be started here, else what
    is missing."""
    missing = [name for name in ("Xvfb", "openbox", *extra) if shutil.which(name) is None]
    return f"missing {', '.join(missing)} (make sysdeps installs them)" if missing else None


@contextlib.contextmanager
def virtual_display(size: str = "1280x800x24") -> Iterator[str]:
    """Start Xvfb and openbox; DISPLAY is set for this process (and its children) inside."""
    read, write = os.pipe()
    xvfb = subprocess.Popen(
        ["Xvfb", "-displayfd", str(write), "-screen", "0", size, "-nolisten", "tcp"],
        pass_fds=(write,),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    os.close(write)
    with os.fdopen(read) as pipe:
        number = pipe.readline().strip()
    if not number:
        xvfb.kill()
        raise RuntimeError("Xvfb did not start")
    display = f":{number}"
    previous = os.environ.get("DISPLAY")
    os.environ["DISPLAY"] = display
    wm = subprocess.Popen(["openbox"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        _wait_for_wm()
        yield display
    finally:
        for process in (wm, xvfb):
            process.terminate()
            with contextlib.suppress(subprocess.TimeoutExpired):
                process.wait(5)
            if process.poll() is None:
                process.kill()
        if previous is None:
            os.environ.pop("DISPLAY", None)
        else:
            os.environ["DISPLAY"] = previous


def _wait_for_wm(timeout: float = 10) -> None:
    from Xlib import display

    deadline = time.monotonic() + timeout
    screen = display.Display()
    try:
        atom = screen.intern_atom("_NET_SUPPORTING_WM_CHECK")
        while time.monotonic() < deadline:
            if screen.screen().root.get_full_property(atom, 0) is not None:
                return
            time.sleep(0.05)
    finally:
        screen.close()
    raise RuntimeError("the window manager did not start")


@contextlib.contextmanager
def tray_host(timeout: float = 20) -> Iterator[None]:
    """Run trayer, a system tray host, on the current display: with it Qt's
    QSystemTrayIcon.isSystemTrayAvailable() is true under Xvfb."""
    process = subprocess.Popen(
        ["trayer", "--edge", "top", "--align", "right", "--widthtype", "request", "--height", "24"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        _wait_for_selection("_NET_SYSTEM_TRAY_S0", timeout)
        yield
    finally:
        process.terminate()
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(5)
        if process.poll() is None:
            process.kill()


def _wait_for_selection(name: str, timeout: float) -> None:
    from Xlib import X, display

    deadline = time.monotonic() + timeout
    screen = display.Display()
    try:
        atom = screen.intern_atom(name)
        while time.monotonic() < deadline:
            if screen.get_selection_owner(atom) != X.NONE:
                return
            time.sleep(0.05)
    finally:
        screen.close()
    raise RuntimeError(f"nobody took the {name} selection (is the tray host running?)")


def find_window(title: str, *, pid: int | None = None, timeout: float = 10) -> int:
    """The id of the mapped top-level window titled `title` (of process `pid`), once the
    window manager lists it."""
    from Xlib import X, display

    screen = display.Display()
    try:
        root = screen.screen().root
        clients = screen.intern_atom("_NET_CLIENT_LIST")
        pid_atom = screen.intern_atom("_NET_WM_PID")
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            prop = root.get_full_property(clients, X.AnyPropertyType)
            for wid in prop.value if prop else []:
                window = screen.create_resource_object("window", wid)
                if window.get_wm_name() != title:
                    continue
                owner = window.get_full_property(pid_atom, X.AnyPropertyType)
                if pid is None or (owner is not None and owner.value[0] == pid):
                    return int(wid)
            time.sleep(0.05)
    finally:
        screen.close()
    raise RuntimeError(f"no window titled {title!r} within {timeout:g} s")


def activate_window(title: str, timeout: float = 10) -> None:
    """Give the focus to the top-level window titled `title`, as a user's click would (the
    window manager is asked through _NET_ACTIVE_WINDOW), and return once it has it: a window
    mapped meanwhile (the app's own, shown at start) can take it first, so it is asked again
    until the window manager names this one active."""
    from Xlib import X, display
    from Xlib.protocol import event

    wid = find_window(title, timeout=timeout)
    screen = display.Display()
    try:
        root = screen.screen().root
        window = screen.create_resource_object("window", wid)
        active = screen.intern_atom("_NET_ACTIVE_WINDOW")
        deadline = time.monotonic() + timeout
        while True:
            message = event.ClientMessage(
                window=window, client_type=active, data=(32, [2, X.CurrentTime, 0, 0, 0])
            )
            root.send_event(
                message, event_mask=X.SubstructureRedirectMask | X.SubstructureNotifyMask
            )
            screen.flush()
            time.sleep(0.1)
            now = root.get_full_property(active, X.AnyPropertyType)
            if now is not None and len(now.value) and now.value[0] == wid:
                return
            if time.monotonic() > deadline:
                raise RuntimeError(f"the window titled {title!r} did not take the focus")
    finally:
        screen.close()


@contextlib.contextmanager
def app_window(*args: str, timeout: float = 30) -> Iterator[subprocess.Popen[str]]:
    """Run bench.screen_app with `args` until the block ends; returns once its windows show."""
    env = {**os.environ, "QT_QPA_PLATFORM": "xcb"}
    process = subprocess.Popen(
        [sys.executable, "-m", "bench.screen_app", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
        cwd=Path(__file__).resolve().parent.parent,
    )
    try:
        deadline = time.monotonic() + timeout
        line = process.stdout.readline() if process.stdout else ""
        if line.strip() != "ready" or time.monotonic() > deadline:
            err = process.stderr.read() if process.stderr and process.poll() is not None else ""
            raise RuntimeError(f"the test window did not start: {line!r} {err[-500:]}")
        time.sleep(0.5)  # the window manager maps and focuses it
        yield process
    finally:
        process.terminate()
        try:
            process.wait(5)
        except subprocess.TimeoutExpired:
            process.kill()
