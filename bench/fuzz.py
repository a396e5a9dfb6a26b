"""Fuzzing every door into Mnemo: proof that bad input gives a clear error, never a crash or
half a write.

    python -m bench.fuzz [--cases 1200] [--seed 0]

Each target feeds hypothesis-generated input to one entry point and checks its contract: a
correct result, or Mnemo's own error type (core.errors) with a clear one-line message — never
another exception, which would reach the user as a traceback or "unexpected error", and never
a partial write (after a refused import or edit the store's rows are as they were). A contract
broken is an AssertionError naming what went wrong; `run` counts it as a crash.

Targets (inputs are absurd on purpose: broken and truncated files, deep nesting, invalid
UTF-8, lone surrogates, NUL, huge and negative numbers, NaN, dates in year 1 and 9999):
- import_json: Mnemo's JSON export, mutated, into a store (all or nothing);
- chats: ChatGPT exports, Mnemo's chat JSON and LoCoMo files read and kept as sources;
- locomo: LoCoMo files through the evaluation's loader;
- add_fields: `mnemo add`'s key=value fields, parsed, validated, stored and read back;
- cli: `mnemo …` argument lists (store commands only: nothing that captures, downloads or
  loads a model);
- settings: `settings.toml` files;
- gguf: GGUF model headers, mutated and forged;
- capture: corrupt, odd-sized and odd-mode frames through the capture pipeline;
- structured: model output into every structured answer's parser (broken JSON, and
  grammar-valid but absurd values);
- team: grammar-valid, absurd answers applied by the memory team;
- ask: a question, the model's search plan and its answer, through the chat agent;
- consolidate: the model's rewrite of a full core block;
- dates: the words a model copies for a date, and time words in questions.

`run(cases, seed)` is what bench.reliability imports: it spreads `cases` over the targets,
runs each with hypothesis (no example database: a run depends only on the seed) and returns
the figures. Prints a table, then one JSON line.
"""

import argparse
import contextlib
import copy
import functools
import hashlib
import io
import json
import math
import os
import re
import shutil
import signal
import sqlite3
import struct
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import numpy as np
from hypothesis import HealthCheck, Phase, Verbosity, given, settings
from hypothesis import seed as seeded
from hypothesis import strategies as st
from PIL import Image

from core.errors import ImportFailed, InvalidInput, MnemoError

MAX_MESSAGE = 2000  # characters: an error longer than this is not a clear one-line error
HANG_S = 120  # a case running this long is reported as a hang (only in the main thread)

# -- the harness --------------------------------------------------------------------------


class Workspace:
    """A scratch folder for one target, with a store and a scripted chat model opened on
    first use and shared by its cases (each case checks its own effect on the store)."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self._store: Any = None
        self._chat: Any = None
        self.cache: dict[str, Any] = {}

    @property
    def store(self) -> Any:
        if self._store is None:
            from core.embed import HashingEmbedder
            from core.store.memories import MemoryStore

            self._store = MemoryStore(self.folder / "store", HashingEmbedder(), no_keyring())
        return self._store

    def chat(self, script: dict[str, list[str]], *, small: bool = False) -> Any:
        """The scripted chat model, answering from `script` from now on."""
        if self._chat is None:
            self._chat = _scripted_chat_class()()
        self._chat.script = {name: list(texts) for name, texts in script.items()}
        self._chat.small = small
        return self._chat

    def close(self) -> None:
        if self._chat is not None:
            self._chat.close()
        if self._store is not None:
            self._store.close()
        shutil.rmtree(self.folder, ignore_errors=True)


def no_keyring() -> Any:
    """Settings for a scratch store: vault keys in the folder, never in the OS keyring."""
    from core.settings import Settings

    scratch = Settings()
    scratch.security.use_keyring = False
    return scratch


@functools.cache
def _scripted_chat_class() -> type:
    """Made on first use: core.llm pulls in llama.cpp, which most targets do not need."""
    from core.llm.chat import ChatModel
    from core.llm.service import ModelService

    class ScriptedChat(ChatModel):
        """Answers each schema (by name; "text" for free text) from a script, then with
        "{}"; every answer goes through ChatModel's real validation and retries."""

        def __init__(self) -> None:
            super().__init__(ModelService(lambda: None, name="fuzz"))
            self.script: dict[str, list[str]] = {}

        def _generate(self, model, messages, max_tokens, temperature, schema):
            answers = self.script.get(schema.__name__ if schema else "text") or []
            yield answers.pop(0) if answers else "{}"

    return ScriptedChat


def clear(exc: BaseException) -> None:
    """The error a user would read: a message, on one line, of a readable length."""
    message = str(exc).strip()
    assert message, f"{type(exc).__name__} with an empty message"
    assert "\n" not in message, f"{type(exc).__name__} spans lines: {message[:300]!r}"
    assert "Traceback" not in message, f"a traceback in the message: {message[:300]!r}"
    assert len(message) <= MAX_MESSAGE, f"a {len(message)}-character message: {message[:200]!r}"


_refusals = [0]  # expected errors met by the running case (a case refused, for the figures)


def attempt(call: Callable[[], Any], errors: Any = MnemoError) -> tuple[Any, Any]:
    """(result, None), or (None, error) for one of `errors` with a clear message; any other
    exception breaks the contract."""
    try:
        return call(), None
    except errors as exc:
        clear(exc)
        _refusals[0] += 1
        return None, exc
    except AssertionError:
        raise
    except Exception as exc:
        raise AssertionError(f"{type(exc).__name__} escaped: {_first_line(exc)}") from exc


TABLES = ("memories", "versions", "sources", "memory_sources", "entities", "links")


def snapshot(store: Any) -> dict[str, int]:
    return {table: store.db.scalar(f"SELECT count(*) FROM {table}") for table in TABLES}


def file_snapshot(db_path: Path) -> dict[str, int]:
    """Row counts read straight from a data folder's database (the CLI's, between runs)."""
    if not db_path.exists():
        return {}
    with contextlib.closing(sqlite3.connect(f"file:{db_path}?mode=ro", uri=True)) as db:
        return {t: db.execute(f"SELECT count(*) FROM {t}").fetchone()[0] for t in TABLES}


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return (text[0] if text else type(exc).__name__)[:300]


# -- absurd values ------------------------------------------------------------------------

ODD_STRINGS = [
    "",
    " ",
    "\t\n ",
    "\x00",
    "nul\x00inside",
    "null",
    "None",
    "NaN",
    "-1",
    "0",
    "1e309",
    "true",
    "0001-01-01T00:00:00",
    "0001-01-01T00:30:00+05:00",
    "9999-12-31T23:59:59-05:00",
    "9999-12-31",
    "0000-00-00",
    "2024-02-30",
    "2024-05-01T10:00:00Z",
    "\u202eevil",
    "💥🔥 emoji",
    "\ufeffbom",
    "x" * 5000,
    "word " * 400,
    "../../etc/passwd",
    "/",
    "%s%n{0}",
    "core:human",
    "[",
    "{",
    "[]",
    "{}",
    '{"a":',
    "\udcff",  # a byte that is not UTF-8, as Python passes it on (surrogateescape)
    "\ud800",
    "𝕏" * 50,
    "sk-live-4eC39HqLyjWDarjtT1zdp7dc",
]
ODD_VALUES: list[Any] = [
    *ODD_STRINGS,
    None,
    True,
    False,
    0,
    -1,
    2**31,
    2**63,
    -(2**63) - 1,
    10**40,
    1e308,
    -0.0,
    float("inf"),
    float("nan"),
    [],
    {},
    [[]],
    {"": None},
]


# A fresh copy each time: a list or dict drawn here may be changed by a later mutation.
ODD = st.sampled_from(ODD_VALUES).map(copy.deepcopy)


def texts(max_size: int = 30) -> st.SearchStrategy[str]:
    return st.one_of(st.text(max_size=max_size), st.sampled_from(ODD_STRINGS))


SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.floats(),
    texts(),
    ODD,
)
JSON_VALUES = st.recursive(
    SCALARS,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(texts(12), inner, max_size=4),
    max_leaves=12,
)
DEEP = st.tuples(st.sampled_from(["[", '{"a":', "[{", '{"turns":[']), st.integers(500, 50_000)).map(
    lambda t: t[0] * t[1]
)


def _slots(doc: Any, out: list[tuple[Any, Any]]) -> None:
    """(container, key) of every value in a JSON tree."""
    items = (
        doc.items() if isinstance(doc, dict) else enumerate(doc) if isinstance(doc, list) else ()
    )
    for key, value in list(items):
        out.append((doc, key))
        _slots(value, out)


def _strings(doc: Any) -> list[str]:
    if isinstance(doc, str):
        return [doc]
    values = doc.values() if isinstance(doc, dict) else doc if isinstance(doc, list) else ()
    return [s for v in values for s in _strings(v)]


# Values that name things (ids, types, references): `gentle` leaves them alone.
NAMES = {"id", "memory_id", "src", "dst", "type", "kind", "format", "label", "role",
         "content_type", "sensitivity", "entry_type", "parent", "current_node", "dia_id",
         "sample_id", "speaker", "relation", "actor"}  # fmt: skip
