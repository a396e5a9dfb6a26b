"""Redaction of secrets and personal data, before any text is stored or shown to a model.

Screens show secrets: API keys in terminals, tokens in browser dev tools, card numbers in
checkout forms. Everything OCR reads passes through `redact()` first, and only its output is
kept. Each finding is replaced by a marker naming its kind ("[redacted: api key]"), so the
memory still says that a key was on screen, never the key.

Patterns are specific on purpose: a false positive loses a few harmless characters, a miss
keeps a secret forever. Numbers are validated (Luhn for cards, mod-97 for IBANs) so that order
numbers and timestamps survive.

tests/redaction_corpus.py holds the secrets these rules must catch (cloud keys, .env files,
connection strings, every case and assignment form of NAME=value) and look-alikes they must
leave alone (commit hashes, UUIDs, code that names a secret without holding one);
`python -m bench.redaction` measures them beside detect-secrets.
"""

import base64
import re
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field


@dataclass
class Redacted:
    text: str
    found: Counter[str] = field(default_factory=Counter)  # kind -> count


def _luhn(digits: str) -> bool:
    total = 0
    for i, char in enumerate(reversed(digits)):
        n = int(char)
        if i % 2:
            n = n * 2 - 9 if n > 4 else n * 2
        total += n
    return total % 10 == 0


def _iban_valid(text: str) -> bool:
    compact = text.replace(" ", "").upper()
    if not 15 <= len(compact) <= 34:
        return False
    moved = compact[4:] + compact[:4]
    number = "".join(str(int(c, 36)) for c in moved)
    return int(number) % 97 == 1


# --- private keys ---------------------------------------------------------------------------
# A private key goes whole, from its BEGIN line to its END line or the end of the text (a key
# cut off by the screen's edge). OCR reads a run of five dashes as four or six as often as not.
_PEM_LABEL = r"(?:[A-Z0-9]+ )*PRIVATE KEY(?: BLOCK)?"
_DASHES = r"(?<!-)-{3,}+"  # (possessive, and from the first dash: a long rule of dashes is no key)
_PRIVATE_KEY = re.compile(
    rf"{_DASHES} ?BEGIN {_PEM_LABEL} ?-{{3,}}.*?(?:{_DASHES} ?END {_PEM_LABEL} ?-{{3,}}|\Z)", re.S
)
# The screen scrolled past BEGIN: the base64 lines above an END line are the key (found by
# walking back from the END line: a pattern would try every line of a long block as a start).
_PRIVATE_KEY_END = re.compile(rf"(?m)^[ \t]*{_DASHES} ?END {_PEM_LABEL} ?-{{3,}}")
_BASE64_LINE = re.compile(r"[ \t]*[A-Za-z0-9+/=]{16,}[ \t]*")
# Only the middle of a key on screen: two or more full PEM lines (64 base64 characters, 70 in
# OpenSSH's) with both cases and digits. Certificates look the same; they lose nothing of use.
_PEM_LINE = r"[ \t]*+(?=[^\n]*[a-z])(?=[^\n]*[A-Z])(?=[^\n]*\d)[A-Za-z0-9+/]{60,76}={0,2}[ \t]*"
_PRIVATE_KEY_BODY = re.compile(rf"(?m)^{_PEM_LINE}(?:\n{_PEM_LINE})+$")
# PuTTY's .ppk keeps the private part between "Private-Lines: n" and "Private-MAC".
_PUTTY = re.compile(r"(Private-Lines:[ \t]*\d+[ \t]*\n)([A-Za-z0-9+/=\s]+?)(?=\s*Private-MAC|\Z)")
# A PEM key base64-encoded once more (a Kubernetes secret's tls.key): "LS0tLS1CRUdJTi" is
# "-----BEGIN"; decoded, the label says whether it is a private key or a certificate.
_ENCODED_PEM = re.compile(r"\bLS0tLS1CRUdJTi[A-Za-z0-9+/]{20,}={0,2}")


def _encoded_private_key(text: str) -> bool:
    head = text[:80]
    try:
        return b"PRIVATE KEY" in base64.b64decode(head[: len(head) - len(head) % 4])
    except ValueError:
        return False


