"""The "more imports": Claude's data export, a folder of Markdown notes (an Obsidian vault) and
PDF documents, on the real sample files in tests/data and the real store. Each is refused
whole when any part is broken, and importing the same thing again adds nothing."""

import json
import re
import shutil
from datetime import UTC, datetime
from pathlib import Path

import pytest

from agents.ingest import FileReport, ingest_file
from agents.team import MemoryTeam
from core.errors import ImportFailed
from core.ingest.chats import read_chats
from core.ingest.keep import keep_file, keep_session
from core.ingest.keep_notes import keep_notes
from core.ingest.notes import read_vault
from core.store.memories import MemoryStore
from tests.standins import ScriptedChat
from tests.unit.test_ingest_chats import chatgpt_export

DATA = Path(__file__).parent.parent / "data"
CLAUDE = DATA / "claude"
VAULT = DATA / "obsidian-vault"
PDF = DATA / "pdf"


def counts(store: MemoryStore) -> dict[str, int]:
    tables = ("memories", "sources", "links", "entities", "versions", "memory_sources")
    return {table: store.db.scalar(f"SELECT count(*) FROM {table}") for table in tables}


# -- Claude's export --------------------------------------------------------------------------


def test_a_claude_export_reads_as_sessions_with_speakers_and_times(tmp_path: Path) -> None:
    sessions = read_chats(CLAUDE / "conversations.json")
    # The conversation with no messages is left out; one without a name gets a title.
    assert [s.title for s in sessions] == [
        "Weekend in Porto",
        "Fixing the backup script",
        "Claude conversation",
    ]
    porto, backup, stretch = sessions
    assert porto.started_at == datetime(2024, 5, 1, 10, 0, 0, 123456, tzinfo=UTC)
    assert [t.speaker for t in porto.turns] == ["user", "assistant", "user", "assistant"]
    assert porto.turns[2].time == datetime(2024, 5, 1, 10, 2, 40, 1, tzinfo=UTC)
    assert porto.turns[0].ref == "a1c0e7d2-1111-4a3b-8c9d-0e1f2a3b4c01"
    assert porto.turns[2].text == "Marta is vegetarian, so a francesinha is out. Something else?"
    # A newer export's message: its text is in the content parts, beside a tool call.
    reply = backup.turns[1].text
    assert reply.startswith("The script syncs to nas:/backup/") and "checking" not in reply
    assert backup.turns[0].text.endswith("[attached: backup.sh]")
    assert "rsync -a --delete" not in backup.turns[0].text  # the attachment's text is not said
    # An older export: no content parts, the text field only.
    assert stretch.turns[1].text.startswith("Try the child's pose")
    # The ChatGPT reader is untouched by the Claude one, and uses the same speakers.
    chatgpt = tmp_path / "conversations.json"
    chatgpt.write_text(json.dumps(chatgpt_export()))
    assert [t.speaker for t in read_chats(chatgpt)[0].turns] == ["user", "assistant"]


def test_a_claude_export_is_kept_once(store: MemoryStore) -> None:
    sessions = read_chats(CLAUDE / "conversations.json")
    kept = [keep_session(store, s) for s in sessions]
    assert [(len(new), known) for new, known in kept] == [(4, 0), (4, 0), (2, 0)]
    first = store.get_source(kept[0][0][0].id)
    assert (first.actor, first.title, first.kind) == ("user", "Weekend in Porto", "chat")
    assert first.occurred_at == datetime(2024, 5, 1, 10, 0, 0, 123456, tzinfo=UTC)
    before = counts(store)
    again = [keep_session(store, s) for s in read_chats(CLAUDE / "conversations.json")]
    assert [(new, known) for new, known in again] == [([], 4), ([], 4), ([], 2)]
    assert counts(store) == before


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("no-sender.json", "malformed (claude): conversation 1: at chat_messages.2.sender"),
        ("truncated.json", "is not a JSON file"),
    ],
)
def test_a_broken_claude_export_is_refused_whole(name: str, message: str) -> None:
    with pytest.raises(ImportFailed, match=re.escape(message)) as caught:
        read_chats(CLAUDE / name)
    assert "\n" not in str(caught.value) and name in str(caught.value)


