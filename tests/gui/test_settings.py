"""First run and settings, on real widgets: every page writes settings.toml and takes effect
without a restart; bad input is refused with nothing saved; a model downloads with a progress
bar and stops on Cancel (from a stand-in Hub on this machine)."""

import os
import tomllib
from pathlib import Path

import pytest
from PySide6.QtWidgets import QLabel, QWizard

from app.gui.main import MnemoApp
from app.gui.settings.dialog import SettingsDialog
from app.gui.settings.pages import (
    CapturePage,
    ExclusionsPage,
    GeneralPage,
    ModelsPage,
    PrivacyPage,
)
from core.capture.redact import configure, redact
from core.llm import builds
from tests.gui.conftest import screenshot
from tests.standins import HubStandIn, write_gguf

pytestmark = pytest.mark.slow


def saved(app: MnemoApp) -> dict:
    return tomllib.loads((app.folder / "settings.toml").read_text())


def open_settings(app: MnemoApp, qtbot) -> SettingsDialog:  # type: ignore[no-untyped-def]
    app.window.settings_button.click()
    dialog = app.settings_dialog
    qtbot.waitExposed(dialog)
    models = dialog.page(ModelsPage)
    if models.task is not None and not models.task.done:
        with qtbot.waitSignal(models.task.finished, timeout=60_000):
            pass
    return dialog


def apply(dialog: SettingsDialog, qtbot) -> None:  # type: ignore[no-untyped-def]
    """Press Apply and wait until the host has saved and applied (or refused) the settings."""
    dialog.apply_button.click()
    assert dialog.task is not None
    if not dialog.task.done:
        with qtbot.waitSignal(dialog.task.finished, timeout=60_000):
            pass


def test_first_run_asks_before_capturing_and_saves_the_choices(start_app, qtbot) -> None:
    app = start_app(welcome_seen=False)
    wizard = app.first_run
    assert wizard is not None
    qtbot.waitExposed(wizard)
    pages = []
    while True:
        pages.append(wizard.currentPage().title())
        screenshot(wizard, f"first-run-{len(pages)}")
        if wizard.currentPage() is wizard.page(2):
            assert not wizard.consent.isChecked()  # nothing is captured unless asked
            defaults = wizard.exclusions.use_defaults
            assert defaults.isChecked() and "password managers" in defaults.text()
            wizard.consent.setChecked(True)
            wizard.exclusions.apps.setPlainText("signal")
        if wizard.currentId() == wizard.pageIds()[-1]:
            break
        wizard.next()
    assert pages == ["Mnemo remembers for you", "Models", "Screen capture", "Ready"]
    with qtbot.waitSignal(app.bridge.capture_state, timeout=60_000) as state:
        wizard.button(QWizard.WizardButton.FinishButton).click()
    assert state.args == ["running"]
    written = saved(app)
    assert written["app"]["first_run_done"] and written["app"]["capture_on_start"]
    assert written["capture"]["exclusions"]["apps"] == ["signal"]
    assert app.host.settings.capture.exclusions.apps == ["signal"]


def test_closing_the_welcome_captures_nothing(start_app, qtbot) -> None:
    app = start_app(welcome_seen=False)
    with qtbot.waitSignal(app.first_run.saved, timeout=60_000) as done:
        app.first_run.reject()
    assert done.args == [False]
    assert saved(app)["app"] == {
        "first_run_done": True,
        "start_at_login": False,
        "capture_on_start": False,
    }
    assert app.host.capture_state() == "stopped"


def test_capture_and_exclusion_pages_take_effect_on_the_running_capture(mnemo, qtbot) -> None:
    dialog = open_settings(mnemo, qtbot)
    capture = dialog.page(CapturePage)
    capture.enabled.setChecked(True)
    capture.interval.setValue(7)
    with qtbot.waitSignal(mnemo.bridge.capture_state, timeout=60_000) as state:
        apply(dialog, qtbot)
    assert state.args == ["running"] and saved(mnemo)["capture"]["interval_s"] == 7
    assert mnemo.host._capture.settings.interval_s == 7

    exclusions = dialog.page(ExclusionsPage)
    dialog.show_page(ExclusionsPage)
    exclusions.check_button.click()
    with qtbot.waitSignal(exclusions.task.finished, timeout=30_000):
        pass
    assert exclusions.windows.topLevelItem(0).text(2) == "yes"
    exclusions.apps.setPlainText("LibreOffice\nsignal")
    exclusions.check_button.click()
    with qtbot.waitSignal(exclusions.task.finished, timeout=30_000):
        pass
    assert exclusions.windows.topLevelItem(0).text(2) == "no — app libreoffice"
    screenshot(dialog, "settings-exclusions")
    apply(dialog, qtbot)
    assert saved(mnemo)["capture"]["exclusions"]["apps"] == ["LibreOffice", "signal"]
    assert "libreoffice" in mnemo.host._capture.exclusions.apps  # the running capture's rules

    exclusions.titles.setPlainText("([unclosed")
    apply(dialog, qtbot)
    assert "Not saved" in dialog.message.text() and "unclosed" in dialog.message.text()
    assert saved(mnemo)["capture"]["exclusions"]["title_patterns"] == []


