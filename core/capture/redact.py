"""Redaction of secrets and personal data, before any text is stored or shown to a model.

Screens show secrets: API keys in terminals, tokens in browser dev tools, card numbers in
checkout forms. Everything OCR reads passes through `redact()` first, and only its output is
kept. Each finding is replaced by a marker naming its kind ("[redacted: api key]"), so the
memory still says that a key was on screen, never the key.

Patterns are specific on purpose: a false positive loses a few harmless characters, a miss
keeps a secret forever. Numbers are validated (Luhn for cards, mod-97 for IBANs) so that order
numbers and timestamps survive.
"""

import re
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field


@dataclass
class Redacted:
    text: str
    found: Counter[str] = field(default_factory=Counter)  # kind -> count


def _luhn(digits: str) -> bool:
    total = 0
    for i, char in enumerate(reversed(digits)):
        n = int(char)
        if i % 2:
            n = n * 2 - 9 if n > 4 else n * 2
        total += n
    return total % 10 == 0


def _iban_valid(text: str) -> bool:
    compact = text.replace(" ", "").upper()
    if not 15 <= len(compact) <= 34:
        return False
    moved = compact[4:] + compact[:4]
    number = "".join(str(int(c, 36)) for c in moved)
    return int(number) % 97 == 1


_PRIVATE_KEY = re.compile(
    r"-----BEGIN (?:[A-Z0-9]+ )*PRIVATE KEY(?: BLOCK)?-----.*?"
    r"(?:-----END (?:[A-Z0-9]+ )*PRIVATE KEY(?: BLOCK)?-----|\Z)",
    re.S,
)
_JWT = re.compile(r"\beyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}")
_TOKENS = re.compile(
    r"\b(?:"
    r"AKIA[0-9A-Z]{16}"  # AWS access key id
    r"|gh[pousr]_[A-Za-z0-9]{30,}"  # GitHub
    r"|github_pat_[A-Za-z0-9_]{40,}"
    r"|sk-(?:proj-|ant-)?[A-Za-z0-9_-]{20,}"  # OpenAI, Anthropic
    r"|xox[abposr]-[A-Za-z0-9-]{10,}"  # Slack
    r"|AIza[0-9A-Za-z_-]{35}"  # Google
    r"|(?:sk|pk|rk)_(?:live|test)_[0-9A-Za-z]{16,}"  # Stripe
    r"|hf_[A-Za-z0-9]{30,}"  # Hugging Face
    r"|glpat-[A-Za-z0-9_-]{20,}"  # GitLab
    r"|npm_[A-Za-z0-9]{36}"
    r")"
)
_BEARER = re.compile(r"(?i)\b(bearer\s+)([A-Za-z0-9._~+/-]{16,}=*)")
# A name that holds a secret-like word anywhere ("AWS_SECRET_ACCESS_KEY", "db.auth_token",
# "stripeApiKey"), assigned a long value. "_" is a word character, so a \b before the word
# missed every name that has a prefix (found: an AWS secret key stored from a terminal).
_ASSIGNED = re.compile(
    r"(?i)((?<![\w.-])[\w.-]*?"
    r"(?:api[_ -]?key|secret|access[_ -]?key|access[_ -]?token|auth[_ -]?token|token"
    r"|private[_ -]?key|credentials?)"
    r"[\w.-]*[\"']?\s*[:=]\s*[\"']?)([A-Za-z0-9/+_.=-]{12,})"
)
# Preceded by anything but a letter, so "db_pwd=" counts; a value that starts like a UI's
# mask or placeholder ("••••", "(hidden)") is not a password.
_PASSWORD = re.compile(
    r"(?i)(?<![a-z])((?:password|passwd|passphrase|pwd|passcode|pin)[\"']?\s*(?:[:=]|\bis\b)"
    r"\s*[\"']?)([^\s\"'(\[*•][^\s\"']{2,})"
)
_CARD = re.compile(r"\b(?:\d[ -]?){12,18}\d\b")
_IBAN = re.compile(r"\b[A-Z]{2}\d{2}(?: ?[A-Z0-9]{4}){2,7}(?: ?[A-Z0-9]{1,4})?\b")
_EMAIL = re.compile(r"\b[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}\b")
_PHONE = re.compile(r"(?<![\w+])\+?\d{1,3}?[ .-]?\(?\d{2,4}\)?(?:[ .-]?\d{2,4}){2,4}(?!\w)")


def _marker(kind: str) -> str:
    return f"[redacted: {kind}]"


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

    def whole(kind: str, check: Callable[[str], bool] | None = None) -> Callable:
        def replace(match: re.Match[str]) -> str:
            if check is not None and not check(match.group(0)):
                return match.group(0)
            found[kind] += 1
            return _marker(kind)

        return replace

    def value(kind: str) -> Callable:
        def replace(match: re.Match[str]) -> str:
            found[kind] += 1
            return match.group(1) + _marker(kind)

        return replace

    text = _PRIVATE_KEY.sub(whole("private key"), text)
    text = _JWT.sub(whole("token"), text)
    text = _TOKENS.sub(whole("api key"), text)
    text = _BEARER.sub(value("token"), text)
    text = _ASSIGNED.sub(value("secret"), text)
    text = _PASSWORD.sub(value("password"), text)
    text = _IBAN.sub(whole("iban", _iban_valid), text)
    text = _CARD.sub(whole("card number", lambda m: _luhn(re.sub(r"\D", "", m))), text)
    if emails:
        text = _EMAIL.sub(whole("email"), text)
    if phones:
        text = _PHONE.sub(whole("phone", lambda m: 8 <= len(re.sub(r"\D", "", m)) <= 15), text)
    return Redacted(text, found)