def test_a_claude_file_that_is_not_the_conversations_is_not_taken_for_one(tmp_path: Path) -> None:
    projects = tmp_path / "projects.json"  # beside conversations.json in the export
    projects.write_text(json.dumps([{"uuid": "p1", "name": "Mnemo", "docs": []}]))
    with pytest.raises(ImportFailed, match="ChatGPT or Claude export"):
        read_chats(projects)


def test_a_broken_export_stores_nothing_through_the_command_line(mnemo) -> None:
    code, _, err = mnemo("ingest", "chat", str(CLAUDE / "no-sender.json"))
    assert code == 1 and err.count("\n") == 1 and "chat_messages.2.sender" in err
    code, out, _ = mnemo("--json", "stats")
    assert json.loads(out)["sources"] == 0


# -- a folder of notes ------------------------------------------------------------------------


@pytest.fixture
def vault(tmp_path: Path) -> Path:
    """A copy of the sample vault, free to change."""
    return Path(shutil.copytree(VAULT, tmp_path / "vault"))


def test_a_vault_is_read_with_its_titles_tags_and_links(vault: Path) -> None:
    read = read_vault(vault)
    notes = {n.rel: n for n in read.notes}
    # .obsidian/ and .trash/ are left out, and so are files that are not Markdown.
    assert sorted(notes) == [
        "Daily/2024-05-01.md",
        "Projects/Mnemo.md",
        "Projects/Plan.md",
        "Reading list.md",
        "Welcome.md",
    ]
    welcome = notes["Welcome.md"]
    assert (welcome.title, welcome.aliases) == ("Welcome", ["Home"])
    assert welcome.tags == ["mnemo", "inbox", "personal"]  # front matter, then inline
    # Code blocks and spans hold neither tags nor links; an embedded picture is no note.
    assert welcome.links == ["Projects/Mnemo", "Reading list", "Someday", "diagram.png"]
    assert welcome.summary.startswith("This vault keeps my notes about the Mnemo project and")
    mnemo = notes["Projects/Mnemo.md"]
    assert mnemo.title == "Mnemo — local memory"  # the title property over the file's name
    assert mnemo.tags == ["project", "python", "project/active"]  # "project, python": a string
    assert mnemo.summary.startswith("A local-first personal memory")  # its description
    assert (
        notes["Projects/Plan.md"].summary == "1. Tag the commit. 2. Build the wheel and upload it."
    )
    resolved = {
        (n.rel, t): (read.resolve(n, t).rel if read.resolve(n, t) else None)  # type: ignore[union-attr]
        for n in read.notes
        for t in n.links
    }
    assert resolved[("Projects/Plan.md", "Home")] == "Welcome.md"  # by its alias
    assert resolved[("Daily/2024-05-01.md", "Mnemo")] == "Projects/Mnemo.md"  # by its name
    assert resolved[("Projects/Mnemo.md", "Plan.md")] == "Projects/Plan.md"  # a Markdown link
    assert resolved[("Projects/Mnemo.md", "Welcome")] == "Welcome.md"  # [[Welcome#Links]]
    assert resolved[("Welcome.md", "Someday")] is None  # not written yet


def test_a_vault_becomes_notes_linked_in_the_graph(store: MemoryStore, vault: Path) -> None:
    report = keep_notes(store, read_vault(vault))
    assert (report.notes, report.added, report.updated, report.unchanged) == (5, 5, 0, 0)
    notes = {m.title: m for m in store.memories(types=["resource"])}
    assert sorted(notes) == [
        "2024-05-01",
        "Mnemo — local memory",
        "Plan",
        "Reading list",
        "Welcome",
    ]
    mnemo = notes["Mnemo — local memory"]
    assert mnemo.resource_type == "note" and mnemo.tree_path == ["vault", "Projects"]
    assert mnemo.content.startswith("# Mnemo\n\nMnemo keeps what I tell it")
    (source,) = store.sources_of(mnemo.id)  # each note cites the file it came from
    assert source.kind == "file" and source.text.startswith("---\ntitle: Mnemo — local memory")
    assert source.path == str(vault / "Projects" / "Mnemo.md")
    # Secrets are redacted from the kept file and from the memory alike.
    assert "Tr0ub4dor" not in source.text + mnemo.content
    assert "[redacted: password]" in mnemo.content

    names = {m.id: m.title for m in notes.values()} | {e.id: e.name for e in store.entities()}
    edges = {(names[link.src], link.relation, names[link.dst]) for link in store.links()}
    assert {
        ("Welcome", "links_to", "Mnemo — local memory"),
        ("Welcome", "links_to", "Reading list"),
        ("Welcome", "links_to", "Someday"),  # a note not written yet: a topic
        ("Plan", "links_to", "Welcome"),
        ("2024-05-01", "links_to", "Mnemo — local memory"),
        ("Mnemo — local memory", "links_to", "Plan"),
        ("Reading list", "links_to", "Mnemo — local memory"),
        ("Welcome", "tagged", "inbox"),
        ("Mnemo — local memory", "tagged", "project/active"),
        ("2024-05-01", "tagged", "daily"),
    } <= edges
    assert len(edges) == report.links_added == 18
    assert {e.kind for e in store.entities()} == {"topic"}
    assert not {"diagram.png", "NotALink", "notatag", "trashed"} & set(names.values())


