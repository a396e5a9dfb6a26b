"""What redact() knows about a text before it runs a rule: which rules can match in it at all,
and on which lines.

redact() applies some thirty rules one after another (core/capture/redact.py). Each run over
every text, they cost 1.8 s per MB, most of it spent where no rule could match: the rules that
look for a secret-like name try every word of a text. So each rule (a `Step`) says what a text
must hold for it to match anywhere (`gate()`: a few lower-case strings, or a cheap pattern),
one pass over the text finds which of those strings it holds, and a rule runs only where its
gate is open. Rules about names also say which words must be on the line a match starts on,
and search only those lines (`Lines`). A gate is a necessary condition, never a guess: a rule
that runs finds what it found before, and a rule that does not run could have found nothing
(tests/unit/test_redact_gates.py compares with every gate open)."""

import re
from bisect import bisect_left
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

# Characters that a case-insensitive pattern takes for an ASCII letter but whose lower case is
# not that letter ("ſ" matches (?i:s)), and "İ", whose lower case is two characters long. With
# them replaced, the folded text has the length of the text, so its positions are the text's.
_FOLD = (("İ", "i"), ("ı", "i"), ("ſ", "s"), ("K", "k"))


def fold(text: str) -> str:
    """`text` in lower case, position for position."""
    if not text.isascii():
        for char, letter in _FOLD:
            if char in text:  # (str.translate is ten times slower, on every text)
                text = text.replace(char, letter)
    return text.lower()


# Characters by how often text holds them, most often first: a search tries a pattern's
# alternatives in order, so the alternatives for common characters come first.
_COMMON = " etaoinshrdlcumwfgypbvkjxqz_.-\n"


def trie(words: Iterable[str]) -> str:
    """One pattern for many strings, as a tree of their shared beginnings, so that a search
    tries a few characters at each position rather than every string (`re` has no such
    optimisation of its own, and a first character it can skip to only when every branch
    starts with one)."""
    tree: dict[str, dict] = {}
    for word in words:
        node = tree
        for char in word:
            node = node.setdefault(char, {})
        node[""] = {}

    def branches(node: dict[str, dict]) -> list[str]:
        chars = sorted((c for c in node if c), key=lambda c: (_COMMON.find(c) % 99, c))
        return [re.escape(char) + pattern(node[char]) for char in chars]

    def pattern(node: dict[str, dict]) -> str:
        alternatives = branches(node)
        if not alternatives:
            return ""
        body = alternatives[0] if len(alternatives) == 1 else f"(?:{'|'.join(alternatives)})"
        return f"(?:{body})?" if "" in node else body

    return "|".join(branches(tree))


class Literals:
    """Which of many strings occur in a text, found in one pass. Each string stands for a set
    of flags (an int), and `flags()` gives the union of the flags of those a text holds.

    A search reports matches that do not overlap, so a string that starts inside another's
    match is found through that match: either it lies within it, or it runs past its end and
    is looked for on its own. Strings that start with a space or a sign ("(", "\n", "==") are
    looked for on their own: code is full of them, and a match costs more than a look."""

    def __init__(self, words: Mapping[str, int]) -> None:
        unique = sorted(words)
        self._apart = tuple((w, words[w]) for w in unique if not w[0].isalnum())
        tried = [w for w in unique if w[0].isalnum()]
        self._pattern = re.compile(trie(tried) if tried else "(?!)")
        # For each string a search reports: the flags of the strings within it, and the
        # strings that may start inside it and run past its end.
        self._found: dict[str, tuple[int, tuple[tuple[str, int], ...]]] = {}
        for w in tried:
            inside = 0
            for v in tried:
                if v in w:
                    inside |= words[v]
            across = tuple(
                (v, words[v])
                for v in tried
                if v not in w and any(w.endswith(v[:i]) for i in range(1, len(v)))
            )
            self._found[w] = (inside, across)

    def flags(self, folded: str) -> int:
        flags = 0
        for word, value in self._apart:
            if word in folded:
                flags |= value
        for word in set(self._pattern.findall(folded)):
            inside, across = self._found[word]
            flags |= inside
            for other, value in across:
                if other in folded:
                    flags |= value
        return flags


