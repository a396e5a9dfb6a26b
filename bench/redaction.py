"""Redaction measured on a corpus of real secret formats, beside detect-secrets.

    python -m bench.redaction

The corpus is tests/redaction_corpus.py: secrets as screens show them (cloud keys, .env files,
connection strings, headers, every case and assignment form of NAME=value, PEM keys, cards,
IBANs) and look-alikes that must come through unchanged (commit hashes, UUIDs, order numbers,
code that names a secret without holding one). For each case:

- redact() misses when the secret survives in its output (and, stricter, when any 8 characters
  of it do: a partial leak);
- detect-secrets misses when none of its plugins finds anything in the case's text, scanned
  line by line with `detect_secrets.core.scan.scan_line` under `transient_settings` with every
  plugin it ships (KeywordDetector, Base64HighEntropyString, HexHighEntropyString, the vendor
  patterns) and its default filters. In an ad-hoc scan the entropy plugins return every token
  with its entropy, unfiltered; a token counts as found only when the plugin's own verdict says
  so (`format_scan_result`, what `detect-secrets scan --string` prints as True).

A false positive is a look-alike that redact() changes, or in which detect-secrets finds
anything.

Speed is measured twice. redaction_ms_per_mb is over the corpus itself: some 470 texts of a
hundred characters or so, nearly all holding a secret, so what a call costs weighs as much as
what a character does. redaction_ms_per_mb_screens is over a megabyte of what the capture pipeline
redacts (`screens()`): batches of 0.5-4 KB of code, terminal output, logs, prose and chat, one
in four with a case of the corpus inside.

detect-secrets is a comparison here, not a dependency of the app (install it with the dev
tools: `pip install detect-secrets==1.5.0`), for reasons this benchmark shows:
- it says that a line holds a secret, not where to cut: a finding carries a value, no offsets,
  and a private key's finding is only its header ("BEGIN RSA PRIVATE KEY"), so the key's body
  could not be removed from what it reports (detect_secrets_uncovered counts the cases it flags
  but whose secret none of its findings holds);
- on a line with no file name (what OCR gives) its KeywordDetector takes only quoted values:
  DB_PASSWORD=hunter2xyz is no finding, DB_PASSWORD="hunter2xyz" is;
- its entropy plugins are noisy on screen text: commit hashes, sha256 digests, the tail of a
  UUID and SSH public keys are "high entropy strings" (detect_secrets_false_positives);
- it is slower per megabyte (the *_ms_per_mb figures), keeps its settings in a process-wide
  singleton that every scan_line() call changes (redact() runs on several threads), and its
  plugins import requests, which the app does not otherwise need.
Where it found secrets that the patterns missed, the patterns were fixed; both_miss and
redaction_misses are the figures to keep at 0.

Prints a table, then one JSON line.
"""

import random
import time
from collections import Counter
from typing import Any

from bench.report import report
from core.capture.redact import redact
from tests.redaction_corpus import Case, cases, look_alikes

PIECE = 8  # characters of a secret that count as a leak when they survive

_WORDS = (
    "the a to of and in is it for on that with as was this be at by not are from have we or "
    "can will if you all your more when about which one so what there up out so no time just "
    "memory search window note meeting review release build test deploy user data file page "
    "server client model index query result value config update change error report"
).split()
_NAMES = "user items path config result count name value data index self cache line".split()


def _screen_line(rng: random.Random) -> str:
    """A line of what a screen shows: code, a terminal, a log, prose or chat."""
    word, name = rng.choice(_WORDS), rng.choice(_NAMES)
    kind = rng.randrange(8)
    if kind == 0:
        return f"    {name} = {rng.choice(_NAMES)}.get({word!r}, {rng.randint(0, 99)})"
    if kind == 1:
        return f"def {word}_{name}(self, {name}: str) -> list[str]:"
    if kind == 2:
        return f"        if not {name}:\n            return []"
    if kind == 3:
        size, day = rng.randint(100, 99999), rng.randint(1, 28)
        return f"-rw-r--r--  1 ana staff {size:>6} Jun {day:2d} 10:{day:02d} {word}_{name}.py"
    if kind == 4:
        return (
            f"2024-06-{rng.randint(1, 28):02d}T10:{rng.randint(0, 59):02d}:12Z INFO {word} "
            f"{name}={rng.randint(1, 9999)} took {rng.randint(1, 900)}ms"
        )
    if kind == 5:
        return f"ana: can you {word} the {name} before the {rng.choice(_WORDS)} review?"
    words = [rng.choice(_WORDS) for _ in range(rng.randint(6, 16))]
    return " ".join(words).capitalize() + "."


