"""What each agent must answer, as pydantic models turned into llama.cpp grammars.

Every string and list is bounded. Unbounded, a small model can ramble inside one string until
max_tokens cuts it off and the JSON never closes; bounded, the grammar itself ends it. Existing
memories and inputs are referred to by the small numbers the prompt shows (#1, [3]), never by
ids, which small models garble.
"""

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

Short = Annotated[str, Field(max_length=60)]
Line = Annotated[str, Field(max_length=200)]
Para = Annotated[str, Field(max_length=500)]
Refs = Annotated[list[Annotated[int, Field(ge=1, le=999)]], Field(max_length=8)]

MANAGERS = ("core", "episodic", "semantic", "procedural", "resource", "knowledge_vault")
Manager = Literal["core", "episodic", "semantic", "procedural", "resource", "knowledge_vault"]
Op = Literal["insert", "update", "skip"]


class _Answer(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Routing(_Answer):
    """The meta memory manager's one call: what the input is about and who should read it."""

    topics: list[Annotated[str, Field(min_length=1, max_length=40)]] = Field(max_length=5)
    managers: list[Manager] = Field(max_length=6)


class _Item(_Answer):
    op: Op
    target: int | None = Field(None, ge=1, le=99, description="#number of the memory to update")
    sources: Refs = Field(default_factory=list, description="[numbers] of the input lines used")


class EpisodicItem(_Item):
    event_type: Short = ""
    summary: Line = ""
    details: Para = ""
    actor: Short = ""
    when: Annotated[str, Field(max_length=40)] = Field(
        "", description="when it happened: a date, or words like 'yesterday' or 'last Friday'"
    )


class SemanticItem(_Item):
    name: Short = ""
    summary: Line = ""
    details: Para = ""


class ProceduralItem(_Item):
    entry_type: Literal["workflow", "guide", "script"] = "workflow"
    summary: Line = ""
    steps: list[Annotated[str, Field(max_length=120)]] = Field(default_factory=list, max_length=8)


class ResourceItem(_Item):
    title: Short = ""
    summary: Line = ""
    resource_type: Annotated[str, Field(max_length=30)] = ""


class VaultItem(_Item):
    entry_type: Annotated[str, Field(max_length=30)] = ""
    caption: Line = ""
    source: Short = ""
    secret_value: Line = ""
    sensitivity: Literal["low", "medium", "high"] = "medium"


class CoreEdit(_Answer):
    block: Literal["human", "persona"]
    op: Literal["append", "skip"]
    text: Para = ""
    sources: Refs = Field(default_factory=list)


class EpisodicAnswer(_Answer):
    items: list[EpisodicItem] = Field(max_length=4)


class SemanticAnswer(_Answer):
    items: list[SemanticItem] = Field(max_length=4)


class ProceduralAnswer(_Answer):
    items: list[ProceduralItem] = Field(max_length=2)


class ResourceAnswer(_Answer):
    items: list[ResourceItem] = Field(max_length=2)


class VaultAnswer(_Answer):
    items: list[VaultItem] = Field(max_length=3)


class CoreAnswer(_Answer):
    items: list[CoreEdit] = Field(max_length=2)


ANSWERS: dict[str, type[_Answer]] = {
    "core": CoreAnswer,
    "episodic": EpisodicAnswer,
    "semantic": SemanticAnswer,
    "procedural": ProceduralAnswer,
    "resource": ResourceAnswer,
    "knowledge_vault": VaultAnswer,
}
