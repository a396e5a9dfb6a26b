"""Reading chat histories into sessions of turns: Mnemo's JSON, LoCoMo, and ChatGPT's and
Claude's exports.

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
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, ValidationError

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
    except RecursionError:  # the parser recurses once per level of nesting
        raise ImportFailed(f"{path} is not a chat file Mnemo reads: nested too deeply") from None
    reader = _detect(data)
    if reader is None:
        raise ImportFailed(
            f"{path} is not a chat file Mnemo reads: expected Mnemo's chat JSON "
            '({"turns": [...]} or a list of them), LoCoMo JSON, or the conversations.json of '
            "a ChatGPT or Claude export"
        )
    try:
        sessions = list(reader(data))
    except (KeyError, IndexError, TypeError, AttributeError, ValueError, OverflowError) as exc:
        # A value of the wrong shape anywhere (a list where an object belongs, a string where
        # a number does): the whole file is refused, with the first problem on one line.
        raise ImportFailed(
            f"{path} is malformed ({reader.__name__[6:]}): {_problem(exc)}"
        ) from None
    for session in sessions:
        for turn in session.turns:
            try:  # a "\\udcff" escape: SQLite stores UTF-8, which cannot hold it
                f"{session.title}{turn.speaker}{turn.text}{turn.ref}".encode()
            except UnicodeEncodeError:
                raise ImportFailed(
                    f"{path} holds text that is not valid Unicode (an unpaired surrogate) "
                    f"in {session.title[:60]!r}"
                ) from None
    return [s for s in sessions if s.turns]


def _problem(exc: Exception) -> str:
    if isinstance(exc, ValidationError):
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        text = f"at {where}: {first['msg']}" if where else first["msg"]
    elif isinstance(exc, KeyError):
        text = f"no {exc.args[0]!r} where one is needed"
    elif isinstance(exc, OverflowError):
        text = "a time outside the years 1 to 9999"
    elif isinstance(exc, TypeError | AttributeError | IndexError):
        text = f"a value of the wrong type or shape ({exc})"
    else:
        text = str(exc)
    return " ".join(text.split())[:300]


def _detect(data: Any) -> Any:
    items = data if isinstance(data, list) else [data]
    if not items or not all(isinstance(item, dict) for item in items):
        return None
    first = items[0]
    if "conversation" in first and "qa" in first:
        return _read_locomo
    if "mapping" in first:
        return _read_chatgpt
    if "chat_messages" in first:
        return _read_claude
    if "turns" in first:
        return _read_mnemo
    return None


# Who said a turn: a name, not blank (a source's actor is stripped; "  " would be no one).
Speaker = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]


# -- Mnemo's own format ---------------------------------------------------------------------


class _MnemoTurn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    speaker: Speaker
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
            raise ValueError(f"chat {index}: {_problem(exc)}") from None
        dated = chat.started_at or (chat.turns[0].time if chat.turns else None)
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
    if not isinstance(text, str):
        raise ValueError(f"a session time that is not text: {text!r}"[:200])
    return datetime.strptime(text.strip(), "%I:%M %p on %d %B, %Y").replace(tzinfo=UTC)


class _LocomoTurn(BaseModel):
    model_config = ConfigDict(extra="allow")  # img_url, query, …
    speaker: Speaker
    dia_id: str = Field(min_length=1)
    text: str
    blip_caption: str | None = None


def _read_locomo(data: Any) -> Iterator[Session]:
    """One session per LoCoMo session, dated; a shared photo becomes its caption in text.
    Turn references are "<sample_id>:<dia_id>", since dia_ids repeat across conversations."""
    for index, sample in enumerate(data):
        conversation = sample["conversation"]
        if not isinstance(conversation, dict):
            raise ValueError(f"sample {index}: its conversation is not an object")
        sample_id = sample.get("sample_id", "locomo")
        numbers = sorted(
            int(key.split("_")[1])
            for key in conversation
            if key.startswith("session_") and not key.endswith("date_time")
        )
        for n in numbers:
            started = parse_locomo_time(conversation[f"session_{n}_date_time"])
            turns = []
            for k, raw in enumerate(conversation[f"session_{n}"]):
                try:
                    turn = _LocomoTurn.model_validate(raw)
                except ValidationError as exc:
                    raise ValueError(f"session_{n}[{k}]: {_problem(exc)}") from None
                text = turn.text
                if turn.blip_caption:
                    text += f" [shares a photo of {turn.blip_caption}]"
                # Turns a second apart keep their order; the session's date is what counts.
                ref = f"{sample_id}:{turn.dia_id}"
                turns.append(Turn(turn.speaker, text, started + timedelta(seconds=k), ref))
            yield Session(f"{sample_id} session {n}", started, turns)


# -- ChatGPT's conversations.json -----------------------------------------------------------


def _read_chatgpt(data: Any) -> Iterator[Session]:
    """The branch the user last saw (from `current_node` up to the root), user and assistant
    text only: system prompts, tool calls and images are left out."""
    for conversation in data if isinstance(data, list) else [data]:
        mapping = conversation["mapping"]
        node_id = conversation.get("current_node") or _last_leaf(mapping)
        chain = []
        seen = set()
        while node_id is not None:
            if node_id in seen:  # a parent that is its own descendant would loop forever
                raise ValueError(f"the messages' parents form a cycle at {node_id!r}")
            seen.add(node_id)
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
            ref = message.get("id")
            turns.append(
                Turn(role, text, _from_timestamp(stamp), None if ref is None else str(ref))
            )
        started = _from_timestamp(conversation.get("create_time") or 0)
        title = conversation.get("title")
        yield Session(
            title if isinstance(title, str) and title else "ChatGPT conversation", started, turns
        )


def _from_timestamp(stamp: Any) -> datetime:
    try:
        return datetime.fromtimestamp(float(stamp), UTC)
    except (OverflowError, OSError):  # OSError: beyond what the C library's time_t holds
        raise ValueError(f"create_time {stamp!r} is outside the years 1 to 9999") from None


def _last_leaf(mapping: dict[str, Any]) -> str | None:
    leaves = [key for key, node in mapping.items() if not node.get("children")]
    return leaves[-1] if leaves else None


# -- Claude's conversations.json --------------------------------------------------------------


class _ClaudePart(BaseModel):
    model_config = ConfigDict(extra="allow")  # start_timestamp, citations, tool input, …
    type: str
    text: str | None = None


class _ClaudeAttachment(BaseModel):
    model_config = ConfigDict(extra="allow")  # file_size, file_type, extracted_content
    file_name: str = ""


class _ClaudeMessage(BaseModel):
    model_config = ConfigDict(extra="allow")  # updated_at, files, parent_message_uuid, …
    uuid: str = Field(min_length=1)
    sender: str
    text: str | None = ""
    content: list[_ClaudePart] | None = None
    created_at: datetime | None = None
    attachments: list[_ClaudeAttachment] | None = None


class _ClaudeConversation(BaseModel):
    model_config = ConfigDict(extra="allow")  # account, updated_at, summary, …
    uuid: str = ""
    name: str | None = ""
    created_at: datetime
    chat_messages: list[_ClaudeMessage]


# Claude's export says "human"; the ChatGPT reader's "user" is kept for both, so the same
# person is one speaker whichever assistant they talked to.
_CLAUDE_SPEAKERS = {"human": "user", "assistant": "assistant"}


def _read_claude(data: Any) -> Iterator[Session]:
    """Claude's export (Settings → Export data): each conversation's messages in order, the
    user's and Claude's text only. A message's `content` parts are what the app shows (its
    `text` field repeats them, or is empty in newer exports), so their text parts are used when
    there are any; tool calls, tool results and thinking are left out. An attachment's
    extracted text is a document, not something said: it is noted by name only."""
    for index, raw in enumerate(data if isinstance(data, list) else [data]):
        try:
            conversation = _ClaudeConversation.model_validate(raw)
        except ValidationError as exc:
            raise ValueError(f"conversation {index}: {_problem(exc)}") from None
        started = as_utc(conversation.created_at)
        turns = []
        for message in conversation.chat_messages:
            speaker = _CLAUDE_SPEAKERS.get(message.sender)
            if speaker is None:
                continue
            parts = [p.text for p in message.content or [] if p.type == "text" and p.text]
            text = "\n\n".join(parts) if parts else (message.text or "")
            names = [a.file_name for a in message.attachments or [] if a.file_name.strip()]
            if names:
                text = f"{text}\n[attached: {', '.join(names)}]".strip()
            if not text.strip():
                continue
            # Claude's uuids are unique across conversations: the same export again adds nothing.
            time = as_utc(message.created_at) if message.created_at else started
            turns.append(Turn(speaker, text.strip(), time, message.uuid))
        yield Session((conversation.name or "").strip() or "Claude conversation", started, turns)