def screens(size: int = 1_000_000, seed: int = 5) -> list[str]:
    """About `size` characters of text as capture batches (0.5-4 KB each), one in four with a
    case of the corpus inside: what redact() is given while Mnemo runs."""
    rng = random.Random(seed)
    corpus = [case.text for case in cases()] + look_alikes()
    out, total = [], 0
    while total < size:
        lines, length = [], rng.randint(500, 4000)
        while sum(map(len, lines)) < length:
            lines.append(_screen_line(rng))
        if rng.random() < 0.25:
            lines.insert(rng.randrange(len(lines)), rng.choice(corpus))
        out.append("\n".join(lines))
        total += len(out[-1])
    return out


def _leaks(secret: str, text: str) -> bool:
    """Any PIECE characters of `secret` (all of it, if shorter) still in `text`."""
    width = min(PIECE, len(secret))
    return any(secret[i : i + width] in text for i in range(len(secret) - width + 1))


def _detect_secrets_scanner() -> Any:
    """A function from a text to what detect-secrets finds in it, line by line, as (type,
    value) pairs; None when detect-secrets is not installed. Call it inside the returned
    settings' context."""
    try:
        from detect_secrets.core import plugins
        from detect_secrets.core.plugins.util import get_mapping_from_secret_type_to_class
        from detect_secrets.core.scan import scan_line
        from detect_secrets.settings import transient_settings
    except ImportError:
        return None
    every_plugin = {
        "plugins_used": [
            {"name": plugin.__name__} for plugin in get_mapping_from_secret_type_to_class().values()
        ]
    }

    def scan(text: str) -> list[tuple[str, str]]:
        found = []
        for line in text.splitlines():
            for secret in scan_line(line):
                plugin = plugins.initialize.from_secret_type(secret.type)
                if plugin.format_scan_result(secret).startswith("True"):
                    found.append((secret.type, secret.secret_value or ""))
        return found

    return transient_settings(every_plugin), scan


def _covers(findings: list[tuple[str, str]], secret: str) -> bool:
    """Whether some finding's value holds the secret (so that it could be cut from the text)."""
    return any(
        secret in value or (len(value) >= PIECE and value in secret) for _, value in findings
    )