def test_importing_a_vault_again_adds_nothing(store: MemoryStore, vault: Path) -> None:
    keep_notes(store, read_vault(vault))
    before = counts(store)
    report = keep_notes(store, read_vault(vault))
    assert (report.added, report.updated, report.unchanged) == (0, 0, 5)
    assert (report.links_added, report.links_removed) == (0, 0)
    assert counts(store) == before


def test_a_changed_note_updates_its_memory_and_its_edges(store: MemoryStore, vault: Path) -> None:
    first = keep_notes(store, read_vault(vault))
    plan = next(m for m in store.memories(types=["resource"]) if m.title == "Plan")
    (old_source,) = store.sources_of(plan.id)
    (vault / "Projects" / "Plan.md").write_text(
        "# Release plan\n\nTag it, then ask [[Reading list]]. #release\n"
    )
    (vault / "Daily" / "2024-05-01.md").unlink()  # gone from the folder: its memory stays
    report = keep_notes(store, read_vault(vault))
    assert (report.notes, report.added, report.updated, report.unchanged) == (4, 0, 1, 3)
    changed = store.get(plan.id)  # the same memory, a new revision
    assert changed.rev == 2 and changed.content.endswith("#release")  # type: ignore[union-attr]
    (version,) = [v for v in store.history(plan.id) if v.rev == 2]
    assert version.cause == "note changed" and version.old["content"] == plan.content  # type: ignore[index]
    assert {s.id for s in store.sources_of(plan.id)} > {old_source.id}  # both versions kept
    names = {e.id: e.name for e in store.entities()} | {
        m.id: m.title for m in store.memories(types=["resource"])
    }
    edges = {
        (link.relation, names[link.dst]) for link in store.links(plan.id) if link.src == plan.id
    }
    assert edges == {("links_to", "Reading list"), ("tagged", "release")}  # Home's link went
    assert len(store.memories(types=["resource"])) == len(first.memory_ids) == 5

    # Changed back: the first version's source is cited again, and no third one is kept.
    (vault / "Projects" / "Plan.md").write_bytes(old_source.text.encode())
    sources = counts(store)["sources"]
    keep_notes(store, read_vault(vault))
    assert store.get(plan.id).content == plan.content  # type: ignore[union-attr]
    assert counts(store)["sources"] == sources
    assert keep_notes(store, read_vault(vault)).unchanged == 4


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("Bad yaml.md", b"---\ntitle: [unclosed\ntags: a\n---\nText\n", "has broken front matter"),
        ("Latin-1.md", "caf\u00e9 au lait".encode("latin-1"), "is not UTF-8 text"),
        ("List.md", b"---\n- a\n- b\n---\nText\n", "expected properties"),
        ("Bad date.md", b"---\ncreated: 2024-02-30\n---\nText\n", "has broken front matter"),
    ],
)
def test_a_broken_note_refuses_the_whole_vault(
    store: MemoryStore, vault: Path, name: str, content: bytes, message: str
) -> None:
    keep_notes(store, read_vault(vault))  # what an earlier import kept stays as it is
    (vault / "Projects" / "Plan.md").write_text("# Plan\n\nChanged, but not imported.\n")
    (vault / "New.md").write_text("A new note, not imported either. #new\n")
    (vault / "Projects" / name).write_bytes(content)
    before = counts(store)
    with pytest.raises(ImportFailed, match=message) as caught:
        keep_notes(store, read_vault(vault))
    assert str(vault / "Projects" / name) in str(caught.value)
    assert "\n" not in str(caught.value)
    assert counts(store) == before