# From the end of a line, as far as a match that starts on it can reach: the next line that
# holds more than spaces and commas (a value under its name: "password:\n  hunter2", or
# Kubernetes' "- name: DB_PASSWORD\n  value: ..."). The margin covers what a pattern looks
# ahead at past its last character.
_REACH = re.compile(r"[\s,]*[^\n]*")
_MARGIN = 16


class Lines:
    """The lines of a text that hold one of `stems`, for rules whose every match starts on a
    line holding one of them (a secret-like name is on the line its match starts on).

    `search(pattern, pos)` is `pattern.search(text, pos)`, looking only from the start of each
    such line to as far as a match starting on it can reach (pattern.search's endpos): the
    first match that starts on one of them is the first match of all. With `everywhere`, every
    line is searched (what the rules find without this shortcut)."""

    def __init__(
        self, text: str, folded: str, stems: re.Pattern[str], *, everywhere: bool = False
    ) -> None:
        self.text = text
        # Most texts are a line (a window title, a chat message): searched as a whole, if a
        # stem is on it. (_spans is None then.)
        self._whole = everywhere or ("\n" not in text and bool(stems.search(folded)))
        self._spans: list[tuple[int, int, int]] | None = None  # (start, end, reach) of each line
        if self._whole or "\n" not in text:
            return
        self._spans = []
        pos = 0
        while pos <= len(text) and (found := stems.search(folded, pos)):
            start = text.rfind("\n", 0, found.start()) + 1
            end = text.find("\n", found.start())
            if end < 0:
                end = reach = len(text)
            else:
                reach = _REACH.match(text, end).end()  # type: ignore[union-attr]
            reach += _MARGIN
            self._spans.append((start, end, reach))
            pos = end + 1
        self._ends = [end for _, end, _ in self._spans]

    def search(self, pattern: re.Pattern[str], pos: int = 0) -> re.Match[str] | None:
        if self._whole:
            return pattern.search(self.text, pos)
        if not self._spans:
            return None
        for start, end, reach in self._spans[bisect_left(self._ends, pos) :]:
            match = pattern.search(self.text, max(pos, start), reach)
            if match and match.start() <= end:
                return match
        return None

    def __bool__(self) -> bool:
        return self._whole or bool(self._spans)

    def sub(self, pattern: re.Pattern[str], replace: Callable[[re.Match[str]], str]) -> str:
        """pattern.sub(replace, text), searching as search() does (for a pattern that
        matches no empty string)."""
        if self._whole:
            return pattern.sub(replace, self.text)
        out, pos = [], 0
        while match := self.search(pattern, pos):
            out.append(self.text[pos : match.start()] + replace(match))
            pos = match.end()
        return "".join(out) + self.text[pos:]


class Scan:
    """A text as the rules see it: itself, folded, its lines."""

    __slots__ = ("_everywhere", "_lines", "folded", "text")

    def __init__(self, text: str, folded: str, *, everywhere: bool = False) -> None:
        self.text = text
        self.folded = folded
        self._everywhere = everywhere
        # (By the pattern's id: a compiled pattern's hash is computed from its whole code.)
        self._lines: dict[int, Lines] = {}

    def lines(self, stems: re.Pattern[str]) -> Lines:
        lines = self._lines.get(id(stems))
        if lines is None:
            lines = Lines(self.text, self.folded, stems, everywhere=self._everywhere)
            self._lines[id(stems)] = lines
        return lines


Found = Counter[str]


@dataclass(frozen=True)
class Step:
    """One rule of redact(): `run` gives the text with what it found replaced by markers, and
    counts them. It runs only where the text holds what the rule cannot match without: one
    of `literals` (lower case) or of `shapes` (found in the folded text), if it has either, and
    a line that holds `lines` (which `run` searches, through Scan.lines), if it has that."""

    run: Callable[[Scan, Found], str]
    literals: frozenset[str] = frozenset()
    shapes: tuple[re.Pattern[str], ...] = ()
    lines: re.Pattern[str] | None = None