def measure() -> dict[str, Any]:
    """The figures: redact() and detect-secrets on the corpus and the look-alikes."""
    corpus, alikes = cases(), look_alikes()
    size_mb = (sum(len(c.text) for c in corpus) + sum(len(t) for t in alikes)) / 1e6

    start = time.perf_counter()
    ours = [redact(case.text).text for case in corpus]
    kept = [redact(text).text for text in alikes]
    ours_s = time.perf_counter() - start
    missed = [case for case, out in zip(corpus, ours, strict=True) if case.secret in out]
    partial = [
        case
        for case, out in zip(corpus, ours, strict=True)
        if case.secret not in out and _leaks(case.secret, out)
    ]
    changed = [text for text, out in zip(alikes, kept, strict=True) if out != text]
    not_idempotent = [out for out in ours if redact(out).text != out]
    batches = screens()
    start = time.perf_counter()
    for text in batches:
        redact(text)
    screens_s = time.perf_counter() - start

    figures: dict[str, Any] = {
        "redaction_corpus_cases": len(corpus),
        "redaction_look_alikes": len(alikes),
        "redaction_misses": len(missed),
        "redaction_partial_leaks": len(partial),
        "redaction_false_positives": len(changed),
        "redaction_not_idempotent": len(not_idempotent),
        "redaction_ms_per_mb": round(ours_s * 1000 / size_mb),
        "redaction_ms_per_mb_screens": round(screens_s * 1000 / (sum(map(len, batches)) / 1e6)),
        "redaction_missed_kinds": dict(Counter(case.kind for case in missed + partial)),
    }

    scanner = _detect_secrets_scanner()
    if scanner is None:
        figures.update(
            detect_secrets_misses=None,
            detect_secrets_false_positives=None,
            both_miss=None,
            detect_secrets_uncovered=None,
        )
        return figures
    settings, scan = scanner
    with settings:
        start = time.perf_counter()
        theirs = [scan(case.text) for case in corpus]
        flagged = [scan(text) for text in alikes]
        theirs_s = time.perf_counter() - start
    their_missed: list[Case] = [c for c, f in zip(corpus, theirs, strict=True) if not f]
    uncovered = [c for c, f in zip(corpus, theirs, strict=True) if f and not _covers(f, c.secret)]
    ours_missed = {id(case) for case in missed + partial}
    figures.update(
        detect_secrets_misses=len(their_missed),
        detect_secrets_false_positives=sum(1 for f in flagged if f),
        both_miss=sum(1 for case in their_missed if id(case) in ours_missed),
        detect_secrets_uncovered=len(uncovered),
        detect_secrets_ms_per_mb=round(theirs_s * 1000 / size_mb),
        detect_secrets_missed_kinds=dict(Counter(case.kind for case in their_missed)),
        detect_secrets_false_positive_types=dict(
            Counter(kind for f in flagged for kind, _ in set(f))
        ),
    )
    return figures


def _rows(figures: dict[str, Any]) -> list[tuple[str, str, str]]:
    cases_n, alikes_n = figures["redaction_corpus_cases"], figures["redaction_look_alikes"]
    rows = [
        ("corpus cases", str(cases_n), "secrets, each in the context a screen shows it in"),
        ("look-alikes", str(alikes_n), "texts with no secret, to come through unchanged"),
        ("redact: misses", str(figures["redaction_misses"]), "the whole secret survives"),
        (
            "redact: partial leaks",
            str(figures["redaction_partial_leaks"]),
            f"{PIECE} chars survive",
        ),
        (
            "redact: false positives",
            str(figures["redaction_false_positives"]),
            "look-alikes changed",
        ),
        ("redact: not idempotent", str(figures["redaction_not_idempotent"]), "redact(redact(x))"),
        ("redact: ms per MB", str(figures["redaction_ms_per_mb"]), "corpus and look-alikes"),
        (
            "redact: ms per MB of screens",
            str(figures["redaction_ms_per_mb_screens"]),
            "capture batches: code, terminal, logs, chat",
        ),
    ]
    if figures["detect_secrets_misses"] is None:
        rows.append(("detect-secrets", "n/a", "not installed: pip install detect-secrets==1.5.0"))
        return rows
    rows += [
        ("detect-secrets: misses", str(figures["detect_secrets_misses"]), "finds nothing"),
        (
            "detect-secrets: uncovered",
            str(figures["detect_secrets_uncovered"]),
            "flags the text, but no finding holds the secret",
        ),
        (
            "detect-secrets: false positives",
            str(figures["detect_secrets_false_positives"]),
            "look-alikes in which it finds something",
        ),
        ("detect-secrets: ms per MB", str(figures["detect_secrets_ms_per_mb"]), "same text"),
        ("both miss", str(figures["both_miss"]), "cases neither catches"),
    ]
    for kind, n in sorted(figures["detect_secrets_missed_kinds"].items(), key=lambda kv: -kv[1]):
        rows.append((f"detect-secrets misses: {kind}", str(n), ""))
    for kind, n in sorted(figures["detect_secrets_false_positive_types"].items()):
        rows.append((f"detect-secrets false positives: {kind}", str(n), ""))
    for kind, n in sorted(figures["redaction_missed_kinds"].items()):
        rows.append((f"redact misses: {kind}", str(n), ""))
    return rows


def main() -> None:
    figures = measure()
    report(_rows(figures), figures)


if __name__ == "__main__":
    main()
