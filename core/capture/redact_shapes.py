"""Secrets that redact() knows by their shape: private keys, vendors' keys and tokens,
credentials in URLs, headers and command lines, seed phrases, card numbers and IBANs.

Patterns are specific on purpose: a false positive loses a few harmless characters, a miss
keeps a secret forever. Numbers are validated (Luhn for cards, mod-97 for IBANs) so that order
numbers and timestamps survive. Each rule is a `Step` with its gate: what a text must hold for
the rule to match at all (core/capture/redact_scan.py).
"""

import base64
import re

from core.capture.redact_scan import Found, Scan, Step, gate, marker, part, whole


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
    # (A case-insensitive pattern takes "İ" and "ſ" for letters; no IBAN holds them.)
    if not (15 <= len(compact) <= 34 and compact.isascii()):
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


def _key_tails(scan: Scan, found: Found) -> str:
    text = scan.text
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
            out.append(text[pos:start] + marker("private key"))
            pos = end.end()
    return "".join(out) + text[pos:]


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
# alphabet its vendor documents (most are in gitleaks' rule set too, config/gitleaks.toml), and
# beside it what a text holds wherever it is (lower case): the rule's gate.
_VENDORS: list[tuple[str, tuple[str, ...]]] = [
    (r"(?:AKIA|ASIA)[0-9A-Z]{16}", ("akia", "asia")),  # AWS id (ASIA: temporary, from STS)
    (r"gh[pousr]_[A-Za-z0-9]{30,}", ("ghp_", "gho_", "ghu_", "ghs_", "ghr_")),  # GitHub
    (r"github_pat_[A-Za-z0-9_]{40,}", ("github_pat_",)),
    (
        r"gl(?:pat|ptt|rt|dt|cbt|oas|soat|ffct|imt|agent|ft)-[A-Za-z0-9_.-]{20,}",  # GitLab
        tuple(f"gl{p}-" for p in "pat ptt rt dt cbt oas soat ffct imt agent ft".split()),
    ),
    (r"GR1348941[A-Za-z0-9_-]{20,}", ("gr1348941",)),  # GitLab runner registration
    (r"sk-(?:proj-|ant-|svcacct-|admin-|or-v1-)?[A-Za-z0-9_-]{20,}", ("sk-",)),  # OpenAI, ...
    (r"xox[abposre]-[A-Za-z0-9-]{10,}|xoxe\.xox[bp]-[A-Za-z0-9-]{10,}", ("xox",)),  # Slack
    (r"xapp-\d-[A-Za-z0-9-]{10,}", ("xapp-",)),  # Slack app-level
    (r"AIza[0-9A-Za-z_-]{35}", ("aiza",)),  # Google API key
    (r"GOCSPX-[A-Za-z0-9_-]{20,}", ("gocspx-",)),  # Google OAuth client secret
    (r"ya29\.[A-Za-z0-9_.-]{20,}", ("ya29.",)),  # Google OAuth access token
    (r"(?:sk|pk|rk)_(?:live|test)_[0-9A-Za-z]{16,}", ("_live_", "_test_")),  # Stripe
    (r"whsec_[A-Za-z0-9]{24,}", ("whsec_",)),  # Stripe webhook signing secret
    (r"hf_[A-Za-z0-9]{30,}|api_org_[A-Za-z0-9]{30,}", ("hf_", "api_org_")),  # Hugging Face
    (r"npm_[A-Za-z0-9]{36}", ("npm_",)),
    (r"pypi-AgE[A-Za-z0-9_-]{50,}", ("pypi-age",)),  # PyPI (a macaroon)
    (r"SG\.[A-Za-z0-9_-]{22}\.[A-Za-z0-9_-]{43}", ("sg.",)),  # SendGrid
    (r"SK[0-9a-fA-F]{32}", ()),  # Twilio API key (gate: _TOKEN_SHAPES)
    (r"gsk_[A-Za-z0-9]{40,}|r8_[A-Za-z0-9]{30,}", ("gsk_", "r8_")),  # Groq, Replicate
    (r"pplx-[A-Za-z0-9]{40,}|xai-[A-Za-z0-9]{50,}", ("pplx-", "xai-")),  # Perplexity, xAI
    (r"shp(?:at|ss|ca|pa)_[a-fA-F0-9]{32}", ("shpat_", "shpss_", "shpca_", "shppa_")),  # Shopify
    (r"do[opr]_v1_[a-f0-9]{64}", ("_v1_",)),  # DigitalOcean
    (r"hv[sbr]\.[A-Za-z0-9_-]{24,}", ("hvs.", "hvb.", "hvr.")),  # HashiCorp Vault
    (r"key-[0-9a-f]{32}", ("key-",)),  # Mailgun
    (r"[0-9a-f]{32}-us\d{1,2}", ()),  # Mailchimp (gate: _TOKEN_SHAPES)
    (r"ATATT3[A-Za-z0-9_=-]{50,}", ("atatt3",)),  # Atlassian
    (r"lin_api_[A-Za-z0-9]{40}", ("lin_api_",)),  # Linear
    (r"secret_[A-Za-z0-9]{43}|ntn_[A-Za-z0-9]{40,}", ("secret_", "ntn_")),  # Notion
    (r"PMAK-[a-f0-9]{24}-[a-f0-9]{34}", ("pmak-",)),  # Postman
    (r"figd_[A-Za-z0-9_-]{40,}", ("figd_",)),  # Figma
    (r"dckr_pat_[A-Za-z0-9_-]{20,}", ("dckr_pat_",)),  # Docker Hub
    (r"dapi[a-f0-9]{32}(?:-\d)?", ("dapi",)),  # Databricks
    (r"glsa_[A-Za-z0-9]{32}_[a-f0-9]{8}|glc_[A-Za-z0-9+/]{32,}={0,2}", ("glsa_", "glc_")),
    (r"sntry[su]_[A-Za-z0-9_=+/-]{40,}", ("sntrys_", "sntryu_")),  # Sentry
    (r"NRAK-[A-Z0-9]{27}", ("nrak-",)),  # New Relic
    (r"AGE-SECRET-KEY-1[0-9A-Z]{58}", ("age-secret-key-1",)),  # age
    (r"tskey-[a-z]+-[A-Za-z0-9-]{20,}", ("tskey-",)),  # Tailscale
    (r"dp\.(?:st|ct|pt|sa|scim|audit)\.[A-Za-z0-9._-]{40,}", ("dp.",)),  # Doppler
    (r"pul-[a-f0-9]{40}", ("pul-",)),  # Pulumi
    (r"sbp_[a-f0-9]{40}", ("sbp_",)),  # Supabase
    (r"pat[A-Za-z0-9]{14}\.[a-f0-9]{64}", ()),  # Airtable (gate: _TOKEN_SHAPES)
    (r"nfp_[A-Za-z0-9]{36}", ("nfp_",)),  # Netlify
    (r"EAAA[A-Za-z0-9_-]{60}|sq0(?:atp|csp)-[A-Za-z0-9_-]{22,}", ("eaaa", "sq0")),  # Square
    (r"AKCp[A-Za-z0-9]{69}", ("akcp",)),  # JFrog Artifactory
    (r"AAAA[A-Za-z0-9_-]{7}:APA91b[A-Za-z0-9_-]{100,}", (":apa91b",)),  # Firebase messaging
    (r"[MNO][A-Za-z0-9_-]{23,25}\.[A-Za-z0-9_-]{6}\.[A-Za-z0-9_-]{27,40}", ()),  # Discord bot
]
_TOKENS = re.compile(
    r"(?:\b(?:" + "|".join(pattern for pattern, _ in _VENDORS) + ")"
    r"|(?<!\d)\d{8,10}:AA[A-Za-z0-9_-]{33})"  # Telegram bot ("/bot123…:AA…": no \b before it)
)
# The gates of the vendors whose keys begin with no fixed string, in lower case, each
# starting with a fixed one: Twilio, Mailchimp, Airtable, Discord.
# (One pattern whose every alternative starts with a fixed character, so that `re` skips to
# where one of those characters is.)
_DISCORD = r"[mno][a-z0-9_-]{%d}\.[a-z0-9_-]{6}\."
_TOKEN_SHAPES = "|".join(
    [
        r"sk[0-9a-f]{32}",
        r"-us(?<=[0-9a-f]{32}-us)",
        r"pat[a-z0-9]{14}\.",
        r"\.[a-z0-9_-]{6}\.(?:" + "|".join(f"(?<={_DISCORD % n})" for n in (23, 24, 25)) + ")",
    ]
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
_CLI_TOOLS = "docker podman nerdctl helm buildah skopeo sshpass mysql redis-cli sqlplus rman"
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

# --- numbers, and personal data on request ----------------------------------------------------
# OCR spreads a card's groups apart on a wide input field ("4663  8815  1921  5720").
_CARD = re.compile(r"\b(?:\d(?:[ -]| {2})?){12,18}\d\b")
# Typed in lower case too ("iban de89 3704 ..."); the mod-97 check keeps it specific.
_IBAN = re.compile(r"(?i)\b[A-Z]{2}\d{2}(?: ?[A-Z0-9]{4}){2,7}(?: ?[A-Z0-9]{1,4})?\b")
_EMAIL = re.compile(r"\b[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}\b")
_PHONE = re.compile(r"(?<![\w+])\+?\d{1,3}?[ .-]?\(?\d{2,4}\)?(?:[ .-]?\d{2,4}){2,4}(?!\w)")


def _not_an_example_password(match: re.Match[str]) -> bool:
    # "https://user:pass@host" in documentation shows where a password goes.
    return match.group(2).lower() not in _EXAMPLE_PASSWORDS


def _not_a_uid_gid(match: re.Match[str]) -> bool:
    # "-u 1000:1000" is docker's uid:gid, not a user and password.
    return not (match.group(2).isdigit() and match.group(3).isdigit())


def _card_valid(text: str) -> bool:
    return _luhn(re.sub(r"\D", "", text))


def _phone_length(text: str) -> bool:
    return 8 <= len(re.sub(r"\D", "", text)) <= 15


# In the order they run: each sees the markers of those before it.
SECRETS = [
    Step(whole(_PRIVATE_KEY, "private key"), **gate("private key")),
    Step(_key_tails, **gate("private key")),
    Step(whole(_PRIVATE_KEY_BODY, "private key"), **gate(shapes=(r"\n[ \t]*[a-z0-9+/]{60}",))),
    Step(part(_PUTTY, "private key"), **gate("private-lines:")),
    Step(whole(_ENCODED_PEM, "private key", _encoded_private_key), **gate("ls0tls1crudjti")),
    Step(whole(_JWT, "token"), **gate("eyj")),
    Step(part(_AWS_PAIR, "secret"), **gate("akia", "asia")),
    Step(part(_TWILIO_TOKEN, "secret"), **gate(shapes=(r"ac[0-9a-f]{32}",))),
    Step(
        part(_WEBHOOK, "token"),
        **gate("hooks.slack.com/", "discord", ".webhook.office.com/webhookb2/"),
    ),
    Step(
        whole(_TOKENS, "api key"),
        **gate(*(g for _, gates in _VENDORS for g in gates), ":aa", shapes=(_TOKEN_SHAPES,)),
    ),
    Step(whole(_AZURE_KEY, "secret"), **gate("==")),
    Step(part(_URL_PASSWORD, "password", check=_not_an_example_password), **gate("://")),
    Step(part(_AUTHORIZATION, "token"), **gate("authorization")),
    Step(part(_BEARER, "token"), **gate("bearer")),
    Step(
        part(_CLI_USER_PASSWORD, "password", 3, _not_a_uid_gid),
        **gate("-u ", "-u=", "-a ", "-a=", "--user", "--auth"),
    ),
    Step(part(_CLI_PASSWORD, "password"), **gate(*_CLI_TOOLS.split(), "expdp", "impdp")),
    Step(part(_GH_SECRET, "secret"), **gate("secret")),
    Step(part(_SEED_PHRASE, "secret"), **gate("phrase")),
    Step(part(_SETUP_KEY, "secret"), **gate("setup")),
]
NUMBERS = [
    Step(whole(_IBAN, "iban", _iban_valid), **gate(shapes=(r"\d(?<=[a-z]{2}\d)\d",))),
    Step(whole(_CARD, "card number", _card_valid), **gate(shapes=(r"\d[\d -]{12}",))),
]
EMAILS = Step(whole(_EMAIL, "email"), **gate("@"))
PHONES = Step(whole(_PHONE, "phone", _phone_length), **gate(shapes=(r"\d\d",)))
