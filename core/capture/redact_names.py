"""Secrets that redact() knows by the name they are given: NAME=value in every case and
assignment form, labels on dashboards ("Client secret   8Q~…"), a PIN, and a literal passed to
a function whose name says it takes a secret (keyring.set_password(service, user, "…")).

A name's words say which values can be secrets (passwords: any three characters or more;
tokens: twelve or more; keys: only random-looking ones), and what a value says about itself
rules out the rest: masks, placeholders, code that names a secret held elsewhere. Every rule
here needs a secret-like word on the line its match starts on, so it searches only those lines
(core/capture/redact_scan.py).
"""

import re
from collections.abc import Callable

from core.capture.redact_scan import Found, Scan, Step, gate, marker, part, trie
from core.capture.redact_words import KEYWORD, PASSWORD_WORDS, SECRET_WORDS, any_case

# --- a secret-like name, assigned a value ------------------------------------------------------
_PASSWORD_NAME = re.compile(PASSWORD_WORDS)
_LONG_PASSWORD_WORD = re.compile(r"(?i)pass(?:word|wd|phrase|code|wort)|kennwort|contrase|senha")
_SECRET_NAME = re.compile(SECRET_WORDS)
_ANY_NAME = re.compile(KEYWORD)
_NAME = (
    r"(?P<name>(?<![\w.$-])(?:[A-Za-z][\w.-]*+[ \t]){0,3}"
    rf"(?>[\w.-]*?{KEYWORD}[\w.-]*+)"
    r"(?:[ \t](?i:value|key|token|code|phrase)\b){0,2})"  # "Client secret value", "Secret Key"
)
# Names that hold something about a secret rather than the secret (token_url, password_min_length,
# secret_file, public_key), by their last part.
_ABOUT_A_SECRET = (
    "urls? uris? endpoint path file dir name type len length size count min max policy prompt "
    "hint field label header param env var ttl expiry expires lifetime format mode version "
    "enabled required stdin algorithm alg str string fds"
).split()
# (Apart, as the first ends where the name ends: it is searched for only there.)
_NOT_SECRET_END = re.compile(rf"(?:^|[_.\- ]|(?<=[a-z])(?=[A-Z])){any_case(_ABOUT_A_SECRET)}$")
_LONGEST_ABOUT = 1 + max(map(len, _ABOUT_A_SECRET)) + 1  # and a separator, and "$" before "\n"
_PUBLIC = re.compile(any_case(["public", "publishable"]))


def _about_a_secret(name: str) -> bool:
    return bool(
        _NOT_SECRET_END.search(name, max(0, len(name) - _LONGEST_ABOUT)) or _PUBLIC.search(name)
    )


