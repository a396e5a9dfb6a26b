"""Fuzzing in `make test`: every target of bench.fuzz (`python -m bench.fuzz` runs them on
more cases) on a few hundred derandomized cases, so a run never depends on luck or time.

Each case is a contract: a correct result, or Mnemo's own error with a clear one-line message;
never another exception, a traceback or half a write.
"""

import copy
import json
import struct
from datetime import UTC, datetime
from pathlib import Path

import pytest

from bench import fuzz

EXAMPLES = {
    "import_json": 30,
    "chats": 40,
    "locomo": 30,
    "add_fields": 40,
    "cli": 15,
    "settings": 60,
    "gguf": 60,
    "capture": 15,
    "structured": 60,
    "team": 15,
    "ask": 20,
    "consolidate": 10,
    "dates": 60,
}


def test_every_target_is_fuzzed() -> None:
    assert set(EXAMPLES) == set(fuzz.TARGETS)
    assert sum(EXAMPLES.values()) >= 300


@pytest.mark.parametrize("name", list(EXAMPLES))
def test_fuzz_target(name: str, tmp_path: Path) -> None:
    result = fuzz.run_target(name, EXAMPLES[name], seed=None, folder=tmp_path / name)
    failures = [f"{f['error']} ({f['where']}) {f['example']}" for f in result["failures"]]
    assert not failures, "\n".join(failures)
    assert result["cases"] >= EXAMPLES[name]


