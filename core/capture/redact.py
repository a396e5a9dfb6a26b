"""Redaction of secrets and personal data, before any text is stored or shown to a model.

Screens show secrets: API keys in terminals, tokens in browser dev tools, card numbers in
checkout forms. Everything OCR reads passes through `redact()` first, and only its output is
kept. Each finding is replaced by a marker naming its kind ("[redacted: api key]"), so the
memory still says that a key was on screen, never the key.

The rules are in two modules: secrets known by their shape (redact_shapes: private keys,
vendors' tokens, credentials in URLs and command lines, cards, IBANs) and by their name
(redact_names: NAME=value in every form, labels, set_password(…, "…")). Each runs only on
texts that hold what it cannot match without (redact_scan), since most text holds no secret.

tests/redaction_corpus.py holds the secrets these rules must catch (cloud keys, .env files,
connection strings, every case and assignment form of NAME=value) and look-alikes they must
leave alone (commit hashes, UUIDs, code that names a secret without holding one);
`python -m bench.redaction` measures them beside detect-secrets, and how fast redact() is.
"""

from collections import Counter
from dataclasses import dataclass, field

from core.capture import redact_names, redact_shapes
from core.capture.redact_scan import Rules


@dataclass
class Redacted:
    text: str
    found: Counter[str] = field(default_factory=Counter)  # kind -> count


# In the order they run: each sees the markers of those before it (a name's value that a
# vendor's pattern already replaced is not counted twice). Emails and phones only on request.
_SECRETS = [*redact_shapes.SECRETS, *redact_names.STEPS, *redact_shapes.NUMBERS]
_RULES = {
    (emails, phones): Rules(
        _SECRETS
        + ([redact_shapes.EMAILS] if emails else [])
        + ([redact_shapes.PHONES] if phones else [])
    )
    for emails in (False, True)
    for phones in (False, True)
}

# What redact() also removes when its caller does not say: the privacy settings, set once for
# the process by the engine (every input passes through redact(), from many places).
_personal = {"emails": False, "phones": False}


def configure(*, emails: bool, phones: bool) -> None:
    """Also redact email addresses and/or phone numbers from now on (settings' privacy)."""
    _personal.update(emails=emails, phones=phones)


def redact(text: str, *, emails: bool | None = None, phones: bool | None = None) -> Redacted:
    """`text` with secrets replaced by markers, and what was found. Emails and phone numbers
    are personal data rather than secrets: redacted only when asked (a setting)."""
    emails = _personal["emails"] if emails is None else emails
    phones = _personal["phones"] if phones is None else phones
    found: Counter[str] = Counter()
    return Redacted(_RULES[emails, phones].apply(text, found), found)