_OP = (
    r"[\"'`\]]{0,2}(?:[ \t]+\[[^\]\n\"']{0,40}\])?[ \t]*"  # a closing quote; a prompt's [None]
    r"(?:[ \t]+for[ \t]+[^\n:=]{1,40}?[ \t]*)?"  # "password for the bank is ..."
    r"(?P<op>:=|=>|==?|:|[ \t]is(?:[ \t]+now)?[ \t]|[ \t]to[ \t])[ \t]*"
    r"(?P<newline>\n[ \t]*)?"  # "My password:\nSunflower99" (OCR breaks lines where it likes)
    r"(?:@(?=[\"']))?"  # C#'s @"…"
)
# (4096 characters at most: a minified line has no space to end a value, and a rejected value is
# searched again.)
_VALUE = r"(?:\"(?P<dq>[^\"\n]+)\"|'(?P<sq>[^'\n]+)'|[\"'`]?(?P<bare>[^\s\"'`<>]{1,4096}))"
# A call that is not given a secret although its name ends in a secret's word: a getter, a
# check, a reset, a prompt (get_password(service, user), reset_password(email),
# prompt_password("Password: ")).
_NOT_GIVEN = (
    r"(?!(?i:get|has|is|load|read|fetch|find|delete|remove|list|check|verify|validate|reset"
    r"|forgot|forget|send|request|prompt|ask|input|show|print|log|display|label)[A-Z_])"
)
_NAMED = [
    # NAME=value, NAME: value, "name": "value", name := "value", 'name' => 'value', --name=value
    re.compile(rf"{_NAME}{_OP}{_VALUE}"),
    # --name value, ENV NAME value (Dockerfile), setx NAME "value" (Windows)
    re.compile(
        r"(?:(?<![\w-])--|\b(?:ENV|setx)[ \t]+)"
        rf"(?P<name>(?>[\w.-]*?{KEYWORD}[\w.-]*+))"
        rf"[ \t]+(?!--|-\w?\s){_VALUE}"  # not the next flag; "-AighL…" (base64url) is a value
    ),
    # <password>value</password>
    re.compile(
        rf"<(?P<name>(?>[\w.-]*?{KEYWORD}[\w.-]*+))>"
        r"(?P<tag>[^<\n]+)</"
    ),
    # a name and a value side by side: <add key="Pwd" value="..."/>, Kubernetes' env list
    # (- name: DB_PASSWORD / value: "..."), ECS's {"name": ..., "value": ...}
    re.compile(
        r"(?i:key|name)[\"']?[ \t]*[:=][ \t]*[\"']?"
        rf"(?P<name>(?>[\w.-]*?{KEYWORD}[\w.-]*+))[\"']?"
        rf"[\s,]*(?i:value)[\"']?[ \t]*[:=][ \t]*{_VALUE}"
    ),
    # define('DB_PASSWORD', 'value') (WordPress)
    re.compile(
        rf"\bdefine\([ \t]*[\"'](?P<name>\w*?{KEYWORD}\w*)"
        rf"[\"'][ \t]*,[ \t]*{_VALUE}"
    ),
    # .password("value"), .mailPassword("value"), .withApiKey("value"): a builder's one argument,
    # named by its last word (not get_password(a, b), not token_classification("text"))
    re.compile(
        rf"\.{_NOT_GIVEN}(?P<name>\w*?{KEYWORD})"
        rf"\([ \t]*(?=[\"']){_VALUE}[ \t]*\)"
    ),
]
# A literal passed to a function whose name ends in a password's or a secret's word: its last
# argument (keyring.set_password(service, user, "…"), user.setPassword("…"), new
# UsernamePasswordCredentials(user, "…"), client.set_api_key("…")), when it is not _NOT_GIVEN
# one. Keys' words are left out: set_key(name, "x") stores anything under a key. The arguments
# may start on the next line, and the parenthesis close on the one after.
_CALL = re.compile(
    rf"(?<![\w$]){_NOT_GIVEN}(?P<name>[A-Za-z_]\w*?(?:{PASSWORD_WORDS}|{SECRET_WORDS}))"
    r"\((?:[ \t]*\n)?(?:[ \t]*(?:[\w.]+|\"[^\"\n]*\"|'[^'\n]*')[ \t]*,)*"
    r"[ \t]*(?:\"(?P<dq>[^\"\n]+)\"|'(?P<sq>[^'\n]+)')[ \t]*(?=\)|\n[ \t]{0,8}\))"
)
# A user and a password, given to what logs in with them: the second argument, a literal
# (smtp.login(user, "…"), ftp.login("ana", "…"), authenticate("ana", "…"), ldap's
# simple_bind_s(dn, "…"), requests' HTTPBasicAuth("ana", "…") and auth=("ana", "…")).
_LOGIN = re.compile(
    r"(?<![\w$])(?:log_?in|logIn|sign_?in|signIn|authenticate|simple_bind_s|bind_s"
    r"|\w*(?:Basic|Digest)Auth|auth[ \t]*=[ \t]*)"
    r"\((?:[ \t]*\n)?[ \t]*(?!req(?:uest)?\b)(?:[\w.]+|\"[^\"\n]*\"|'[^'\n]*')[ \t]*,[ \t]*"
    r"(?:\"(?P<dq>[^\"\n]+)\"|'(?P<sq>[^'\n]+)')[ \t]*[,)]"
)
# Dashboards and dialogs: a label, then the value after wide space, on the next line, or after
# "is" ("Client secret   8Q~…   Copy", "Your API key is …"). Only values that look generated.
_LABEL = (
    r"(?i:client[ _-]secret|secret(?:[ _-](?:access[ _-])?key)?|signing[ _-]secret|api[ _-]?key"
    r"|(?:access|auth|refresh|bot|bearer)[ _-]token|token|password|passphrase|private[ _-]key"
    r"|session[ _-]?id|connect\.sid|phpsessid)"
)
_LABELLED = re.compile(
    rf"(?m)((?:^[ \t]*+|(?<=[ \t]{{2}}))(?:[A-Za-z][\w.-]*+[ \t]){{0,3}}{_LABEL}(?:[ \t]+value)?"
    r"(?:[ \t]{2,}|\t|[ \t]*\n[ \t]*|[ \t]+is[ \t]+))([^\s\"'<>]{8,})"
)
_PIN = re.compile(r"(?i)(\bpin(?:[ _-]?code)?\b[\"']?[ \t]*(?::|=|\bis\b)[ \t]*[\"']?)(\d{4,8})\b")

