"""The quality gate, on what a small model really wrote (issue 12's "what a new user sees"):
placeholders and schema echoes, a summary that repeats the name, names, numbers and words
from nowhere, impossible dates, and near-duplicates are refused before anything is stored."""

import json
from datetime import UTC, datetime

import pytest

from agents import gate
from agents.team import Batch, MemoryTeam
from core.memory import EpisodicMemory, ResourceMemory, SemanticMemory
from core.memory.models import Source, SourceKind
from core.store.memories import MemoryStore
from tests.standins import ScriptedChat

MAY = datetime(2023, 5, 8, 13, 56, tzinfo=UTC)


def said(text: str, actor: str = "user", when: datetime = MAY) -> Source:
    return Source(id="s1", kind=SourceKind.CHAT, occurred_at=when, text=text, actor=actor)


CI_TALK = said(
    "We are moving our CI from Jenkins to GitHub Actions next sprint; the runners cost less."
)


@pytest.mark.parametrize(
    "memory",
    [
        SemanticMemory(name="memory_name", summary="memory_name"),
        SemanticMemory(name="memory_name_2026-11-30", summary="2026-11-30"),
        SemanticMemory(name="Jenkins", summary="summary"),
    ],
)
def test_placeholders_and_schema_echoes_are_refused(memory: SemanticMemory) -> None:
    verdict = gate.check(memory, [CI_TALK])
    assert verdict is not None and verdict[0] == "placeholder"


def test_a_summary_that_repeats_the_name_is_refused() -> None:
    memory = SemanticMemory(name="GitHub Actions", summary="github actions")
    assert gate.check(memory, [CI_TALK]) == (
        "summary-repeats-name",
        "the summary only repeats the name 'GitHub Actions'",
    )


def test_a_title_from_nowhere_is_refused() -> None:
    """The resource the bundled model titled "The new employee" for the CI conversation."""
    memory = ResourceMemory(title="The new employee", summary="A new employee", content="…")
    rule, reason = gate.check(memory, [CI_TALK]) or ("", "")
    assert rule == "ungrounded" and "words" in reason


@pytest.mark.parametrize(
    ("summary", "why"),
    [
        ("Moving CI from Jenkins to CircleCI", "'circleci'"),
        ("The move to GitHub Actions takes 14 sprints", "number 14"),
    ],
)
def test_names_and_numbers_must_be_in_the_cited_lines(summary: str, why: str) -> None:
    memory = EpisodicMemory(summary=summary, occurred_at=MAY)
    rule, reason = gate.check(memory, [CI_TALK]) or ("", "")
    assert rule == "ungrounded" and why in reason


def test_a_grounded_memory_passes() -> None:
    line = said("I went to an LGBTQ support group yesterday.", actor="Caroline")
    memory = EpisodicMemory(
        summary="Caroline went to an LGBTQ support group", actor="Caroline", occurred_at=MAY
    )
    assert gate.check(memory, [line]) is None
    fact = SemanticMemory(name="CI", summary="The CI moves from Jenkins to GitHub Actions")
    assert gate.check(fact, [CI_TALK]) is None
    # A possessive is its name, both ways.
    birthday = said("My sister Carol's birthday is on 3 March; she loves climbing.")
    kept = EpisodicMemory(summary="My sister Carol's birthday is on 3 March", occurred_at=MAY)
    assert gate.check(kept, [birthday]) is None
    named = EpisodicMemory(summary="Carol loves climbing", occurred_at=MAY)
    assert gate.check(named, [birthday]) is None


def test_an_event_dated_far_from_its_lines_needs_them_to_name_the_year() -> None:
    line = said("I went to the Lisbon conference and gave my talk on search.")
    memory = EpisodicMemory(summary="Gave a talk on search in Lisbon", occurred_at=MAY)
    assert gate.check(memory, [line]) is None
    wrong = memory.model_copy(update={"occurred_at": datetime(1999, 1, 1, tzinfo=UTC)})
    assert gate.check(wrong, [line])[0] == "date"  # type: ignore[index]
    named = said("Back in 1999 I went to the Lisbon conference and gave my talk on search.")
    assert gate.check(wrong, [named]) is None


def test_the_team_stores_nothing_the_gate_refuses_and_counts_why(store: MemoryStore) -> None:
    source = store.add_source(CI_TALK.model_copy(update={"id": ""}))
    routing = json.dumps({"topics": ["ci"], "managers": ["semantic"]})
    junk = {
        "items": [
            {"op": "insert", "name": "memory_name", "summary": "memory_name", "sources": [1]},
            {"op": "insert", "name": "Team", "summary": "The new employee", "sources": [1]},
            {
                "op": "insert",
                "name": "CI move",
                "summary": "The CI moves from Jenkins to GitHub Actions",
                "sources": [1],
            },
        ]
    }
    team = MemoryTeam(
        store, ScriptedChat({"Routing": [routing], "SemanticAnswer": [json.dumps(junk)]})
    )
    report = team.process(Batch([source]))
    assert report.inserted == {"semantic": 1}
    assert report.refused == {"placeholder": 1, "ungrounded": 1}
    names = [m.name for m in store.memories(types=["semantic"])]  # type: ignore[attr-defined]
    assert names == ["CI move"]

    again = MemoryTeam(
        store,
        ScriptedChat(
            {"Routing": [routing], "SemanticAnswer": [json.dumps({"items": [junk["items"][2]]})]}
        ),
    ).process(Batch([source]))
    assert again.inserted == {} and again.refused == {"near-duplicate": 1}
