"""What each agent must answer, as pydantic models turned into llama.cpp grammars.

Every string and list is bounded. Unbounded, a small model can ramble inside one string until
max_tokens cuts it off and the JSON never closes; bounded, the grammar itself ends it. Existing
memories and inputs are referred to by the small numbers the prompt shows (#1, [3]), never by
ids, which small models garble.
"""

import functools
from typing import Annotated, Any, Literal, Union

from pydantic import BaseModel, ConfigDict, Field, create_model

Short = Annotated[str, Field(max_length=60)]
Line = Annotated[str, Field(max_length=160)]
Para = Annotated[str, Field(max_length=300)]
Refs = Annotated[list[Annotated[int, Field(ge=1, le=999)]], Field(max_length=8)]

MANAGERS = ("core", "episodic", "semantic", "procedural", "resource", "knowledge_vault")
Manager = Literal["core", "episodic", "semantic", "procedural", "resource", "knowledge_vault"]


class _Answer(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Routing(_Answer):
    """The meta memory manager's one call: what the input is about and who should read it."""

    topics: list[Annotated[str, Field(min_length=1, max_length=40)]] = Field(max_length=5)
    managers: list[Manager] = Field(max_length=6)


NonEmptyShort = Annotated[str, Field(min_length=1, max_length=60)]
NonEmptyLine = Annotated[str, Field(min_length=1, max_length=160)]
When = Annotated[str, Field(max_length=40, description="the input's words for when it happened")]
Step = Annotated[str, Field(min_length=1, max_length=120)]

# Per memory type: each field's type in an insert (where the required ones must be non-empty)
# and its type in an update (where every field may be left out or empty, meaning unchanged: an
# update changes only the fields the model wrote, never to a default; agents.team_apply).
FIELDS: dict[str, dict[str, tuple[Any, Any, Any]]] = {
    # name: (insert type, update type, default)
    "episodic": {
        "summary": (NonEmptyLine, Line, ""),
        "event_type": (Short, Short, ""),
        "actor": (Short, Short, ""),
        "when": (When, When, ""),
        "details": (Para, Para, ""),
    },
    "semantic": {
        "name": (NonEmptyShort, Short, ""),
        "summary": (NonEmptyLine, Line, ""),
        "details": (Para, Para, ""),
    },
    "procedural": {
        "summary": (NonEmptyLine, Line, ""),
        "entry_type": (
            Literal["workflow", "guide", "script"],
            Literal["workflow", "guide", "script"],
            "workflow",
        ),
        "steps": (
            Annotated[list[Step], Field(min_length=1, max_length=8)],
            Annotated[list[Step], Field(max_length=8)],
            [],
        ),
    },
    "resource": {
        "title": (NonEmptyShort, Short, ""),
        "summary": (Line, Line, ""),
        "resource_type": (Short, Short, ""),
    },
    "knowledge_vault": {
        "caption": (NonEmptyLine, Line, ""),
        "entry_type": (Short, Short, ""),
        "source": (Short, Short, ""),
        "secret_value": (NonEmptyLine, Line, ""),
        "sensitivity": (
            Literal["low", "medium", "high"],
            Literal["low", "medium", "high"],
            "medium",
        ),
    },
}
MAX_ITEMS = {"episodic": 3, "semantic": 3, "procedural": 2, "resource": 2, "knowledge_vault": 2}


class Skip(_Answer):
    op: Literal["skip"]


@functools.cache
def answer_schema(manager: str, shown: int) -> type[BaseModel]:
    """The answer of a typed manager that was shown `shown` memories: inserts must fill the
    type's required fields, and an update can only name #1..#shown — with none shown, there is
    no update at all. The grammar enforces both, so a small model cannot answer otherwise."""
    fields = FIELDS[manager]
    name = "".join(part.title() for part in manager.split("_"))
    insert_fields: dict[str, Any] = {"op": (Literal["insert"], ...)}
    for field_name, (insert_type, _update_type, default) in fields.items():
        required = _is_required(insert_type)
        insert_fields[field_name] = (insert_type, ... if required else default)
    insert_fields["sources"] = (Refs, Field(default_factory=list))
    variants: list[Any] = [create_model(f"{name}Insert", __base__=_Answer, **insert_fields)]
    if shown:
        update_fields: dict[str, Any] = {
            "op": (Literal["update"], ...),
            "target": (Annotated[int, Field(ge=1, le=shown)], ...),
        }
        for field_name, (_insert_type, update_type, default) in fields.items():
            update_fields[field_name] = (update_type, default)
        update_fields["sources"] = (Refs, Field(default_factory=list))
        variants.append(create_model(f"{name}Update", __base__=_Answer, **update_fields))
    variants.append(Skip)
    item = Annotated[Union[tuple(variants)], Field(discriminator="op")]  # type: ignore[valid-type]  # noqa: UP007
    return create_model(
        f"{name}Answer",
        __base__=_Answer,
        items=(list[item], Field(max_length=MAX_ITEMS[manager])),  # type: ignore[valid-type]
    )


def _is_required(kind: Any) -> bool:
    """Whether an Annotated type demands a non-empty value (a min_length constraint)."""
    for meta in getattr(kind, "__metadata__", ()):
        if any(getattr(c, "min_length", 0) for c in getattr(meta, "metadata", [meta])):
            return True
    return False


class CoreEdit(_Answer):
    block: Literal["human", "persona"]
    op: Literal["append", "skip"]
    text: Para = ""
    sources: Refs = Field(default_factory=list)


class CoreAnswer(_Answer):
    items: list[CoreEdit] = Field(max_length=2)
