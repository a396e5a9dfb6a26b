"""The `human` core block goes into every prompt and to other tools verbatim: the user-learning
rule never quotes a sentence holding a code-like number (a PIN, an unlock or door code, account
or card digits, a phone number), and ordinary facts with numbers (a year, a count) stay
(issue 20, review item 8)."""

import json
from datetime import UTC, datetime

import pytest

from agents import about
from agents.team import Batch, MemoryTeam
from core.memory.models import Source, SourceKind
from core.store.memories import MemoryStore
from tests.standins import ScriptedChat

NINE = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)

CODES = [
    "My wife's phone unlock code is 4471",
    "My wife's phone unlock code is 4471 and she changes it every year.",
    "The door code at my mom's flat is 1 9 7 3, easy to forget.",
    "My bank PIN is 0815 and I always forget it.",
    "I always use 902184 for the garage door.",
    "My locker combination is 12-34-56 at the gym every week.",
    "My sister's number is 555 0199 if you need her.",
    "My card number ends in 7731 and I love that card.",
    "My brother's passcode is 1975, he is a big fan of that year.",
]
FACTS = [
    "I was born in 1985 in a small town near Porto.",
    "I have 2 kids and they love the beach.",
    "My daughter turned 7 in March and loves drawing.",
    "I worked at Siemens from 2015-2019 as an engineer.",
    "We go to the lake every 3 weeks with my brother.",
]


@pytest.mark.parametrize("sentence", CODES)
def test_a_sentence_holding_a_code_is_never_quoted(sentence: str) -> None:
    assert about.holds_code(sentence)
    assert about.stable_facts([said(sentence)]) == []


@pytest.mark.parametrize("sentence", FACTS)
def test_ordinary_facts_with_numbers_are_still_learnt(sentence: str) -> None:
    assert not about.holds_code(sentence)
    assert [found for found, _ in about.stable_facts([said(sentence)])] == [sentence]


def test_the_unlock_code_of_the_review_never_reaches_the_human_block(store: MemoryStore) -> None:
    lines = store.add_sources(
        [
            said("My wife's phone unlock code is 4471 and she never changes it."),
            said("I was born in 1985 and I grew up near the sea."),
        ]
    )
    chat = ScriptedChat({})
    chat.small = True  # the extractive path, where the rule writes the block
    MemoryTeam(store, chat).process(Batch(lines))
    block = store.core_block("human").value
    assert "4471" not in block
    assert "“I was born in 1985 and I grew up near the sea.”" in block


def test_the_core_manager_may_not_append_a_code_either(store: MemoryStore) -> None:
    (line,) = store.add_sources([said("My wife's phone unlock code is 4471, she told me.")])
    chat = ScriptedChat(
        {
            "Routing": [json.dumps({"topics": ["phone"], "managers": ["core"]})],
            "CoreAnswer": [
                json.dumps(
                    {
                        "items": [
                            {
                                "block": "human",
                                "op": "append",
                                "text": "Wife's phone unlock code is 4471",
                                "sources": [1],
                            }
                        ]
                    }
                )
            ],
        }
    )
    report = MemoryTeam(store, chat).process(Batch([line]))
    assert report.refused == {"code-like number": 1}
    assert "4471" not in store.core_block("human").value


def said(text: str) -> Source:
    return Source(kind=SourceKind.CHAT, occurred_at=NINE, text=text, actor="user")