# What a UI or a document says about a password instead of showing it ("Password is incorrect",
# "password: str", "--password requires --username").
_NOT_A_PASSWORD = set(
    "incorrect invalid wrong required too not expired missing empty weak strong correct the a an "
    "set saved changed reset case being still also now here different same mandatory optional "
    "blank none null nil true false undefined hidden protected needed updated shown stored "
    "encrypted sent ok yes no any requires require is are was and or of for with to in on by "
    "flag option argument must should will can instead if str int bytes bool string number".split()
)
# Values that stand for a secret: masks, <placeholders>, ${VARIABLES}, {{ templates }}, an
# f-string's {token}, and a marker from an earlier pass (redact() must be idempotent: stored
# text is redacted again when read).
_PLACEHOLDER = re.compile(
    r"^(?:[*•●·xX]{3,}|\(\w+\)|\[\w+\]|<[^>]*>?|\$\{.*|\$\(.*|\{\{.*|%\w+%|\$[A-Z_][A-Z0-9_]*"
    r"|\{[^{}\s]*\}(?:\\n)*[.,;:!?)]*|\[redacted\b.*)$"
)
# Code on screen assigns expressions, not secrets (a secret in code is a quoted literal): a call
# or a subscript ("os.environ[", "self._build_auth(auth)", "Optional[str]", "b64encode(x)"),
# of characters that code uses, every word of it shaped like code's. A generated password also
# holds !@#$%^&~?* or words like "E5NNpZ7RbN" and "0qj", and a subscript holds no "=".
_REFERENCE_CALL = re.compile(r"^[({\[*]*[A-Za-z_][\w.]*[(\[][\w.()\[\]{},=:+/-]*$")
# Words joined as code joins them (access_token, OAUTH_CLIENT_SECRET, mailPassword, password_1):
# letters, with underscores between them, and a number at the end. (Once written as words that
# could follow each other with no underscore, a failure tried every way to cut a run of letters
# into words: "a_" and 40 letters and "7b" after "api_key = " took hours.)
_IDENTIFIER = re.compile(r"^_*[A-Za-z]+(?:_+[A-Za-z]+)*(?:_?\d+)?_*$")
_CODE_WORD = re.compile(r"^(?:\d+|_*[a-z][a-z0-9_]*|[A-Z][A-Z0-9_]*)$")  # b64encode, dict1, V2_KEYS
# What is called or subscripted: os, self, getattr, AutoTokenizer, V2_KEYS (not "dXUB0").
_CALLEE = re.compile(
    r"^_*(?:[a-z][a-z0-9]*(?:_+[a-z0-9]+)*|[A-Z][A-Z0-9_]*|[A-Z][a-z]+"
    r"|(?:[a-z]+|[A-Z]+[a-z]*)(?:[A-Z][a-z0-9]+)+)$"  # (and HTTPBasicAuth, JSONDecoder)
)
# ... or a variable: "settings.SECRET_KEY", "access_token", "(url.username,", password=password.
_REFERENCE_PATH = re.compile(r"^([({\[*]*)((?:[A-Za-z_]\w*\.)*)([A-Za-z_]\w*)[,)\]}]*")
_OBJECT = re.compile(r"(?:self|cls|this|os|settings|config|env|process|request|response)\.")
# What may follow a value in a connection string or a query: ";Encrypt=True;Connection",
# "&issuer=Acme&digits=6" -- names and plain values to the end, not "&L=,4e=g5djW".
_CONTINUATION = re.compile(
    r"[;&](?=[A-Za-z_][\w-]+=[\w.:/@%+-]*(?:[;&][A-Za-z_][\w-]+(?:=[\w.:/@%+-]*)?)*[;&]?$)"
)


_NOT_WORD = re.compile(r"[\W_]")
_WORDS_IN = re.compile(r"\w+")
_DOT_OR_SPACE = re.compile(r"[. ]")
_SUBSCRIPT_ASSIGNED = re.compile(r"\[[^\]]*=")
_SNAKE = re.compile(r"_*[a-z]+(?:_[a-z]+)+_*")
_CHANGED = re.compile(r"(?i)\b(?:chang|set|reset|updat)")
_NOT_LETTER = re.compile(r"[\d\W_]")


def _squash(name: str) -> str:
    return _NOT_WORD.sub("", name).lower()


_DIGIT, _LETTER, _SPACE = re.compile(r"\d"), re.compile(r"[^\W\d_]"), re.compile(r"\s")
_WORD = re.compile(r"[A-Za-z][a-z]+[.,;:!?)]*$")
_CASE_RUN = re.compile(r"[a-z]{6}|[A-Z]{6}|[^A-Za-z]")
_CLASSES = (re.compile(r"[a-z]"), re.compile(r"[A-Z]"), _DIGIT, re.compile(r"[^A-Za-z0-9]"))


