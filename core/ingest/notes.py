"""Reading a folder of Markdown notes (an Obsidian vault, or any folder of .md files).

Pure: the folder is read and checked whole before anything is stored, so that one broken note
(front matter that is not YAML, bytes that are not UTF-8) refuses the import with its name and
nothing half-imported. What a note says about the graph is read here too: its tags (front
matter and inline #tags) and its links to other notes ([[wiki-links]], ![[embeds]] and
Markdown links to .md files), resolved the way Obsidian resolves them.
"""

import hashlib
import os
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from functools import cached_property
from pathlib import Path, PurePosixPath
from typing import Any
from urllib.parse import unquote

from core.errors import ImportFailed

MAX_NOTE_BYTES = 2_000_000  # as for one text file (core.ingest.keep)
SUMMARY_CHARS = 300

_FENCE = re.compile(r"^ {0,3}(`{3,}|~{3,})")
_INLINE_CODE = re.compile(r"(`+)(?:(?!\1).)+?\1")
_COMMENT = re.compile(r"%%.*?%%", re.S)  # Obsidian's comments are not shown, nor read here
_WIKI = re.compile(r"!?\[\[([^\[\]\n]+?)\]\]")
_MD_LINK = re.compile(r"!?\[[^\]\n]*\]\(<?([^)<>\s]+\.md)(?:#[^)\s]*)?>?(?:\s+\"[^\"]*\")?\)", re.I)
# A tag starts after whitespace (so "a#b", URLs' anchors and "## Heading" are not tags) and
# holds letters, digits, _, - and / (nested tags); one made of digits alone ("#1") is not one.
_TAG = re.compile(r"(?<!\S)#([\w/-]+)")
_NOT_PROSE = re.compile(r"^(#{1,6}(\s|$)|[-*_]{3,}$|\|)")  # headings, rules, table rows
_ATTACHMENT = re.compile(r"\.[A-Za-z][A-Za-z0-9]{0,4}$")  # image.png, doc.pdf: not a note


@dataclass(frozen=True)
class Note:
    """One Markdown file of the folder, as read. `key` identifies it across imports."""

    path: Path  # on disk
    rel: str  # relative to the folder, with "/" separators: "Projects/Mnemo.md"
    text: str  # the whole file, front matter included
    title: str
    body: str  # the text after the front matter
    summary: str
    tags: list[str]
    links: list[str]  # the targets as written: "Other note", "folder/Other note"
    aliases: list[str]
    digest: str  # SHA-256 of the file's bytes
    modified: datetime

    @property
    def folders(self) -> list[str]:
        return list(PurePosixPath(self.rel).parent.parts)

    @property
    def stem_key(self) -> str:
        """The note's path without ".md", folded: what links are matched against."""
        return _fold(self.rel[:-3] if self.rel.lower().endswith(".md") else self.rel)


@dataclass
class Vault:
    """A folder of notes, read whole (its notes are not to change once links are resolved:
    the indexes below are made at the first)."""

    folder: Path
    name: str
    notes: list[Note] = field(default_factory=list)

    def resolve(self, note: Note, target: str) -> Note | None:
        """The note a link from `note` points at, or None when there is none. Like Obsidian:
        a path relative to the vault or to the linking note, else the note of that name
        (the shortest path first when several share it), else a note with that alias."""
        key = _fold(target[:-3] if target.lower().endswith(".md") else target)
        if not key:
            return None
        here = PurePosixPath(note.rel).parent
        relative = _fold(os.path.normpath(str(here / key)).replace(os.sep, "/"))
        for candidate in (key, relative):
            if candidate in self._by_path:
                return self._by_path[candidate]
        # A name, or the end of a path: "folder/Note" is "Projects/folder/Note" too.
        named = [
            n
            for n in self._by_name.get(key.rsplit("/", 1)[-1], [])
            if n.stem_key.endswith("/" + key)
        ]
        if named:
            return min(named, key=lambda n: (len(n.rel), n.rel))
        return self._by_alias.get(key)

    @cached_property
    def _by_path(self) -> dict[str, Note]:
        return {n.stem_key: n for n in self.notes}

    @cached_property
    def _by_name(self) -> dict[str, list[Note]]:
        found: dict[str, list[Note]] = {}
        for note in self.notes:
            found.setdefault(note.stem_key.rsplit("/", 1)[-1], []).append(note)
        return found

    @cached_property
    def _by_alias(self) -> dict[str, Note]:
        found: dict[str, Note] = {}
        for note in self.notes:
            for alias in note.aliases:
                found.setdefault(_fold(alias), note)
        return found


