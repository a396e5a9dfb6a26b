"""The capture timeline on a real host: a day of captures by app, scrubbing to a moment with
its picture and text, search (the store's, off the GUI thread, the newest answer shown) with
the match marked, the strip's picture redrawn when the day changes, the memories from a
moment, and deleting one app's captures for the day everywhere after a confirmation."""

import threading
from datetime import date, datetime, time, timedelta

from PIL import Image, ImageDraw
from PySide6.QtCore import Qt, QUrl
from PySide6.QtGui import QColor

from app.gui.main import MnemoApp
from app.gui.timeline.strip import HEADER, LABELS, LANE, app_colour
from app.gui.timeline.thumbs import HEIGHT, WIDTH
from core.capture.pictures import PictureStore
from core.memory import EpisodicMemory
from core.memory.models import Source, SourceKind
from tests.gui.conftest import screenshot

APPS = [
    ("Firefox", "Deploy runbook - Team Wiki", "Deploys run every Thursday at 15:00"),
    (
        "Thunderbird",
        "Your flight booking is confirmed - Inbox",
        "Departs 14 March at 07:45, seat 14C",
    ),
    ("Code", "graph_layout.py - mnemo", "def layout(nodes, edges, previous=None)"),
]


def local_midnight(days_ago: int) -> datetime:
    """The start of a past local day, with that day's own offset (a DST day included)."""
    return datetime.combine(date.today() - timedelta(days=days_ago), time(0)).astimezone()