_ISO = re.compile(r"^\d{4}-\d\d-\d\dT")
ZONES = st.sampled_from([UTC, timezone(timedelta(hours=14)), timezone(timedelta(hours=-12))])
ISO_TIMES = st.one_of(
    st.datetimes(timezones=st.none() | ZONES).map(datetime.isoformat),
    st.sampled_from(["0001-01-01T00:00:00Z", "9999-12-31T23:59:59.999999Z",
                     "0001-01-01T00:30:00+05:00", "9999-12-31T23:59:59-05:00"]),
)  # fmt: skip
NONBLANK = texts(60).filter(str.strip)


@st.composite
def gentle(draw: Any, base: Any) -> Any:
    """`base` with one to three texts or times changed to odd but well-formed ones (far
    dates, any Unicode, NUL, long text): what a valid file from elsewhere may hold."""
    doc = copy.deepcopy(base)
    slots: list[tuple[Any, Any]] = []
    _slots(doc, slots)
    texts_ = [(c, k) for c, k in slots if isinstance(c[k], str) and k not in NAMES]
    for container, key in draw(st.lists(st.sampled_from(texts_), min_size=1, max_size=3)):
        timed = _ISO.match(container[key])
        container[key] = draw(ISO_TIMES if timed else NONBLANK)
    return doc


@st.composite
def mutated(draw: Any, base: Any) -> Any:
    """`base` with one to four things wrong: a value replaced (by any JSON, an odd value or
    another string of the document, which makes cycles and dangling references), a key or an
    item removed, an item repeated, a value wrapped in a list."""
    doc = copy.deepcopy(base)
    for _ in range(draw(st.integers(1, 4))):
        slots: list[tuple[Any, Any]] = []
        _slots(doc, slots)
        if not slots:
            break
        container, key = draw(st.sampled_from(slots))
        op = draw(
            st.sampled_from(["text", "text", "json", "odd", "ref", "delete", "repeat", "wrap"])
        )
        old = container[key]
        if op == "text" and isinstance(old, str):  # the same type, an odd value
            container[key] = draw(texts(40))
        elif op == "text" and isinstance(old, int | float) and not isinstance(old, bool):
            container[key] = draw(
                st.one_of(st.integers(), st.floats(), st.sampled_from([0, -1, 2**63, 10**40]))
            )
        elif op == "json":
            container[key] = draw(JSON_VALUES)
        elif op == "odd":
            container[key] = draw(ODD)
        elif op == "ref":
            container[key] = draw(st.sampled_from(_strings(doc) or [""]))
        elif op == "delete":
            del container[key]
        elif op == "repeat" and isinstance(container, list):
            container.insert(key, copy.deepcopy(container[key]))
        elif op == "repeat":
            container[f"{key}_"] = copy.deepcopy(container[key])
        else:
            container[key] = [container[key]]
    return doc


def json_files(*bases: Callable[[], Any]) -> st.SearchStrategy[bytes]:
    """A file's bytes: one of the `bases` (made on first use) as is, mutated, truncated or
    re-encoded; any JSON; or garbage (binary, text, deep nesting, a BOM)."""
    docs = st.sampled_from(bases).flatmap(
        lambda make: st.one_of(
            st.just(make()), mutated(make()), mutated(make()), gentle(make()), gentle(make())
        )
    )
    dumped = docs.map(lambda d: json.dumps(d).encode())
    broken = st.one_of(
        JSON_VALUES.map(lambda d: json.dumps(d).encode()),
        st.tuples(dumped, st.floats(0, 1)).map(lambda t: t[0][: int(len(t[0]) * t[1])]),
        docs.map(lambda d: json.dumps(d, ensure_ascii=False).encode("utf-16", "surrogatepass")),
        dumped.map(lambda b: b"\xef\xbb\xbf" + b),
        dumped.map(lambda b: b.replace(b'"', b"'", 1)),
        st.binary(max_size=64),
        texts(64).map(lambda s: s.encode("utf-8", "surrogatepass")),
        DEEP.map(str.encode),
    )
    # Three files in four are JSON of the right shape (sampled_from draws evenly; one_of
    # leans on its simpler branches).
    return st.sampled_from([dumped, dumped, dumped, broken]).flatmap(lambda files: files)


# -- Mnemo's JSON import ------------------------------------------------------------------


@functools.cache
def base_export() -> dict[str, Any]:
    """A real export of a small store: every memory type, a vault secret, history, sources,
    provenance, entities and links."""
    from core.embed import HashingEmbedder
    from core.memory.models import (
        EpisodicMemory,
        KnowledgeVaultItem,
        ProceduralMemory,
        ResourceMemory,
        SemanticMemory,
        Source,
        SourceKind,
    )
    from core.store.memories import MemoryStore
    from core.store.transfer import export_json

    with (
        tempfile.TemporaryDirectory(prefix="mnemo-fuzz-base-") as tmp,
        MemoryStore(Path(tmp), HashingEmbedder(), no_keyring()) as store,
    ):
        source = store.add_source(
            Source(
                kind=SourceKind.CHAT,
                occurred_at=datetime(2024, 5, 1, 10, tzinfo=UTC),
                text="Met Alice about the Lisbon trip",
                actor="user",
                ref="msg-1",
            )
        )
        episodic = store.add(
            EpisodicMemory(
                summary="Met Alice about the Lisbon trip",
                occurred_at=datetime(2024, 5, 1, 10, tzinfo=UTC),
                tree_path=["travel"],
            ),
            sources=[source.id],
        )
        store.update(episodic.id, {"details": "Flights booked"}, cause="fix")
        semantic = store.add(SemanticMemory(name="Lisbon", summary="Capital of Portugal"))
        store.add(ProceduralMemory(summary="Release", steps=["tag", "upload"]))
        store.add(ResourceMemory(title="plan.md", content="# Plan"))
        store.add(KnowledgeVaultItem(caption="Wifi", secret_value="hunter2"))
        store.update(store.core_block("human").id, {"value": "Name: Sam"})
        alice = store.entity("person", "Alice")
        store.link(episodic.id, alice.id, "about")
        store.link(episodic.id, semantic.id)
        return _stable(export_json(store, include_secrets=True))


def _stable(export: dict[str, Any]) -> dict[str, Any]:
    """The export with fixed ids and times in place of new and current ones, so that a seed
    gives the same cases in every run."""
    export["memories"].sort(key=lambda m: (m["type"], m.get("label", ""), str(m["rev"])))
    export["sources"].sort(key=lambda s: s["text"])
    export["entities"].sort(key=lambda e: e["name"])
    text = json.dumps(export)
    for n, old in enumerate(_export_ids(export), 1):
        text = text.replace(old, hashlib.sha256(f"base:{n}".encode()).hexdigest()[: len(old)])
    stamps = dict.fromkeys(re.findall(r'"(\d{4}-\d\d-\d\dT[\d:.]+Z)"', text))
    for n, stamp in enumerate(stamps):
        text = text.replace(stamp, f"2024-06-01T10:{n:02d}:00.000000Z")
    stable = json.loads(text)
    for key in ("memories", "versions", "provenance", "entities", "links"):
        stable[key].sort(key=json.dumps)
    return stable


def _export_ids(export: dict[str, Any]) -> list[str]:
    ids = [m["id"] for m in export["memories"]]
    ids += [s["id"] for s in export["sources"]] + [e["id"] for e in export["entities"]]
    return [i for i in ids if i]


def _renamed(data: bytes, salt: int) -> bytes:
    """The file with the base export's ids replaced by fresh ones, so that an import writes
    rows instead of skipping memories it has."""
    if not salt:
        return data
    for old in _export_ids(base_export()):
        new = hashlib.sha256(f"{salt}:{old}".encode()).hexdigest()[: len(old)]
        data = data.replace(old.encode(), new.encode())
    return data


def fuzz_import_json(value: tuple[bytes, int], ws: Workspace) -> None:
    from core.memory.models import MemoryType, parse_memory
    from core.store.transfer import import_json

    data, salt = value
    store = ws.store
    path = ws.folder / "export.json"
    path.write_bytes(_renamed(data, salt))
    before = snapshot(store)
    known = {row["id"] for row in store.db.query("SELECT id FROM memories")}
    counts, error = attempt(lambda: import_json(store, path), ImportFailed)
    after = snapshot(store)
    if error is not None:
        assert after == before, f"a refused import wrote rows: {before} -> {after}"
        assert data != json.dumps(base_export()).encode(), f"a valid export refused: {error}"
        return
    export = json.loads(path.read_text("utf-8"))
    assert counts["memories"] + counts["skipped"] == len(export["memories"]), counts
    for table, key in (("sources", "sources"), ("entities", "entities"), ("links", "links")):
        assert after[table] - before[table] == counts[key], (table, before, after, counts)
    assert store.counts()["core"] == 2, "core blocks were added or lost"
    for data_ in export["memories"]:
        memory = parse_memory(data_)
        if memory.id in known or memory.type == MemoryType.CORE:
            continue
        stored = store.get(memory.id, reveal=True)
        assert stored.payload() == memory.payload(), f"{memory.id} changed on import"
        if data_.get("secret_value"):
            assert stored.secret_value.get_secret_value() == data_["secret_value"]


