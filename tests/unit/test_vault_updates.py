"""Updates by the memory team change only what the model wrote, never lower a sensitivity and
never touch a high-sensitivity item, which no model is shown; and "remember" answers as if a
high-sensitivity item it filed or changed were not there (issue 20, review items 1 and 2).

On a scripted model, whose answers still go through the real schemas and their validation."""

import json
from datetime import UTC, datetime

import pytest

from agents import schemas
from agents.chat import ChatAgent
from agents.team import Batch, MemoryTeam
from core.memory import KnowledgeVaultItem
from core.memory.models import ProceduralMemory, Sensitivity, Source, SourceKind
from core.store.memories import MemoryStore
from tests.standins import ScriptedChat

NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)


def batch(store: MemoryStore, text: str) -> Batch:
    (source,) = store.add_sources(
        [Source(kind=SourceKind.CHAT, occurred_at=NOW, text=text, actor="user")]
    )
    return Batch([source])


def update_of_1(**fields: object) -> str:
    """A manager's answer: one update of the memory shown as #1, naming only `fields`."""
    return json.dumps({"items": [{"op": "update", "target": 1, **fields}]})


def routed(manager: str, answer: str, *more: str) -> dict[str, list[str]]:
    name = "".join(part.title() for part in manager.split("_")) + "Answer"
    return {
        "Routing": [json.dumps({"topics": ["bank"], "managers": [manager]})],
        name: [answer, *more],
    }


def prompts(chat: ScriptedChat) -> str:
    return json.dumps([messages for _, messages in chat.received])


def bank_item(store: MemoryStore, sensitivity: str) -> KnowledgeVaultItem:
    item = store.add(
        KnowledgeVaultItem(
            caption="Bank card PIN",
            entry_type="pin",
            source="bank letter",
            secret_value="7340",
            sensitivity=sensitivity,
        )
    )
    assert isinstance(item, KnowledgeVaultItem)
    return item


@pytest.mark.parametrize("manager", [m for m in schemas.MANAGERS if m != "core"])
def test_the_grammar_lets_an_update_leave_out_what_it_does_not_change(manager: str) -> None:
    """The grammar is made from this JSON schema: an update must name its target and may name
    any other field, so what it leaves out must be no change (the schema's default is none)."""
    spec = schemas.answer_schema(manager, 1).model_json_schema()
    (update,) = [d for name, d in spec["$defs"].items() if name.endswith("Update")]
    assert update["required"] == ["op", "target"]


def test_an_update_naming_only_the_caption_changes_only_the_caption(store: MemoryStore) -> None:
    item = bank_item(store, "low")
    chat = ScriptedChat(routed("knowledge_vault", update_of_1(caption="Bank card PIN (new)")))
    report = MemoryTeam(store, chat).process(batch(store, "The bank card PIN letter came."))
    assert report.updated == 1 and not report.invalid and not report.refused
    after = store.get(item.id, reveal=True)
    assert isinstance(after, KnowledgeVaultItem)
    assert after.caption == "Bank card PIN (new)"
    # The schema's defaults the model left out ("medium", "") are no change.
    assert after.sensitivity == Sensitivity.LOW
    assert (after.entry_type, after.source) == ("pin", "bank letter")
    assert after.secret_value is not None and after.secret_value.get_secret_value() == "7340"
    assert store.history(item.id)[-1].changed == ["caption"]


def test_an_update_never_resets_a_procedures_entry_type(store: MemoryStore) -> None:
    guide = store.add(
        ProceduralMemory(
            entry_type="guide",
            summary="How to renew the bank card",
            steps=["Call the bank", "Confirm the address"],
        )
    )
    answer = update_of_1(summary="How to renew the bank card online")
    chat = ScriptedChat(routed("procedural", answer))
    report = MemoryTeam(store, chat).process(batch(store, "Renewing the bank card, online now."))
    assert report.updated == 1 and not report.invalid
    after = store.get(guide.id)
    assert isinstance(after, ProceduralMemory)
    assert after.summary == "How to renew the bank card online"
    assert after.entry_type == "guide"
    assert after.steps == ["Call the bank", "Confirm the address"]


def test_no_agent_lowers_a_sensitivity_but_one_may_raise_it(store: MemoryStore) -> None:
    item = bank_item(store, "medium")
    chat = ScriptedChat(routed("knowledge_vault", update_of_1(sensitivity="low")))
    report = MemoryTeam(store, chat).process(batch(store, "The bank card PIN is not secret."))
    assert report.refused == {"sensitivity": 1} and report.updated == 0
    after = store.get(item.id)
    assert isinstance(after, KnowledgeVaultItem) and after.sensitivity == Sensitivity.MEDIUM
    assert after.rev == item.rev

    chat = ScriptedChat(routed("knowledge_vault", update_of_1(sensitivity="high")))
    report = MemoryTeam(store, chat).process(batch(store, "Keep the bank card PIN secret."))
    assert report.updated == 1 and not report.refused
    raised = store.get(item.id)
    assert isinstance(raised, KnowledgeVaultItem) and raised.sensitivity == Sensitivity.HIGH


