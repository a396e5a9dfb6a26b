"""Chat files into sessions of turns, and turns into verbatim sources, each kept once."""

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from core.errors import ImportFailed
from core.ingest.chats import parse_locomo_time, read_chats
from core.ingest.keep import keep_file, keep_session
from core.store.memories import MemoryStore

LOCOMO = [
    {
        "sample_id": "conv-x",
        "conversation": {
            "speaker_a": "Ann",
            "speaker_b": "Bo",
            "session_1_date_time": "1:56 pm on 8 May, 2023",
            "session_1": [
                {
                    "speaker": "Ann",
                    "dia_id": "D1:1",
                    "text": "I went to a support group yesterday.",
                },
                {"speaker": "Bo", "dia_id": "D1:2", "text": "Look!", "blip_caption": "a sunrise"},
            ],
            "session_2_date_time": "10:00 am on 20 May, 2023",
            "session_2": [{"speaker": "Bo", "dia_id": "D2:1", "text": "I painted again."}],
        },
        "qa": [],
    }
]


def chatgpt_export() -> list[dict]:
    def node(id, parent, children, role=None, text=None, t=None, kind="text"):
        message = None
        if role:
            message = {
                "id": id,
                "author": {"role": role},
                "create_time": t,
                "content": {"content_type": kind, "parts": [text]},
            }
        return {"id": id, "parent": parent, "children": children, "message": message}

    return [
        {
            "title": "Trip planning",
            "create_time": 1_700_000_000,
            "current_node": "a2",
            "mapping": {
                "root": node("root", None, ["s"]),
                "s": node("s", "root", ["u1"], "system", "You are ChatGPT", 1_700_000_000),
                "u1": node("u1", "s", ["a1", "a2"], "user", "Plan Lisbon in May", 1_700_000_010),
                "a1": node("a1", "u1", [], "assistant", "An abandoned branch", 1_700_000_020),
                "a2": node("a2", "u1", [], "assistant", "Day 1: Alfama", 1_700_000_030),
            },
        }
    ]


def write(tmp_path: Path, name: str, data: object) -> Path:
    path = tmp_path / name
    path.write_text(json.dumps(data))
    return path


def test_locomo_sessions_keep_dates_photos_and_turn_refs(tmp_path: Path) -> None:
    sessions = read_chats(write(tmp_path, "locomo.json", LOCOMO))
    assert [s.title for s in sessions] == ["conv-x session 1", "conv-x session 2"]
    first = sessions[0]
    assert first.started_at == datetime(2023, 5, 8, 13, 56, tzinfo=UTC)
    assert [t.ref for t in first.turns] == ["conv-x:D1:1", "conv-x:D1:2"]
    assert first.turns[1].text == "Look! [shares a photo of a sunrise]"
    assert first.turns[0].time < first.turns[1].time
    assert parse_locomo_time("9:05 am on 1 January, 2024").hour == 9


def test_chatgpt_export_follows_the_branch_the_user_saw(tmp_path: Path) -> None:
    (session,) = read_chats(write(tmp_path, "conversations.json", chatgpt_export()))
    assert session.title == "Trip planning"
    assert [(t.speaker, t.text) for t in session.turns] == [
        ("user", "Plan Lisbon in May"),
        ("assistant", "Day 1: Alfama"),
    ]
    assert session.turns[0].time == datetime.fromtimestamp(1_700_000_010, UTC)


def test_mnemo_chat_json_fills_missing_times(tmp_path: Path) -> None:
    data = {
        "title": "Notes",
        "started_at": "2024-05-01T10:00:00Z",
        "turns": [
            {"speaker": "me", "text": "Remember: dentist on Friday"},
            {"speaker": "me", "text": "and buy milk", "time": "2024-05-01T10:05:00Z"},
        ],
    }
    (session,) = read_chats(write(tmp_path, "chat.json", data))
    assert [t.time.minute for t in session.turns] == [0, 5]


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("not json", "not a JSON file"),
        ('{"hello": 1}', "not a chat file Mnemo reads"),
        ('{"turns": [{"speaker": "me"}]}', "malformed"),
        ('[{"mapping": {"x": {"parent": null}}, "current_node": "y"}]', "malformed"),
        ('[{"conversation": {"session_1": []}, "qa": []}]', "malformed"),
    ],
)
def test_broken_files_are_refused_whole(tmp_path: Path, content: str, message: str) -> None:
    path = tmp_path / "chat.json"
    path.write_text(content)
    with pytest.raises(ImportFailed, match=message):
        read_chats(path)


def test_turns_are_kept_once(store: MemoryStore, tmp_path: Path) -> None:
    sessions = read_chats(write(tmp_path, "locomo.json", LOCOMO))
    kept, known = keep_session(store, sessions[0])
    assert (len(kept), known) == (2, 0)
    assert store.get_source(kept[0].id).text == "I went to a support group yesterday."
    kept, known = keep_session(store, sessions[0])
    assert (kept, known) == ([], 2)
    assert set(store.find_sources("chat", ["conv-x:D1:1", "conv-x:D1:2"])) == {
        "conv-x:D1:1",
        "conv-x:D1:2",
    }


def test_files_are_kept_whole_or_refused(store: MemoryStore, tmp_path: Path) -> None:
    notes = tmp_path / "notes.md"
    notes.write_text("# Release\n1. tag\n2. upload\n")
    source = keep_file(store, notes)
    assert store.get_source(source.id).text.startswith("# Release")
    (tmp_path / "photo.jpg").write_bytes(b"\xff\xd8\xff\xe0" + bytes(range(256)))
    with pytest.raises(ImportFailed, match="not UTF-8"):
        keep_file(store, tmp_path / "photo.jpg")
    (tmp_path / "empty.txt").write_text("  \n")
    with pytest.raises(ImportFailed, match="empty"):
        keep_file(store, tmp_path / "empty.txt")


def test_a_dated_mnemo_chat_ingested_again_adds_nothing(store: MemoryStore, tmp_path: Path) -> None:
    data = {"title": "t", "started_at": "2024-05-01T10:00:00Z", "turns": [
        {"speaker": "me", "text": "one"}, {"speaker": "me", "text": "two"}]}  # fmt: skip
    path = write(tmp_path, "chat.json", data)
    assert len(keep_session(store, read_chats(path)[0])[0]) == 2
    assert keep_session(store, read_chats(path)[0]) == ([], 2)