# --- tokens with a known shape ----------------------------------------------------------------
_JWT = re.compile(r"\beyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}")
# An AWS secret access key has no prefix of its own; beside its key id (the credentials CSV,
# the console's table) it is the next 40 base64 characters.
_AWS_PAIR = re.compile(r"(\b(?:AKIA|ASIA)[0-9A-Z]{16}[\s,;|]+)([A-Za-z0-9/+]{40})(?![\w/+=])")
# A Twilio auth token is 32 hex digits, recognisable only beside its account SID (AC + 32 hex):
# Client("AC…", "token"), curl -u AC…:token.
_TWILIO_TOKEN = re.compile(
    r"(\bAC[0-9a-f]{32}\b[^\n]*?)(?<![0-9A-Za-z])([0-9a-f]{32})(?![0-9A-Za-z])"
)
# A webhook URL is its own credential: whoever has it can post. The host stays.
_WEBHOOK = re.compile(
    r"(https://(?:hooks\.slack\.com/(?:services|workflows|triggers)/"
    r"|(?:ptb\.|canary\.)?discord(?:app)?\.com/api/webhooks/\d+/"
    r"|[\w-]+\.webhook\.office\.com/webhookb2/\S+?/IncomingWebhook/))([\w/@-]{16,})"
)
# Prefixes that vendors give their keys so that scanners find them, each with the length and
# alphabet its vendor documents (most are in gitleaks' rule set too, config/gitleaks.toml).
_TOKENS = re.compile(
    r"(?:\b(?:"
    r"(?:AKIA|ASIA)[0-9A-Z]{16}"  # AWS access key id (ASIA: temporary, from STS)
    r"|gh[pousr]_[A-Za-z0-9]{30,}"  # GitHub
    r"|github_pat_[A-Za-z0-9_]{40,}"
    r"|gl(?:pat|ptt|rt|dt|cbt|oas|soat|ffct|imt|agent|ft)-[A-Za-z0-9_.-]{20,}"  # GitLab
    r"|GR1348941[A-Za-z0-9_-]{20,}"  # GitLab runner registration
    r"|sk-(?:proj-|ant-|svcacct-|admin-|or-v1-)?[A-Za-z0-9_-]{20,}"  # OpenAI, Anthropic, ...
    r"|xox[abposre]-[A-Za-z0-9-]{10,}|xoxe\.xox[bp]-[A-Za-z0-9-]{10,}"  # Slack
    r"|xapp-\d-[A-Za-z0-9-]{10,}"  # Slack app-level
    r"|AIza[0-9A-Za-z_-]{35}"  # Google API key
    r"|GOCSPX-[A-Za-z0-9_-]{20,}"  # Google OAuth client secret
    r"|ya29\.[A-Za-z0-9_.-]{20,}"  # Google OAuth access token
    r"|(?:sk|pk|rk)_(?:live|test)_[0-9A-Za-z]{16,}"  # Stripe
    r"|whsec_[A-Za-z0-9]{24,}"  # Stripe webhook signing secret
    r"|hf_[A-Za-z0-9]{30,}|api_org_[A-Za-z0-9]{30,}"  # Hugging Face
    r"|npm_[A-Za-z0-9]{36}"
    r"|pypi-AgE[A-Za-z0-9_-]{50,}"  # PyPI (a macaroon)
    r"|SG\.[A-Za-z0-9_-]{22}\.[A-Za-z0-9_-]{43}"  # SendGrid
    r"|SK[0-9a-fA-F]{32}"  # Twilio API key
    r"|gsk_[A-Za-z0-9]{40,}|r8_[A-Za-z0-9]{30,}|pplx-[A-Za-z0-9]{40,}|xai-[A-Za-z0-9]{50,}"
    r"|shp(?:at|ss|ca|pa)_[a-fA-F0-9]{32}"  # Shopify
    r"|do[opr]_v1_[a-f0-9]{64}"  # DigitalOcean
    r"|hv[sbr]\.[A-Za-z0-9_-]{24,}"  # HashiCorp Vault
    r"|key-[0-9a-f]{32}"  # Mailgun
    r"|[0-9a-f]{32}-us\d{1,2}"  # Mailchimp
    r"|ATATT3[A-Za-z0-9_=-]{50,}"  # Atlassian
    r"|lin_api_[A-Za-z0-9]{40}"  # Linear
    r"|secret_[A-Za-z0-9]{43}|ntn_[A-Za-z0-9]{40,}"  # Notion
    r"|PMAK-[a-f0-9]{24}-[a-f0-9]{34}"  # Postman
    r"|figd_[A-Za-z0-9_-]{40,}"  # Figma
    r"|dckr_pat_[A-Za-z0-9_-]{20,}"  # Docker Hub
    r"|dapi[a-f0-9]{32}(?:-\d)?"  # Databricks
    r"|glsa_[A-Za-z0-9]{32}_[a-f0-9]{8}|glc_[A-Za-z0-9+/]{32,}={0,2}"  # Grafana
    r"|sntry[su]_[A-Za-z0-9_=+/-]{40,}"  # Sentry
    r"|NRAK-[A-Z0-9]{27}"  # New Relic
    r"|AGE-SECRET-KEY-1[0-9A-Z]{58}"  # age
    r"|tskey-[a-z]+-[A-Za-z0-9-]{20,}"  # Tailscale
    r"|dp\.(?:st|ct|pt|sa|scim|audit)\.[A-Za-z0-9._-]{40,}"  # Doppler
    r"|pul-[a-f0-9]{40}"  # Pulumi
    r"|sbp_[a-f0-9]{40}"  # Supabase
    r"|pat[A-Za-z0-9]{14}\.[a-f0-9]{64}"  # Airtable
    r"|nfp_[A-Za-z0-9]{36}"  # Netlify
    r"|EAAA[A-Za-z0-9_-]{60}|sq0(?:atp|csp)-[A-Za-z0-9_-]{22,}"  # Square
    r"|AKCp[A-Za-z0-9]{69}"  # JFrog Artifactory
    r"|AAAA[A-Za-z0-9_-]{7}:APA91b[A-Za-z0-9_-]{100,}"  # Firebase Cloud Messaging
    r"|[MNO][A-Za-z0-9_-]{23,25}\.[A-Za-z0-9_-]{6}\.[A-Za-z0-9_-]{27,40}"  # Discord bot
    r")"
    r"|(?<!\d)\d{8,10}:AA[A-Za-z0-9_-]{33})"  # Telegram bot ("/bot123…:AA…": no \b before it)
)
# An Azure storage or Cosmos DB account key is 64 random bytes: 88 base64 characters ending in
# "==", shown with no name in `az storage account keys list` and the portal ("sha512-" is an
# npm integrity hash of the same size).
_AZURE_KEY = re.compile(r"(?<![\w+/-])(?<!sha512-)[A-Za-z0-9+/]{86}==(?![\w+/=])")