def test_a_high_item_is_never_shown_to_a_model_nor_updated(store: MemoryStore) -> None:
    item = bank_item(store, "high")
    # The update a model would write were the item shown as #1; with nothing shown, the
    # schema has no update at all, and the retry's empty answer is taken.
    chat = ScriptedChat(routed("knowledge_vault", update_of_1(caption="Renamed secret")))
    report = MemoryTeam(store, chat).process(batch(store, "A letter came from the bank today."))
    assert report.updated == 0 and not report.memory_ids
    assert "PIN" not in prompts(chat)
    assert "Existing memories:\n(none)" in chat.received[1][1][-1]["content"]
    after = store.get(item.id)
    assert isinstance(after, KnowledgeVaultItem)
    assert (after.sensitivity, after.caption, after.rev) == (Sensitivity.HIGH, item.caption, 1)


class RaisingWhileThinking(ScriptedChat):
    """While the vault manager writes its answer, the user raises the item it was shown to
    high (in the app, or another process): the update must not go through."""

    def __init__(self, script: dict[str, list[str]], store: MemoryStore, item: str) -> None:
        super().__init__(script)
        self.raised_in, self.raised = store, item

    def _generate(self, model, messages, max_tokens, temperature, schema):  # type: ignore[override]
        if schema is not None and schema.__name__ == "KnowledgeVaultAnswer":
            self.raised_in.update(self.raised, {"sensitivity": "high"}, actor="user")
        yield from super()._generate(model, messages, max_tokens, temperature, schema)


def test_an_item_raised_to_high_meanwhile_is_not_updated(store: MemoryStore) -> None:
    item = bank_item(store, "medium")
    answer = update_of_1(caption="Bank card PIN (renamed)", sensitivity="medium")
    chat = RaisingWhileThinking(routed("knowledge_vault", answer), store, item.id)
    report = MemoryTeam(store, chat).process(batch(store, "The bank card PIN letter came."))
    assert report.refused == {"sensitivity": 1} and report.updated == 0
    after = store.get(item.id)
    assert isinstance(after, KnowledgeVaultItem)
    assert (after.sensitivity, after.caption) == (Sensitivity.HIGH, "Bank card PIN")


def test_remember_answers_as_if_a_high_item_were_not_there(store: MemoryStore) -> None:
    raised = bank_item(store, "medium")
    script = {
        "Routing": [json.dumps({"topics": ["bank"], "managers": ["semantic", "knowledge_vault"]})],
        "SemanticAnswer": [
            json.dumps(
                {
                    "items": [
                        {
                            "op": "insert",
                            "name": "Nordbank",
                            "summary": "The user banks at Nordbank",
                        }
                    ]
                }
            )
        ],
        "KnowledgeVaultAnswer": [
            json.dumps(
                {
                    "items": [
                        {"op": "update", "target": 1, "sensitivity": "high"},
                        {
                            "op": "insert",
                            "caption": "Online banking password",
                            "secret_value": "quokka-mango-88",
                            "sensitivity": "high",
                        },
                    ]
                }
            )
        ],
    }
    answer = ChatAgent(store, ScriptedChat(script)).remember(
        "I bank at Nordbank, online password quokka-mango-88; keep my bank card PIN secret",
        now=NOW,
    )
    assert answer.report is not None
    (password,) = [m for m in store.memories(types=["knowledge_vault"]) if m.id != raised.id]
    touched = {raised.id, password.id}
    # Written as asked, and in nothing the answer carries.
    assert [store.get(i).sensitivity for i in touched] == [Sensitivity.HIGH] * 2  # type: ignore[union-attr]
    assert answer.text == "Remembered:\n- Nordbank"
    carried = [*answer.citations, *answer.items]
    assert not touched & {i.id for i in carried}
    assert [i.label for i in answer.citations] == ["Nordbank"]
    assert not touched & set(answer.report.memory_ids) and len(answer.report.memory_ids) == 1


def test_remember_of_a_high_item_alone_shows_no_memory(store: MemoryStore) -> None:
    script = routed(
        "knowledge_vault",
        json.dumps(
            {
                "items": [
                    {
                        "op": "insert",
                        "caption": "Alarm code",
                        "secret_value": "90210",
                        "sensitivity": "high",
                    }
                ]
            }
        ),
    )
    answer = ChatAgent(store, ScriptedChat(script)).remember("the alarm code is 90210", now=NOW)
    assert store.memories(types=["knowledge_vault"])  # it was filed
    assert answer.report is not None and answer.report.memory_ids == []
    assert answer.citations == [] and "Alarm" not in answer.text
    assert answer.text == "Kept your words; there is no new memory to show from them."
