"""Settings → Capture: whether and how often the screen is recorded, and which monitors."""

from typing import Any

from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import QCheckBox, QDoubleSpinBox, QFormLayout, QHBoxLayout

from app.gui.settings.page import Page, note


class CapturePage(Page):
    title = "Capture"
    icon_name = "capture"

    def __init__(self, host: Any) -> None:
        super().__init__(host)
        self.enabled = QCheckBox("Capture the screen while Mnemo runs")
        self.interval = QDoubleSpinBox()
        self.interval.setRange(0.5, 3600)
        self.interval.setSuffix(" s")
        self.ocr = QCheckBox("Read the text of what changes (OCR)")
        self.monitors: list[QCheckBox] = []
        screens = QGuiApplication.screens()
        monitors = QHBoxLayout()
        for number, screen in enumerate(screens, 1):
            box = QCheckBox(
                f"{number}: {screen.name()} ({screen.size().width()}×{screen.size().height()})"
            )
            self.monitors.append(box)
            monitors.addWidget(box)
        monitors.addStretch(1)
        form = QFormLayout(self)
        form.addRow(self.enabled)
        form.addRow("Every", self.interval)
        form.addRow(self.ocr)
        form.addRow("Monitors", monitors)
        form.addRow(note("No monitor ticked means all of them. Excluded windows are never kept."))

    def load(self, settings: Any) -> None:
        capture = settings.capture
        self.enabled.setChecked(settings.app.capture_on_start)
        self.interval.setValue(capture.interval_s)
        self.ocr.setChecked(capture.ocr)
        for number, box in enumerate(self.monitors, 1):
            box.setChecked(number in capture.monitors)

    def save(self, settings: Any) -> None:
        settings.app.capture_on_start = self.enabled.isChecked()
        settings.capture.interval_s = self.interval.value()
        settings.capture.ocr = self.ocr.isChecked()
        settings.capture.monitors = [n for n, box in enumerate(self.monitors, 1) if box.isChecked()]
