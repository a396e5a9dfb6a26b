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
from bisect import bisect_left, bisect_right
from collections import Counter
from collections.abc import Callable, Iterable
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
    """Which of many strings occur in a text, found in one pass.

    A search reports matches that do not overlap, so a string that starts inside another's
    match is found through that match: either it lies within it, or it runs past its end and
    is looked for on its own. Strings that start with a space or a sign ("(", "\n", "==") are
    looked for on their own: code is full of them, and a match costs more than a look."""

    def __init__(self, words: Iterable[str]) -> None:
        unique = sorted(set(words))
        self._apart = tuple(w for w in unique if not w[0].isalnum())
        tried = [w for w in unique if w[0].isalnum()]
        self._pattern = re.compile(trie(tried) if tried else "(?!)")
        self._inside = {w: frozenset(v for v in tried if v in w) for w in tried}
        self._across = {
            w: tuple(
                v for v in tried if v not in w and any(w.endswith(v[:i]) for i in range(1, len(v)))
            )
            for w in tried
        }

    def present(self, folded: str) -> set[str]:
        found = {w for w in self._apart if w in folded}
        for word in set(self._pattern.findall(folded)):
            found |= self._inside[word]
            found.update(v for v in self._across[word] if v in folded)
        return found


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
    first match that starts on one of them is the first match of all."""

    def __init__(self, text: str, folded: str, stems: re.Pattern[str]) -> None:
        self.text = text
        self._spans: list[tuple[int, int, int]] = []  # (start, end, reach) of each line
        pos = 0
        if "\n" not in text:  # (most texts are a line: a window title, a chat message)
            if stems.search(folded):
                self._spans.append((0, len(text), len(text) + _MARGIN))
            pos = len(text) + 1
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
        for start, end, reach in self._spans[bisect_left(self._ends, pos) :]:
            match = pattern.search(self.text, max(pos, start), reach)
            if match and match.start() <= end:
                return match
        return None

    def __bool__(self) -> bool:
        return bool(self._spans)

    def sub(self, pattern: re.Pattern[str], replace: Callable[[re.Match[str]], str]) -> str:
        """pattern.sub(replace, text), searching as search() does (for a pattern that
        matches no empty string)."""
        out, pos = [], 0
        while match := self.search(pattern, pos):
            out.append(self.text[pos : match.start()] + replace(match))
            pos = match.end()
        return "".join(out) + self.text[pos:]


class Scan:
    """A text as the rules see it: itself, folded, the gate strings it holds, its lines."""

    def __init__(self, text: str, folded: str, present: set[str]) -> None:
        self.text = text
        self.folded = folded
        self.present = present
        self.todo: list[int] = []  # the steps that may run on it, in order (Rules)
        # (By the pattern's id: a compiled pattern's hash is computed from its whole code.)
        self._lines: dict[int, Lines] = {}

    def lines(self, stems: re.Pattern[str]) -> Lines:
        lines = self._lines.get(id(stems))
        if lines is None:
            lines = self._lines[id(stems)] = Lines(self.text, self.folded, stems)
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
    markers of those before it)."""

    def __init__(self, steps: Iterable[Step]) -> None:
        self._steps = list(steps)
        words = {w for step in self._steps for w in step.literals}
        if any("[" in w or "]" in w for w in words):
            raise ValueError("a gate string holds a bracket, which a marker may end or start")
        self._literals = Literals(words)
        self._by_literal: dict[str, set[int]] = {}
        for i, step in enumerate(self._steps):
            for word in step.literals:
                self._by_literal.setdefault(word, set()).add(i)
        # Steps that may run whatever literals a text holds: those with a shape to look for
        # and those with no gate of that kind.
        self._maybe = {i for i, s in enumerate(self._steps) if s.shapes or not s.literals}
        self._in_marker: dict[str, set[str]] = {}

    def apply(self, text: str, found: Found) -> str:
        folded = fold(text)
        scan = self._scan(text, folded, self._literals.present(folded))
        todo, k, steps = scan.todo, 0, self._steps
        while k < len(todo):
            i = todo[k]
            k += 1
            step = steps[i]
            if step.literals.isdisjoint(scan.present):
                for shape in step.shapes:
                    if shape.search(scan.folded):
                        break
                else:
                    if step.literals or step.shapes:
                        continue
            if step.lines is not None and not scan.lines(step.lines):
                continue
            changed = step.run(scan, found)
            if changed != scan.text:
                # What a step changes it replaces by markers, which start with "[" and end
                # with "]", as no gate string does: a gate string in the changed text lies in
                # the text kept, or in a marker. (So the text need not be searched again.)
                present = scan.present.union(*map(self._marked, found))
                scan = self._scan(changed, fold(changed), present)
                todo, k = scan.todo, bisect_right(scan.todo, i)
        return scan.text

    def _scan(self, text: str, folded: str, present: set[str]) -> Scan:
        scan = Scan(text, folded, present)
        scan.todo = sorted(self._maybe.union(*(self._by_literal[w] for w in present)))
        return scan

    def _marked(self, kind: str) -> set[str]:
        if kind not in self._in_marker:
            self._in_marker[kind] = self._literals.present(fold(marker(kind)))
        return self._in_marker[kind]


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
