"""A real window to capture, driven by a script: what bench.capture and the capture tests put
on a virtual screen. Prints "ready" once its windows are shown.

    python -m bench.screen_app --app Notes --title "Notes — plan" --text "..." --scenario typing

Scenarios: static (nothing moves), typing (a few characters every 200 ms at the end of the
text), scrolling (three lines every second), switching (the windows take turns on screen every
`--switch-s` seconds).
"""

import argparse
import sys

from PySide6.QtCore import QTimer
from PySide6.QtGui import QFont, QTextCursor
from PySide6.QtWidgets import QApplication, QPlainTextEdit

TYPED = (
    "Meeting notes: the quarterly budget review moves to Thursday at ten. "
    "Ask Priya for the vendor quotes and send the summary to the finance team. "
)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--app", default="MnemoBenchNotes", help="program name (WM_CLASS)")
    parser.add_argument("--title", default="Notes")
    parser.add_argument("--text", default="", help="text shown in the window")
    parser.add_argument(
        "--scenario", choices=["static", "typing", "scrolling", "switching"], default="static"
    )
    parser.add_argument("--geometry", default="0,0,1280,800", help="left,top,width,height")
    parser.add_argument("--switch-s", type=float, default=6.0)
    parser.add_argument(
        "--also",
        action="append",
        default=[],
        metavar="TITLE::TEXT",
        help="another window for the switching scenario (repeatable)",
    )
    args = parser.parse_args(argv)

    app = QApplication([sys.argv[0]])
    app.setApplicationName(args.app)
    app.setDesktopFileName(args.app)
    left, top, width, height = (int(v) for v in args.geometry.split(","))
    font = QFont("DejaVu Sans", 13)

    def window(title: str, text: str) -> QPlainTextEdit:
        edit = QPlainTextEdit()
        edit.setWindowTitle(title)
        edit.setFont(font)
        edit.setPlainText(text)
        edit.setGeometry(left, top, width, height)
        edit.show()
        return edit

    first = window(args.title, args.text)
    timers: list[QTimer] = []

    def every(ms: int, fn) -> None:  # type: ignore[no-untyped-def]
        timer = QTimer()
        timer.timeout.connect(fn)
        timer.start(ms)
        timers.append(timer)

    if args.scenario == "typing":
        position = [0]

        def type_some() -> None:
            cursor = first.textCursor()
            cursor.movePosition(QTextCursor.MoveOperation.End)
            chunk = TYPED[position[0] % len(TYPED) : position[0] % len(TYPED) + 2]
            cursor.insertText(chunk)
            first.setTextCursor(cursor)
            position[0] += len(chunk)

        every(200, type_some)
    elif args.scenario == "scrolling":

        def scroll() -> None:
            bar = first.verticalScrollBar()
            bar.setValue(bar.value() + 3 if bar.value() < bar.maximum() else 0)

        every(1000, scroll)
    elif args.scenario == "switching":
        shown = [first]
        for spec in args.also or ["Browser — Research::" + args.text]:
            title, _, text = spec.partition("::")
            other = window(title, text)
            other.hide()
            shown.append(other)

        def switch() -> None:
            # Hide one, map the next: a newly mapped window gets the focus from any window
            # manager, where activateWindow() may be refused as focus stealing.
            shown[0].hide()
            shown.append(shown.pop(0))
            shown[0].show()

        every(int(args.switch_s * 1000), switch)
    first.raise_()
    first.activateWindow()
    QTimer.singleShot(300, lambda: print("ready", flush=True))
    return app.exec()


if __name__ == "__main__":
    sys.exit(main())
