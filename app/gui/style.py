"""Light and dark palettes that follow the system, readable type, and the few styles the
views' object names ask for (message cards, citation chips, the navigation)."""

from PySide6.QtCore import Qt
from PySide6.QtGui import QColor, QFont, QGuiApplication, QPalette
from PySide6.QtWidgets import QApplication

LIGHT = {
    "window": "#f6f7f9",
    "base": "#ffffff",
    "text": "#1d2330",
    "muted": "#667085",
    "accent": "#4f5bd5",
    "card": "#ffffff",
    "user": "#e8ebfb",
    "line": "#e3e6ec",
    "nav": "#eef0f4",
}
DARK = {
    "window": "#1b1e24",
    "base": "#22262e",
    "text": "#e6e8ee",
    "muted": "#9aa3b2",
    "accent": "#8b93ff",
    "card": "#262a33",
    "user": "#2f3550",
    "line": "#343a46",
    "nav": "#16181d",
}


def is_dark() -> bool:
    hints = QGuiApplication.styleHints()
    return hints.colorScheme() == Qt.ColorScheme.Dark


def apply_style(app: QApplication) -> None:
    app.setStyle("Fusion")
    colors = DARK if is_dark() else LIGHT
    palette = QPalette()
    role = QPalette.ColorRole
    for name, key in (
        (role.Window, "window"),
        (role.Base, "base"),
        (role.AlternateBase, "window"),
        (role.Button, "base"),
        (role.WindowText, "text"),
        (role.Text, "text"),
        (role.ButtonText, "text"),
        (role.ToolTipBase, "base"),
        (role.ToolTipText, "text"),
        (role.Highlight, "accent"),
        (role.PlaceholderText, "muted"),
    ):
        palette.setColor(name, QColor(colors[key]))
    palette.setColor(role.HighlightedText, QColor("#ffffff"))
    app.setPalette(palette)
    font = QFont(app.font())
    font.setPointSizeF(max(font.pointSizeF(), 10.5))
    app.setFont(font)
    app.setStyleSheet(STYLE.format(**colors))


STYLE = """
#side {{ background: {nav}; border-right: 1px solid {line}; }}
#nav {{ background: {nav}; border: none; padding-top: 12px; }}
#navButton {{ padding: 6px 12px; }}
#nav::item {{ padding: 6px 12px; border-radius: 8px; margin: 2px 8px; color: {text}; }}
#nav::item:selected {{ background: {user}; color: {text}; }}
#transcript {{ background: {window}; }}
#answerCard, #welcomeCard {{ background: {card}; border: 1px solid {line}; border-radius: 12px; }}
#userCard {{ background: {user}; border: none; border-radius: 12px; }}
#messageText {{ background: transparent; border: none; }}
#welcomeCard QLabel, #welcomeCard #messageText {{ color: {muted}; }}
#who {{ font-weight: 600; color: {muted}; }}
#note, #chatStatus {{ color: {muted}; }}
#chip {{ background: {window}; border: 1px solid {line}; border-radius: 10px; padding: 3px 8px; }}
#chip:hover {{ border-color: {accent}; }}
QPlainTextEdit {{
    border: 1px solid {line}; border-radius: 10px; padding: 6px; background: {base};
}}
QPlainTextEdit:focus {{ border-color: {accent}; }}
QPushButton {{
    padding: 6px 14px; border-radius: 8px; border: 1px solid {line}; background: {base};
}}
QPushButton:default {{ background: {accent}; color: white; border: none; }}
QPushButton:checked {{ background: {user}; border-color: {accent}; }}
QPushButton:disabled {{ color: {muted}; }}
QStatusBar {{ border-top: 1px solid {line}; }}
"""