def test_a_contract_broken_is_counted_as_a_crash(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    def broken(value: object, ws: fuzz.Workspace) -> None:
        fuzz.attempt(lambda: {"a": 1}["missing"])  # a KeyError is not Mnemo's error: a crash

    monkeypatch.setitem(fuzz.TARGETS, "broken", (fuzz.st.integers(), broken))
    result = fuzz.run_target("broken", 5, seed=None, folder=tmp_path / "broken")
    assert result["crashes"] == 1
    assert result["failures"][0]["error"] == "AssertionError: KeyError escaped: 'missing'"


def _gguf_aligned_to(kind: int, value: bytes) -> bytes:
    """A GGUF header with no tensors and one key: general.alignment."""
    key = b"general.alignment"
    return (
        b"GGUF"
        + struct.pack("<IQQ", 3, 0, 1)
        + struct.pack("<Q", len(key))
        + key
        + struct.pack("<I", kind)
        + value
    )


def _export(**changes: object) -> bytes:
    """The base export with its episodic memory changed."""
    export = copy.deepcopy(fuzz.base_export())
    next(m for m in export["memories"] if m["type"] == "episodic").update(changes)
    return json.dumps(export).encode()


def _export_id(new_id: str) -> bytes:
    """The base export with its episodic memory's id, and every reference to it, replaced."""
    export = fuzz.base_export()
    old = next(m["id"] for m in export["memories"] if m["type"] == "episodic")
    return json.dumps(export).replace(old, new_id).encode()


def _export_with(**changes: object) -> bytes:
    return json.dumps({**fuzz.base_export(), **changes}).encode()


def _chatgpt(**mapping: object) -> bytes:
    chat = fuzz.base_chatgpt()
    chat[0]["mapping"].update(mapping)
    return json.dumps(chat).encode()


def _locomo(**changes: object) -> bytes:
    data = fuzz.base_locomo()
    data[0].update(changes)
    return json.dumps(data).encode()


EARLY = datetime(2000, 1, 1, tzinfo=UTC)
# What the fuzzing found, each once a crash, a refused valid input or a partial write.
FOUND = [
    ("dates", ("in 9999", EARLY)),  # ValueError: year 10000 is out of range
    ("dates", ("9999 years ago", EARLY)),  # OverflowError
    ("ask", ("what did I do in 9999", None, [], "", False)),
    # stored as "261-08-12T…", which no read could parse again
    ("ask", ("remember that I planted a tree", datetime(261, 8, 12, tzinfo=UTC), [], "", True)),
    ("settings", b"\x80"),  # UnicodeDecodeError
    ("settings", b"[models]\nchat = 0\n"),  # a pydantic report over four lines
    ("settings", b"a = " + b"[" * 3000 + b"]" * 3000),  # RecursionError
    ("settings", b"[capture]\nretention_days = inf\n"),  # timedelta(days=inf) later
    ("gguf", _gguf_aligned_to(0, b"\x00")),  # ZeroDivisionError
    ("gguf", _gguf_aligned_to(8, struct.pack("<Q", 3) + b"1e9")),  # ValueError
    ("gguf", _gguf_aligned_to(9, struct.pack("<IQ", 9, 1) * 3000)),  # RecursionError
    (  # OSError: image file is truncated, out of CaptureService.once()
        "capture",
        ([fuzz.FrameSpec("truncated", "RGB", (64, 48), 0)], True, (1, 1), [], [], False, 0.5),
    ),
    (  # over WebP's 16383 pixels: the frame's text was lost with its picture
        "capture",
        ([fuzz.FrameSpec("solid", "RGB", (17000, 2), 0)], True, (1, 1), [], [], False, 1.0),
    ),
    # "details=" refused as invalid JSON
    ("add_fields", ("episodic", ["summary=Planted a tree", "occurred_at=2024-05-01", "details="])),
    ("add_fields", ("episodic", ["actor=" + "[" * 3000])),  # RecursionError
    ("add_fields", ("episodic", ["x" * 5000])),  # a 5000-character message
    ("chats", _chatgpt(root=[{"id": "root"}])),  # AttributeError
    # a parent that is its own descendant: read forever
    ("chats", _chatgpt(root={"id": "root", "message": None, "parent": "c", "children": []})),
    ("chats", b"[" * 3000),  # RecursionError
    # a lone surrogate: UnicodeEncodeError in SQLite, half-way through
    ("chats", json.dumps({"title": "x", "turns": [{"speaker": "me", "text": "\udcff"}]}).encode()),
    ("locomo", _locomo(sample_id="../outside")),  # a folder outside the run's
    ("locomo", _locomo(qa=[{"question": None, "category": 4}])),  # fails hours later
    ("import_json", (_export(created_at="0001-01-01T00:30:00+05:00"), 1)),  # OverflowError
    ("import_json", (_export(created_at=None), 2)),  # AssertionError deep in the store
    ("import_json", (b"[" * 3000, 0)),  # RecursionError
    ("import_json", (_export(type="x" * 5000), 3)),  # a 5000-character message
    ("import_json", (_export_id("NULL"), 0)),  # stored, then never found by its id
    ("import_json", (_export_with(provenance=[["\udcff", "0" * 32]]), 5)),  # UnicodeEncodeError
    ("cli", (["add", "episodic", "--from-json", "null"], b"")),  # TypeError
    ("cli", (["list", "--since", "99999999999d"], b"")),  # OverflowError
    ("cli", (["search", "tree", "--until", "9999-12-31T23:59-05:00"], b"")),  # OverflowError
]


@pytest.mark.parametrize(
    ("name", "value"), FOUND, ids=[f"{n}-{i}" for i, (n, _) in enumerate(FOUND)]
)
def test_what_the_fuzzing_found_stays_fixed(name: str, value: object, tmp_path: Path) -> None:
    workspace = fuzz.Workspace(tmp_path)
    try:
        with fuzz._isolated():
            fuzz.TARGETS[name][1](value, workspace)
    finally:
        workspace.close()


def test_importing_an_entity_known_here_by_another_id(tmp_path: Path) -> None:
    """Two devices that each met "Alice": importing one's export into the other failed whole
    ("link … names an unknown node"), since the entity was skipped by name."""
    workspace = fuzz.Workspace(tmp_path)
    try:
        export = json.dumps(fuzz.base_export()).encode()
        fuzz.fuzz_import_json((export, 1), workspace)
        fuzz.fuzz_import_json((export, 2), workspace)  # other ids, the same names
        assert workspace.store.counts()["episodic"] == 2
    finally:
        workspace.close()


def test_a_refused_link_makes_no_entity(tmp_path: Path) -> None:
    """`mnemo link person:Alice <no such memory>` created Alice, then refused the link."""
    workspace = fuzz.Workspace(tmp_path)
    try:
        with fuzz._isolated():
            fuzz.fuzz_cli((["stats"], b""), workspace)
            fuzz.fuzz_cli((["link", "person:Alice", "zz"], b""), workspace)
        assert fuzz.file_snapshot(tmp_path / "data" / "mnemo.db")["entities"] == 0
    finally:
        workspace.close()
