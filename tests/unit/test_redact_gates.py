"""redact()'s shortcuts change nothing it finds (core/capture/redact_scan.py): a rule that its
gate keeps from running could have matched nothing, a rule that searches only some lines finds
what a search of the whole text finds, and the words' fast patterns match what the plain ones
match. Each is compared with the rules run with every gate open on the corpus, on look-alikes
and on texts spliced from them (seeded: the same texts every run)."""

import dataclasses
import random
import re

import pytest

from core.capture import redact as redaction
from core.capture import redact_names, redact_words
from core.capture.redact_scan import Literals, Rules, Step
from tests.redaction_corpus import cases, look_alikes

# What the gates key on, and what would fool a gate that folds case carelessly ("ſ" is an s
# and "K" a k to a case-insensitive pattern; "İ" is two characters in lower case).
PIECES = [
    *"password PASSWORD Pass pw PW token Token secret api_key apiKey key KEY auth".split(),
    *"salt sig sid session_id recovery_codes kennwort contraseña mot de passe hasło".split(),
    *["\n", "\n\n", " ", "  ", "\t", ":", "=", '"', "'", ",", "(", ")", ".", "-", "_", "is "],
    *[" to ", "value", "name: ", "set_password(", "login(", "ſecret", "İ", "K", "ı", "K"],
    *["PRIVATE KEY", "-----", "ASIA", "sk-", "==", "@", "://", "1234", "4111 1111 1111 1111"],
    *["DE89370400440532013000", "pin: ", "  - name: DB_PASSWORD\n", "<password>", "</password>"],
    *["define('DB_PASSWORD', ", ".password(", "Client secret   ", "auth=(", "Authorization: "],
]


def _spliced(count: int, seed: int) -> list[str]:
    rng = random.Random(seed)
    texts = [c.text for c in cases()] + look_alikes()
    out = []
    for _ in range(count):
        parts = []
        for _ in range(rng.randint(1, 12)):
            if rng.random() < 0.5:
                parts.append(rng.choice(PIECES))
            else:
                text = rng.choice(texts)
                start = rng.randrange(len(text))
                parts.append(text[start : start + rng.randint(1, 80)])
        out.append("".join(parts))
    return out


TEXTS = [c.text for c in cases()] + look_alikes() + _spliced(1500, seed=20)


@pytest.mark.parametrize(("emails", "phones"), [(False, False), (True, True)])
def test_gates_and_lines_change_nothing(emails: bool, phones: bool) -> None:
    rules = redaction._RULES[emails, phones]
    # Every rule runs, and searches the whole text.
    everything = Rules(rules._steps, gated=False)
    for text in TEXTS:
        found, found_all = redaction.Counter[str](), redaction.Counter[str]()
        assert everything.apply(text, found_all) == rules.apply(text, found), text
        assert found_all == found, text


def test_the_shortcuts_are_taken() -> None:
    """The comparison above compares something: on a text with no secret-like word, the rules
    about names do not run (a run would find no line to search)."""
    rules = redaction._RULES[False, False]
    ran = []
    steps = [
        dataclasses.replace(step, run=lambda scan, found, i=i: ran.append(i) or scan.text)
        for i, step in enumerate(rules._steps)
    ]
    Rules(steps).apply("The meeting moved to 14:30; room 4.12.", redaction.Counter())
    assert ran == []
    Rules(steps).apply("DB_PASSWORD=hunter2xyz", redaction.Counter())
    assert ran


@pytest.mark.parametrize(
    ("fast", "plain"),
    [
        (redact_words.KEYWORD, redact_words.KEYWORD_PLAIN),
        (redact_words.PASSWORD_WORDS, redact_words.PASSWORD_WORDS_PLAIN),
        (redact_words.SECRET_WORDS, redact_words.SECRET_WORDS_PLAIN),
    ],
)
def test_the_fast_words_match_what_the_plain_ones_match(fast: str, plain: str) -> None:
    fast_re, plain_re = re.compile(fast), re.compile(plain)
    assert fast != plain
    for text in TEXTS[-600:] + [p + q for p in PIECES for q in PIECES[:12]]:
        for pos in range(len(text) + 1):
            a, b = fast_re.match(text, pos), plain_re.match(text, pos)
            assert (a and a.end()) == (b and b.end()), (text, pos)


def test_a_name_about_a_secret_is_told_as_the_plain_pattern_tells_it() -> None:
    """_about_a_secret() looks for its words only at the end of a name, case-insensitively with
    the words spelled out: it answers what the one plain pattern answered."""
    words = redact_names._ABOUT_A_SECRET
    plain = re.compile(
        rf"(?:^|[_.\- ]|(?<=[a-z])(?=[A-Z]))(?i:{'|'.join(words)})$|(?i:public|publishable)"
    )
    rng = random.Random(3)
    parts = [*words, "public", "PUBLIC", "Url", "URIS", "_", ".", "-", " ", "x", "aB", "ſtr", "K"]
    parts += ["İ", "Key", "\n", "password", "a" * 12]
    for _ in range(20_000):
        name = "".join(rng.choice(parts) for _ in range(rng.randint(1, 6)))
        name = rng.choice([name, name.upper(), name.capitalize()])
        assert redact_names._about_a_secret(name) == bool(plain.search(name)), name


def test_literals_are_found_wherever_they_overlap() -> None:
    words = ["key", "key-", "sk-", "ask", "secret", "secret_", "t_x", "(", "=="]
    literals = Literals({word: 1 << i for i, word in enumerate(words)})

    def present(text: str) -> set[str]:
        flags = literals.flags(text)
        return {word for i, word in enumerate(words) if flags >> i & 1}

    assert present("task-x secret_x") == {"ask", "sk-", "secret", "secret_", "t_x"}
    assert present("keysk-") == {"key", "sk-"}
    assert present("f(a == b)") == {"(", "=="}


def test_a_gate_string_may_not_hold_a_bracket() -> None:
    """Markers start with "[" and end with "]": a changed text is not searched again for the
    gate strings only because none holds either."""
    with pytest.raises(ValueError, match="bracket"):
        Rules([Step(lambda scan, found: scan.text, literals=frozenset({"key]"}))])