def seed_day(host, day: datetime) -> list[Source]:  # type: ignore[no-untyped-def]
    """A working day: every 4 minutes from 9:00 to 17:00 a capture of one of three windows,
    a picture every half hour."""
    data = host.store.folder
    pictures = PictureStore(data / "capture" / "pictures", scale=1)  # where capture keeps them
    captures = []
    for n in range(120):
        app, title, line = APPS[(n // 10) % len(APPS)]
        when = day + timedelta(hours=9, minutes=4 * n)
        thumbnail = None
        if n % 8 == 0:
            image = Image.new("RGB", (640, 400), "white")
            ImageDraw.Draw(image).text((20, 20), f"{title}\n{line}", fill="black")
            thumbnail = pictures.save(image, when, f"t{n}").relative_to(data).as_posix()
        captures.append(
            Source(
                kind=SourceKind.CAPTURE,
                occurred_at=when,
                text=f"{line}\n(frame {n})",
                app=app,
                title=title,
                thumbnail=thumbnail,
            )
        )
    return host.store.add_sources(captures)


def test_a_day_of_captures_scrubs_searches_and_deletes(mnemo: MnemoApp, qtbot) -> None:
    host, window = mnemo.host, mnemo.window
    day = local_midnight(days_ago=1)
    stored = seed_day(host, day)
    memory = host.store.add(
        EpisodicMemory(summary="Read the deploy runbook", occurred_at=stored[0].occurred_at),
        sources=[stored[0].id],
    )
    timeline = window.timeline
    window.nav.setCurrentRow(3)
    with qtbot.waitSignal(timeline.loaded, timeout=30_000):
        timeline.go_to(day)
    assert len(timeline.captures) == 120 and timeline.strip.apps == [
        "Code",
        "Firefox",
        "Thunderbird",
    ]

    with qtbot.waitSignal(timeline.shown, timeout=30_000):
        timeline.show_moment(stored[0].occurred_at + timedelta(minutes=1))
    assert timeline.current.id == stored[0].id and not timeline.picture.pixmap().isNull()
    assert (
        "Deploy runbook" in timeline.where.text() and "Memories written" in timeline.text.toHtml()
    )
    screenshot(window, "timeline")

    timeline.text.anchorClicked.emit(QUrl(f"mnemo://memory/{memory.id}"))
    dialog = timeline.opened
    assert dialog is not None
    qtbot.waitUntil(lambda: "deploy runbook" in dialog.text.toPlainText(), timeout=30_000)
    dialog.close()

    with qtbot.waitSignal(timeline.shown, timeout=30_000):
        timeline.search.setText("seat 14C")  # typed: searched once the typing pauses
    assert len(timeline.captures) == 40 and all(c.app == "Thunderbird" for c in timeline.captures)
    html = timeline.text.toHtml().replace(": ", ":")
    assert 'background-color:#f9e79f;">seat<' in html and 'f9e79f;">14C<' in html
    screenshot(window, "timeline-search")

    with qtbot.waitSignal(timeline.searched, timeout=30_000):
        timeline.search.clear()
    assert len(timeline.captures) == 120
    timeline.app.setCurrentIndex(timeline.app.findData("Thunderbird"))
    assert len(timeline.captures) == 40
    pictures = [c.thumbnail for c in timeline.captures if c.thumbnail]
    with qtbot.waitSignal(timeline.deleted, timeout=60_000) as deleted:
        timeline.delete_shown(confirm=False)
    assert deleted.args == [40]
    assert not host.search_sources("seat 14C")
    assert all(not (host.store.folder / p).exists() for p in pictures)
    qtbot.waitUntil(lambda: len(timeline.day_captures) == 80, timeout=30_000)
    assert host.memory(memory.id).id == memory.id  # memories stay


def picture_shown(item) -> bool:  # type: ignore[no-untyped-def]
    """Whether a thumbnail shows its picture (white, as seeded), not the grey placeholder."""
    image = item.icon().pixmap(WIDTH, HEIGHT).toImage()
    return not image.isNull() and image.pixelColor(4, image.height() // 2) == QColor("white")


def test_thumbnails_a_time_range_and_everything_from_an_app(mnemo: MnemoApp, qtbot) -> None:
    host, timeline = mnemo.host, mnemo.window.timeline
    mnemo.window.nav.setCurrentRow(3)
    day = local_midnight(days_ago=2)
    seed_day(host, day)
    seed_day(host, day + timedelta(days=1))
    thumbs = timeline.thumbs
    timeline.go_to(day)
    # Waited on as a state, not on the first `loaded`: the seeding's change event may reload
    # the day shown before (empty) and fill the row once more on a busy machine.
    qtbot.waitUntil(
        lambda: (
            thumbs.count() == 15  # a picture every half hour, 9:00 to 17:00
            and timeline.captures
            and timeline.captures[0].occurred_at.astimezone().date() == day.astimezone().date()
            and picture_shown(thumbs.item(0))
        ),
        timeout=30_000,
    )
    screenshot(mnemo.window, "timeline-thumbnails")
    with qtbot.waitSignal(timeline.shown, timeout=30_000):
        thumbs.itemClicked.emit(thumbs.item(2))
    assert timeline.current.occurred_at == thumbs.item(2).data(Qt.ItemDataRole.UserRole)

    # 10:00 to 10:59 of the first day: 15 captures, every app's.
    start = datetime.combine(day.date(), time(10)).astimezone()  # 10:00 on the clock
    in_range = [c for c in timeline.captures if start <= c.occurred_at < start + timedelta(hours=1)]
    pictures = [c.thumbnail for c in in_range if c.thumbnail]
    assert pictures and all((host.store.folder / p).exists() for p in pictures)
    with qtbot.waitSignal(timeline.deleted, timeout=60_000) as deleted:
        timeline.delete_range(start, start + timedelta(minutes=59, seconds=59), confirm=False)
    assert deleted.args == [15] and "(10:00–10:59" in timeline.last_question
    left = host.sources_between(day, day + timedelta(days=2), kinds=["capture"], limit=1000)
    assert len(left) == 225
    assert not [c for c in left if start <= c.occurred_at < start + timedelta(hours=1)]
    assert not any((host.store.folder / p).exists() for p in pictures)
    gone = {c.id for c in in_range}  # their text is gone from search too
    assert not [
        hit for hit in host.search_sources("frame 20 layout", limit=50) if hit.source.id in gone
    ]

    # Everything from Firefox, both days.
    with qtbot.waitSignal(timeline.deleted, timeout=60_000) as deleted:
        timeline.delete_app("Firefox", confirm=False)
    assert "everything from Firefox" in timeline.last_question
    left = host.sources_between(day, day + timedelta(days=2), kinds=["capture"], limit=1000)
    assert deleted.args == [225 - len(left)] and {c.app for c in left} == {"Code", "Thunderbird"}
    assert all(hit.source.app != "Firefox" for hit in host.search_sources("Deploys Thursday"))

    with qtbot.waitSignal(timeline.loaded, timeout=30_000):
        timeline.next.click()
    assert timeline.date.date().toPython() == (day + timedelta(days=1)).date()


def test_search_is_the_stores_and_only_the_newest_answer_is_shown(
    mnemo: MnemoApp, qtbot, monkeypatch
) -> None:
    host, timeline = mnemo.host, mnemo.window.timeline
    mnemo.window.nav.setCurrentRow(3)
    day = local_midnight(days_ago=3)
    seed_day(host, day)
    seed_day(host, day + timedelta(days=1))  # the same words the next day: not this day's
    with qtbot.waitSignal(timeline.loaded, timeout=30_000):
        timeline.go_to(day)
    qtbot.waitUntil(lambda: len(timeline.day_captures) == 120, timeout=30_000)

    # The store's search: words as they start ("depl" is typed on the way to "deploys"),
    # within the day, oldest first.
    end = day + timedelta(days=1) - timedelta(microseconds=1)
    found = host.sources_matching("depl thursd", day, end, kinds=["capture"])
    firefox = [c.id for c in timeline.day_captures if c.app == "Firefox"]
    assert found == firefox and len(found) == 40
    assert host.sources_matching("seat 14C", day, end) == [
        c.id for c in timeline.day_captures if c.app == "Thunderbird"
    ]
    assert host.sources_matching("nothing like this", day, end) == []
    assert host.sources_matching("!!", day, end) == []  # no words: nothing matches

    # Two searches on their way; the first one's answer comes last and is dropped.
    first_asked, let_first_answer = threading.Event(), threading.Event()
    real = host.sources_matching

    def held(query: str, *args, **kwargs):  # type: ignore[no-untyped-def]
        if query == "seat 14C":
            first_asked.set()
            let_first_answer.wait(60)
        return real(query, *args, **kwargs)

    monkeypatch.setattr(host, "sources_matching", held)
    timeline.search.setText("seat 14C")
    first = timeline.search_now()
    assert first is not None
    qtbot.waitUntil(first_asked.is_set, timeout=30_000)
    timeline.search.setText("depl")
    with qtbot.waitSignal(timeline.searched, timeout=30_000):
        timeline.search_now()
    assert [c.id for c in timeline.captures] == firefox
    with qtbot.waitSignal(first.finished, timeout=30_000):
        let_first_answer.set()
    assert [c.id for c in timeline.captures] == firefox  # still the newest search's
    assert timeline.count.text() == "40 captures"

    # A day changed under a search: the reload answers for the search too.
    with qtbot.waitSignal(timeline.loaded, timeout=30_000):
        timeline.go_to(day + timedelta(days=1))
    assert len(timeline.captures) == 40 and all(c.app == "Firefox" for c in timeline.captures)
    assert all(c.occurred_at >= end for c in timeline.captures)


def bar_colour(strip, when: datetime, app: str) -> int:  # type: ignore[no-untyped-def]
    """The colour (ARGB) of the strip's picture under `when` in `app`'s lane."""
    x = round(strip.x_of(when) - LABELS) + 1
    y = strip.apps.index(app) * LANE + LANE // 2
    return strip.picture.pixelColor(x, y).rgba()


def colour(app: str) -> int:
    return app_colour(app).rgba()


def test_the_strip_is_drawn_once_into_a_picture_redrawn_when_the_day_changes(
    mnemo: MnemoApp, qtbot
) -> None:
    host, timeline = mnemo.host, mnemo.window.timeline
    strip = timeline.strip
    mnemo.window.nav.setCurrentRow(3)
    day = local_midnight(days_ago=4)
    seed_day(host, day)
    timeline.go_to(day)
    qtbot.waitUntil(
        lambda: len(timeline.day_captures) == 120 and strip.picture is not None, timeout=30_000
    )
    morning, evening = day + timedelta(hours=9), day + timedelta(hours=20)
    assert bar_colour(strip, morning, "Firefox") == colour("Firefox")
    assert bar_colour(strip, evening, "Firefox") == 0  # nothing after 17:00: transparent
    assert bar_colour(strip, morning, "Code") == 0  # Firefox's moment, not Code's

    # A capture kept in the evening: the change event reloads the day and redraws it.
    with qtbot.waitSignal(strip.drawn, timeout=30_000):
        host.store.add_sources(
            [
                Source(
                    kind=SourceKind.CAPTURE,
                    occurred_at=evening,
                    text="Late release notes",
                    app="Firefox",
                    title="Release notes",
                )
            ]
        )
    qtbot.waitUntil(lambda: len(timeline.day_captures) == 121, timeout=30_000)
    assert bar_colour(strip, evening, "Firefox") == colour("Firefox")

    # Painting draws that picture: where a bar is, the strip on screen has its colour.
    shown = strip.grab().toImage()
    x, y = round(strip.x_of(evening)) + 1, HEADER + strip.apps.index("Firefox") * LANE + LANE // 2
    assert shown.pixelColor(x, y) == colour("Firefox")

    # A narrower window redraws the picture at its new width.
    width = strip.picture.width()
    with qtbot.waitSignal(strip.drawn, timeout=30_000):
        mnemo.window.resize(mnemo.window.width() - 200, mnemo.window.height())
    assert strip.picture.width() < width
    assert bar_colour(strip, evening, "Firefox") == colour("Firefox")
    screenshot(mnemo.window, "timeline-strip")
