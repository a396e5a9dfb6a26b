"""The window a citation chip opens: the cited memory (its fields and the inputs it came from)
or the cited input (a chat turn's text; a capture's picture and text)."""

from collections.abc import Sequence
from types import SimpleNamespace
from typing import Any

from PySide6.QtCore import Qt, QUrl
from PySide6.QtGui import QImage, QTextDocument
from PySide6.QtWidgets import QDialog, QDialogButtonBox, QTextBrowser, QVBoxLayout, QWidget

from app.gui import tasks

MASK = "••••••"
PICTURE = "mnemo://picture"
LINK = "mnemo://"
HIDDEN_FIELDS = {"id", "type", "rev", "secret_value", "secret_stored", "created_at", "updated_at"}


def memory_html(memory: Any, sources: list[Any], *, secret: str | None = None) -> str:
    """A memory's fields and the inputs it came from. A vault secret stays masked (a link that
    asks to reveal it) unless `secret` is given: the user asked to see it."""
    data = memory.model_dump(mode="json", exclude={"secret_value"})
    rows = []
    for key, value in data.items():
        if key in HIDDEN_FIELDS or value in ("", [], None, {}):
            continue
        if isinstance(value, list):
            value = "<br>".join(f"{i}. {_esc(v)}" for i, v in enumerate(value, 1))
        else:
            value = _esc(value).replace("\n", "<br>")
        rows.append(f"<tr><td class='k'>{_esc(key.replace('_', ' '))}</td><td>{value}</td></tr>")
    if getattr(memory, "secret_stored", False):
        shown = (
            _esc(secret)
            if secret is not None
            else f"{MASK} <a href='{LINK}reveal/{memory.id}'>show</a>"
        )
        rows.append(f"<tr><td class='k'>secret</td><td>{shown}</td></tr>")
    when = memory.event_time or memory.created_at
    html = (
        f"<h3>{_esc(memory.headline)}</h3>"
        f"<p style='color:gray'>{memory.type} memory · {when:%Y-%m-%d %H:%M} · rev {memory.rev}</p>"
        f"<table cellspacing=6>{''.join(rows)}</table>"
    )
    if sources:
        html += "<h4>From</h4>" + "".join(
            f"<p><a href='{LINK}source/{s.id}'>{s.occurred_at:%Y-%m-%d %H:%M}</a>"
            f" · {_esc(s.line[:300])}</p>"
            for s in sources
        )
    return html


def source_html(source: Any, memories: Sequence[Any] = ()) -> str:
    """An input as it was kept, and the memories written from it (provenance the other way)."""
    where = " — ".join(x for x in (source.app, source.title, source.url) if x)
    head = f"{source.kind} · {source.occurred_at:%Y-%m-%d %H:%M}" + (f" · {where}" if where else "")
    who = f"<b>{_esc(source.actor)}:</b> " if source.actor else ""
    html = (
        f"<p style='color:gray'>{_esc(head)}</p>"
        f"<p>{who}{_esc(source.text).replace(chr(10), '<br>')}</p>"
    )
    if memories:
        html += "<h4>Memories written from it</h4>" + "".join(
            f"<p><a href='{LINK}memory/{m.id}'>{m.type}</a> · {_esc(m.headline[:200])}</p>"
            for m in memories
        )
    return html


def linked_item(url: QUrl) -> SimpleNamespace | None:
    """The memory or input a detail link points at (mnemo://memory/ID, mnemo://source/ID)."""
    kind, _, item_id = url.toString().removeprefix(LINK).partition("/")
    return SimpleNamespace(kind=kind, id=item_id) if kind in ("memory", "source") else None


def _esc(value: Any) -> str:
    return str(value).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


class ItemDialog(QDialog):
    """Loads the item off the GUI thread and shows it; `task` is the load (tests wait on it)."""

    def __init__(self, host: Any, item: Any, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Memory" if item.kind == "memory" else "Source")
        self.resize(600, 460)
        self.text = QTextBrowser()
        self.text.setOpenLinks(False)
        self.text.anchorClicked.connect(self._follow)
        self.opened: ItemDialog | None = None  # the last item a link opened (tests look)
        self.text.setHtml("<p>Loading…</p>")
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(self.text)
        layout.addWidget(buttons)
        self.host = host

        def load(_ctx: tasks.Context) -> tuple[str, QImage | None]:
            if item.kind == "memory":
                memory = host.memory(item.id)
                return memory_html(memory, host.sources_of(memory.id)), None
            source = host.source(item.id)
            html = source_html(source, host.memories_of_source(source.id))
            path = host.picture_file(source)  # the store's own pictures only
            if path is None:
                return html, None
            image = QImage(str(path))  # decoded here, off the GUI thread
            if image.isNull():
                return html + "<p style='color:gray'>(the picture is gone)</p>", None
            image = image.scaledToWidth(540, Qt.TransformationMode.SmoothTransformation)
            return f"<p><img src='{PICTURE}'></p>" + html, image

        self.task = tasks.run(load, on_done=self._show, on_error=self._failed, parent=self)

    def _show(self, loaded: tuple[str, QImage | None]) -> None:
        html, image = loaded
        if image is not None:
            self.text.document().addResource(
                QTextDocument.ResourceType.ImageResource, QUrl(PICTURE), image
            )
        self.text.setHtml(html)

    def _follow(self, url: QUrl) -> None:
        if (item := linked_item(url)) is not None:
            self.opened = ItemDialog(self.host, item, self)
            self.opened.show()

    def _failed(self, error: BaseException) -> None:
        self.text.setHtml(f"<p>This item cannot be shown: {_esc(error)}</p>")