def _classes(value: str) -> int:
    """How many of lower case, upper case, digits and symbols `value` holds."""
    return sum(pattern.search(value) is not None for pattern in _CLASSES)


def _random_looking(value: str) -> bool:
    """Generated rather than written: long, letters and digits mixed (or hex, base64). A key
    is not a kilobyte long; a run of text without spaces is (minified code), and is not
    searched through again and again."""
    if len(value) > 1024:
        return False
    has_digit = _DIGIT.search(value) is not None
    has_alpha = _LETTER.search(value) is not None
    classes = _classes(value)
    # Without digits, random letters change case every few characters; words do not.
    return (
        (len(value) >= 16 and has_digit and has_alpha)
        or (len(value) >= 24 and classes >= 3)
        or (len(value) >= 20 and classes == 2 and has_alpha and not _CASE_RUN.search(value))
    )


def _password_looking(value: str) -> bool:
    """What a password manager makes: eight characters or more of three kinds (and not a word
    of a sentence: "Otherwise,")."""
    return len(value) >= 8 and _classes(value) >= 3 and not _WORD.match(value)


def _is_reference(name: str, value: str) -> bool:
    """`value`, unquoted, names a secret held elsewhere (a variable, a call) rather than being
    one."""
    if _REFERENCE_CALL.match(value) and (
        _CALLEE.match((words := _WORDS_IN.findall(value))[0])
        and not _SUBSCRIPT_ASSIGNED.search(value)
        and all(_IDENTIFIER.match(word) or _CODE_WORD.match(word) for word in words)
    ):
        return True
    value = value.rstrip(":")
    path = _REFERENCE_PATH.match(value)
    if not path:
        return False
    opening, parents, last = path.groups()
    same = _squash(last) == _squash(_DOT_OR_SPACE.split(name)[-1])  # password=password
    if path.end() < len(value):
        # More follows: "token).kill()" (the name itself, closed) is code, "dune.95" is not.
        return same and value[path.end() - 1] in ")]}"
    if same:
        return True
    if not (opening or parents or "_" in last) or not _IDENTIFIER.match(last):
        return False
    if _SNAKE.fullmatch(last):  # saved_assert_hooks: a variable
        return True
    return bool(opening or _OBJECT.match(parents) or _ANY_NAME.search(last))


def _named_kind(name: str, value: str, op: str | None, *, quoted: bool) -> str | None:
    """The kind of secret `value` is, assigned to `name` with `op`; None if it is none."""
    name, op = name.strip(), (op or "").strip()
    # In a dotted name the last part says what it holds: spring.datasource.password, not
    # SignatureAlgorithmOID.RSA_WITH_MD5 or token._value.
    if not _ANY_NAME.search(name.rsplit(".", 1)[-1]):
        return None
    if _PLACEHOLDER.match(value) or _about_a_secret(name):
        return None
    if not quoted and _is_reference(name, value):
        return None
    if value.startswith(("http://", "https://")):  # token_uri: https://oauth2.googleapis.com/token
        return None
    if _PASSWORD_NAME.search(name):
        words = value.split()
        if len(value) < 3 or value.lower().rstrip(".,;:!?") in _NOT_A_PASSWORD:
            return None
        if len(words) > 1 and (len(words) > 4 or _PASSWORD_NAME.search(value)):
            return None  # a sentence about a password ("Forgot your password?"), not one
        if op == "is" and not _LONG_PASSWORD_WORD.search(name):
            return None  # "the first pass is sufficient"
        # "changed the router password to X", never "pass it to the function"
        if op == "to" and not (
            _CHANGED.search(name) and _NOT_LETTER.search(value) and _LONG_PASSWORD_WORD.search(name)
        ):
            return None
        return "password"
    if op == "to" or _SPACE.search(value):
        return None
    if _SECRET_NAME.search(name) and op != "is":
        return "secret" if len(value) >= 12 else None
    return "secret" if _random_looking(value) else None