def is_attachment(target: str) -> bool:
    """Whether a link that matches no note names a file that is not one (an image, a PDF)."""
    return bool(_ATTACHMENT.search(target)) and not target.lower().endswith(".md")


def read_vault(folder: Path) -> Vault:
    """Every note under `folder`, in path order; hidden folders (.obsidian, .trash, .git) and
    files other than .md are left out. Raises ImportFailed naming the first broken note."""
    if not folder.is_dir():
        raise ImportFailed(f"{folder} is not a folder")
    try:
        paths = sorted(_markdown_files(folder))
    except OSError as exc:
        raise ImportFailed(f"cannot read {exc.filename or folder}: {exc.strerror or exc}") from None
    notes = [read_note(folder, path) for path in paths]
    if not notes:
        raise ImportFailed(f"{folder} holds no Markdown notes (.md files)")
    return Vault(folder, folder.resolve().name or "notes", notes)


def _markdown_files(folder: Path) -> Iterable[Path]:
    def fail(exc: OSError) -> None:
        raise exc

    for top, dirs, files in os.walk(folder, onerror=fail):  # symlinked folders not followed
        dirs[:] = [d for d in dirs if not d.startswith(".")]
        for name in files:
            path = Path(top) / name
            if name.startswith(".") or not name.lower().endswith(".md") or not path.is_file():
                continue
            yield path


def read_note(folder: Path, path: Path) -> Note:
    """One note, checked: UTF-8, front matter that is YAML properties, a sensible size."""
    rel = path.relative_to(folder).as_posix()
    try:
        rel.encode("utf-8")
    except UnicodeEncodeError:  # a file name's byte that is not UTF-8 cannot be stored
        raise ImportFailed(f"{str(path)!a} has a name that is not UTF-8") from None
    try:
        stat = path.stat()
        if stat.st_size > MAX_NOTE_BYTES:
            raise ImportFailed(f"{path} is {stat.st_size:,} bytes; notes up to 2 MB are read")
        data = path.read_bytes()
        modified = datetime.fromtimestamp(stat.st_mtime, UTC)
    except OSError as exc:
        raise ImportFailed(f"cannot read {path}: {exc.strerror or exc}") from None
    try:
        text = data.decode("utf-8").removeprefix("\ufeff")
    except UnicodeDecodeError as exc:
        raise ImportFailed(f"{path} is not UTF-8 text (byte {exc.start})") from None
    meta, body = front_matter(path, text)
    title = _scalar(meta.get("title")) or PurePosixPath(rel).stem
    summary = _scalar(meta.get("description")) or _scalar(meta.get("summary"))
    readable = _without_code(body)
    return Note(
        path=path,
        rel=rel,
        text=text,
        title=" ".join(title.split()),
        body=body,
        summary=_short(summary or first_paragraph(body)),
        tags=_unique(_listed(meta.get("tags")) + _listed(meta.get("tag")) + inline_tags(readable)),
        links=_unique(links_in(readable)),
        aliases=_unique(_listed(meta.get("aliases"), split=False)),
        digest=hashlib.sha256(data).hexdigest(),
        modified=modified,
    )


def front_matter(path: Path, text: str) -> tuple[dict[str, Any], str]:
    """The note's YAML properties and the text after them. Only a block that opens the file
    ("---" on the first line) and is closed is front matter, as in Obsidian; a "---" rule
    further down is Markdown."""
    import yaml
    from frontmatter.default_handlers import YAMLHandler

    handler = YAMLHandler()
    if not handler.detect(text):
        return {}, text.strip()
    try:
        raw, body = handler.split(text)
    except ValueError:  # never closed: a rule at the top, not properties
        return {}, text.strip()
    try:
        meta = handler.load(raw)  # yaml.SafeLoader: no Python objects from a note
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = f" at line {mark.line + 2}" if mark is not None else ""  # +1 for the "---"
        problem = " ".join(str(exc.problem or exc.context or "invalid YAML").split())
        raise ImportFailed(f"{path} has broken front matter{where}: {problem}") from None
    except (yaml.YAMLError, ValueError, TypeError, OverflowError, RecursionError) as exc:
        # A date that does not exist ("2024-02-30") fails as the YAML is built, not parsed.
        problem = " ".join(str(exc).split())[:200]
        raise ImportFailed(f"{path} has broken front matter: {problem}") from None
    if meta is None:  # an empty block
        meta = {}
    if not isinstance(meta, dict):
        raise ImportFailed(
            f"{path} has broken front matter: expected properties (key: value), "
            f"found a {type(meta).__name__}"
        )
    return meta, body.strip()


