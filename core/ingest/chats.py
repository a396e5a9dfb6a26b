"""Reading chat histories into sessions of turns: Mnemo's JSON, LoCoMo, and ChatGPT's export.

A session is what the memory agents take in one go: a conversation, or one of LoCoMo's dated
sessions. Each turn keeps its speaker, its time and an outside reference (a message id, a
LoCoMo `dia_id`), so every memory can point back to the exact turn it came from. A file that
does not parse as any of the formats is refused whole, with the place that is wrong.
"""

import hashlib
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from core.errors import ImportFailed
from core.timeutil import as_utc


@dataclass(frozen=True)
class Turn:
    speaker: str
    text: str
    time: datetime
    ref: str | None = None


@dataclass
class Session:
    title: str
    started_at: datetime
    turns: list[Turn] = field(default_factory=list)


def read_chats(path: Path) -> list[Session]:
    """Every session in a chat file, in the format its content shows."""
    try:
        data = json.loads(path.read_text("utf-8"))
    except OSError as exc:
        raise ImportFailed(f"cannot read {path}: {exc.strerror or exc}") from None
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ImportFailed(f"{path} is not a JSON file: {exc}") from None
    reader = _detect(data)
    if reader is None:
        raise ImportFailed(
            f"{path} is not a chat file Mnemo reads: expected Mnemo's chat JSON "
            '({"turns": [...]} or a list of them), LoCoMo JSON, or ChatGPT\'s conversations.json'
        )
    try:
        sessions = list(reader(data))
    except (KeyError, TypeError, ValueError, ValidationError) as exc:
        raise ImportFailed(f"{path} is malformed ({reader.__name__[6:]}): {exc}") from None
    return [s for s in sessions if s.turns]


def _detect(data: Any) -> Any:
    items = data if isinstance(data, list) else [data]
    if not items or not all(isinstance(item, dict) for item in items):
        return None
    first = items[0]
    if "conversation" in first and "qa" in first:
        return _read_locomo
    if "mapping" in first:
        return _read_chatgpt
    if "turns" in first:
        return _read_mnemo
    return None


# -- Mnemo's own format ---------------------------------------------------------------------


class _MnemoTurn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    speaker: str = Field(min_length=1, max_length=200)
    text: str
    time: datetime | None = None
    id: str | None = None


class _MnemoChat(BaseModel):
    model_config = ConfigDict(extra="forbid")
    title: str = ""
    started_at: datetime | None = None
    turns: list[_MnemoTurn]


def _read_mnemo(data: Any) -> Iterator[Session]:
    """`{"title", "started_at"?, "turns": [{"speaker", "text", "time"?, "id"?}]}`, or a list
    of those. A turn without a time takes the previous one's (or the chat's start) plus 1 s."""
    for index, raw in enumerate(data if isinstance(data, list) else [data]):
        try:
            chat = _MnemoChat.model_validate(raw)
        except ValidationError as exc:
            raise ValueError(f"chat {index}: {exc}") from None
        dated = chat.started_at or chat.turns[0].time
        clock = as_utc(dated or datetime.now(UTC))
        turns = []
        for turn in chat.turns:
            clock = as_utc(turn.time) if turn.time else clock + timedelta(seconds=1)
            # Without an id, a dated turn is known by its content and time, so ingesting the
            # file again adds nothing; an undated chat cannot be told apart from a new one.
            ref = turn.id or (
                _content_ref(chat.title, turn.speaker, turn.text, clock) if dated else None
            )
            turns.append(Turn(turn.speaker, turn.text, clock, ref))
        start = chat.started_at or (chat.turns[0].time if chat.turns else None) or clock
        yield Session(chat.title or f"chat {index + 1}", as_utc(start), turns)


def _content_ref(*parts: object) -> str:
    return "mnemo:" + hashlib.sha256("\x1f".join(map(str, parts)).encode()).hexdigest()[:24]


# -- LoCoMo ---------------------------------------------------------------------------------


def parse_locomo_time(text: str) -> datetime:
    """LoCoMo's "1:56 pm on 8 May, 2023" (taken as UTC: the dataset has no zones)."""
    return datetime.strptime(text.strip(), "%I:%M %p on %d %B, %Y").replace(tzinfo=UTC)


def _read_locomo(data: Any) -> Iterator[Session]:
    """One session per LoCoMo session, dated; a shared photo becomes its caption in text.
    Turn references are "<sample_id>:<dia_id>", since dia_ids repeat across conversations."""
    for sample in data:
        conversation = sample["conversation"]
        sample_id = sample.get("sample_id", "locomo")
        numbers = sorted(
            int(key.split("_")[1])
            for key in conversation
            if key.startswith("session_") and not key.endswith("date_time")
        )
        for n in numbers:
            started = parse_locomo_time(conversation[f"session_{n}_date_time"])
            turns = []
            for k, turn in enumerate(conversation[f"session_{n}"]):
                text = turn["text"]
                if turn.get("blip_caption"):
                    text += f" [shares a photo of {turn['blip_caption']}]"
                # Turns a second apart keep their order; the session's date is what counts.
                ref = f"{sample_id}:{turn['dia_id']}"
                turns.append(Turn(turn["speaker"], text, started + timedelta(seconds=k), ref))
            yield Session(f"{sample_id} session {n}", started, turns)


# -- ChatGPT's conversations.json -----------------------------------------------------------


def _read_chatgpt(data: Any) -> Iterator[Session]:
    """The branch the user last saw (from `current_node` up to the root), user and assistant
    text only: system prompts, tool calls and images are left out."""
    for conversation in data if isinstance(data, list) else [data]:
        mapping = conversation["mapping"]
        node_id = conversation.get("current_node") or _last_leaf(mapping)
        chain = []
        while node_id is not None:
            node = mapping[node_id]
            chain.append(node)
            node_id = node.get("parent")
        turns = []
        for node in reversed(chain):
            message = node.get("message") or {}
            role = (message.get("author") or {}).get("role")
            content = message.get("content") or {}
            if role not in ("user", "assistant") or content.get("content_type") != "text":
                continue
            text = "\n".join(p for p in content.get("parts") or [] if isinstance(p, str)).strip()
            if not text:
                continue
            stamp = message.get("create_time") or conversation.get("create_time") or 0
            turns.append(
                Turn(role, text, datetime.fromtimestamp(float(stamp), UTC), message.get("id"))
            )
        started = datetime.fromtimestamp(float(conversation.get("create_time") or 0), UTC)
        yield Session(conversation.get("title") or "ChatGPT conversation", started, turns)


def _last_leaf(mapping: dict[str, Any]) -> str | None:
    leaves = [key for key, node in mapping.items() if not node.get("children")]
    return leaves[-1] if leaves else None
