"""What other tools may see and do, as the user's settings say now.

The server runs for days under a client (Claude Desktop starts it and keeps it), while the user
changes the settings in the app: settings.toml is read again whenever it changed, which costs
one stat() a call. Redaction of emails and phone numbers follows it too, since a tool's words
are kept and filed like the user's own.

What a tool is shown follows the vault rules: nothing of a high-sensitivity item, not even the
lines it was filed from; other vault values, and their lines, only when the user shares them;
the text kept from the screen only when the user allows it.
"""

import logging
import os
import threading
from dataclasses import dataclass
from pathlib import Path

from agents.about import SAME_SHARE, unquote
from agents.gate import content_words
from core.capture.redact import configure, redact
from core.errors import MnemoError
from core.memory.models import CoreBlock, Source, SourceKind
from core.settings import FILENAME, Settings
from core.store.memories import MemoryStore

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Rules:
    """The user's choices for other tools; the defaults are the choices of a new user."""

    share_vault: bool = False
    allow_writes: bool = False
    screen_text: bool = False

    @property
    def source_kinds(self) -> list[SourceKind] | None:
        """The kinds of kept input a tool may search (None: every kind)."""
        return None if self.screen_text else [k for k in SourceKind if k != SourceKind.CAPTURE]

    def may_see(self, source: Source, hidden: set[str]) -> bool:
        """Whether a tool may read this input; `hidden` is `hidden_sources()`."""
        return source.id not in hidden and (self.screen_text or source.kind != SourceKind.CAPTURE)


# A settings file that cannot be read shares nothing, and redacts all it can.
BROKEN = Rules()


class LiveRules:
    """The rules as settings.toml says now, read again when the file changed."""

    def __init__(self, folder: Path) -> None:
        self.path = Path(folder) / FILENAME
        self._lock = threading.Lock()
        self._seen: tuple[tuple[int, int, int] | None, Rules] | None = None

    def __call__(self) -> Rules:
        try:
            info = os.stat(self.path)
            stamp: tuple[int, int, int] | None = (info.st_ino, info.st_mtime_ns, info.st_size)
        except OSError:
            stamp = None  # no file: the defaults
        with self._lock:
            if self._seen is None or self._seen[0] != stamp:
                self._seen = (stamp, self._load())
            return self._seen[1]

    def _load(self) -> Rules:
        try:
            settings = Settings.load(self.path.parent)
        except (MnemoError, ValueError, OSError) as exc:
            log.warning("other tools get nothing the settings would have to allow: %s", exc)
            configure(emails=True, phones=True)
            return BROKEN
        configure(emails=settings.privacy.redact_emails, phones=settings.privacy.redact_phones)
        serve = settings.serve
        return Rules(
            share_vault=serve.share_vault_values,
            allow_writes=serve.allow_writes,
            screen_text=serve.share_screen_text,
        )


def hidden_sources(store: MemoryStore, rules: Rules) -> set[str]:
    """The inputs vault items were filed from, which may spell out their values: those of
    high-sensitivity items always, the others' unless vault values are shared."""
    return store.vault_sources(high_only=rules.share_vault)


def served_block(store: MemoryStore, block: CoreBlock, rules: Rules) -> str:
    """A core block's text as a tool may read it: without the lines that came from an input a
    vault item was filed from (a block line holds no value of its own to withhold, so a line
    that says mostly what such an input says goes), and redacted as settings say now."""
    hidden = hidden_sources(store, rules)
    secret = [content_words(s.text) for s in store.sources_of(block.id) if s.id in hidden]
    lines = [line for line in block.value.splitlines() if not _said_in(line, secret)]
    return redact("\n".join(lines)).text


def _said_in(line: str, inputs: list[set[str]]) -> bool:
    words = content_words(unquote(line))
    return bool(words) and any(len(words & said) >= SAME_SHARE * len(words) for said in inputs)
