"""What is on the screen besides pixels: the visible windows, which one has focus, whether the
user is idle or the screen locked. Capture needs this before it keeps a frame, because
exclusions apply to every visible window and a locked screen must not be recorded at all.

Linux/X11 is implemented (python-xlib, the EWMH hints every common window manager sets).
Wayland gives no client a view of other windows or of the screen without a portal; macOS and
Windows need their own backends. `open_desktop()` says so in words instead of failing later.
"""

import contextlib
import os
import re
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from core.capture.change import Box
from core.errors import MnemoError


class CaptureUnsupported(MnemoError):
    """This platform or session cannot be captured (yet); the message says why."""


@dataclass(frozen=True)
class Window:
    """A visible top-level window. `box` covers its frame and title bar, in screen pixels."""

    app: str  # the program: WM_CLASS's class ("firefox", "KeePassXC"), else its process name
    title: str
    box: Box
    pid: int | None = None
    focused: bool = False

    @property
    def url(self) -> str | None:
        """A web address the title shows (some browsers, and extensions such as "URL in
        title", put it there); window hints carry no URL."""
        found = _URL.search(self.title)
        return found.group(0).rstrip(").,;") if found else None


_URL = re.compile(r"https?://[^\s<>\"']+")


@dataclass(frozen=True)
class DesktopState:
    windows: list[Window]  # top-most first
    idle_s: float | None  # seconds since the last input; None where the server cannot tell
    locked: bool

    @property
    def focused(self) -> Window | None:
        return next((w for w in self.windows if w.focused), None)


class Desktop(Protocol):
    def state(self) -> DesktopState: ...

    def close(self) -> None: ...


# Screen lockers that draw a window over everything (on desktops that lock through the
# screensaver extension instead, its state tells).
LOCKERS = frozenset(
    {"i3lock", "xsecurelock", "xscreensaver", "light-locker", "slock", "xlock", "swaylock"}
)


class X11Desktop:
    """One X display connection; use it from one thread (Xlib is not thread-safe)."""

    def __init__(self, display_name: str | None = None) -> None:
        from Xlib import X, display, error  # imported here: only Linux/X11 needs it

        self._X = X
        self._errors = (error.XError, error.ConnectionClosedError)
        try:
            self._display = display.Display(display_name)
        except (error.DisplayError, error.DisplayNameError, OSError) as exc:
            raise CaptureUnsupported(f"cannot open the X display: {exc}") from exc
        self._root = self._display.screen().root
        self._atoms: dict[str, int] = {}
        self._has_screensaver = self._display.has_extension("MIT-SCREEN-SAVER")

    def _atom(self, name: str) -> int:
        if name not in self._atoms:
            self._atoms[name] = self._display.intern_atom(name)
        return self._atoms[name]

    def _prop(self, window: object, name: str) -> list[int] | None:
        try:
            reply = window.get_full_property(self._atom(name), self._X.AnyPropertyType)  # type: ignore[attr-defined]
        except self._errors:
            return None
        return list(reply.value) if reply is not None else None

    def state(self) -> DesktopState:
        idle_s, saver_on = self._screensaver()
        windows = self._windows()
        locked = saver_on or any(w.app.lower() in LOCKERS for w in windows)
        return DesktopState(windows=windows, idle_s=idle_s, locked=locked)

    def _screensaver(self) -> tuple[float | None, bool]:
        if not self._has_screensaver:
            return None, False
        from Xlib.ext import screensaver

        try:
            info = self._root.screensaver_query_info()
        except self._errors:
            return None, False
        return info.idle / 1000.0, info.state == screensaver.StateOn

    def _windows(self) -> list[Window]:
        """Mapped, non-minimised top-level windows, top-most first. Under a window manager the
        EWMH stacking list names the client windows; without one (a bare X server), the root's
        children are the windows."""
        active = (self._prop(self._root, "_NET_ACTIVE_WINDOW") or [0])[0]
        stacking = self._prop(self._root, "_NET_CLIENT_LIST_STACKING")
        if stacking is None:
            try:
                stacking = [w.id for w in self._root.query_tree().children]
            except self._errors:
                stacking = []
        found = []
        for window_id in reversed(stacking):  # the list is bottom-most first
            window = self._describe(window_id, focused=window_id == active)
            if window is not None:
                found.append(window)
        return found

    def _describe(self, window_id: int, *, focused: bool) -> Window | None:
        win = self._display.create_resource_object("window", window_id)
        try:
            attrs = win.get_attributes()
            if attrs.map_state != self._X.IsViewable:
                return None
            hidden = self._atom("_NET_WM_STATE_HIDDEN")
            if hidden in (self._prop(win, "_NET_WM_STATE") or []):
                return None
            box = self._frame_box(win)
            if box is None or box.area == 0:
                return None
            wm_class = win.get_wm_class()
            title = self._title(win)
        except self._errors:
            return None  # the window went away while we looked
        pids = self._prop(win, "_NET_WM_PID")
        pid = pids[0] if pids else None
        app = (wm_class[1] if wm_class else "") or _process_name(pid) or ""
        if not app and not title:
            return None  # an unnamed helper window (input-only, a tooltip's parent, …)
        return Window(app=app, title=title, box=box, pid=pid, focused=focused)

    def _title(self, win: object) -> str:
        raw = win.get_full_property(self._atom("_NET_WM_NAME"), self._atom("UTF8_STRING"))  # type: ignore[attr-defined]
        if raw is not None:
            value = raw.value
            return value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)
        name = win.get_wm_name()  # type: ignore[attr-defined]
        if isinstance(name, bytes):
            return name.decode("latin-1")
        return name or ""

    def _frame_box(self, win: object) -> Box | None:
        """The box of the window with its decorations: the title bar shows the title too, so
        masking must cover it. The window manager's frame is the window's ancestor that is a
        child of the root."""
        frame = win
        while True:
            tree = frame.query_tree()  # type: ignore[attr-defined]
            if tree.parent == self._root or tree.parent == 0:
                break
            frame = tree.parent
        geometry = frame.get_geometry()  # type: ignore[attr-defined]
        origin = frame.translate_coords(self._root, 0, 0)  # type: ignore[attr-defined]
        left, top = -origin.x, -origin.y
        border = geometry.border_width
        return Box(
            left,
            top,
            left + geometry.width + 2 * border,
            top + geometry.height + 2 * border,
        )

    def close(self) -> None:
        with contextlib.suppress(*self._errors):
            self._display.close()


def _process_name(pid: int | None) -> str | None:
    if not pid:
        return None
    try:
        return Path(f"/proc/{pid}/comm").read_text().strip() or None
    except OSError:
        return None


def open_desktop() -> Desktop:
    """The desktop backend for this session, or CaptureUnsupported saying why there is none."""
    if sys.platform.startswith("linux"):
        if os.environ.get("WAYLAND_DISPLAY") or os.environ.get("XDG_SESSION_TYPE") == "wayland":
            # XWayland's DISPLAY would show only X11 programs' windows, the rest black.
            raise CaptureUnsupported(
                "this is a Wayland session: capture needs the screencast portal, which Mnemo "
                "does not support yet; log in to an X11 (Xorg) session to capture"
            )
        if not os.environ.get("DISPLAY"):
            raise CaptureUnsupported("no display: DISPLAY is not set (run inside a desktop)")
        return X11Desktop()
    raise CaptureUnsupported(
        f"screen capture is implemented for Linux/X11 only, not yet for {sys.platform}"
    )
