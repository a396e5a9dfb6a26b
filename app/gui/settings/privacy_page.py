"""Settings → Privacy: pictures kept, personal data redacted, and what other tools may do."""

from typing import Any

from PySide6.QtWidgets import QCheckBox, QDoubleSpinBox, QFormLayout, QGroupBox, QVBoxLayout

from app.gui.settings.page import Page, note


class PrivacyPage(Page):
    title = "Privacy"
    icon_name = "picture"

    def __init__(self, host: Any) -> None:
        super().__init__(host)
        self.retention = QDoubleSpinBox()
        self.retention.setRange(0, 3650)
        self.retention.setSuffix(" days")
        self.retention.setSpecialValueText("keep")
        self.budget = QDoubleSpinBox()
        self.budget.setRange(1, 1_000_000)
        self.budget.setSuffix(" MB")
        self.emails = QCheckBox("Redact email addresses")
        self.phones = QCheckBox("Redact phone numbers")
        form = QFormLayout(self)
        form.addRow("Keep screen pictures for", self.retention)
        form.addRow("Pictures may use at most", self.budget)
        form.addRow(note("Older pictures are deleted first; the text read from them stays."))
        form.addRow(self.emails)
        form.addRow(self.phones)
        form.addRow(
            note(
                "API keys, tokens, passwords, card numbers and IBANs are always redacted "
                "before anything is stored or shown to a model."
            )
        )
        form.addRow(self._tools())

    def _tools(self) -> QGroupBox:
        """What other tools may do: each choice off until the user turns it on, with why."""
        self.share_vault = QCheckBox("Let other tools read vault values")
        self.allow_writes = QCheckBox("Let other tools add memories")
        self.screen_text = QCheckBox("Let other tools search the text read from your screen")
        box = QGroupBox("Other tools: AI assistants and scripts connected with mnemo mcp")
        column = QVBoxLayout(box)
        for choice, why in (
            (
                self.share_vault,
                "They see captions; values only with this. High-sensitivity items stay hidden.",
            ),
            (
                self.allow_writes,
                "What they write reaches your own assistant's answers, never its persona.",
            ),
            (
                self.screen_text,
                "It holds whatever was on screen, such as mail and other people's messages.",
            ),
        ):
            column.addWidget(choice)
            column.addWidget(note(why))
        return box

    def load(self, settings: Any) -> None:
        self.share_vault.setChecked(settings.serve.share_vault_values)
        self.allow_writes.setChecked(settings.serve.allow_writes)
        self.screen_text.setChecked(settings.serve.share_screen_text)
        self.retention.setValue(settings.capture.retention_days)
        self.budget.setValue(settings.capture.disk_budget_mb)
        self.emails.setChecked(settings.privacy.redact_emails)
        self.phones.setChecked(settings.privacy.redact_phones)

    def save(self, settings: Any) -> None:
        settings.capture.retention_days = self.retention.value()
        settings.capture.disk_budget_mb = self.budget.value()
        settings.privacy.redact_emails = self.emails.isChecked()
        settings.privacy.redact_phones = self.phones.isChecked()
        settings.serve.share_vault_values = self.share_vault.isChecked()
        settings.serve.allow_writes = self.allow_writes.isChecked()
        settings.serve.share_screen_text = self.screen_text.isChecked()