class Rules:
    """Steps applied in order, each only to a text its gate is open for (each sees the
    markers of those before it). With `gated=False`, every step runs on every text and
    searches all its lines: what the gates must not change (tests/unit/test_redact_gates.py).

    Steps are kept as bits of an int, step i as bit i: a text's open gates, the steps still to
    try, are each one int, and a step is found and taken off in a few operations."""

    def __init__(self, steps: Iterable[Step], *, gated: bool = True) -> None:
        self._steps = list(steps)
        words: dict[str, int] = {}
        for i, step in enumerate(self._steps):
            for word in step.literals:
                if "[" in word or "]" in word:
                    raise ValueError(
                        "a gate string holds a bracket, which a marker may end or start"
                    )
                words[word] = words.get(word, 0) | 1 << i
        self._literals = Literals(words)
        everything = (1 << len(self._steps)) - 1
        # Open whatever a text holds: steps with no gate (every step, ungated).
        self._always = (
            everything
            if not gated
            else sum(1 << i for i, s in enumerate(self._steps) if not (s.literals or s.shapes))
        )
        # Open where one of their shapes is found, if no literal opened them.
        self._shaped = (
            0 if not gated else sum(1 << i for i, s in enumerate(self._steps) if s.shapes)
        )
        self._table = [(s.run, s.shapes, s.lines if gated else None) for s in self._steps]
        self._everywhere = not gated
        self._in_marker: dict[str, int] = {}

    def apply(self, text: str, found: Found) -> str:
        folded = fold(text)
        scan = Scan(text, folded, everywhere=self._everywhere)
        opened = self._literals.flags(folded) | self._always
        todo = opened | self._shaped
        table = self._table
        while todo:
            bit = todo & -todo  # the first step still to try
            todo ^= bit
            run, shapes, stems = table[bit.bit_length() - 1]
            if not opened & bit:
                for shape in shapes:
                    if shape.search(scan.folded):
                        break
                else:
                    continue
            if stems is not None and not scan.lines(stems):
                continue
            changed = run(scan, found)
            if changed != scan.text:
                # What a step changes it replaces by markers, which start with "[" and end
                # with "]", as no gate string does: a gate string in the changed text lies in
                # the text kept, or in a marker. (So the text need not be searched again.)
                for kind in found:
                    opened |= self._marked(kind)
                scan = Scan(changed, fold(changed), everywhere=self._everywhere)
                todo = (opened | self._shaped) & -(bit << 1)  # the steps after this one
        return scan.text

    def _marked(self, kind: str) -> int:
        flags = self._in_marker.get(kind)
        if flags is None:
            flags = self._in_marker[kind] = self._literals.flags(fold(marker(kind)))
        return flags


def gate(
    *literals: str, shapes: tuple[str, ...] = (), lines: re.Pattern[str] | None = None
) -> dict[str, Any]:
    """A Step's gate, as keyword arguments: Step(run, **gate("eyj")). (A shape that starts
    with a fixed string is searched for fast: `re` skips to where that string is.)"""
    return {
        "literals": frozenset(literals),
        "shapes": tuple(re.compile(shape) for shape in shapes),
        "lines": lines,
    }


def marker(kind: str) -> str:
    return f"[redacted: {kind}]"


def whole(
    pattern: re.Pattern[str], kind: str, check: Callable[[str], bool] | None = None
) -> Callable[[Scan, Found], str]:
    """A step that replaces each whole match of `pattern` (that passes `check`)."""

    def run(scan: Scan, found: Found) -> str:
        def replace(match: re.Match[str]) -> str:
            if check is not None and not check(match.group(0)):
                return match.group(0)
            found[kind] += 1
            return marker(kind)

        return pattern.sub(replace, scan.text)

    return run


def part(
    pattern: re.Pattern[str],
    kind: str,
    group: int | str = 2,
    check: Callable[[re.Match[str]], bool] | None = None,
) -> Callable[[Scan, Found], str]:
    """A step that replaces only `group` of each match: the name, the host, the scheme stay."""

    def run(scan: Scan, found: Found) -> str:
        def replace(match: re.Match[str]) -> str:
            if match.group(group).startswith("[redacted") or (check and not check(match)):
                return match.group(0)
            found[kind] += 1
            start, end = match.span(group)
            text = match.string
            return text[match.start() : start] + marker(kind) + text[end : match.end()]

        return pattern.sub(replace, scan.text)

    return run
