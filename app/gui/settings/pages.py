"""The settings pages, in the order the dialog shows them: one page per section of
settings.toml, each in a module of its own."""

from app.gui.settings.capture_page import CapturePage
from app.gui.settings.exclusions_page import ExclusionsPage
from app.gui.settings.general_page import GeneralPage
from app.gui.settings.models_page import DownloadBox, ModelsPage
from app.gui.settings.page import Page
from app.gui.settings.privacy_page import PrivacyPage

PAGES = (ModelsPage, CapturePage, ExclusionsPage, PrivacyPage, GeneralPage)

__all__ = [
    "PAGES",
    "CapturePage",
    "DownloadBox",
    "ExclusionsPage",
    "GeneralPage",
    "ModelsPage",
    "Page",
    "PrivacyPage",
]