# --- credentials in URLs, headers and command lines -------------------------------------------
# user:password@ in a URL (databases, brokers, git remotes): the password goes, user and host stay.
_URL_PASSWORD = re.compile(r"(?i)(\b[a-z][a-z0-9+.-]*://[^\s:/@\"']*:)([^\s/@\"']+)(?=@)")
_EXAMPLE_PASSWORDS = {"pass", "password", "passwd", "pwd", "secret", "xxx", "xxxx", "***"}
# The credential in an Authorization header, whatever its scheme (Bearer, Basic, Token, ApiKey,
# SSWS, Bot, Negotiate...).
_AUTHORIZATION = re.compile(
    r"(?i)(\b(?:proxy-)?authorization[\"']?[ \t]*[:=][ \t]*[\"']?(?:[a-z][\w-]*[ \t]+)?)"
    r"([A-Za-z0-9._~+/=:%-]{8,})"
)
_BEARER = re.compile(r"(?i)\b(bearer\s+)([A-Za-z0-9._~+/-]{16,}=*)")
# Passwords given on a command line: curl -u user:pass (httpie -a), docker login -p, sshpass -p,
# mysql -pPASS (attached: "-p db" would be a database name), redis-cli -a, sqlplus user/pass@db.
_CLI_USER_PASSWORD = re.compile(
    r"((?<!\S)(?:-u|--user|-a|--auth)[ =][\"']?([^\s:\"']+):)([^\s\"']+)"
)
_CLI_PASSWORD = re.compile(
    r"(\b(?:docker|podman|nerdctl|helm|buildah|skopeo)\b[^\n]*?[ \t](?:-p|--password)[ =][ \t]*"
    r"|\bsshpass[ \t]+-p[ \t]*|\bmysql(?:dump|admin|sh|import)?\b[^\n]*?[ \t]-p(?=\S)"
    r"|\bredis-cli\b[^\n]*?[ \t]-a[ \t]+|\b(?:sqlplus|rman|expdp|impdp)[ \t]+[^\s/@]+/)"
    r"[\"']?([^\s\"'@]+)"
)
# gh secret set NAME --body "value"
_GH_SECRET = re.compile(
    r"(\bgh[ \t]+secret[ \t]+set\b[^\n]*?[ \t](?:--body|-b)[ =][ \t]*[\"']?)([^\s\"']+)"
)