IMPORT_FILES = st.tuples(json_files(base_export), st.integers(0, 2**16))


# -- chat files and LoCoMo ----------------------------------------------------------------


def _chatgpt_node(node_id: str, role: str, text: Any, parent: str | None, child: str | None):
    return {
        "id": node_id,
        "message": {
            "id": node_id,
            "author": {"role": role},
            "create_time": 1714557600.5,
            "content": {"content_type": "text", "parts": text},
        },
        "parent": parent,
        "children": [child] if child else [],
    }


def base_chatgpt() -> list[dict[str, Any]]:
    return [
        {
            "title": "Lisbon trip",
            "create_time": 1714557600.0,
            "current_node": "c",
            "mapping": {
                "root": {"id": "root", "message": None, "parent": None, "children": ["a"]},
                "a": _chatgpt_node("a", "user", ["Book the flight to Lisbon"], "root", "b"),
                "b": _chatgpt_node("b", "assistant", ["Done: TP 1337 on 14 March"], "a", "c"),
                "c": _chatgpt_node("c", "user", ["Thanks", {"asset": 1}], "b", None),
            },
        }
    ]


def base_mnemo_chat() -> dict[str, Any]:
    return {
        "title": "Notes",
        "started_at": "2024-05-01T10:00:00Z",
        "turns": [
            {"speaker": "user", "text": "My sister Marta is allergic to peanuts", "id": "t1"},
            {"speaker": "assistant", "text": "Noted.", "time": "2024-05-01T10:00:05+02:00"},
        ],
    }


def base_locomo() -> list[dict[str, Any]]:
    return [
        {
            "sample_id": "conv-1",
            "conversation": {
                "speaker_a": "Ann",
                "speaker_b": "Bo",
                "session_1_date_time": "1:56 pm on 8 May, 2023",
                "session_1": [
                    {"speaker": "Ann", "dia_id": "D1:1", "text": "I painted a lake"},
                    {"speaker": "Bo", "dia_id": "D1:2", "text": "Nice!", "blip_caption": "a lake"},
                ],
                "session_2_date_time": "10:04 am on 2 June, 2023",
                "session_2": [{"speaker": "Bo", "dia_id": "D2:1", "text": "I ran a marathon"}],
            },
            "qa": [
                {
                    "question": "What did Ann paint?",
                    "answer": "a lake",
                    "evidence": ["D1:1"],
                    "category": 4,
                },
                {
                    "question": "When did Bo run?",
                    "answer": 2023,
                    "evidence": ["D2:1; D1:2"],
                    "category": 2,
                },
                {
                    "question": "Who flew?",
                    "adversarial_answer": "Ann",
                    "evidence": [],
                    "category": 5,
                },
            ],
            "observation": {"session_1_observation": {"Ann": [["Ann paints lakes", "D1:1"]]}},
            "session_summary": {"session_1_summary": "Ann painted a lake."},
        }
    ]


CHAT_FILES = json_files(base_chatgpt, base_mnemo_chat, base_locomo)


def _check_sessions(sessions: Any) -> None:
    assert isinstance(sessions, list)
    for session in sessions:
        assert isinstance(session.title, str), session.title
        assert _aware(session.started_at), session.started_at
        assert session.turns, "an empty session"
        for turn in session.turns:
            assert isinstance(turn.speaker, str) and turn.speaker.strip(), turn
            assert isinstance(turn.text, str), turn
            assert _aware(turn.time), turn
            assert turn.ref is None or isinstance(turn.ref, str), turn


def _aware(value: Any) -> bool:
    return isinstance(value, datetime) and value.tzinfo is not None


def fuzz_chats(data: bytes, ws: Workspace) -> None:
    from core.ingest.chats import read_chats
    from core.ingest.keep import keep_session

    path = ws.folder / "chats.json"
    path.write_bytes(data)
    sessions, error = attempt(lambda: read_chats(path), ImportFailed)
    if error is not None:
        bases = (base_chatgpt(), base_mnemo_chat(), base_locomo())
        assert data not in [json.dumps(b).encode() for b in bases], f"a valid file refused: {error}"
        return
    _check_sessions(sessions)
    store = ws.store
    for session in sessions:
        before = snapshot(store)
        (fresh, known), _ = attempt(functools.partial(keep_session, store, session), ())
        assert known + len(fresh) == len(session.turns)
        assert snapshot(store)["sources"] - before["sources"] == len(fresh)


LOCOMO_FILES = json_files(base_locomo)


def fuzz_locomo(data: bytes, ws: Workspace) -> None:
    from agents.evaluate import CATEGORIES, _evidence, _load
    from core.ingest.chats import read_chats

    path = ws.folder / "locomo.json"
    path.write_bytes(data)
    samples, error = attempt(lambda: _load(path), ImportFailed)
    if error is not None:
        return
    for sample in samples:
        sample_id = sample["sample_id"]
        assert isinstance(sample_id, str) and sample_id, sample_id
        folder = Path("/tmp/x") / sample_id
        assert folder.parent == Path("/tmp/x") and folder.name not in (".", ".."), sample_id
        assert isinstance(sample["conversation"], dict)
        for qa in sample["qa"]:
            assert isinstance(qa["question"], str), qa
            if qa.get("category") in CATEGORIES:
                int(qa["category"])
            _evidence(qa, sample_id)
    sessions, error = attempt(lambda: read_chats(path), ImportFailed)
    if error is None:
        _check_sessions(sessions)


# -- `mnemo add` fields and the command line ----------------------------------------------


def _field_names() -> list[str]:
    from core.memory.models import MEMORY_MODELS

    return sorted({name for model in MEMORY_MODELS.values() for name in model.model_fields})


KINDS = st.sampled_from(
    [
        "episodic",
        "semantic",
        "procedural",
        "resource",
        "knowledge_vault",
        "vault",
        "core",
        "Episodic",
        "knowledge-vault",
        "",
        "bogus",
        " SEMANTIC ",
    ]
)
WHEN = st.one_of(
    st.sampled_from(
        [
            "2024-05-01",
            "2024-05-01T14:30",
            "7d",
            "12h",
            "99999999999d",
            "999999w",
            "now",
            "0001-01-01",
            "0001-01-01T00:00+01:00",
            "9999-12-31T23:59-05:00",
            "yesterday",
            "",
        ]
    ),
    texts(12),
)
VALUES = st.one_of(
    texts(40),
    WHEN,
    JSON_VALUES.map(json.dumps),
    st.sampled_from(["[1, 2]", '["a", "b"]', '{"a": 1}', "[", "{x", "[" * 5000]),
)
FIELD_ARGS = st.builds(
    lambda key, sep, value: f"{key}{sep}{value}",
    st.one_of(st.sampled_from(_field_names()), texts(8)),
    st.sampled_from(["=", "=", "=", "", "=="]),
    VALUES,
)


def fuzz_add_fields(value: tuple[str, list[str]], ws: Workspace) -> None:
    from app.commands import parse_assignments
    from core.memory.models import MemoryType, parse_memory
    from core.store.memories import check_fields

    kind_text, pairs = value
    kind, error = attempt(lambda: MemoryType.parse(kind_text))
    if error is not None:
        return
    data, error = attempt(lambda: parse_assignments(kind, pairs))
    if error is not None:
        plain = all(p.partition("=")[1] and p.partition("=")[0] for p in pairs) and not any(
            p.partition("=")[2][:1] in ("[", "{") for p in pairs
        )
        assert not plain, f"plain key=value pairs refused: {error}"
        return
    keys = [p.partition("=")[0] for p in pairs]
    assert set(data) == set(keys), (data, keys)
    for pair in pairs:
        key, _, raw = pair.partition("=")
        if keys.count(key) == 1 and raw[:1] not in ("[", "{"):
            assert data[key] in (raw, [raw]), (key, raw, data[key])
    _, error = attempt(lambda: check_fields(kind, data))
    if error is not None:
        return
    memory, error = attempt(lambda: parse_memory({**data, "type": kind.value}))
    if error is not None:
        return
    store = ws.store
    before = snapshot(store)
    stored, error = attempt(lambda: store.add(memory))
    if error is not None:
        assert snapshot(store) == before, "a refused add wrote rows"
        return
    again = store.get(stored.id, reveal=True)
    assert again.payload() == memory.payload(), "the memory changed on its way to the store"
    if getattr(memory, "secret_value", None) is not None:
        assert again.secret_value.get_secret_value() == memory.secret_value.get_secret_value()


REQUIRED = {
    "episodic": ["summary", "occurred_at"],
    "semantic": ["name", "summary"],
    "procedural": ["summary", "steps"],
    "resource": ["title"],
    "knowledge_vault": ["caption", "secret_value"],
}


