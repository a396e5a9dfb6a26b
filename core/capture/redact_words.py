"""The words that make a name secret-like (DB_PASSWORD, clientSecret, api-key), as patterns.

Names are matched by the words they hold, in any case form: UPPER_SNAKE, lower_snake,
camelCase, PascalCase, kebab-case, dotted (spring.datasource.password), "Title Words". A word
that is also part of ordinary words ("pass" in "bypass", "token" in "tokenizer", "key" in
"monkey") counts only as a whole part of a name: after a separator or a lower-to-upper case
change, and before one. "_" is a word character, so \\b cannot say this (the first leak: the
rule's \\b before "secret" missed AWS_SECRET_ACCESS_KEY).

Each list of words is written once and made into two patterns that match the same: a plain
one, as the words read (…_PLAIN), and the one the rules use. The rules try these patterns at
every character of a name or a line, and `re` tries the alternatives of a pattern one by one,
so those have their words grouped by their first letter: a try costs a test of that letter,
not a test of every word (tests/unit/test_redact_gates.py checks that both match the same).
"""

AFTER = r"(?:(?![A-Za-z])|(?<=[a-z])(?=[A-Z]))"

# Each list: (how its words count, the words, in the order they are tried). "any": anywhere in
# a name; "part": only as a whole part of it (see above); "end": only where a part ends.
Words = list[tuple[str, list[str]]]
# Passwords: any value of three characters or more. Long words count anywhere in a name
# ("PGPASSWORD", "mysqlRootPassword"); in German, Dutch, Spanish, French, Portuguese, ...
_PASSWORDS: Words = [
    (
        "any",
        [
            "password",
            "passwd",
            "passphrase",
            "passcode",
            "passwort",
            "kennwort",
            "wachtwoord",
            "contrase[ñn]a",
            "senha",
            "mot de passe",
            "l[öo]senord",
            "has[łl]o",
        ],
    ),
    ("part", ["pass", "pwd", "pw"]),
]
# Secrets and tokens: values of twelve characters or more.
_SECRETS: Words = [
    (
        "any",
        [
            "secret",
            "credentials?",
            "api[_ -]?key",
            "access[_ -]?key",
            "private[_ -]?key",
            "recovery[_ -]?(?:key|code)s?",
        ],
    ),
    ("end", ["tokens?"]),
    ("part", ["auth"]),
]
# Keys and such: only values that look random (ENCRYPTION_KEY=<base64>, AccountKey=…, sig=…),
# since "primary_key: id" and "sort_key: created_at" are keys too.
_KEYS: Words = [
    ("part", "key keys salt hmac sig signature sid sessid".split()),
    ("any", "session[_-]?id phpsessid jsessionid".split()),
]


def _plain(words: Words) -> str:
    def one(how: str, group: list[str]) -> str:
        listed = "|".join(group)
        if how == "any":
            return f"(?i:{listed})"
        if how == "end":
            return f"(?i:{listed}){AFTER}"
        capitalised = "|".join(w[0].upper() + w[1:] for w in group)
        return rf"(?:(?<![A-Za-z])(?i:{listed})|(?<=[a-z])(?:{capitalised})){AFTER}"

    return "|".join(one(how, group) for how, group in words)


# What (?i) takes for each ASCII letter besides its two cases ("ſ" is an s, "K" the Kelvin
# sign a k), so that the letters spelled out below match what (?i:...) matches.
_OTHER_CASES = {"i": "İı", "k": "K", "s": "ſ"}


def _cases(char: str) -> str:
    if not char.isalpha():
        return char
    lower = char.lower()
    return lower + lower.upper() + _OTHER_CASES.get(lower, "")


def _any_case(pattern: str) -> str:
    """`pattern` (letters, [classes], ?, (?:...|...)) with each letter as a class of its
    cases: what (?i:pattern) matches."""
    out, i = [], 0
    while i < len(pattern):
        if pattern[i] == "[":
            end = pattern.index("]", i)
            out.append("[" + "".join(map(_cases, pattern[i + 1 : end])) + "]")
            i = end + 1
        elif pattern.startswith("(?:", i):
            out.append("(?:")
            i += 3
        else:
            char = pattern[i]
            out.append(f"[{_cases(char)}]" if char.isalpha() else char)
            i += 1
    return "".join(out)


def _by_first_letter(words: Words) -> str:
    """_plain(words), its alternatives grouped by first letter, in their order within each
    group (alternatives with other first letters cannot match where these do, so the first
    that matches is the same). A look-behind before a word moves after it, so that each
    alternative starts with a letter, which `re` tests before it tries the alternative."""
    groups: dict[str, list[str]] = {}
    for how, group in words:
        rests = []
        for word in group:
            if how == "part":
                behind = rf"(?<![A-Za-z].{{{len(word)}}})"
                rests.append((word[0], _any_case(word[1:]) + behind + AFTER))
            else:
                rests.append((word[0], _any_case(word[1:]) + (AFTER if how == "end" else "")))
        if how == "part":
            for word in group:
                first = word[0].upper()
                rests.append((word[0], rf"{word[1:]}(?<=[a-z]{first}{word[1:]}){AFTER}"))
        for first, rest in rests:
            groups.setdefault(first.lower(), []).append(rest)
    return "|".join(f"[{_cases(first)}](?:{'|'.join(rests)})" for first, rests in groups.items())


def _fast(words: Words) -> str:
    """What _plain(words) matches, found faster: a position whose letter starts no word is
    passed over at once, and at the others only the words starting with it are tried."""
    firsts = "".join(sorted({_cases(word[0]) for _, group in words for word in group}))
    return f"(?=[{firsts}])(?:{_by_first_letter(words)})"


def any_case(words: list[str]) -> str:
    """What (?i:word|word...) matches, found faster (see _fast)."""
    return _fast([("any", words)])


# Which kind a name is: its words (plain, as they read; fast, as the rules use them).
PASSWORD_WORDS_PLAIN, PASSWORD_WORDS = _plain(_PASSWORDS), _fast(_PASSWORDS)
SECRET_WORDS_PLAIN, SECRET_WORDS = _plain(_SECRETS), _fast(_SECRETS)
# Whether a name is secret-like at all. (The first letters of all the words are checked
# first, as they always were: only ASCII ones, so that "ſecret" is no name.)
_FIRST = r"(?=[PpSsTtKkAaCcRrHhWwLlMmJj])"
_ALL = [*_PASSWORDS, *_SECRETS, *_KEYS]
KEYWORD_PLAIN = rf"{_FIRST}(?:{_plain(_PASSWORDS)}|{_plain(_SECRETS)}|{_plain(_KEYS)})"
KEYWORD = rf"{_FIRST}(?:{_by_first_letter(_ALL)})"