# --- words shown once: a wallet's seed phrase, an authenticator's setup key ---------------------
_SEED_PHRASE = re.compile(
    r"(?i)(\b(?:seed|recovery|mnemonic|backup)[ \t]+phrase\b[^\n:]{0,20}[:\n][ \t]*)"
    r"((?:[a-z]+[ \t]+){11,23}[a-z]+)"
)
_SETUP_KEY = re.compile(r"(?i)(\bsetup[ \t]+key\b[^\n:]{0,30}:[ \t]*)((?:[a-z2-7]{4}[ \t]?){4,16})")

# --- a secret-like name, assigned a value ------------------------------------------------------
# Names are matched by the words they hold, in any case form: UPPER_SNAKE, lower_snake,
# camelCase, PascalCase, kebab-case, dotted (spring.datasource.password), "Title Words". A word
# that is also part of ordinary words ("pass" in "bypass", "token" in "tokenizer", "key" in
# "monkey") counts only as a whole part of a name: after a separator or a lower-to-upper case
# change, and before one. "_" is a word character, so \b cannot say this (the first leak: the
# rule's \b before "secret" missed AWS_SECRET_ACCESS_KEY).
_AFTER = r"(?:(?![A-Za-z])|(?<=[a-z])(?=[A-Z]))"


def _part(*words: str) -> str:
    """Words that count only as a whole part of a name (see above)."""
    lower = "|".join(words)
    capitalised = "|".join(w[0].upper() + w[1:] for w in words)
    return rf"(?:(?<![A-Za-z])(?i:{lower})|(?<=[a-z])(?:{capitalised})){_AFTER}"