@st.composite
def memory_fields(draw: Any) -> tuple[str, list[str]]:
    """A type and its required fields, some optional ones: mostly a memory that can be
    stored, with odd text and times in it."""
    from core.memory.models import MEMORY_MODELS, MemoryType

    kind = draw(st.sampled_from(sorted(REQUIRED)))
    model = MEMORY_MODELS[MemoryType(kind)]
    optional = sorted(set(model.model_fields) - model.BOOKKEEPING - {"type", *REQUIRED[kind]})
    pairs = [
        f"{name}={draw(ISO_TIMES if name == 'occurred_at' else NONBLANK)}"
        for name in REQUIRED[kind]
    ]
    for name in draw(st.lists(st.sampled_from(optional), max_size=3)):
        pairs.append(f"{name}={draw(VALUES)}")
    return kind, draw(st.permutations(pairs))


ADD_FIELDS = st.one_of(
    memory_fields(), memory_fields(), st.tuples(KINDS, st.lists(FIELD_ARGS, max_size=5))
)

# Commands that capture the screen, download or load models, or write outside the data
# folder are never generated.
UNSAFE = {
    "capture",
    "models",
    "generate",
    "ask",
    "forget",
    "ingest",
    "eval",
    "backup",
    "restore",
    "consolidate",
}
OTHER_IDS = st.one_of(
    st.sampled_from(
        [
            "core:human",
            "core:persona",
            "person:Alice",
            "topic:",
            "0",
            "zz",
            "",
            "\udcff",
        ]
    ),
    st.text(alphabet="0123456789abcdef", max_size=32),
    texts(16),
)
# Mostly the newest memory (or input), so that commands reach what they do.
IDS = st.sampled_from(["@mem", "@mem", "@mem", "@src", "other"]).flatmap(
    lambda choice: st.just(choice) if choice != "other" else OTHER_IDS
)


def _flat(parts: Any) -> list[str]:
    out: list[str] = []
    for part in parts:
        out += _flat(part) if isinstance(part, list | tuple) else [part]
    return out


def _opt(strategy: st.SearchStrategy[Any]) -> st.SearchStrategy[list[Any]]:
    return st.one_of(st.just([]), strategy.map(lambda v: [v]))


FILTERS = st.lists(
    st.one_of(
        st.tuples(st.just("--type"), KINDS),
        st.tuples(st.just("--since"), WHEN),
        st.tuples(st.just("--until"), WHEN),
        st.tuples(st.just("--app"), texts(10)),
        st.tuples(st.just("--limit"), st.sampled_from(["0", "-1", "5", "99999999999999", "x"])),
    ),
    max_size=3,
)
COMMANDS = st.sampled_from(
    [
        st.tuples(st.just("add"), KINDS, st.lists(FIELD_ARGS, max_size=4)),
        st.tuples(
            st.just("add"), memory_fields().map(lambda kind_pairs: [kind_pairs[0], *kind_pairs[1]])
        ),
        st.tuples(
            st.just("add"), memory_fields().map(lambda kind_pairs: [kind_pairs[0], *kind_pairs[1]])
        ),
        st.tuples(st.just("add"), KINDS, st.just("--from-json"), VALUES),
        st.tuples(st.just("edit"), IDS, st.lists(FIELD_ARGS, min_size=1, max_size=3)),
        st.tuples(st.just("show"), IDS, _opt(st.just("--reveal"))),
        st.tuples(st.just("delete"), IDS, st.just("--yes")),
        st.tuples(st.just("history"), IDS),
        st.tuples(st.just("list"), FILTERS),
        st.tuples(
            st.just("search"),
            st.lists(texts(12), min_size=1, max_size=3),
            FILTERS,
            _opt(st.sampled_from(["--explain", "--in=memories", "--in=sources", "--in=all"])),
        ),
        st.tuples(st.just("link"), IDS, IDS, _opt(st.tuples(st.just("-r"), texts(10)))),
        st.tuples(st.just("link"), IDS, IDS, st.just("--remove")),
        st.tuples(st.just("stats")),
        st.tuples(
            st.just("export"),
            st.sampled_from(["json", "markdown"]).map(lambda f: ["-f", f]),
            st.just(["-o", "@out"]),
            _opt(st.just("--include-secrets")),
        ),
        st.tuples(st.just("import"), st.just("@file")),
        st.lists(texts(10), max_size=4),  # anything at all
    ]
).flatmap(lambda command: command.map(_flat))  # each kind of command as often
ARGVS = st.tuples(
    st.tuples(_opt(st.just("--json")), COMMANDS)
    .map(_flat)
    .filter(lambda argv: not any(arg in UNSAFE or arg.startswith("--data") for arg in argv)),
    json_files(base_export),
)
EXIT_CODES = {0, 1, 2, 3}


def fuzz_cli(value: tuple[list[str], bytes], ws: Workspace) -> None:
    from app.commands import main

    argv, data = value
    folder = ws.folder / "data"
    if not folder.exists():
        folder.mkdir()
        (folder / "settings.toml").write_text("[security]\nuse_keyring = false\n")
    db = folder / "mnemo.db"
    (ws.folder / "import.json").write_bytes(_renamed(data, len(data)))
    argv = [_substitute(arg, db, ws.folder) for arg in argv]
    before = file_snapshot(db)
    out, err = io.StringIO(), io.StringIO()
    with (
        contextlib.redirect_stdout(out),
        contextlib.redirect_stderr(err),
        _stdin(io.StringIO("")),
    ):
        try:
            code = main(["--data-dir", str(folder), *argv])
        except SystemExit as exc:  # argparse: --help (0) or a usage error (2)
            code = exc.code if isinstance(exc.code, int) else 2
    message = err.getvalue()
    _refusals[0] += code != 0
    assert code in EXIT_CODES, f"exit code {code}: {message[-300:]!r}"
    assert "unexpected error" not in message, message.strip().splitlines()[-1][:300]
    assert "Traceback" not in message, message[-300:]
    if code in (1, 3):  # the reason, on the last line and on one line (progress may precede)
        lines = message.strip().splitlines()
        said = [n for n, line in enumerate(lines) if line.startswith("mnemo: ")]
        assert said and said[0] == len(lines) - 1, f"not a one-line error: {message[-300:]!r}"
    if code != 0 and argv[-1:] != ["--help"]:
        after = file_snapshot(db)
        assert not before or after == before, f"a refused command wrote rows: {argv}"


def _substitute(arg: str, db: Path, folder: Path) -> str:
    if arg == "@out":
        return str(folder / "export.out")
    if arg == "@file":
        return str(folder / "import.json")
    if arg in ("@mem", "@src") and db.exists():
        table = "memories WHERE type != 'core'" if arg == "@mem" else "sources"
        with contextlib.closing(sqlite3.connect(f"file:{db}?mode=ro", uri=True)) as con:
            row = con.execute(f"SELECT id FROM {table} ORDER BY rowid DESC LIMIT 1").fetchone()
        return row[0] if row else "0"
    return arg


@contextlib.contextmanager
def _stdin(replacement: Any) -> Iterator[None]:
    """No prompt may wait for a terminal (`delete` without --yes asks one)."""
    saved, sys.stdin = sys.stdin, replacement
    try:
        yield
    finally:
        sys.stdin = saved


# -- settings.toml ------------------------------------------------------------------------


@functools.cache
def _settings_fields() -> dict[str, list[str]]:
    from core.settings import Settings

    out: dict[str, list[str]] = {}
    for name, info in Settings.model_fields.items():
        section = info.annotation
        out[name] = list(getattr(section, "model_fields", {}))
    out["capture.exclusions"] = ["apps", "title_patterns", "domains", "use_defaults"]
    out["models.openai"] = ["base_url", "api_key_env", "timeout_s"]
    return out


TOML_SCALARS = st.one_of(
    st.integers(-(2**63), 2**63 - 1),
    st.floats(),
    st.booleans(),
    texts(20),
    st.datetimes(timezones=st.none() | st.just(UTC)),
    st.dates(),
    st.sampled_from([0, -1, 1, 0.0, 1e-300, 1e300, float("inf"), float("-inf"), float("nan")]),
    st.sampled_from(["(", "[a-", "*", "a{99999999999}", "(?P<x>", "\\", "firefox", ""]),
)
TOML_VALUES = st.one_of(TOML_SCALARS, st.lists(TOML_SCALARS, max_size=3))


@st.composite
def settings_documents(draw: Any) -> dict[str, Any]:
    fields = _settings_fields()
    doc: dict[str, Any] = {}
    for section in draw(st.lists(st.sampled_from([*fields, "bogus"]), max_size=4)):
        names = fields.get(section, ["x"])
        table = {
            draw(st.sampled_from([*names, "nope"])): draw(TOML_VALUES)
            for _ in range(draw(st.integers(0, 3)))
        }
        node = doc
        for part in section.split(".")[:-1]:
            node = node.setdefault(part, {})
            if not isinstance(node, dict):
                break
        else:
            node[section.split(".")[-1]] = table
    return doc


def _toml(doc: dict[str, Any]) -> bytes:
    import tomli_w

    try:
        return tomli_w.dumps(doc).encode()
    except (TypeError, ValueError):
        return b"[broken\n"


