"""Which windows must never be recorded: password managers, private browser windows, Mnemo's
own windows (the defaults, in resources/exclusions.toml) and the user's rules by app, title
pattern and web domain.

The check runs on every visible window before a frame is kept, not only on the focused one: a
password manager beside the editor is on the screenshot too. What the pipeline does with a hit
is its business (mask the window or drop the frame); this module only decides.
"""

import os
import re
import tomllib
from collections.abc import Iterable
from dataclasses import dataclass
from importlib import resources
from urllib.parse import urlsplit

from core.capture.desktop import Window
from core.errors import InvalidInput


@dataclass(frozen=True)
class Exclusions:
    apps: frozenset[str]
    titles: tuple[re.Pattern[str], ...]
    domains: frozenset[str]
    own_pid: int | None = None

    @classmethod
    def make(
        cls,
        *,
        apps: Iterable[str] = (),
        title_patterns: Iterable[str] = (),
        domains: Iterable[str] = (),
        use_defaults: bool = True,
        own_pid: int | None = None,
    ) -> "Exclusions":
        """Rules from the user's lists plus (unless turned off) the defaults. A bad title
        pattern is an error naming it, never a rule silently ignored."""
        apps, title_patterns, domains = list(apps), list(title_patterns), list(domains)
        if use_defaults:
            defaults = _defaults()
            apps += defaults.get("apps", [])
            title_patterns += defaults.get("title_patterns", [])
            domains += defaults.get("domains", [])
        compiled = []
        for pattern in title_patterns:
            try:
                compiled.append(re.compile(pattern, re.IGNORECASE))
            except re.error as exc:
                raise InvalidInput(
                    f"exclusion title pattern {pattern!r} is invalid: {exc}"
                ) from exc
        return cls(
            apps=frozenset(a.strip().lower() for a in apps if a.strip()),
            titles=tuple(compiled),
            domains=frozenset(d.strip().lower().lstrip(".") for d in domains if d.strip()),
            own_pid=os.getpid() if own_pid is None else own_pid,
        )

    def reason(self, window: Window) -> str | None:
        """Why `window` is excluded (the rule, never the window's title, since that is what the
        user wants kept out of the logs too), or None."""
        if window.pid and window.pid == self.own_pid:
            return "Mnemo's own window"
        if window.app.lower() in self.apps:
            return f"app {window.app.lower()}"
        for pattern in self.titles:
            if pattern.search(window.title):
                return f"title pattern {pattern.pattern}"
        url = window.url
        if url and self.domains:
            host = (urlsplit(url).hostname or "").lower()
            for domain in self.domains:
                if host == domain or host.endswith("." + domain):
                    return f"domain {domain}"
        return None


def _defaults() -> dict[str, list[str]]:
    text = resources.files("resources").joinpath("exclusions.toml").read_text("utf-8")
    return tomllib.loads(text)