# Passwords: any value of three characters or more. Long words count anywhere in a name
# ("PGPASSWORD", "mysqlRootPassword"); in German, Dutch, Spanish, French, Portuguese, ...
_PASSWORD_WORDS = (
    r"(?i:password|passwd|passphrase|passcode|passwort|kennwort|wachtwoord|contrase[ñn]a|senha"
    r"|mot de passe|l[öo]senord|has[łl]o)" + "|" + _part("pass", "pwd", "pw")
)
# Secrets and tokens: values of twelve characters or more.
_SECRET_WORDS = (
    r"(?i:secret|credentials?|api[_ -]?key|access[_ -]?key|private[_ -]?key"
    r"|recovery[_ -]?(?:key|code)s?)" + rf"|(?i:tokens?){_AFTER}|" + _part("auth")
)
# Keys and such: only values that look random (ENCRYPTION_KEY=<base64>, AccountKey=…, sig=…),
# since "primary_key: id" and "sort_key: created_at" are keys too.
_KEY_WORDS = (
    _part("key", "keys", "salt", "hmac", "sig", "signature", "sid", "sessid")
    + r"|(?i:session[_-]?id|phpsessid|jsessionid)"
)
_PASSWORD_NAME = re.compile(_PASSWORD_WORDS)
_LONG_PASSWORD_WORD = re.compile(r"(?i)pass(?:word|wd|phrase|code|wort)|kennwort|contrase|senha")
_SECRET_NAME = re.compile(_SECRET_WORDS)
# (The first letters of all the words, checked first: most positions are ruled out at once.)
_KEYWORD = rf"(?=[PpSsTtKkAaCcRrHhWwLlMmJj])(?:{_PASSWORD_WORDS}|{_SECRET_WORDS}|{_KEY_WORDS})"
_ANY_NAME = re.compile(_KEYWORD)
_NAME = (
    r"(?P<name>(?<![\w.$-])(?:[A-Za-z][\w.-]*+[ \t]){0,3}"
    rf"(?>[\w.-]*?{_KEYWORD}[\w.-]*+)"
    r"(?:[ \t](?i:value|key|token|code|phrase)\b){0,2})"  # "Client secret value", "Secret Key"
)
# Names that hold something about a secret rather than the secret (token_url, password_min_length,
# secret_file, public_key), by their last part.
_NOT_SECRET = re.compile(
    r"(?:^|[_.\- ]|(?<=[a-z])(?=[A-Z]))(?i:urls?|uris?|endpoint|path|file|dir|name|type|len"
    r"|length|size|count|min|max|policy|prompt|hint|field|label|header|param|env|var|ttl|expiry"
    r"|expires|lifetime|format|mode|version|enabled|required|stdin|algorithm|alg|str|string|fds)$"
    r"|(?i:public|publishable)"
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
_NAMED = [
    # NAME=value, NAME: value, "name": "value", name := "value", 'name' => 'value', --name=value
    re.compile(rf"{_NAME}{_OP}{_VALUE}"),
    # --name value, ENV NAME value (Dockerfile), setx NAME "value" (Windows)
    re.compile(
        r"(?:(?<![\w-])--|\b(?:ENV|setx)[ \t]+)"
        rf"(?P<name>(?>[\w.-]*?{_KEYWORD}[\w.-]*+))"
        rf"[ \t]+(?!--|-\w?\s){_VALUE}"  # not the next flag; "-AighL…" (base64url) is a value
    ),
    # <password>value</password>
    re.compile(
        rf"<(?P<name>(?>[\w.-]*?{_KEYWORD}[\w.-]*+))>"
        r"(?P<tag>[^<\n]+)</"
    ),
    # a name and a value side by side: <add key="Pwd" value="..."/>, Kubernetes' env list
    # (- name: DB_PASSWORD / value: "..."), ECS's {"name": ..., "value": ...}
    re.compile(
        r"(?i:key|name)[\"']?[ \t]*[:=][ \t]*[\"']?"
        rf"(?P<name>(?>[\w.-]*?{_KEYWORD}[\w.-]*+))[\"']?"
        rf"[\s,]*(?i:value)[\"']?[ \t]*[:=][ \t]*{_VALUE}"
    ),
    # define('DB_PASSWORD', 'value') (WordPress)
    re.compile(
        rf"\bdefine\([ \t]*[\"'](?P<name>\w*?{_KEYWORD}\w*)"
        rf"[\"'][ \t]*,[ \t]*{_VALUE}"
    ),
    # .password("value"), .mailPassword("value"), .withApiKey("value"): a builder's one argument,
    # named by its last word (not get_password(a, b), not token_classification("text"))
    re.compile(
        r"\.(?!(?i:get|has|is|load|read|fetch|find|delete|remove|list|check|verify|validate)[A-Z_])"
        rf"(?P<name>\w*?{_KEYWORD})"
        rf"\([ \t]*(?=[\"']){_VALUE}[ \t]*\)"
    ),
]
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
# Words joined as code joins them (access_token, OAUTH_CLIENT_SECRET, mailPassword, password_1),
# not a random string that happens to hold "Pw" or "key".
_IDENTIFIER = re.compile(r"^_*(?:[A-Z]+|[A-Z]?[a-z]+)(?:_*(?:[A-Z]+|[A-Z]?[a-z]+))*(?:_?\d+)?_*$")
_CODE_WORD = re.compile(r"^(?:\d+|_*[a-z][a-z0-9_]*|[A-Z][A-Z0-9_]*)$")  # b64encode, dict1, V2_KEYS
# What is called or subscripted: os, self, getattr, AutoTokenizer, V2_KEYS (not "dXUB0").
_CALLEE = re.compile(
    r"^_*(?:[a-z][a-z0-9]*(?:_+[a-z0-9]+)*|[A-Z][A-Z0-9_]*|[A-Z][a-z]+"
    r"|(?:[a-z]+|[A-Z][a-z]+)(?:[A-Z][a-z0-9]+)+)$"
)
# ... or a variable: "settings.SECRET_KEY", "access_token", "(url.username,", password=password.
_REFERENCE_PATH = re.compile(r"^([({\[*]*)((?:[A-Za-z_]\w*\.)*)([A-Za-z_]\w*)[,)\]}]*")
_OBJECT = re.compile(r"(?:self|cls|this|os|settings|config|env|process|request|response)\.")
# What may follow a value in a connection string or a query: ";Encrypt=True;Connection",
# "&issuer=Acme&digits=6" -- names and plain values to the end, not "&L=,4e=g5djW".
_CONTINUATION = re.compile(
    r"[;&](?=[A-Za-z_][\w-]+=[\w.:/@%+-]*(?:[;&][A-Za-z_][\w-]+(?:=[\w.:/@%+-]*)?)*[;&]?$)"
)


def _squash(name: str) -> str:
    return re.sub(r"[\W_]", "", name).lower()


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
    words = re.findall(r"\w+", value)
    if (
        _REFERENCE_CALL.match(value)
        and _CALLEE.match(words[0])
        and not re.search(r"\[[^\]]*=", value)
        and all(_IDENTIFIER.match(word) or _CODE_WORD.match(word) for word in words)
    ):
        return True
    value = value.rstrip(":")
    path = _REFERENCE_PATH.match(value)
    if not path:
        return False
    opening, parents, last = path.groups()
    same = _squash(last) == _squash(re.split(r"[. ]", name)[-1])  # password=password
    if path.end() < len(value):
        # More follows: "token).kill()" (the name itself, closed) is code, "dune.95" is not.
        return same and value[path.end() - 1] in ")]}"
    if same:
        return True
    if not (opening or parents or "_" in last) or not _IDENTIFIER.match(last):
        return False
    if re.fullmatch(r"_*[a-z]+(?:_[a-z]+)+_*", last):  # saved_assert_hooks: a variable
        return True
    return bool(opening or _OBJECT.match(parents) or _ANY_NAME.search(last))


def _named_kind(name: str, value: str, op: str | None, *, quoted: bool) -> str | None:
    """The kind of secret `value` is, assigned to `name` with `op`; None if it is none."""
    name, op = name.strip(), (op or "").strip()
    # In a dotted name the last part says what it holds: spring.datasource.password, not
    # SignatureAlgorithmOID.RSA_WITH_MD5 or token._value.
    if not _ANY_NAME.search(name.rsplit(".", 1)[-1]):
        return None
    if _NOT_SECRET.search(name) or _PLACEHOLDER.match(value):
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
            re.search(r"(?i)\b(?:chang|set|reset|updat)", name)
            and re.search(r"[\d\W_]", value)
            and _LONG_PASSWORD_WORD.search(name)
        ):
            return None
        return "password"
    if op == "to" or _SPACE.search(value):
        return None
    if _SECRET_NAME.search(name) and op != "is":
        return "secret" if len(value) >= 12 else None
    return "secret" if _random_looking(value) else None