SETTINGS_FILES = st.one_of(
    settings_documents().map(_toml),
    settings_documents().map(_toml),
    settings_documents().map(_toml),
    st.tuples(settings_documents().map(_toml), st.floats(0, 1)).map(
        lambda t: t[0][: int(len(t[0]) * t[1])]
    ),
    st.binary(max_size=64),
    texts(64).map(lambda s: s.encode("utf-8", "surrogatepass")),
    st.sampled_from(
        [
            b"[search]\nrrf_k = \xff\n",
            "[capture]\ninterval_s = 3\n".encode("utf-16"),
            b"a = " + b"[" * 5000 + b"]" * 5000,
            b"[" * 3000,
            b"x = {" + b"a = {" * 3000,
        ]
    ),
)


def fuzz_settings(data: bytes, ws: Workspace) -> None:
    from core.capture.exclusions import Exclusions
    from core.settings import Settings

    folder = ws.folder / "settings"
    folder.mkdir(exist_ok=True)
    (folder / "settings.toml").write_bytes(data)
    loaded, error = attempt(lambda: Settings.load(folder), InvalidInput)
    if error is not None:
        return
    for section in loaded.model_dump().values():
        for name, value in section.items():
            assert not (isinstance(value, float) and not math.isfinite(value)), (name, value)
    loaded.save(folder)
    assert Settings.load(folder) == loaded, "the settings changed on a save and load"
    rules = loaded.capture.exclusions
    attempt(
        lambda: Exclusions.make(
            apps=rules.apps, title_patterns=rules.title_patterns, domains=rules.domains
        ),
        InvalidInput,
    )


# -- GGUF headers -------------------------------------------------------------------------


@functools.cache
def base_gguf() -> bytes:
    """A small, valid GGUF file: metadata of each kind and two f32 tensors."""
    import gguf

    with tempfile.TemporaryDirectory(prefix="mnemo-fuzz-gguf-") as tmp:
        path = Path(tmp) / "tiny.gguf"
        writer = gguf.GGUFWriter(str(path), arch="llama")
        writer.add_name("tiny")
        writer.add_context_length(2048)
        writer.add_embedding_length(8)
        writer.add_block_count(1)
        writer.add_file_type(gguf.LlamaFileType.ALL_F32)
        writer.add_chat_template("{{ messages }}")
        writer.add_token_list(["a", "b", "c"])
        writer.add_tensor("token_embd.weight", np.ones((3, 8), dtype=np.float32))
        writer.add_tensor("blk.0.ffn_up.weight", np.ones((8, 8), dtype=np.float32))
        writer.write_header_to_file()
        writer.write_kv_data_to_file()
        writer.write_tensors_to_file()
        writer.close()
        return path.read_bytes()


def _gstr(text: bytes, length: int | None = None) -> bytes:
    return struct.pack("<Q", len(text) if length is None else length) + text


_PACK = {
    0: "<B",
    1: "<b",
    2: "<H",
    3: "<h",
    4: "<I",
    5: "<i",
    6: "<f",
    7: "<?",
    10: "<Q",
    11: "<q",
    12: "<d",
}


@st.composite
def _gguf_value(draw: Any) -> bytes:
    """A metadata value's type and bytes, right or wrong."""
    kind = draw(st.sampled_from([*_PACK, 8, 8, 9, 9, 13, 99, 2**32 - 1]))
    if kind in _PACK:
        fmt = _PACK[kind]
        size = struct.calcsize(fmt)
        raw = draw(st.binary(min_size=size, max_size=size))
        return struct.pack("<I", kind) + raw
    if kind == 8:
        text = draw(texts(20)).encode("utf-8", "surrogatepass")
        length = draw(st.one_of(st.none(), st.sampled_from([0, 2**63, 2**64 - 1, 10**8])))
        return struct.pack("<I", kind) + _gstr(text, length)
    if kind == 9:
        depth = draw(st.sampled_from([1, 2, 5, 3000]))
        item = draw(st.sampled_from([*_PACK, 8, 9, 13]))
        count = draw(st.sampled_from([0, 1, 3, 10**7, 2**64 - 1]))
        head = struct.pack("<I", 9) + (struct.pack("<IQ", 9, 1) * (depth - 1))
        return head + struct.pack("<IQ", item, count) + draw(st.binary(max_size=32))
    return struct.pack("<I", kind) + draw(st.binary(max_size=8))


@st.composite
def forged_gguf(draw: Any) -> bytes:
    """A header written field by field, with plausible keys and implausible values."""
    keys = [
        b"general.alignment",
        b"general.architecture",
        b"general.file_type",
        b"llama.context_length",
        b"tokenizer.chat_template",
        b"bert.pooling_type",
    ]
    alignments = [
        struct.pack("<I", 4) + struct.pack("<I", 0),
        struct.pack("<I", 5) + struct.pack("<i", -32),
        struct.pack("<I", 6) + struct.pack("<f", math.nan),
        struct.pack("<I", 8) + _gstr(b"32"),
        struct.pack("<I", 9) + struct.pack("<IQ", 4, 0),
    ]
    kvs = draw(
        st.lists(
            st.one_of(
                st.tuples(st.sampled_from(keys) | st.binary(max_size=8), _gguf_value()),
                st.tuples(st.just(b"general.alignment"), st.sampled_from(alignments)),
            )
        )
    )
    tensors = draw(
        st.lists(
            st.tuples(
                st.binary(max_size=8),
                st.integers(0, 10),
                st.lists(st.sampled_from([0, 1, 7, 2**32, 2**64 - 1]), max_size=3),
                st.sampled_from([0, 1, 2, 8, 30, 39, 1000]),
                st.sampled_from([0, 32, 2**63, 2**64 - 1]),
            ),
            max_size=3,
        )
    )
    out = b"GGUF" + struct.pack("<I", draw(st.sampled_from([3, 3, 2, 1, 4, 2**32 - 1])))
    out += struct.pack("<QQ", len(tensors), len(kvs))
    for key, value in kvs:
        out += _gstr(key) + value
    for name, n_dims, dims, kind, offset in tensors:
        dims = (dims + [1] * n_dims)[:n_dims]
        out += (
            _gstr(name) + struct.pack("<I", n_dims) + b"".join(struct.pack("<Q", d) for d in dims)
        )
        out += struct.pack("<IQ", kind, offset)
    return out + b"\x00" * draw(st.integers(0, 300))


@st.composite
def mutated_gguf(draw: Any) -> bytes:
    data = bytearray(base_gguf())
    for _ in range(draw(st.integers(1, 4))):
        where = draw(st.integers(0, len(data) - 1))
        op = draw(st.sampled_from(["flip", "cut", "insert", "word"]))
        if op == "flip":
            data[where] = draw(st.integers(0, 255))
        elif op == "cut":
            del data[where:]
            if not data:
                break
        elif op == "insert":
            data[where:where] = draw(st.binary(min_size=1, max_size=8))
        else:
            data[where : where + 8] = struct.pack(
                "<Q", draw(st.sampled_from([0, 2**63, 2**64 - 1]))
            )
    return bytes(data)


GGUF_FILES = st.one_of(
    mutated_gguf(),
    mutated_gguf(),
    forged_gguf(),
    forged_gguf(),
    st.binary(max_size=64),
    st.just(b"GGUF"),
)


def fuzz_gguf(data: bytes, ws: Workspace) -> None:
    from core.llm.gguf_file import InvalidModelFile, read_header

    path = ws.folder / "model.gguf"
    path.write_bytes(data)
    header, error = attempt(lambda: read_header(path), InvalidModelFile)
    if error is not None:
        return
    assert header.tensor_count >= 0 and header.parameters >= 0 and header.size == len(data)
    for name in (
        "architecture",
        "quantization",
        "context_length",
        "embedding_length",
        "block_count",
        "is_projector",
        "is_embedding_model",
    ):
        getattr(header, name)


# -- screen capture -----------------------------------------------------------------------

MODES = ["RGB", "RGB", "RGBA", "L", "P", "1", "I;16", "I", "F", "LA", "CMYK", "YCbCr"]
SIZES = st.one_of(
    st.sampled_from([(1, 1), (10000, 3), (3, 10000), (1, 2000), (17000, 2), (64, 48)]),
    st.tuples(st.integers(1, 400), st.integers(1, 300)),
)


@dataclass(frozen=True)
class FrameSpec:
    kind: str  # solid, noise, text, truncated (a PNG cut short), error (the grab fails)
    mode: str
    size: tuple[int, int]
    seed: int


FRAMES = st.builds(
    FrameSpec,
    st.sampled_from(["solid", "noise", "text", "text", "truncated", "error"]),
    st.sampled_from(MODES),
    SIZES,
    st.integers(0, 2**16),
)