def _named(
    pattern: re.Pattern[str], stems: re.Pattern[str], name: str | None = None
) -> Callable[[Scan, Found], str]:
    """A step that replaces the values `pattern` finds given to a secret-like name (or to
    `name`, for a pattern that has none), on the lines that hold one of `stems`.

    Like pattern.sub(), except that a value found not to be a secret is searched again: in
    "SharedAccessKeyName=RootManageSharedAccessKey;SharedAccessKey=…" the first name is not a
    secret's, and its value runs over the second."""

    def run(scan: Scan, found: Found) -> str:
        text, lines = scan.text, scan.lines(stems)
        out, pos = [], 0
        while match := lines.search(pattern, pos):
            # The value's group (dq, sq, tag or bare): each pattern here closes it last.
            group = str(match.lastgroup)
            start, end = match.span(group)
            value = match.group(group)
            groups = match.groupdict()
            if groups.get("newline") and value.endswith(":"):
                value = ""  # "password:" over a YAML mapping ("  encoder: bcrypt"), not a value
            if group == "bare":
                # A connection string or a query goes on after the value (";Encrypt=True").
                cut = _CONTINUATION.search(value)
                if cut:
                    value = value[: cut.start()]
                value = value.rstrip(",;:")
                if value.endswith(")") and value.count("(") < value.count(")"):
                    value = value[:-1]
                end = start + len(value)
            kind = (
                _named_kind(
                    name or match.group("name"), value, groups.get("op"), quoted=group != "bare"
                )
                if value
                else None
            )
            if kind is None:
                out.append(text[pos:start])
                pos = start
                continue
            found[kind] += 1
            out.append(text[pos:start] + marker(kind))
            pos = end
        return "".join(out) + text[pos:]

    return run


def _labelled(scan: Scan, found: Found) -> str:
    def replace(match: re.Match[str]) -> str:
        label, value = match.group(1), match.group(2)
        line = match.string[match.string.rfind("\n", 0, match.start()) + 1 : match.start()]
        if "\n" in label and line.strip():
            return match.group(0)  # a label over its value is a line of its own, not prose's end
        password = _PASSWORD_NAME.search(label) is not None
        if not (_password_looking(value) if password else _random_looking(value)):
            return match.group(0)
        kind = "password" if password else "secret"
        found[kind] += 1
        return label + marker(kind)

    return scan.lines(_LABEL_STEMS).sub(_LABELLED, replace)


# What a line must hold, in lower case, for a rule above to start a match on it: the words'
# stems ("pass" for password, passwd, mot de passe; "key" for api_key, AccessKey).
_SECRET_STEMS = (
    "pass pw kennwort wachtwoord contrase senha senord hasło haslo secret credential token "
    "auth key recovery"
).split()
_NAME_WORDS = [*_SECRET_STEMS, "salt", "hmac", "sig", "sid", "session"]
_NAME_STEMS = re.compile(trie(_NAME_WORDS))
# ... and an operator after it (NAME=value, NAME: value, "the password is ...").
_ASSIGNED_STEMS = re.compile(rf"(?:{trie(_NAME_WORDS)})[^\n]*?(?:[:=]|[ \t](?:is|to)[ \t])")
# ... right before a parenthesis, as a call's name ends in a word ("recovery codes(", "api key(",
# "signature(").
_CALLED_STEMS = re.compile(rf"(?:{trie(_NAME_WORDS)})[\w -]{{0,8}}\(")
_LOGIN_WORDS = "login log_in signin sign_in auth bind_s".split()
_LOGIN_STEMS = re.compile(trie(_LOGIN_WORDS))
_LABEL_WORDS = "secret api token pass private session sid".split()
# ... and the rest of the label ("secret access key", "passphrase"), then the value after wide
# space, on the next line, or after "is".
_LABEL_STEMS = re.compile(
    rf"(?:{trie(_LABEL_WORDS)})[\w -]{{0,11}}?(?:[ \t]+value)?"
    r"(?:[ \t]{2}|\t|[ \t]*\n|[ \t]+is[ \t])"
)


def _step(pattern: re.Pattern[str], stems: re.Pattern[str], *literals: str) -> Step:
    return Step(_named(pattern, stems), **gate(*literals, lines=stems))


# In the order they run: each sees the markers of those before it.
STEPS = [
    _step(_NAMED[0], _ASSIGNED_STEMS, *_NAME_WORDS),
    _step(_NAMED[1], _NAME_STEMS, "--", "env ", "env\t", "setx"),
    _step(_NAMED[2], _NAME_STEMS, "</"),
    _step(_NAMED[3], _NAME_STEMS, "value"),
    _step(_NAMED[4], _NAME_STEMS, "define("),
    _step(_NAMED[5], _CALLED_STEMS, "("),
    # (Logins first: HTTPBasicAuth(user, "…") is given a password, not any secret.)
    Step(_named(_LOGIN, _LOGIN_STEMS, name="password"), **gate("(", lines=_LOGIN_STEMS)),
    _step(_CALL, _CALLED_STEMS, "("),
    Step(_labelled, **gate("  ", "\t", "\n", " is", lines=_LABEL_STEMS)),
    Step(part(_PIN, "password"), **gate("pin")),
]