def test_a_failure_part_way_through_the_write_leaves_nothing(
    store: MemoryStore, vault: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    before = counts(store)

    def full(*_: object) -> object:  # the notes and sources are written by then
        raise ImportFailed("simulated failure while linking")

    monkeypatch.setattr(store, "entity", full)
    with pytest.raises(ImportFailed, match="simulated"):
        keep_notes(store, read_vault(vault))
    assert counts(store) == before
    monkeypatch.undo()
    assert keep_notes(store, read_vault(vault)).added == 5  # nothing half-kept is in the way


def test_an_empty_or_missing_folder_is_refused(tmp_path: Path) -> None:
    (tmp_path / "empty" / ".obsidian").mkdir(parents=True)
    (tmp_path / "empty" / ".obsidian" / "Hidden.md").write_text("not a note")
    with pytest.raises(ImportFailed, match="holds no Markdown notes"):
        read_vault(tmp_path / "empty")
    with pytest.raises(ImportFailed, match="is not a folder"):
        read_vault(tmp_path / "missing")


def test_mnemo_ingest_notes(mnemo, vault: Path) -> None:
    code, out, err = mnemo("--json", "ingest", "notes", str(vault))
    assert code == 0, err
    figures = json.loads(out)
    assert (figures["notes"], figures["added"], figures["links_added"]) == (5, 5, 18)
    code, out, _ = mnemo("--json", "ingest", "notes", str(vault))
    assert json.loads(out)["unchanged"] == 5 and json.loads(out)["added"] == 0
    code, out, _ = mnemo("search", "local-first personal memory")
    assert "Mnemo — local memory" in out

    (vault / "Broken.md").write_bytes(b"---\ntitle: [oops\n---\n")
    code, _, err = mnemo("ingest", "notes", str(vault))
    assert code == 1 and err.count("\n") == 1 and "Broken.md has broken front matter" in err


# -- documents: text and PDF ------------------------------------------------------------------


def test_a_pdfs_text_is_kept_once(store: MemoryStore) -> None:
    source = keep_file(store, PDF / "release-notes.pdf")
    assert source.text.startswith("Mnemo 0.4 release notes\nThe release ships on 14 March 2025.")
    assert "2. Build the wheel and upload it" in source.text  # the second page too
    assert source.meta["pages"] == 2 and source.title == "release-notes.pdf"
    assert source.ref and source.ref.startswith("sha256:")
    again = keep_file(store, PDF / "release-notes.pdf")
    assert again.id == source.id and counts(store)["sources"] == 1


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("truncated.pdf", "is not a PDF Mnemo can read"),
        ("encrypted.pdf", "is encrypted: it needs a password"),
        ("scanned.pdf", "has no text to read"),
    ],
)
def test_a_pdf_mnemo_cannot_read_is_refused(store: MemoryStore, name: str, message: str) -> None:
    with pytest.raises(ImportFailed, match=message) as caught:
        keep_file(store, PDF / name)
    assert "\n" not in str(caught.value) and name in str(caught.value)
    assert counts(store)["sources"] == 0


def test_a_pdf_locked_only_against_copying_is_read(store: MemoryStore, tmp_path: Path) -> None:
    from pypdf import PdfReader, PdfWriter

    writer = PdfWriter(clone_from=PdfReader(PDF / "release-notes.pdf"))
    writer.encrypt(user_password="", owner_password="owner", algorithm="RC4-128")
    locked = tmp_path / "locked.pdf"
    with locked.open("wb") as handle:
        writer.write(handle)
    assert "14 March 2025" in keep_file(store, locked).text


@pytest.mark.parametrize("name", ["pdf/release-notes.pdf", "obsidian-vault/Projects/Plan.md"])
def test_a_document_ingested_twice_is_filed_once(store: MemoryStore, name: str) -> None:
    team = MemoryTeam(store, ScriptedChat({}))  # the model skips it: filed whole anyway
    first = ingest_file(team, DATA / name)
    assert first.inserted.get("resource") == 1
    (resource,) = store.memories(types=["resource"])
    assert resource.content == store.sources_of(resource.id)[0].text
    before = counts(store)
    again = ingest_file(team, DATA / name)
    assert isinstance(again, FileReport) and again.known and not again.memory_ids
    assert counts(store) == before