def frame_image(spec: FrameSpec) -> Image.Image:
    from core.capture.screen import FrameError

    width, height = spec.size
    rng = np.random.default_rng(spec.seed)
    if spec.kind == "error":
        raise [FrameError("no frame"), OSError(5, "I/O error"), ValueError("bad buffer")][
            spec.seed % 3
        ]
    if spec.kind == "noise":
        image = Image.fromarray(rng.integers(0, 256, (height, width, 3), dtype=np.uint8))
    else:
        image = Image.new("RGB", spec.size, tuple(int(c) for c in rng.integers(0, 256, 3)))
    if spec.kind == "text":
        from PIL import ImageDraw

        ImageDraw.Draw(image).text((2, 2), "Flight TP 1337 departs 14:05", fill="black")
    if spec.mode == "I;16":
        image = Image.fromarray(rng.integers(0, 65536, (height, width), dtype=np.uint16))
    elif spec.mode == "F":
        pixels = rng.standard_normal((height, width)).astype(np.float32) * 1e30
        pixels[0, 0] = np.nan
        image = Image.fromarray(pixels, mode="F")
    elif spec.mode != "RGB":
        image = image.convert(spec.mode)
    if spec.kind == "truncated":
        buffer = io.BytesIO()
        image.convert("RGB").save(buffer, "PNG")
        cut = buffer.getvalue()
        return Image.open(io.BytesIO(cut[: max(40, len(cut) // 2)]))
    return image


@dataclass
class _Screen:
    frames: list[FrameSpec]
    size: tuple[int, int]
    grabs: int = 0

    def monitors(self) -> list[Any]:
        from core.capture.change import Box
        from core.capture.screen import Monitor

        return [Monitor(1, Box(0, 0, *self.size))]

    def grab(self, monitor: Any) -> Image.Image:
        self.grabs += 1
        return frame_image(self.frames[min(self.grabs - 1, len(self.frames) - 1)])


@dataclass
class _Desktop:
    windows: list[Any] = field(default_factory=list)

    def state(self) -> Any:
        from core.capture.desktop import DesktopState

        return DesktopState(windows=list(self.windows), idle_s=0.0, locked=False)

    def close(self) -> None:
        pass


class _FakeOcr:
    """Reads `lines` (with their boxes, anywhere) from any image, after converting each
    region the way the real OCR does."""

    def __init__(self, lines: list[Any]) -> None:
        self.lines = lines

    def read(self, image: Image.Image, regions: list[Any] | None = None) -> list[Any]:
        from core.capture.change import Box
        from core.capture.ocr import bgr, reading_order

        for region in regions or [Box(0, 0, image.width, image.height)]:
            bgr(image.crop((region.left, region.top, region.right, region.bottom)))
        return reading_order(self.lines)

    def unload_if_idle(self, idle_s: float) -> bool:
        return False


BOXES = st.builds(
    lambda x, y, w, h: (x, y, x + w, y + h),
    st.integers(-50, 500),
    st.integers(-50, 400),
    st.integers(0, 600),
    st.integers(0, 400),
)


def _utf8(text: str) -> bool:
    """No lone surrogates: the desktop decodes titles with "replace", and OCR reads from its
    own alphabet, so neither can produce one."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


SCREEN_TEXT = texts(40).filter(_utf8)
WINDOWS = st.lists(
    st.tuples(
        st.sampled_from(["gedit", "firefox", "KeePassXC", "", "Terminal"]) | SCREEN_TEXT,
        SCREEN_TEXT,
        BOXES,
        st.booleans(),
    ),
    max_size=3,
)
OCR_LINES = st.lists(st.tuples(SCREEN_TEXT, BOXES, st.floats(0, 1)), max_size=4)
CAPTURES = st.tuples(
    st.lists(FRAMES, min_size=1, max_size=3),
    st.booleans(),  # the monitor is the first frame's size (else another)
    SIZES,
    WINDOWS,
    OCR_LINES,
    st.booleans(),  # real OCR, on frames small enough to read quickly
    st.sampled_from([0.5, 1.0, 0.01]),  # the pictures' scale (settings allow up to 1)
)


def fuzz_capture(value: tuple[Any, ...], ws: Workspace) -> None:
    from agents import screen
    from core.capture.change import Box
    from core.capture.desktop import Window
    from core.capture.ocr import Ocr, TextLine
    from core.capture.service import CaptureService
    from core.settings import CaptureSettings

    frames, same_size, other_size, windows, lines, real_ocr, scale = value
    size = frames[0].size if same_size else other_size
    real_ocr = real_ocr and all(f.size[0] * f.size[1] <= 40_000 for f in frames)
    if real_ocr:
        ocr = ws.cache.setdefault("ocr", Ocr())
    else:
        ocr = _FakeOcr([TextLine(text, Box(*box), score) for text, box, score in lines])
    desktop = _Desktop(
        [
            Window(app, title, Box(*box), pid=1, focused=focused)
            for app, title, box, focused in windows
        ]
    )
    store = ws.store
    service = CaptureService(
        store,
        store.folder,
        CaptureSettings(thumbnail_every_s=0, ocr_settle_s=0, thumbnail_scale=scale),
        screen=_Screen(frames, size),
        desktop_factory=lambda: desktop,
        ocr=ocr,
    )
    before = snapshot(store)
    stored = []
    for _ in frames:
        sources, _ = attempt(service.once, ())
        stored += sources
    assert snapshot(store)["sources"] - before["sources"] == len(stored)
    for source in stored:
        again = store.get_source(source.id)
        assert again.text == source.text
        if source.thumbnail:
            assert (store.folder / source.thumbnail).is_file(), source.thumbnail
    _refusals[0] += service.stats.failed
    whole = all(f.kind not in ("truncated", "error") and f.size == size for f in frames)
    if whole:
        assert service.stats.failed == 0, f"a good frame failed: {service.stats.last_error}"
    elif service.stats.failed:
        clear(Exception(service.stats.last_error))
    attempt(lambda: screen.memories(stored), ())


# -- model outputs ------------------------------------------------------------------------


def _bounded(low: int, high: int) -> st.SearchStrategy[str]:
    """Text within [low, high] characters, mostly; sometimes one past either end."""
    return st.one_of(
        st.text(min_size=low, max_size=high),
        st.sampled_from(ODD_STRINGS).map(lambda s: s[:high]),
        st.sampled_from(["x" * high, "💥" * high, " " * high, "\\" * high, '"' * high]),
        st.text(min_size=high + 1, max_size=high + 3),
    )


DATE_WORDS = st.one_of(
    st.sampled_from(
        [
            "yesterday",
            "today",
            "tomorrow",
            "last Friday",
            "next monday",
            "2 weeks ago",
            "9999 years ago",
            "99999999999 days ago",
            "3000 years ago",
            "a few days ago",
            "May 7",
            "7th of May 2023",
            "May 0000",
            "February 30",
            "31 december 9999",
            "1 january 0001",
            "0001-01-01",
            "9999-12-31",
            "2024-13-45",
            "last year",
            "next year",
            "in 9999",
            "in 0000",
            "in 10000",
            "this month",
            "past year",
            "last week",
        ]
    ),
    st.builds(
        "{} {}{} ago".format,
        st.one_of(st.integers(0, 10**30).map(str), st.sampled_from(["a", "few", "couple of"])),
        st.sampled_from(["day", "week", "month", "year"]),
        st.sampled_from(["", "s"]),
    ),
    st.builds(
        "{} {} {}".format,
        st.integers(0, 99),
        st.sampled_from(["jan", "May", "december", "sept"]),
        st.integers(0, 99999),
    ),
    texts(30),
)
MANAGER_FIELDS = {
    "episodic": {"summary": 160, "event_type": 60, "actor": 60, "when": 40, "details": 300},
    "semantic": {"name": 60, "summary": 160, "details": 300},
    "procedural": {"summary": 160, "entry_type": 0, "steps": 120},
    "resource": {"title": 60, "summary": 160, "resource_type": 60},
    "knowledge_vault": {
        "caption": 160,
        "entry_type": 60,
        "source": 60,
        "secret_value": 160,
        "sensitivity": 0,
    },
}
REFS = st.lists(st.one_of(st.integers(1, 999), st.sampled_from([0, -1, 1000, 2**40])), max_size=9)


@st.composite
def manager_item(draw: Any, manager: str, shown: int) -> dict[str, Any]:
    op = draw(st.sampled_from(["insert", "insert", "update", "skip", "delete"]))
    item: dict[str, Any] = {"op": op}
    if op == "skip":
        return item
    if op == "update":
        item["target"] = draw(st.one_of(st.integers(1, max(shown, 1)), st.sampled_from([0, -1, 7])))
    for name, limit in MANAGER_FIELDS[manager].items():
        if draw(st.integers(0, 4)) == 0:
            continue  # left out
        if name == "when":
            item[name] = draw(DATE_WORDS.map(lambda w: w[:40]))
        elif name == "entry_type" and manager == "procedural":
            item[name] = draw(st.sampled_from(["workflow", "guide", "script", "recipe"]))
        elif name == "sensitivity":
            item[name] = draw(st.sampled_from(["low", "medium", "high", "extreme"]))
        elif name == "steps":
            item[name] = draw(st.lists(_bounded(1, limit), max_size=9))
        else:
            item[name] = draw(_bounded(1 if op == "insert" else 0, limit))
    item["sources"] = draw(REFS)
    return item


def answers(schema: str) -> st.SearchStrategy[dict[str, Any]]:
    """Answers shaped like `schema`'s, with absurd values, some out of its bounds."""
    if schema == "Routing":
        return st.fixed_dictionaries(
            {
                "topics": st.lists(_bounded(1, 40), max_size=6),
                "managers": st.lists(
                    st.sampled_from(
                        [
                            "core",
                            "episodic",
                            "semantic",
                            "procedural",
                            "resource",
                            "knowledge_vault",
                            "meta",
                        ]
                    ),
                    max_size=7,
                ),
            }
        )
    if schema == "CoreAnswer":
        edit = st.fixed_dictionaries(
            {
                "block": st.sampled_from(["human", "persona", "system"]),
                "op": st.sampled_from(["append", "skip", "replace"]),
                "text": _bounded(0, 300),
                "sources": REFS,
            }
        )
        return st.fixed_dictionaries({"items": st.lists(edit, max_size=3)})
    if schema == "SearchPlan":
        return st.fixed_dictionaries({"queries": st.lists(_bounded(2, 60), max_size=4)})
    if schema == "Verdict":
        return st.fixed_dictionaries({"verdict": st.sampled_from(["CORRECT", "WRONG", "MAYBE"])})
    if schema == "CoreRewrite":
        return st.fixed_dictionaries({"text": _bounded(1, 2500)})
    manager, shown = schema.split(":")
    limit = {"episodic": 3, "semantic": 3, "procedural": 2, "resource": 2}.get(manager, 2)
    return st.fixed_dictionaries(
        {"items": st.lists(manager_item(manager, int(shown)), max_size=limit + 1)}
    )


def outputs(schema: str) -> st.SearchStrategy[str]:
    """What a model might answer: mostly the schema's shape, else any JSON or broken text."""
    shaped = answers(schema).map(json.dumps)
    return st.one_of(
        shaped,
        shaped,
        shaped,
        answers(schema).map(lambda a: json.dumps(a, ensure_ascii=False, indent=1)),
        st.tuples(shaped, st.floats(0, 1)).map(lambda t: t[0][: int(len(t[0]) * t[1])]),
        JSON_VALUES.map(json.dumps),
        texts(80),
        DEEP,
        st.sampled_from(
            [
                '{"items": [{"op": "insert", "summary": "\\ud800"}]}',
                "```json\n{}```",
                '{"text": "\\u0000"}',
                "{}{}",
                '{"items": []} trailing',
            ]
        ),
    )


def _schema(name: str) -> Any:
    from agents import schemas
    from agents.chat import SearchPlan
    from agents.consolidate import _rewrite_schema
    from agents.evaluate import Verdict

    fixed = {
        "Routing": schemas.Routing,
        "CoreAnswer": schemas.CoreAnswer,
        "SearchPlan": SearchPlan,
        "Verdict": Verdict,
        "CoreRewrite": _rewrite_schema(2500),
    }
    if name in fixed:
        return fixed[name]
    manager, shown = name.split(":")
    return schemas.answer_schema(manager, int(shown))


SCHEMAS = ["Routing", "CoreAnswer", "SearchPlan", "Verdict", "CoreRewrite"] + [
    f"{manager}:{shown}"
    for manager in ("episodic", "semantic", "procedural", "resource", "knowledge_vault")
    for shown in (0, 3)
]
STRUCTURED = st.sampled_from(SCHEMAS).flatmap(
    lambda name: st.tuples(st.just(name), st.lists(outputs(name), min_size=1, max_size=3))
)


def fuzz_structured(value: tuple[str, list[str]], ws: Workspace) -> None:
    from core.llm.chat import StructuredOutputError

    name, answers_ = value
    schema = _schema(name)
    chat = ws.chat({schema.__name__: answers_})
    messages = [{"role": "user", "content": "answer"}]
    result, error = attempt(
        lambda: chat.structured(messages, schema, retries=len(answers_) - 1),
        StructuredOutputError,
    )
    if error is not None:
        return
    assert isinstance(result, schema)
    valid = [a for a in answers_ if _validates(schema, a)]
    assert valid and result == schema.model_validate_json(valid[0]), "not the first valid answer"


def _validates(schema: Any, text: str) -> bool:
    from pydantic import ValidationError

    try:
        schema.model_validate_json(text)
    except ValidationError:
        return False
    return True


TIMES = st.datetimes(
    min_value=datetime(1, 1, 2), max_value=datetime(9999, 12, 30), timezones=st.just(UTC)
)
LINES = st.one_of(
    st.sampled_from(
        [
            "My sister Marta is allergic to peanuts",
            "Flight TP 1337 departs 14:05 on 14 March",
            "The wifi password is hunter2",
            "I met Alice in Lisbon 9999 years ago",
            "sk-live-4eC39HqLyjWDarjtT1zdp7dc",
        ]
    ),
    texts(120),
)
TEAM = st.tuples(
    st.sampled_from(["chat", "capture", "file"]),
    st.lists(
        st.tuples(LINES, TIMES, st.sampled_from(["user", "Marta", "assistant"])),
        min_size=1,
        max_size=3,
    ),
    st.lists(outputs("Routing"), max_size=2),
    st.fixed_dictionaries(
        {manager: st.lists(outputs(f"{manager}:3"), max_size=2) for manager in MANAGER_FIELDS}
    ),
    st.lists(outputs("CoreAnswer"), max_size=2),
    st.sampled_from(["abstractive", "abstractive", "extractive"]),  # extractive: no model
)


def fuzz_team(value: tuple[Any, ...], ws: Workspace) -> None:
    from pydantic import ValidationError

    from agents.team import Batch, MemoryTeam
    from core.memory.models import Source, SourceKind

    kind, lines, routing, managers, core, writer = value
    store = ws.store
    source_kind = {"chat": SourceKind.CHAT, "capture": SourceKind.CAPTURE, "file": SourceKind.FILE}
    try:
        batch = [
            Source(
                kind=source_kind[kind],
                occurred_at=when,
                text=text,
                actor=who if kind == "chat" else None,
                app="firefox" if kind == "capture" else None,
                title="notes.md" if kind != "chat" else None,
            )
            for text, when, who in lines
        ]
    except ValidationError:  # text no input could hold (a lone surrogate): not a batch
        return
    sources = store.add_sources(batch)
    script = {"Routing": routing, "CoreAnswer": core}
    for manager, texts_ in managers.items():
        name = "".join(part.title() for part in manager.split("_"))
        script[f"{name}Answer"] = texts_
    team = MemoryTeam(store, ws.chat(script), writer=writer)
    before = snapshot(store)
    report, _ = attempt(lambda: team.process(Batch(sources, kind)), ())
    after = snapshot(store)
    inserted = sum(report.inserted.values())
    assert after["memories"] - before["memories"] == inserted, (before, after, report.inserted)
    found = store.get_many(report.memory_ids)
    assert set(found) == set(report.memory_ids), "the report names memories that are not there"
    for memory in found.values():
        store.get(memory.id, reveal=True)
    for reason in report.invalid:
        clear(Exception(reason))


def _seed_for_questions(store: Any) -> None:
    from core.ingest.chats import Session, Turn
    from core.ingest.keep import keep_session
    from core.memory.models import EpisodicMemory

    if store.counts()["episodic"]:
        return
    when = datetime(2024, 5, 1, 10, tzinfo=UTC)
    session = Session("notes", when, [Turn("user", "My sister Marta paints lakes", when, "q1")])
    keep_session(store, session)
    store.add(EpisodicMemory(summary="Marta painted a lake in May", occurred_at=when))


QUESTIONS = st.one_of(
    st.builds(
        "{} {}".format,
        st.sampled_from(
            [
                "what did I do",
                "remember that",
                "forget",
                "what did Marta paint",
                "when did my sister",
                "remember:",
            ]
        ),
        DATE_WORDS,
    ),
    texts(60),
)
ASKS = st.tuples(
    QUESTIONS,
    st.one_of(st.none(), TIMES),
    st.lists(outputs("SearchPlan"), max_size=3),
    st.one_of(texts(200), st.sampled_from(["Marta paints [1] [2] [999] [0]", "[1]" * 50])),
    st.booleans(),  # a small model (extractive answers)
)


def fuzz_ask(value: tuple[Any, ...], ws: Workspace) -> None:
    from agents.chat import ChatAgent
    from agents.team import MemoryTeam

    question, when, plans, text, small = value
    store = ws.store
    _seed_for_questions(store)
    chat = ws.chat({"SearchPlan": plans, "text": [text]}, small=small)
    agent = ChatAgent(store, chat, MemoryTeam(store, chat, writer="extractive"), plan_queries=True)
    before = snapshot(store)
    answer, _ = attempt(lambda: agent.ask(question, now=when), ())
    assert isinstance(answer.text, str)
    if answer.intent == "ask":
        assert answer.queries and answer.queries[0] == answer.question, answer.queries
        assert all(isinstance(q, str) for q in answer.queries)
        assert all(c in answer.items for c in answer.citations)
        assert snapshot(store) == before, "a question wrote rows"
        if answer.time_filter is not None:
            since, until = answer.time_filter
            assert _aware(since) and _aware(until) and since <= until, answer.time_filter


REWRITES = st.tuples(
    st.text(min_size=1, max_size=40).filter(str.strip),
    st.lists(outputs("CoreRewrite"), max_size=3),
    st.one_of(st.none(), TIMES),
)


def fuzz_consolidate(value: tuple[str, list[str], datetime | None], ws: Workspace) -> None:
    from agents.consolidate import Consolidator

    seed_text, rewrites, at = value
    store = ws.store
    block = store.core_block("human")
    fill = (seed_text * (block.char_limit // len(seed_text) + 1))[: block.char_limit - 1]
    if fill.strip() != fill or len(fill) <= 0.9 * block.char_limit:
        fill = "x" + fill[1:-1] + "x"
    store.update(block.id, {"value": fill})
    full = store.core_block("human").value
    chat = ws.chat({"CoreRewrite": rewrites})
    report, _ = attempt(lambda: Consolidator(store, chat).run(at=at), ())
    after = store.core_block("human").value
    if "human" in report.core_rewritten:
        assert 20 <= len(after) <= block.char_limit // 2, len(after)
    else:
        assert after == full, "a rewrite that was refused changed the block"
        assert report.errors or full.strip() == "", report
    for reason in report.errors:
        clear(Exception(reason))


DATES = st.tuples(
    DATE_WORDS,
    st.datetimes(
        timezones=st.sampled_from(
            [UTC, timezone(timedelta(hours=14)), timezone(timedelta(hours=-12))]
        )
    ),
)


def fuzz_dates(value: tuple[str, datetime], ws: Workspace) -> None:
    from agents.dates import resolve_date, time_range

    words, reference = value
    day, _ = attempt(lambda: resolve_date(words, reference), ())
    assert day is None or isinstance(day, date)
    span, _ = attempt(lambda: time_range(f"what did I do {words}?", reference), ())
    if span is not None:
        since, until = span
        assert _aware(since) and _aware(until) and since <= until, span


# -- the registry and the runner -----------------------------------------------------------

Target = tuple[st.SearchStrategy[Any], Callable[[Any, Workspace], None]]
TARGETS: dict[str, Target] = {
    "import_json": (IMPORT_FILES, fuzz_import_json),
    "chats": (CHAT_FILES, fuzz_chats),
    "locomo": (LOCOMO_FILES, fuzz_locomo),
    "add_fields": (ADD_FIELDS, fuzz_add_fields),
    "cli": (ARGVS, fuzz_cli),
    "settings": (SETTINGS_FILES, fuzz_settings),
    "gguf": (GGUF_FILES, fuzz_gguf),
    "capture": (CAPTURES, fuzz_capture),
    "structured": (STRUCTURED, fuzz_structured),
    "team": (TEAM, fuzz_team),
    "ask": (ASKS, fuzz_ask),
    "consolidate": (REWRITES, fuzz_consolidate),
    "dates": (DATES, fuzz_dates),
}
# Shares of the cases: cheap targets get more.
WEIGHTS = {
    "import_json": 8,
    "chats": 10,
    "locomo": 8,
    "add_fields": 10,
    "cli": 4,
    "settings": 15,
    "gguf": 15,
    "capture": 5,
    "structured": 15,
    "team": 5,
    "ask": 5,
    "consolidate": 3,
    "dates": 15,
}


def run_target(
    name: str, examples: int, *, seed: int | None = 0, folder: Path | None = None
) -> dict[str, Any]:
    """Run one target for `examples` cases (hypothesis may run a few more while shrinking a
    failure), in `folder` (default: a temporary one); `seed=None` derandomizes. Returns
    {"cases", "refused", "crashes", "failures", "seconds"}."""
    strategy, target = TARGETS[name]
    count = refused = 0
    started = time.perf_counter()
    if folder is None:
        folder = Path(tempfile.mkdtemp(prefix=f"mnemo-fuzz-{name}-"))
    folder.mkdir(parents=True, exist_ok=True)
    workspace = Workspace(folder)

    def case(value: Any) -> None:
        nonlocal count, refused
        count += 1
        _refusals[0] = 0
        with _hang_guard():
            target(value, workspace)
        refused += bool(_refusals[0])

    test = settings(
        max_examples=examples,
        database=None,
        deadline=None,
        derandomize=seed is None,
        suppress_health_check=list(HealthCheck),
        phases=(Phase.explicit, Phase.generate, Phase.shrink),
        verbosity=Verbosity.normal,
        report_multiple_bugs=True,
        print_blob=False,
    )(given(strategy)(case))
    if seed is not None:
        test = seeded(seed)(test)
    failures = []
    try:
        with _quiet_logs():
            test()
    except BaseException as exc:  # every failure is a figure of the run
        if isinstance(exc, KeyboardInterrupt):
            raise
        errors = exc.exceptions if isinstance(exc, BaseExceptionGroup) else [exc]
        failures = [_failure(name, error) for error in errors]
    finally:
        workspace.close()
    return {
        "cases": count,
        "refused": refused,  # of the cases: a clear error (the rest gave a correct result)
        "crashes": len(failures),
        "failures": failures,
        "seconds": round(time.perf_counter() - started, 1),
    }


def _failure(name: str, error: BaseException) -> dict[str, str]:
    notes = [n for n in getattr(error, "__notes__", []) if "Falsifying" not in n]
    where = ""
    cause = error.__cause__ or error.__context__ or error
    if cause.__traceback__ is not None:
        import traceback

        # The innermost line of Mnemo's own code that the error passed through.
        root = str(Path(__file__).resolve().parent.parent)
        frames = traceback.extract_tb(cause.__traceback__)
        ours = [f for f in frames if f.filename.startswith(root) and "/.venv/" not in f.filename]
        frame = (ours or frames)[-1]
        where = f"{os.path.relpath(frame.filename, root)}:{frame.lineno}"
    return {
        "target": name,
        "error": f"{type(error).__name__}: {_first_line(error)}",
        "where": where,
        "example": " ".join(" ".join(notes).split())[:400],
    }


@contextlib.contextmanager
def _hang_guard() -> Iterator[None]:
    """A case that never ends (a cycle in a file) fails with a reason instead of hanging the
    run. Only in the main thread, where signals are delivered."""
    if threading.current_thread() is not threading.main_thread() or not hasattr(signal, "alarm"):
        yield
        return

    def hang(signum: int, frame: Any) -> None:
        raise AssertionError(f"a case ran for over {HANG_S} s: a hang")

    previous = signal.signal(signal.SIGALRM, hang)
    signal.alarm(HANG_S)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


@contextlib.contextmanager
def _quiet_logs() -> Iterator[None]:
    """Warnings that bad input is meant to cause (a frame skipped, an answer dropped)."""
    import logging

    root = logging.getLogger()
    level = root.level
    root.setLevel(logging.CRITICAL)
    try:
        yield
    finally:
        root.setLevel(level)


def split(cases: int, names: list[str] | None = None) -> dict[str, int]:
    """`cases` shared out by WEIGHTS, at least one each."""
    names = names or list(TARGETS)
    total = sum(WEIGHTS[n] for n in names)
    shares = {n: max(1, cases * WEIGHTS[n] // total) for n in names}
    for n in sorted(names, key=lambda n: -WEIGHTS[n])[: max(0, cases - sum(shares.values()))]:
        shares[n] += 1
    return shares


def run(cases: int = 1200, seed: int = 0) -> dict[str, Any]:
    """Every target, `cases` in all; {"fuzz_cases", "crashes", "failures", "per_target"}."""
    per_target = {}
    with _isolated():
        for name, examples in split(cases).items():
            per_target[name] = run_target(name, examples, seed=seed)
    return {
        "fuzz_cases": sum(r["cases"] for r in per_target.values()),
        "crashes": sum(r["crashes"] for r in per_target.values()),
        "failures": [f for r in per_target.values() for f in r["failures"]],
        "per_target": {
            name: {k: v for k, v in r.items() if k != "failures"} for name, r in per_target.items()
        },
    }


@contextlib.contextmanager
def _isolated() -> Iterator[None]:
    """Nothing touches the user's data folder or the OS keyring."""
    import keyring
    from keyring.backends import fail

    saved_env = os.environ.get("MNEMO_DATA_DIR")
    saved_keyring = keyring.get_keyring()
    with tempfile.TemporaryDirectory(prefix="mnemo-fuzz-") as tmp:
        os.environ["MNEMO_DATA_DIR"] = tmp
        keyring.set_keyring(fail.Keyring())
        try:
            yield
        finally:
            keyring.set_keyring(saved_keyring)
            if saved_env is None:
                os.environ.pop("MNEMO_DATA_DIR", None)
            else:
                os.environ["MNEMO_DATA_DIR"] = saved_env


def main(argv: list[str] | None = None) -> int:
    from bench.report import report

    parser = argparse.ArgumentParser(prog="python -m bench.fuzz", description=__doc__)
    parser.add_argument("--cases", type=int, default=1200, help="fuzz cases in all")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    figures = run(args.cases, args.seed)
    rows = [
        (
            name,
            f"{r['cases']} cases",
            f"{r['crashes']} crashes; {r['refused']} refused with a clear error, "
            f"{r['cases'] - r['refused']} correct results; {r['seconds']} s",
        )
        for name, r in figures["per_target"].items()
    ]
    rows.append(("all", f"{figures['fuzz_cases']} cases", f"{figures['crashes']} crashes"))
    for failure in figures["failures"]:
        print(f"CRASH {failure['target']}: {failure['error']} ({failure['where']})")
        print(f"    {failure['example']}")
    report(rows, figures)
    return 1 if figures["crashes"] else 0


if __name__ == "__main__":
    sys.exit(main())
