"""A vault value goes into a prompt only from the copy whose sensitivity was checked: an item
raised to high between the search and the read of its value is as if it were not there."""

import pytest

from agents.chat import ChatAgent
from core.memory import KnowledgeVaultItem
from core.store.memories import MemoryStore
from tests.standins import ScriptedChat

VALUE = "garage-7731-CANARY"


def test_an_item_raised_to_high_meanwhile_is_left_out(
    store: MemoryStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    item = store.add(
        KnowledgeVaultItem(
            entry_type="code",
            source="home",
            sensitivity="medium",
            secret_value=VALUE,
            caption="Garage door code",
        )
    )
    agent = ChatAgent(store, ScriptedChat({}), plan_queries=False, reveal_vault=True)
    items, _, _ = agent.retrieve("garage door code")
    assert any(VALUE in i.text for i in items if i.id == item.id)  # shared while medium

    get = store.get

    def raised_meanwhile(ref: str, *, reveal: bool = False):  # type: ignore[no-untyped-def]
        if reveal:  # the user raised it after the search found it as medium
            store.update(item.id, {"sensitivity": "high"})
        return get(ref, reveal=reveal)

    monkeypatch.setattr(store, "get", raised_meanwhile)
    items, _, _ = agent.retrieve("garage door code")
    assert item.id not in {i.id for i in items}
    assert VALUE not in " ".join(i.text for i in items)