def test_privacy_page_redacts_emails_from_now_on(mnemo, qtbot) -> None:
    dialog = open_settings(mnemo, qtbot)
    privacy = dialog.page(PrivacyPage)
    dialog.show_page(PrivacyPage)
    privacy.emails.setChecked(True)
    privacy.retention.setValue(7)
    tools = (privacy.share_vault, privacy.allow_writes, privacy.screen_text)
    assert not any(box.isChecked() for box in tools)  # off until the user turns them on
    # Each choice says why it matters, right under it.
    notes = [label.text() for label in privacy.findChildren(QLabel) if label.objectName() == "note"]
    assert any("persona" in text for text in notes)  # writes
    assert any("on screen" in text for text in notes)  # screen text
    for box in tools:
        box.setChecked(True)
    screenshot(dialog, "settings-privacy")
    try:
        apply(dialog, qtbot)
        assert "[redacted: email]" in redact("write to ana@example.org").text
        assert saved(mnemo)["privacy"]["redact_emails"] is True
        assert saved(mnemo)["capture"]["retention_days"] == 7
        assert saved(mnemo)["serve"] == {
            "share_vault_values": True,
            "allow_writes": True,
            "share_screen_text": True,
            "port": 8767,
        }
    finally:
        configure(emails=False, phones=False)


def test_general_page_writes_the_autostart_entry(mnemo, qtbot, monkeypatch, tmp_path) -> None:
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    entry = tmp_path / "config" / "autostart" / "mnemo.desktop"
    dialog = open_settings(mnemo, qtbot)
    dialog.page(GeneralPage).login.setChecked(True)
    apply(dialog, qtbot)
    text = entry.read_text()
    assert "Exec=" in text and f"--data-dir {mnemo.folder}" in text
    dialog.page(GeneralPage).login.setChecked(False)
    apply(dialog, qtbot)
    assert not entry.exists()


def test_models_page_switches_the_chat_model_without_a_restart(mnemo, qtbot) -> None:
    dialog = open_settings(mnemo, qtbot)
    models = dialog.page(ModelsPage)
    names = [models.chat.itemText(i) for i in range(models.chat.count())]
    assert "smollm2-135m" in names and "all-minilm-l6-v2" not in names
    assert models.embedding.currentText() == "all-minilm-l6-v2"
    screenshot(dialog, "settings-models")
    # The llama.cpp build in use (chosen at start, core.llm.builds), here and in the status
    # bar; the builds to choose from: automatic, and the one this checkout installed.
    chosen = builds.current()
    assert chosen is not None and f"In use: {chosen.label}" in models.build_in_use.text()
    choices = [models.build.itemData(i) for i in range(models.build.count())]
    assert choices == ["auto", chosen.build.variant] and models.build.currentData() == "auto"
    qtbot.waitUntil(lambda: chosen.label in mnemo.window.model_label.text(), timeout=10_000)
    before = mnemo.host.chat_model
    models.gpu_layers.setValue(0)
    models.build.setCurrentIndex(1)
    apply(dialog, qtbot)
    assert saved(mnemo)["models"]["gpu_layers"] == 0
    assert saved(mnemo)["models"]["llama_build"] == chosen.build.variant
    assert mnemo.host.chat_model is not before  # the next question uses the new settings


def test_a_model_downloads_with_progress_and_cancel_keeps_the_part(
    mnemo, qtbot, monkeypatch, tmp_path: Path
) -> None:
    from core.llm.manager import recommended

    model = next(r for r in recommended() if r.role == "chat")
    content = write_gguf(tmp_path / "model.gguf").read_bytes()
    hub = HubStandIn()
    hub.add(model.repo, model.file, content)
    hub.hold_after[f"{model.repo}/{model.file}"] = len(content) // 2
    dialog = open_settings(mnemo, qtbot)
    box = dialog.page(ModelsPage).downloads
    with hub.serving():
        monkeypatch.setenv("HF_ENDPOINT", hub.url)
        box.download_button.click()
        qtbot.waitUntil(lambda: " of " in box.status.text(), timeout=60_000)
        assert box.bar.isVisible() and box.cancel_button.isVisible()
        screenshot(dialog, "settings-downloading")
        with qtbot.waitSignal(box.task.finished, timeout=60_000):
            box.cancel_button.click()
            hub.release.set()
        assert "resumes" in box.status.text()
        assert not (mnemo.folder / "models" / model.file).exists()
        part = mnemo.folder / "models" / f"{model.file}.part"
        kept = part.stat().st_size if part.exists() else 0

        with qtbot.waitSignal(box.downloaded, timeout=60_000) as done:
            box.download_button.click()
    assert done.args == [Path(model.file).stem]
    assert (hub.ranges[-1] is not None) == (kept > 0)  # what was kept is not fetched again
    assert (mnemo.folder / "models" / model.file).read_bytes() == content
    assert dialog.page(ModelsPage).chat.currentText() == Path(model.file).stem


def test_choosing_another_chat_model_answers_the_next_question_with_it(
    mnemo, qtbot, tmp_path: Path
) -> None:
    from PySide6.QtCore import Qt

    from core.llm import bundled

    own = tmp_path / "my-own-model.gguf"  # a GGUF file of the user's (the bundled one, renamed)
    os.link(bundled.chat_model(mnemo.folder / "models").resolve(), own)
    mnemo.host.engine.models.add(own)
    dialog = open_settings(mnemo, qtbot)
    models = dialog.page(ModelsPage)
    assert models.chat.findText("my-own-model") >= 0
    models.chat.setCurrentText("my-own-model")
    apply(dialog, qtbot)
    dialog.close()
    assert saved(mnemo)["models"]["chat"] == "my-own-model"
    assert mnemo.host.chat_model.service.name == "my-own-model"
    chat = mnemo.window.chat
    with qtbot.waitSignal(chat.answered, timeout=240_000) as answered:
        qtbot.keyClicks(chat.input, "Say hello")
        qtbot.keyClick(chat.input, Qt.Key.Key_Return)
    assert answered.args[0].text.strip()
    # A model this small answers extractively (agents/answer.py): ask it directly that the new
    # file loads and generates.
    assert mnemo.host.chat_model.complete([{"role": "user", "content": "Hi"}], max_tokens=4)
    assert mnemo.host.chat_model.service.loaded