# --- numbers, and personal data on request ----------------------------------------------------
# OCR spreads a card's groups apart on a wide input field ("4663  8815  1921  5720").
_CARD = re.compile(r"\b(?:\d(?:[ -]| {2})?){12,18}\d\b")
# Typed in lower case too ("iban de89 3704 ..."); the mod-97 check keeps it specific.
_IBAN = re.compile(r"(?i)\b[A-Z]{2}\d{2}(?: ?[A-Z0-9]{4}){2,7}(?: ?[A-Z0-9]{1,4})?\b")
_EMAIL = re.compile(r"\b[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}\b")
_PHONE = re.compile(r"(?<![\w+])\+?\d{1,3}?[ .-]?\(?\d{2,4}\)?(?:[ .-]?\d{2,4}){2,4}(?!\w)")


def _marker(kind: str) -> str:
    return f"[redacted: {kind}]"


# What redact() also removes when its caller does not say: the privacy settings, set once for
# the process by the engine (every input passes through redact(), from many places).
_personal = {"emails": False, "phones": False}


def configure(*, emails: bool, phones: bool) -> None:
    """Also redact email addresses and/or phone numbers from now on (settings' privacy)."""
    _personal.update(emails=emails, phones=phones)


def redact(text: str, *, emails: bool | None = None, phones: bool | None = None) -> Redacted:
    """`text` with secrets replaced by markers, and what was found. Emails and phone numbers
    are personal data rather than secrets: redacted only when asked (a setting)."""
    emails = _personal["emails"] if emails is None else emails
    phones = _personal["phones"] if phones is None else phones
    found: Counter[str] = Counter()

    def whole(kind: str, check: Callable[[str], bool] | None = None) -> Callable:
        def replace(match: re.Match[str]) -> str:
            if check is not None and not check(match.group(0)):
                return match.group(0)
            found[kind] += 1
            return _marker(kind)

        return replace

    def part(kind: str, group: int | str = 2, check: Callable | None = None) -> Callable:
        """Only `group` of the match is replaced: the name, the host, the scheme stay."""

        def replace(match: re.Match[str]) -> str:
            if match.group(group).startswith("[redacted") or (check and not check(match)):
                return match.group(0)
            found[kind] += 1
            start, end = match.span(group)
            return (
                match.string[match.start() : start]
                + _marker(kind)
                + match.string[end : match.end()]
            )

        return replace

    def named(pattern: re.Pattern[str], text: str) -> str:
        """pattern.sub(), except that a value found not to be a secret is searched again: in
        "SharedAccessKeyName=RootManageSharedAccessKey;SharedAccessKey=…" the first name is not
        a secret's, and its value runs over the second."""
        out, pos = [], 0
        while match := pattern.search(text, pos):
            groups = match.groupdict()
            group = next(g for g in ("dq", "sq", "tag", "bare") if groups.get(g) is not None)
            start, end = match.span(group)
            value = match.group(group)
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
                _named_kind(match.group("name"), value, groups.get("op"), quoted=group != "bare")
                if value
                else None
            )
            if kind is None:
                out.append(text[pos:start])
                pos = start
                continue
            found[kind] += 1
            out.append(text[pos:start] + _marker(kind))
            pos = end
        return "".join(out) + text[pos:]

    def key_tails(text: str) -> str:
        out, pos = [], 0
        for end in _PRIVATE_KEY_END.finditer(text):
            start = end.start()
            while start > pos:
                previous = text.rfind("\n", pos, start - 1) + 1 or pos
                if not _BASE64_LINE.fullmatch(text, previous, start - 1):
                    break
                start = previous
            if start < end.start():
                found["private key"] += 1
                out.append(text[pos:start] + _marker("private key"))
                pos = end.end()
        return "".join(out) + text[pos:]

    def labelled(match: re.Match[str]) -> str:
        label, value = match.group(1), match.group(2)
        line = match.string[match.string.rfind("\n", 0, match.start()) + 1 : match.start()]
        if "\n" in label and line.strip():
            return match.group(0)  # a label over its value is a line of its own, not prose's end
        password = _PASSWORD_NAME.search(label) is not None
        if not (_password_looking(value) if password else _random_looking(value)):
            return match.group(0)
        kind = "password" if password else "secret"
        found[kind] += 1
        return label + _marker(kind)

    text = _PRIVATE_KEY.sub(whole("private key"), text)
    text = key_tails(text)
    text = _PRIVATE_KEY_BODY.sub(whole("private key"), text)
    text = _PUTTY.sub(part("private key"), text)
    text = _ENCODED_PEM.sub(whole("private key", _encoded_private_key), text)
    text = _JWT.sub(whole("token"), text)
    text = _AWS_PAIR.sub(part("secret"), text)
    text = _TWILIO_TOKEN.sub(part("secret"), text)
    text = _WEBHOOK.sub(part("token"), text)
    text = _TOKENS.sub(whole("api key"), text)
    text = _AZURE_KEY.sub(whole("secret"), text)
    # "https://user:pass@host" in documentation shows where a password goes.
    text = _URL_PASSWORD.sub(
        part("password", check=lambda m: m.group(2).lower() not in _EXAMPLE_PASSWORDS), text
    )
    text = _AUTHORIZATION.sub(part("token"), text)
    text = _BEARER.sub(part("token"), text)
    # "-u 1000:1000" is docker's uid:gid, not a user and password.
    text = _CLI_USER_PASSWORD.sub(
        part("password", 3, lambda m: not (m.group(2).isdigit() and m.group(3).isdigit())), text
    )
    text = _CLI_PASSWORD.sub(part("password"), text)
    text = _GH_SECRET.sub(part("secret"), text)
    text = _SEED_PHRASE.sub(part("secret"), text)
    text = _SETUP_KEY.sub(part("secret"), text)
    for pattern in _NAMED:
        text = named(pattern, text)
    text = _LABELLED.sub(labelled, text)
    text = _PIN.sub(part("password"), text)
    text = _IBAN.sub(whole("iban", _iban_valid), text)
    text = _CARD.sub(whole("card number", lambda m: _luhn(re.sub(r"\D", "", m))), text)
    if emails:
        text = _EMAIL.sub(whole("email"), text)
    if phones:
        text = _PHONE.sub(whole("phone", lambda m: 8 <= len(re.sub(r"\D", "", m)) <= 15), text)
    return Redacted(text, found)