def first_paragraph(body: str) -> str:
    """The first paragraph of prose: not a heading, a code block, a rule or a table."""
    for block in re.split(r"\n\s*\n", _without_code(body)):
        lines = [ln.strip() for ln in block.strip().splitlines()]
        lines = [ln for ln in lines if ln and not _NOT_PROSE.match(ln)]
        if lines:
            return plain(" ".join(lines))
    return ""


def plain(text: str) -> str:
    """Markdown's link syntax as the words a reader sees: [[Note|alias]] → alias."""
    text = _WIKI.sub(lambda m: _label(m.group(1)), text)
    text = re.sub(r"!?\[([^\]\n]*)\]\([^)\n]*\)", r"\1", text)
    return " ".join(text.split())


def inline_tags(text: str) -> list[str]:
    """The #tags of a note's text (code and comments already left out)."""
    found = []
    for match in _TAG.finditer(text):
        tag = match.group(1).strip("/")
        if tag and any(ch.isalpha() for ch in tag):
            found.append(tag)
    return found


def links_in(text: str) -> list[str]:
    """The notes a text links to, as written: [[Note]], [[Note|alias]], [[Note#Heading]],
    ![[embed]], and [text](Other%20note.md). A link to a place in the note itself
    ([[#Heading]]) is no link between notes."""
    targets = []
    for match in _WIKI.finditer(text):
        target = re.split(r"[|#^]", match.group(1).replace("\\|", "|"), maxsplit=1)[0].strip()
        if target:
            targets.append(target)
    for match in _MD_LINK.finditer(text):
        href = unquote(match.group(1))
        if "://" not in href:
            targets.append(href)
    return targets


def _without_code(text: str) -> str:
    """The text without code (fenced blocks, `spans`) or comments: a #include or a [[ in a
    code sample is neither a tag nor a link."""
    lines = []
    fence = ""
    for line in text.splitlines():
        opened = _FENCE.match(line)
        if fence:
            if opened and opened.group(1)[0] == fence[0] and len(opened.group(1)) >= len(fence):
                fence = ""
            continue
        if opened:
            fence = opened.group(1)
            continue
        lines.append(line)
    return _COMMENT.sub("", _INLINE_CODE.sub("", "\n".join(lines)))


def _label(inner: str) -> str:
    target, _, alias = inner.replace("\\|", "|").partition("|")
    return alias.strip() or target.split("#")[0].strip() or target.strip("# ")


def _scalar(value: Any) -> str:
    """A property's text, if it is one (a number or a date reads as written)."""
    if isinstance(value, str | int | float) and not isinstance(value, bool):
        return " ".join(str(value).split())
    if isinstance(value, date):  # a datetime is a date too
        return value.isoformat()
    return ""


def _listed(value: Any, *, split: bool = True) -> list[str]:
    """Tags as Obsidian takes them: a list, or one string of words separated by commas or
    spaces; a leading "#" is dropped."""
    if isinstance(value, str):
        items: list[Any] = re.split(r"[,\s]+", value) if split else [value]
    elif isinstance(value, list):
        items = value
    else:
        return []
    names = [_scalar(item).lstrip("#").strip() for item in items]
    return [name for name in names if name]


def _unique(names: Iterable[str]) -> list[str]:
    seen: dict[str, str] = {}
    for name in names:
        seen.setdefault(_fold(name), name)
    return list(seen.values())


def _fold(text: str) -> str:
    return " ".join(text.split()).casefold()


def _short(text: str) -> str:
    return text if len(text) <= SUMMARY_CHARS else text[: SUMMARY_CHARS - 1].rstrip() + "…"
