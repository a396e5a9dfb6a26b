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
    """A visible top-level window. `box` covers its frame and title bar, in screen pixels.

    `cover` is the part of the screen it surely hides from the windows below it: its box where
    it is drawn opaque and rectangular. None where that is not known (the stacking order was
    not read) or what lies below may show through it (a translucent terminal, an opacity
    setting, a non-rectangular or shaded window): such a window hides nothing, so an excluded
    window below it is painted over whole."""

    app: str  # the program: WM_CLASS's class ("firefox", "KeePassXC"), else its process name
    title: str
    box: Box
    pid: int | None = None
    focused: bool = False
    cover: Box | None = None

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
    # Whether `windows` is in the window manager's stacking order, so that a window's `cover`
    # hides the windows after it. False where it could not be read (no window manager).
    stacked: bool = False

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
        self._has_shape = self._display.has_extension("SHAPE")

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
        windows, stacked = self._windows()
        locked = saver_on or any(w.app.lower() in LOCKERS for w in windows)
        return DesktopState(windows=windows, idle_s=idle_s, locked=locked, stacked=stacked)

    def _screensaver(self) -> tuple[float | None, bool]:
        if not self._has_screensaver:
            return None, False
        from Xlib.ext import screensaver

        try:
            info = self._root.screensaver_query_info()
        except self._errors:
            return None, False
        return info.idle / 1000.0, info.state == screensaver.StateOn

    def _windows(self) -> tuple[list[Window], bool]:
        """Mapped, non-minimised top-level windows, top-most first, and whether that order is
        the window manager's stacking order. Under a window manager the EWMH stacking list
        names the client windows; without one (a bare X server), the root's children are the
        windows, and what hides what is not worked out: nothing counts as hidden."""
        active = (self._prop(self._root, "_NET_ACTIVE_WINDOW") or [0])[0]
        stacking = self._prop(self._root, "_NET_CLIENT_LIST_STACKING")
        stacked = stacking is not None
        if stacking is None:
            try:
                stacking = [w.id for w in self._root.query_tree().children]
            except self._errors:
                stacking = []
        compositing = stacked and self._compositing()
        found = []
        for window_id in reversed(stacking):  # the list is bottom-most first
            window = self._describe(
                window_id, focused=window_id == active, cover=stacked, compositing=compositing
            )
            if window is not None:
                found.append(window)
        return found, stacked

    def _describe(
        self, window_id: int, *, focused: bool, cover: bool, compositing: bool
    ) -> Window | None:
        win = self._display.create_resource_object("window", window_id)
        try:
            attrs = win.get_attributes()
            if attrs.map_state != self._X.IsViewable:
                return None
            states = self._prop(win, "_NET_WM_STATE") or []
            if self._atom("_NET_WM_STATE_HIDDEN") in states:
                return None
            frame = self._frame(win)
            box, depth = self._box(frame)
            if box.area == 0:
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
        hides = None
        if cover and self._atom("_NET_WM_STATE_SHADED") not in states:
            try:
                hides = self._cover(win, frame, box, depth, compositing=compositing)
            except self._errors:
                hides = None  # unreadable: it hides nothing
        return Window(app=app, title=title, box=box, pid=pid, focused=focused, cover=hides)

    def _title(self, win: object) -> str:
        raw = win.get_full_property(self._atom("_NET_WM_NAME"), self._atom("UTF8_STRING"))  # type: ignore[attr-defined]
        if raw is not None:
            value = raw.value
            return value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)
        name = win.get_wm_name()  # type: ignore[attr-defined]
        if isinstance(name, bytes):
            return name.decode("latin-1")
        return name or ""

    def _frame(self, win: object) -> object:
        """The window with its decorations: the title bar shows the title too, so masking must
        cover it. The window manager's frame is the window's ancestor that is a child of the
        root."""
        frame = win
        while True:
            tree = frame.query_tree()  # type: ignore[attr-defined]
            if tree.parent == self._root or tree.parent == 0:
                return frame
            frame = tree.parent

    def _box(self, win: object) -> tuple[Box, int]:
        """A window's box in screen pixels (borders included) and its depth in bits."""
        geometry = win.get_geometry()  # type: ignore[attr-defined]
        origin = win.translate_coords(self._root, 0, 0)  # type: ignore[attr-defined]
        left, top = -origin.x, -origin.y
        border = geometry.border_width
        box = Box(left, top, left + geometry.width + 2 * border, top + geometry.height + 2 * border)
        return box, geometry.depth

    def _compositing(self) -> bool:
        """Whether a compositing manager runs: only then can a window with an alpha channel
        let what is below show through (without one, X draws every window opaque)."""
        try:
            owner = self._display.get_selection_owner(
                self._atom(f"_NET_WM_CM_S{self._display.get_default_screen()}")
            )
        except self._errors:
            return True  # unknown: assume the worse
        return owner != self._X.NONE

    def _cover(
        self, win: object, frame: object, frame_box: Box, frame_depth: int, *, compositing: bool
    ) -> Box | None:
        """Where this window surely hides what lies below it (see Window.cover), or None.
        The client area and the frame's extents as the window manager states them
        (_NET_FRAME_EXTENTS): a compositing window manager's frame box can take in invisible
        resize borders, which hide nothing. An X error propagates: the caller counts the
        window as hiding nothing."""
        client, depth = self._box(win)
        # Only a compositing manager draws a window translucent (without one, X draws every
        # window opaque, its alpha channel and opacity setting ignored).
        if compositing:
            if 32 in (depth, frame_depth):
                return None  # an alpha channel: anything drawn translucent shows what is below
            opacity = self._atom("_NET_WM_WINDOW_OPACITY")
            for part in (win, frame):
                reply = part.get_full_property(opacity, self._X.AnyPropertyType)  # type: ignore[attr-defined]
                if reply is not None and (not len(reply.value) or reply.value[0] < 0xFFFFFFFF):
                    return None
        if self._shaped(win):
            return None
        # A shaped frame (rounded corners) hides only the client area it holds.
        extents = None if self._shaped(frame) else self._prop(win, "_NET_FRAME_EXTENTS")
        left, right, top, bottom = extents if extents and len(extents) == 4 else (0, 0, 0, 0)
        return Box(
            max(frame_box.left, client.left - left),
            max(frame_box.top, client.top - top),
            min(frame_box.right, client.right + right),
            min(frame_box.bottom, client.bottom + bottom),
        )

    def _shaped(self, win: object) -> bool:
        """Whether the window is not a rectangle (the SHAPE extension cuts holes in it)."""
        if not self._has_shape:
            return False
        return bool(win.shape_query_extents().bounding_shaped)  # type: ignore[attr-defined]

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
