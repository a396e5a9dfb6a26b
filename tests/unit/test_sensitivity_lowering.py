"""Only the user lowers a memory's sensitivity: the store refuses it from anyone else, whichever
path the update comes by (the memory team, consolidation, a tool)."""

import pytest

from core.errors import InvalidInput
from core.memory import KnowledgeVaultItem
from core.store.memories import MemoryStore


def vault_item(store: MemoryStore, sensitivity: str) -> str:
    item = KnowledgeVaultItem(
        entry_type="password",
        source="bank",
        sensitivity=sensitivity,
        secret_value="s3cret-value",
        caption="Bank login",
    )
    return store.add(item).id


@pytest.mark.parametrize("actor", ["agent:knowledge_vault", "mcp:Claude via agent:x", "mnemo"])
def test_no_one_but_the_user_lowers_a_sensitivity(store: MemoryStore, actor: str) -> None:
    item = vault_item(store, "high")
    with pytest.raises(InvalidInput, match="only the user may lower"):
        store.update(item, {"sensitivity": "medium", "caption": "Bank"}, actor=actor)
    kept = store.get(item)
    assert kept.sensitivity == "high" and kept.caption == "Bank login"  # type: ignore[attr-defined]
    assert len(store.history(item)) == 1


def test_others_may_raise_it_and_the_user_may_lower_it(store: MemoryStore) -> None:
    item = vault_item(store, "low")
    store.update(item, {"sensitivity": "high"}, actor="agent:knowledge_vault")
    assert store.get(item).sensitivity == "high"  # type: ignore[attr-defined]
    store.update(item, {"sensitivity": "low"})  # the user's own edit
    assert store.get(item).sensitivity == "low"  # type: ignore[attr-defined]
