"""Redaction against a corpus of real secret formats (tests/redaction_corpus.py): every secret
goes, whole and in pieces, and every look-alike (commit hashes, UUIDs, order numbers, code that
names a secret) comes through unchanged. bench/redaction.py measures the same corpus beside
detect-secrets."""

import pytest

from core.capture.redact import redact
from tests.redaction_corpus import Case, cases, look_alikes

CASES = cases()
LOOK_ALIKES = look_alikes()


def test_the_corpus_is_broad() -> None:
    assert len(CASES) >= 300
    assert len({case.text for case in CASES}) == len(CASES)
    assert len(LOOK_ALIKES) >= 50


@pytest.mark.parametrize("case", CASES, ids=[f"{i:03d}-{c.kind}" for i, c in enumerate(CASES)])
def test_every_secret_is_redacted(case: Case) -> None:
    assert case.secret in case.text  # the case is well formed
    out = redact(case.text).text
    assert case.secret not in out
    # Nor any eight characters of it: a rule that stops short leaks the rest.
    width = min(8, len(case.secret))
    pieces = {case.secret[i : i + width] for i in range(len(case.secret) - width + 1)}
    assert not [piece for piece in pieces if piece in out], out
    # Stored text is redacted again when it is read (agents/screen.py): markers stay as they are.
    assert redact(out).text == out


@pytest.mark.parametrize("text", LOOK_ALIKES)
def test_look_alikes_come_through_unchanged(text: str) -> None:
    result = redact(text)
    assert result.text == text and not result.found
