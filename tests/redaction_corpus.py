"""A corpus of secrets as they reach redact(): terminal output, config files, source code, HTTP
headers, dashboards and chat, in the forms people really write them. Each `Case` names the
substring that must not survive redaction; `look_alikes()` are texts that must come through
unchanged (commit hashes, UUIDs, order numbers, prose that mentions secrets without one).

Used by tests/unit/test_redaction_corpus.py and bench/redaction.py. Values are random but
deterministic (`random.Random` with fixed seeds), shaped like the real formats (prefixes,
alphabets, lengths, check digits); none is a real credential.

The corpus was written before it was run against the patterns, and is not trimmed to what they
catch: a case that the patterns miss is a bug in the patterns.
"""

import base64
import json
import random
import string
from dataclasses import dataclass
from urllib.parse import quote


@dataclass(frozen=True)
class Case:
    text: str
    secret: str  # the substring that must not survive redaction
    kind: str  # a family, for reports ("aws", "env", "url", ...)


UPPER = string.ascii_uppercase
LOWER = string.ascii_lowercase
DIGITS = string.digits
ALNUM = string.ascii_letters + DIGITS
HEX = "0123456789abcdef"
B64 = ALNUM + "+/"
URLSAFE = ALNUM + "-_"
BASE32 = UPPER + "234567"

# Ordinary words, for the passwords people make up and for passphrases.
WORDS = (
    "lighthouse marigold pelican tangerine harbor cobalt juniper falcon meadow granite saffron "
    "orchid walnut copper willow thistle canyon mosaic lantern quartz biscuit sparrow velvet "
    "glacier pepper cactus ember hazel orbit puzzle raven cedar dune fjord maple nectar olive "
    "pebble rocket tundra violet zephyr acorn badger cinder dolphin"
).split()
SYMBOLS = "!@#$%^&*-_+=?~.,;()[]"


def _r(rng: random.Random, alphabet: str, n: int) -> str:
    return "".join(rng.choice(alphabet) for _ in range(n))


def _b64(rng: random.Random, nbytes: int) -> str:
    return base64.b64encode(rng.randbytes(nbytes)).decode()


def _b64url(rng: random.Random, nbytes: int) -> str:
    return base64.urlsafe_b64encode(rng.randbytes(nbytes)).decode().rstrip("=")


def _b64url_json(data: dict) -> str:
    raw = json.dumps(data, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _password(rng: random.Random, style: str | None = None) -> str:
    """A password as a person or a password manager makes one."""
    style = style or rng.choice(["manager", "human", "phrase", "manager", "human"])
    if style == "manager":
        while True:
            value = _r(rng, ALNUM + SYMBOLS, rng.randint(14, 24))
            if (
                any(c in UPPER for c in value)
                and any(c in LOWER for c in value)
                and any(c in DIGITS for c in value)
                and any(c in SYMBOLS for c in value)
            ):
                return value
    if style == "human":
        word = rng.choice(WORDS)
        if rng.random() < 0.4:
            word = word.replace("o", "0").replace("e", "3").replace("a", "4")
        word = word.capitalize() if rng.random() < 0.7 else word
        return word + str(rng.randint(1, 2025)) + rng.choice("!?#$*.@&")
    sep = rng.choice("-.")
    words = rng.sample(WORDS, rng.randint(3, 4))
    return sep.join(words) + sep + str(rng.randint(2, 99))


def _url_password(rng: random.Random) -> str:
    """A password as it appears inside a URL: unsafe characters percent-encoded."""
    return quote(_password(rng), safe="")


def _luhn_complete(prefix: str, length: int, rng: random.Random) -> str:
    body = prefix + _r(rng, DIGITS, length - len(prefix) - 1)
    total = 0
    for i, char in enumerate(reversed(body)):
        n = int(char)
        if i % 2 == 0:
            n = n * 2 - 9 if n > 4 else n * 2
        total += n
    return body + str((10 - total % 10) % 10)


def _luhn_ok(digits: str) -> bool:
    total = 0
    for i, char in enumerate(reversed(digits)):
        n = int(char)
        if i % 2:
            n = n * 2 - 9 if n > 4 else n * 2
        total += n
    return total % 10 == 0


def _iban(country: str, bban: str) -> str:
    moved = bban + country + "00"
    number = int("".join(str(int(c, 36)) for c in moved))
    return f"{country}{98 - number % 97:02d}{bban}"


def _iban_valid(text: str) -> bool:
    compact = text.replace(" ", "").upper()
    moved = compact[4:] + compact[:4]
    return int("".join(str(int(c, 36)) for c in moved)) % 97 == 1


def _group4(text: str) -> str:
    return " ".join(text[i : i + 4] for i in range(0, len(text), 4))


def _pem_body(rng: random.Random, head: str, lines: int, width: int = 64) -> list[str]:
    """Base64 lines of a key: the real DER/SSH header, then random bytes."""
    text = head + _r(rng, B64, width * lines - len(head))
    return [text[i : i + width] for i in range(0, len(text), width)]


# --- cloud providers -----------------------------------------------------------------------


def _aws(rng: random.Random) -> list[Case]:
    out: list[Case] = []

    def kid(prefix: str = "AKIA") -> str:
        return prefix + _r(rng, BASE32, 16)

    def sk() -> str:
        return _r(rng, B64, 40)

    k = kid()
    out.append(Case(f"aws_access_key_id = {k}", k, "aws"))
    k = kid()
    out.append(Case(f"AWS_ACCESS_KEY_ID={k}", k, "aws"))
    k = kid("ASIA")
    out.append(Case(f'        "AccessKeyId": "{k}",', k, "aws"))
    k = kid()
    out.append(Case(f"Access key ID   {k}   Active   Created 2 days ago", k, "aws"))
    k = kid()
    out.append(Case(f"the leaked key was {k}, rotated it this morning", k, "aws"))
    k = kid("ASIA")
    out.append(Case(f"export AWS_ACCESS_KEY_ID={k}", k, "aws"))

    s = sk()
    text = (
        "$ cat ~/.aws/credentials\n[default]\n"
        f"aws_access_key_id = {kid()}\naws_secret_access_key = {s}\nregion = eu-west-1"
    )
    out.append(Case(text, s, "aws"))
    s = sk()
    out.append(Case(f"AWS_SECRET_ACCESS_KEY={s}", s, "aws"))
    s = sk()
    out.append(Case(f'export AWS_SECRET_ACCESS_KEY="{s}"', s, "aws"))
    s = sk()
    out.append(Case(f"C:\\> set AWS_SECRET_ACCESS_KEY={s}", s, "aws"))
    s = sk()
    out.append(Case(f'PS C:\\dev> $env:AWS_SECRET_ACCESS_KEY = "{s}"', s, "aws"))
    s = sk()
    text = (
        "$ aws sts assume-role --role-arn arn:aws:iam::123456789012:role/deploy "
        '--role-session-name ci\n{\n    "Credentials": {\n'
        f'        "AccessKeyId": "{kid("ASIA")}",\n'
        f'        "SecretAccessKey": "{s}",\n'
        '        "Expiration": "2024-06-01T13:04:11+00:00"\n    }\n}'
    )
    out.append(Case(text, s, "aws"))
    s = sk()
    text = (
        f"$ aws configure\nAWS Access Key ID [None]: {kid()}\n"
        f"AWS Secret Access Key [None]: {s}\nDefault region name [None]: us-east-1"
    )
    out.append(Case(text, s, "aws"))
    s = sk()
    out.append(Case(f"AWS Secret Access Key [****************{s[-4:]}]: {s}", s, "aws"))
    s = sk()
    out.append(Case(f"Access key ID,Secret access key\n{kid()},{s}", s, "aws"))
    s = sk()
    text = (
        "User name,Password,Access key ID,Secret access key,Console login link\n"
        f"deploy-bot,,{kid()},{s},https://123456789012.signin.aws.amazon.com/console"
    )
    out.append(Case(text, s, "aws"))
    s = sk()
    text = f"Retrieve access keys\nAccess key          Secret access key\n{kid()}     {s}   Hide"
    out.append(Case(text, s, "aws"))
    s = sk()
    text = f's3 = boto3.client("s3", aws_access_key_id="{kid()}", aws_secret_access_key="{s}")'
    out.append(Case(text, s, "aws"))
    s = sk()
    text = f'provider "aws" {{\n  region     = "eu-central-1"\n  secret_key = "{s}"\n}}'
    out.append(Case(text, s, "aws"))
    s = sk()
    text = (
        f"docker run --rm -e AWS_ACCESS_KEY_ID={kid()} -e AWS_SECRET_ACCESS_KEY={s} "
        "amazon/aws-cli s3 ls"
    )
    out.append(Case(text, s, "aws"))
    s = sk()
    out.append(Case(f"          aws-secret-access-key: {s}", s, "aws"))
    s = sk()
    out.append(Case(f"  awsSecretAccessKey: '{s}'", s, "aws"))
    s = sk()
    out.append(
        Case(f"[default]\naccess_key = {kid()}\nsecret_key = {s}\nuse_https = True", s, "aws")
    )
    s = sk()
    out.append(Case(f"[s3]\ntype = s3\nprovider = AWS\nsecret_access_key = {s}", s, "aws"))
    t = "IQoJb3JpZ2luX2VjE" + _r(rng, B64, 300)
    out.append(Case(f"aws_session_token = {t}", t, "aws"))
    t = "FwoGZXIvYXdzE" + _r(rng, B64, 220)
    out.append(Case(f'        "SessionToken": "{t}",', t, "aws"))
    t = "IQoJb3JpZ2luX2VjE" + _r(rng, B64, 280)
    out.append(Case(f"AWS_SESSION_TOKEN={t}", t, "aws"))
    return out


def _gcp(rng: random.Random) -> list[Case]:
    out: list[Case] = []
    for variant in ("pretty", "oneline", "cut"):
        lines = _pem_body(rng, "MIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjAgEAAoIBAQ", 8)
        secret = lines[3]
        key = (
            "-----BEGIN PRIVATE KEY-----\\n" + "\\n".join(lines) + "\\n-----END PRIVATE KEY-----\\n"
        )
        project = rng.choice(["mnemo-prod", "acme-analytics", "billing-4821"])
        fields = {
            "type": "service_account",
            "project_id": project,
            "private_key_id": _r(rng, HEX, 40),
            "private_key": "PLACEHOLDER",
            "client_email": f"deploy@{project}.iam.gserviceaccount.com",
            "client_id": _r(rng, DIGITS, 21),
        }
        if variant == "pretty":
            text = json.dumps(fields, indent=2).replace('"PLACEHOLDER"', f'"{key}"')
        elif variant == "oneline":
            text = (
                "GOOGLE_CREDENTIALS='"
                + json.dumps(fields).replace('"PLACEHOLDER"', f'"{key}"')
                + "'"
            )
        else:
            cut = "-----BEGIN PRIVATE KEY-----\\n" + "\\n".join(lines[:5])
            text = (
                '{\n  "type": "service_account",\n'
                f'  "project_id": "{project}",\n  "private_key": "{cut}'
            )
        out.append(Case(text, secret, "gcp"))

    s = "GOCSPX-" + _r(rng, URLSAFE, 28)
    text = (
        '{"web":{"client_id":"'
        + _r(rng, DIGITS, 12)
        + "-"
        + _r(rng, LOWER + DIGITS, 32)
        + f'.apps.googleusercontent.com","client_secret":"{s}","redirect_uris":["http://localhost"]}}}}'
    )
    out.append(Case(text, s, "gcp"))
    s = "GOCSPX-" + _r(rng, URLSAFE, 28)
    out.append(
        Case(
            "OAuth client created\nClient ID   3418.apps.googleusercontent.com\n"
            f"Client secret   {s}",
            s,
            "gcp",
        )
    )
    t = "ya29.a0A" + _r(rng, URLSAFE, 180)
    out.append(Case(f"$ gcloud auth print-access-token\n{t}\n$", t, "gcp"))
    t = "ya29.c." + _r(rng, URLSAFE, 150)
    out.append(
        Case(f'curl -H "Authorization: Bearer {t}" https://storage.googleapis.com/...', t, "gcp")
    )
    t = "1//0" + _r(rng, URLSAFE, 99)
    text = (
        '{\n  "client_id": "764086051850-6qr4p6gpi6hn506pt8ejuq83di341hur'
        '.apps.googleusercontent.com",'
        f'\n  "refresh_token": "{t}",\n  "type": "authorized_user"\n}}'
    )
    out.append(Case(text, t, "gcp"))

    def aiza() -> str:
        return "AIza" + _r(rng, URLSAFE, 35)

    k = aiza()
    out.append(
        Case(
            f'<script src="https://maps.googleapis.com/maps/api/js?key={k}&callback=initMap" '
            "async></script>",
            k,
            "gcp",
        )
    )
    k = aiza()
    text = (
        "const firebaseConfig = {\n"
        f'  apiKey: "{k}",\n  authDomain: "mnemo-app.firebaseapp.com",\n'
        '  projectId: "mnemo-app",\n};'
    )
    out.append(Case(text, k, "gcp"))
    k = aiza()
    out.append(Case(f"GOOGLE_API_KEY={k}", k, "gcp"))
    k = aiza()
    out.append(
        Case(
            f'curl "https://generativelanguage.googleapis.com/v1beta/models/gemini-pro:generateContent?key={k}"',
            k,
            "gcp",
        )
    )
    k = aiza()
    out.append(Case(f"gemini key for the demo {k}", k, "gcp"))
    return out


def _azure(rng: random.Random) -> list[Case]:
    out: list[Case] = []
    for account in ("mnemostore", "acmelogs2024", "backupsweu"):
        key = _b64(rng, 64)
        text = (
            f"DefaultEndpointsProtocol=https;AccountName={account};AccountKey={key};"
            "EndpointSuffix=core.windows.net"
        )
        if account == "acmelogs2024":
            text = f'AZURE_STORAGE_CONNECTION_STRING="{text}"'
        elif account == "backupsweu":
            text = f'  "ConnectionStrings": {{\n    "Blob": "{text}"\n  }}'
        out.append(Case(text, key, "azure"))
    key = _b64(rng, 32)
    text = (
        "Endpoint=sb://mnemo-events.servicebus.windows.net/;"
        f"SharedAccessKeyName=RootManageSharedAccessKey;SharedAccessKey={key}"
    )
    out.append(Case(text, key, "azure"))
    key = _b64(rng, 64)
    text = f"AccountEndpoint=https://mnemo-cosmos.documents.azure.com:443/;AccountKey={key};"
    out.append(Case(text, key, "azure"))
    sig = quote(_b64(rng, 32), safe="")
    text = (
        "https://mnemostore.blob.core.windows.net/exports/report.csv?sv=2022-11-02&ss=b&srt=sco"
        f"&sp=rl&se=2024-07-01T00:00:00Z&st=2024-06-01T00:00:00Z&spr=https&sig={sig}"
    )
    out.append(Case(text, sig, "azure"))
    cs = _r(rng, URLSAFE, 3) + "8Q~" + _r(rng, URLSAFE + ".~", 34)
    out.append(Case(f"AZURE_CLIENT_SECRET={cs}", cs, "azure"))
    cs = _r(rng, URLSAFE, 3) + "8Q~" + _r(rng, URLSAFE + ".~", 34)
    text = (
        "$ az ad sp create-for-rbac --name mnemo-ci\n{\n"
        '  "appId": "6f1c2a8e-3b7d-4c1e-9a2f-5d8e7b6c4a31",\n  "displayName": "mnemo-ci",\n'
        f'  "password": "{cs}",\n  "tenant": "0b8e3f2a-1c4d-4e5f-8a9b-7c6d5e4f3a21"\n}}'
    )
    out.append(Case(text, cs, "azure"))
    cs = _r(rng, URLSAFE, 3) + "7Q~" + _r(rng, URLSAFE + ".~", 34)
    out.append(Case(f"Client secret value   {cs}   Expires 6/1/2026", cs, "azure"))
    key = _b64(rng, 64)
    text = (
        "$ az storage account keys list -g mnemo -n mnemostore\n[\n  {\n"
        '    "creationTime": "2024-05-30T09:12:44.123456+00:00",\n    "keyName": "key1",\n'
        f'    "permissions": "FULL",\n    "value": "{key}"\n  }}\n]'
    )
    out.append(Case(text, key, "azure"))
    key = _b64(rng, 32)
    text = (
        f"Endpoint=https://mnemo-config.azconfig.io;Id=Xk2P-l0-s0:{_r(rng, ALNUM, 20)};Secret={key}"
    )
    out.append(Case(text, key, "azure"))
    key = _r(rng, HEX, 32)
    out.append(Case(f"api-key: {key}", key, "azure"))
    return out


# --- code hosts, chat, payments, AI ---------------------------------------------------------


def _github(rng: random.Random) -> list[Case]:
    out: list[Case] = []

    def tok(prefix: str) -> str:
        return prefix + _r(rng, ALNUM, 36)

    t = tok("ghp_")
    out.append(Case(f"origin\thttps://{t}@github.com/acme/mnemo.git (fetch)", t, "github"))
    t = tok("ghp_")
    out.append(Case(f"GITHUB_TOKEN={t}", t, "github"))
    t = tok("gho_")
    out.append(
        Case(
            f"github.com:\n    user: ana-silva\n    oauth_token: {t}\n    git_protocol: https",
            t,
            "github",
        )
    )
    t = tok("ghs_")
    out.append(Case(f"git clone https://x-access-token:{t}@github.com/acme/infra.git", t, "github"))
    t = tok("ghu_")
    out.append(Case(f'curl -H "Authorization: token {t}" https://api.github.com/user', t, "github"))
    t = tok("ghr_")
    out.append(Case(f"refresh with {t} before it expires", t, "github"))
    t = "github_pat_11" + _r(rng, UPPER + DIGITS, 20) + "_" + _r(rng, ALNUM, 59)
    out.append(Case(f"Make sure to copy your personal access token now.\n{t}\nCopy", t, "github"))
    t = "github_pat_11" + _r(rng, UPPER + DIGITS, 20) + "_" + _r(rng, ALNUM, 59)
    out.append(Case(f'export GH_TOKEN="{t}"', t, "github"))
    t = tok("ghp_")
    out.append(Case(f"//npm.pkg.github.com/:_authToken={t}", t, "github"))
    t = tok("ghp_")
    out.append(Case(f"echo {t} | docker login ghcr.io -u ana-silva --password-stdin", t, "github"))
    return out


def _gitlab(rng: random.Random) -> list[Case]:
    out: list[Case] = []
    t = "glpat-" + _r(rng, URLSAFE, 20)
    out.append(Case(f"PRIVATE-TOKEN: {t}", t, "gitlab"))
    t = "glpat-" + _r(rng, URLSAFE, 20)
    out.append(
        Case(f"git remote set-url origin https://oauth2:{t}@gitlab.com/acme/mnemo.git", t, "gitlab")
    )
    t = "glpat-" + _r(rng, URLSAFE, 36) + ".01." + _r(rng, LOWER + DIGITS, 9)
    out.append(Case(f"Your new personal access token\n{t}", t, "gitlab"))
    t = "glptt-" + _r(rng, HEX, 40)
    out.append(
        Case(
            f"curl -X POST -F token={t} -F ref=main https://gitlab.com/api/v4/projects/42/trigger/pipeline",
            t,
            "gitlab",
        )
    )
    t = "glrt-" + _r(rng, URLSAFE, 20)
    out.append(
        Case(
            f'[[runners]]\n  name = "build-01"\n  url = "https://gitlab.com"\n  token = "{t}"',
            t,
            "gitlab",
        )
    )
    t = "gldt-" + _r(rng, URLSAFE, 20)
    out.append(Case(f"deploy token for the registry: {t}", t, "gitlab"))
    return out


def _slack(rng: random.Random) -> list[Case]:
    out: list[Case] = []

    def nums() -> str:
        return f"{rng.randint(10**10, 10**13)}-{rng.randint(10**10, 10**13)}"

    t = f"xoxb-{nums()}-{_r(rng, ALNUM, 24)}"
    out.append(Case(f"SLACK_BOT_TOKEN={t}", t, "slack"))
    t = f"xoxp-{nums()}-{rng.randint(10**10, 10**13)}-{_r(rng, HEX, 32)}"
    out.append(Case(f"User OAuth Token   {t}   Copy", t, "slack"))
    t = f"xoxa-2-{nums()}-{_r(rng, HEX, 64)}"
    out.append(Case(f'slack_token: "{t}"', t, "slack"))
    t = f"xoxe.xoxp-1-{_r(rng, ALNUM, 140)}"
    out.append(Case(f'"access_token": "{t}",', t, "slack"))
    t = f"xoxe-1-{_r(rng, ALNUM, 140)}"
    out.append(Case(f"refresh it with {t}", t, "slack"))
    t = f"xapp-1-A{_r(rng, UPPER + DIGITS, 10)}-{rng.randint(10**12, 10**13)}-{_r(rng, HEX, 64)}"
    out.append(Case(f"App-Level Token\nsocket-mode  {t}", t, "slack"))
    t = f"xoxs-{nums()}-{_r(rng, HEX, 64)}"
    out.append(Case(f"found in the old bot's config: {t}", t, "slack"))
    for _ in range(3):
        tail = _r(rng, ALNUM, 24)
        url = (
            f"https://hooks.slack.com/services/T{_r(rng, UPPER + DIGITS, 8)}"
            f"/B{_r(rng, UPPER + DIGITS, 10)}/{tail}"
        )
        text = rng.choice(
            [
                f"SLACK_WEBHOOK_URL={url}",
                "curl -X POST -H 'Content-type: application/json' "
                f'--data \'{{"text":"deploy done"}}\' {url}',
                f"Webhook URL\n{url}\nCopy",
            ]
        )
        out.append(Case(text, tail, "slack"))
    tail = _r(rng, URLSAFE, 68)
    url = f"https://discord.com/api/webhooks/{rng.randint(10**17, 10**18)}/{tail}"
    out.append(Case(f"DISCORD_WEBHOOK={url}", tail, "discord"))
    tail = _r(rng, HEX, 32)
    url = (
        "https://acme.webhook.office.com/webhookb2/6f1c2a8e-3b7d-4c1e-9a2f-5d8e7b6c4a31@"
        f"0b8e3f2a-1c4d-4e5f-8a9b-7c6d5e4f3a21/IncomingWebhook/{tail}/"
        "9d8c7b6a-5f4e-4d3c-2b1a-0f9e8d7c6b5a"
    )
    out.append(Case(f"teams webhook: {url}", tail, "teams"))
    return out


def _stripe(rng: random.Random) -> list[Case]:
    out: list[Case] = []
    t = "sk_live_51" + _r(rng, ALNUM, 97)
    out.append(Case(f"STRIPE_SECRET_KEY={t}", t, "stripe"))
    t = "sk_live_" + _r(rng, ALNUM, 24)
    out.append(Case(f"stripe.api_key = '{t}'", t, "stripe"))
    t = "rk_live_51" + _r(rng, ALNUM, 97)
    out.append(Case(f"Restricted key  reporting-ro  {t}  Reveal", t, "stripe"))
    t = "sk_test_51" + _r(rng, ALNUM, 97)
    out.append(Case(f"curl https://api.stripe.com/v1/charges -u {t}:", t, "stripe"))
    t = "whsec_" + _r(rng, ALNUM, 32)
    out.append(Case(f"Ready! Your webhook signing secret is {t} (^C to quit)", t, "stripe"))
    t = "whsec_" + _r(rng, ALNUM, 32)
    out.append(Case(f"endpoint_secret = '{t}'", t, "stripe"))
    return out


def _ai(rng: random.Random) -> list[Case]:
    out: list[Case] = []
    t = "sk-" + _r(rng, ALNUM, 20) + "T3BlbkFJ" + _r(rng, ALNUM, 20)
    out.append(Case(f'openai.api_key = "{t}"', t, "openai"))
    t = "sk-proj-" + _r(rng, URLSAFE, 156)
    out.append(Case(f"OPENAI_API_KEY={t}", t, "openai"))
    t = "sk-proj-" + _r(rng, URLSAFE, 156)
    out.append(Case(f"here's the key for the hackathon: {t} — revoke it after", t, "openai"))
    t = "sk-svcacct-" + _r(rng, URLSAFE, 150)
    out.append(Case(f'client = OpenAI(api_key="{t}")', t, "openai"))
    t = "sk-admin-" + _r(rng, URLSAFE, 150)
    out.append(Case(f"Admin key created\n{t}", t, "openai"))
    t = "sk-or-v1-" + _r(rng, HEX, 64)
    out.append(Case(f"OPENROUTER_API_KEY={t}", t, "openrouter"))
    t = "sk-ant-api03-" + _r(rng, URLSAFE, 93) + "AA"
    out.append(Case(f"ANTHROPIC_API_KEY={t}", t, "anthropic"))
    t = "sk-ant-api03-" + _r(rng, URLSAFE, 93) + "AA"
    out.append(
        Case(f'curl https://api.anthropic.com/v1/messages -H "x-api-key: {t}"', t, "anthropic")
    )
    t = "sk-ant-admin01-" + _r(rng, URLSAFE, 93) + "AA"
    out.append(Case(f"new admin key {t}", t, "anthropic"))
    t = "sk-ant-oat01-" + _r(rng, URLSAFE, 93) + "AA"
    out.append(Case(f'{{"claudeAiOauth":{{"accessToken":"{t}"}}}}', t, "anthropic"))
    t = "hf_" + _r(rng, ALNUM, 34)
    out.append(Case(f"huggingface-cli login --token {t}", t, "huggingface"))
    t = "hf_" + _r(rng, ALNUM, 34)
    out.append(Case(f"HF_TOKEN={t}", t, "huggingface"))
    t = "hf_" + _r(rng, ALNUM, 34)
    out.append(
        Case(f"git clone https://ana:{t}@huggingface.co/datasets/acme/notes", t, "huggingface")
    )
    t = "hf_" + _r(rng, ALNUM, 34)
    out.append(Case(f"Token created: {t}", t, "huggingface"))
    t = "gsk_" + _r(rng, ALNUM, 52)
    out.append(Case(f"GROQ_API_KEY={t}", t, "groq"))
    t = "gsk_" + _r(rng, ALNUM, 52)
    out.append(Case(f"use {t} for the eval runs", t, "groq"))
    t = "r8_" + _r(rng, ALNUM, 37)
    out.append(Case(f"export REPLICATE_API_TOKEN={t}", t, "replicate"))
    t = "pplx-" + _r(rng, ALNUM, 48)
    out.append(Case(f"perplexity {t}", t, "perplexity"))
    t = "xai-" + _r(rng, ALNUM, 80)
    out.append(Case(f'XAI_API_KEY="{t}"', t, "xai"))
    return out


def _services(rng: random.Random) -> list[Case]:
    """Other services' tokens, most of them shown bare (a dialog, a chat), without a name."""
    out: list[Case] = []
    sid = "AC" + _r(rng, HEX, 32)
    tok = _r(rng, HEX, 32)
    out.append(Case(f"TWILIO_ACCOUNT_SID={sid}\nTWILIO_AUTH_TOKEN={tok}", tok, "twilio"))
    tok = _r(rng, HEX, 32)
    out.append(Case(f'client = Client("AC{_r(rng, HEX, 32)}", "{tok}")', tok, "twilio"))
    tok = _r(rng, HEX, 32)
    out.append(
        Case(
            f"curl -X POST https://api.twilio.com/2010-04-01/Accounts/{sid}/Messages.json "
            f"-u {sid}:{tok}",
            tok,
            "twilio",
        )
    )
    key = "SK" + _r(rng, HEX, 32)
    out.append(Case(f"TWILIO_API_KEY={key}", key, "twilio"))
    secret = _r(rng, ALNUM, 32)
    out.append(Case(f"twilio_api_secret: {secret}", secret, "twilio"))

    def sendgrid() -> str:
        return "SG." + _r(rng, URLSAFE, 22) + "." + _r(rng, URLSAFE, 43)

    t = sendgrid()
    out.append(Case(f"SENDGRID_API_KEY={t}", t, "sendgrid"))
    t = sendgrid()
    out.append(Case(f"sg = SendGridAPIClient('{t}')", t, "sendgrid"))
    t = sendgrid()
    out.append(
        Case(
            f"API Key Created\nPlease copy this key and save it somewhere safe.\n{t}", t, "sendgrid"
        )
    )
    t = sendgrid()
    out.append(Case(f"EMAIL_HOST_PASSWORD = '{t}'", t, "sendgrid"))

    t = "npm_" + _r(rng, ALNUM, 36)
    out.append(Case(f"//registry.npmjs.org/:_authToken={t}", t, "npm"))
    t = "npm_" + _r(rng, ALNUM, 36)
    out.append(Case(f"NPM_TOKEN={t}", t, "npm"))
    t = "npm_" + _r(rng, ALNUM, 36)
    out.append(Case(f"npm token create\n┌────────┬─────\n│ token  │ {t} │", t, "npm"))
    t = base64.b64encode(f"ana-silva:{_password(rng, 'manager')}".encode()).decode()
    out.append(Case(f"registry=https://npm.acme.internal/\n_auth={t}\nalways-auth=true", t, "npm"))

    def pypi() -> str:
        return "pypi-AgEIcHlwaS5vcmc" + _r(rng, URLSAFE, 160)

    t = pypi()
    out.append(Case(f"[pypi]\n  username = __token__\n  password = {t}", t, "pypi"))
    t = pypi()
    out.append(Case(f"TWINE_PASSWORD={t}", t, "pypi"))
    t = pypi()
    out.append(Case(f"uv publish --token {t}", t, "pypi"))
    t = pypi()
    out.append(Case(f"poetry config pypi-token.pypi {t}", t, "pypi"))

    bare = [
        ("shopify", "shpat_" + _r(rng, HEX, 32)),
        ("shopify", "shpss_" + _r(rng, HEX, 32)),
        ("digitalocean", "dop_v1_" + _r(rng, HEX, 64)),
        ("vault", "hvs." + _r(rng, URLSAFE, 90)),
        ("telegram", f"{rng.randint(10**8, 10**10)}:AA{_r(rng, URLSAFE, 33)}"),
        ("mailgun", "key-" + _r(rng, HEX, 32)),
        ("mailchimp", _r(rng, HEX, 32) + "-us" + str(rng.randint(1, 21))),
        ("atlassian", "ATATT3xFfGF0" + _r(rng, URLSAFE, 170) + "=" + _r(rng, HEX.upper(), 8)),
        ("linear", "lin_api_" + _r(rng, ALNUM, 40)),
        ("notion", "secret_" + _r(rng, ALNUM, 43)),
        ("notion", "ntn_" + _r(rng, DIGITS, 11) + _r(rng, ALNUM, 35)),
        ("postman", "PMAK-" + _r(rng, HEX, 24) + "-" + _r(rng, HEX, 34)),
        ("figma", "figd_" + _r(rng, URLSAFE, 40)),
        ("docker", "dckr_pat_" + _r(rng, URLSAFE, 27)),
        ("databricks", "dapi" + _r(rng, HEX, 32)),
        ("grafana", "glsa_" + _r(rng, ALNUM, 32) + "_" + _r(rng, HEX, 8)),
        ("sentry", "sntryu_" + _r(rng, HEX, 64)),
        ("newrelic", "NRAK-" + _r(rng, UPPER + DIGITS, 27)),
        ("age", "AGE-SECRET-KEY-1" + _r(rng, "QPZRY9X8GF2TVDW0S3JN54KHCE6MUA7L", 58)),
        ("tailscale", "tskey-auth-k" + _r(rng, ALNUM, 10) + "CNTRL-" + _r(rng, ALNUM, 33)),
        ("doppler", "dp.st.prd." + _r(rng, ALNUM, 43)),
        ("pulumi", "pul-" + _r(rng, HEX, 40)),
        ("supabase", "sbp_" + _r(rng, HEX, 40)),
        ("airtable", "pat" + _r(rng, ALNUM, 14) + "." + _r(rng, HEX, 64)),
        ("netlify", "nfp_" + _r(rng, ALNUM, 36)),
        ("square", "EAAA" + _r(rng, URLSAFE, 60)),
        ("artifactory", "AKCp" + _r(rng, ALNUM, 69)),
        ("okta", "00" + _r(rng, URLSAFE, 40)),
        (
            "discord",
            base64.b64encode(str(rng.randint(10**17, 10**18)).encode()).decode().rstrip("=")
            + "."
            + _r(rng, URLSAFE, 6)
            + "."
            + _r(rng, URLSAFE, 38),
        ),
        ("firebase", "AAAA" + _r(rng, URLSAFE, 7) + ":APA91b" + _r(rng, URLSAFE, 134)),
    ]
    frames = [
        "{t}",
        "copied {t} to the clipboard",
        "here's the one for staging {t} — don't share",
        "New token\n{t}\nYou won't be able to see it again.",
        "ok use {t}",
    ]
    for i, (kind, t) in enumerate(bare):
        if kind == "okta":
            text = f"Authorization: SSWS {t}"
        elif kind == "discord":
            text = f"Authorization: Bot {t}"
        elif kind == "telegram":
            text = f"curl https://api.telegram.org/bot{t}/getUpdates"
        elif kind == "mailgun":
            text = f"curl -s --user 'api:{t}' https://api.mailgun.net/v3/mg.acme.io/messages"
        else:
            text = frames[i % len(frames)].format(t=t)
        out.append(Case(text, t, kind))
    return out


# --- tokens, headers, URLs ---------------------------------------------------------------------


def _jwt(rng: random.Random, alg: str = "HS256") -> str:
    header = _b64url_json({"alg": alg, "typ": "JWT"})
    payload = _b64url_json(
        {
            "sub": str(rng.randint(10**5, 10**9)),
            "email": f"user{rng.randint(1, 999)}@acme.io",
            "iat": 1717000000 + rng.randint(0, 10**6),
            "exp": 1718000000 + rng.randint(0, 10**6),
        }
    )
    sig = _b64url(rng, 256 if alg == "RS256" else 32)
    return f"{header}.{payload}.{sig}"


def _tokens_and_headers(rng: random.Random) -> list[Case]:
    out: list[Case] = []
    frames = [
        "Authorization: Bearer {t}",
        '"access_token": "{t}",',
        "Cookie: theme=dark; session={t}",
        "https://app.acme.io/callback#id_token={t}&state=af0ifjsldkj",
        "localStorage  auth  {t}",
        "SUPABASE_SERVICE_ROLE_KEY={t}",
        "{t}",
    ]
    for i, frame in enumerate(frames):
        t = _jwt(rng, "RS256" if i % 2 else "HS256")
        out.append(Case(frame.format(t=t), t, "jwt"))

    t = _r(rng, URLSAFE, 40)
    out.append(Case(f"authorization: bearer {t}", t, "header"))
    t = _r(rng, ALNUM + "._~+/", 48)
    out.append(Case(f"> Authorization: Bearer {t}", t, "header"))
    t = base64.b64encode(f"admin:{_password(rng)}".encode()).decode()
    out.append(Case(f"Authorization: Basic {t}", t, "header"))
    t = base64.b64encode(f"ana@acme.io:{_password(rng)}".encode()).decode()
    out.append(Case(f"Proxy-Authorization: Basic {t}", t, "header"))
    t = _r(rng, HEX, 40)
    out.append(
        Case(f'curl -H "Authorization: Token {t}" https://api.acme.io/v2/items/', t, "header")
    )
    t = base64.b64encode(f"{_r(rng, URLSAFE, 20)}:{_r(rng, URLSAFE, 22)}".encode()).decode()
    out.append(Case(f"Authorization: ApiKey {t}", t, "header"))
    t = _r(rng, ALNUM, 32)
    out.append(Case(f"X-API-Key: {t}", t, "header"))
    t = (
        _r(rng, HEX, 8)
        + "-"
        + _r(rng, HEX, 4)
        + "-"
        + _r(rng, HEX, 4)
        + "-"
        + _r(rng, HEX, 4)
        + "-"
        + _r(rng, HEX, 12)
    )
    out.append(Case(f"x-api-key: {t}", t, "header"))
    t = _r(rng, ALNUM, 40)
    out.append(Case(f"X-Auth-Token: {t}", t, "header"))
    t = "hvs." + _r(rng, URLSAFE, 24)
    out.append(
        Case(
            f'curl --header "X-Vault-Token: {t}" https://vault.acme.io/v1/secret/data/db',
            t,
            "header",
        )
    )
    t = "shpat_" + _r(rng, HEX, 32)
    out.append(Case(f"X-Shopify-Access-Token: {t}", t, "header"))
    t = _r(rng, LOWER + DIGITS, 32)
    out.append(Case(f"Cookie: csrftoken={_r(rng, ALNUM, 32)}; sessionid={t}", t, "cookie"))
    t = _r(rng, LOWER + DIGITS, 26)
    out.append(Case(f"Set-Cookie: PHPSESSID={t}; path=/; HttpOnly", t, "cookie"))
    t = "s%3A" + _r(rng, URLSAFE, 32) + "." + _r(rng, URLSAFE, 43)
    out.append(Case(f"connect.sid  {t}  localhost  /  Session", t, "cookie"))
    t = _jwt(rng)
    out.append(
        Case(f"Set-Cookie: __Secure-next-auth.session-token={t}; Path=/; Secure", t, "cookie")
    )

    user = rng.choice(["admin", "deploy", "ana", "ci-bot"])
    pw = _password(rng, "human")
    out.append(Case(f"curl -u {user}:{pw} https://jenkins.acme.io/api/json", pw, "cli"))
    pw = _password(rng, "manager").replace("'", "")
    out.append(
        Case(f"curl --user '{user}:{pw}' https://nexus.acme.io/service/rest/v1/status", pw, "cli")
    )
    pw = _password(rng, "human")
    out.append(
        Case(
            f"wget --http-user=ana --http-password={pw} https://files.acme.io/backup.tar", pw, "cli"
        )
    )
    pw = _password(rng, "phrase")
    out.append(Case(f"http -a ana:{pw} GET https://api.acme.io/me", pw, "cli"))
    pw = _password(rng, "human")
    out.append(Case(f"docker login -u acmebot -p {pw} registry.acme.io", pw, "cli"))
    pw = _password(rng, "human")
    out.append(Case(f"sshpass -p '{pw}' ssh root@10.0.4.12", pw, "cli"))
    pw = _password(rng, "human")
    out.append(Case(f"mysql -h db.internal -u root -p{pw} shop", pw, "cli"))
    pw = _password(rng, "human")
    out.append(Case(f"PGPASSWORD={pw} psql -h localhost -U postgres app", pw, "cli"))
    pw = _password(rng, "human")
    out.append(Case(f"sqlplus system/{pw}@//db.acme.io:1521/ORCL", pw, "cli"))
    return out


def _urls(rng: random.Random) -> list[Case]:
    out: list[Case] = []
    hosts = [
        "db.internal",
        "10.0.3.17",
        "prod-db.c9akciq32.eu-west-1.rds.amazonaws.com",
        "localhost",
    ]
    templates = [
        "DATABASE_URL=postgres://{u}:{p}@{h}:5432/app",
        'psql "postgresql://{u}:{p}@{h}/analytics?sslmode=require"',
        'engine = create_engine("postgresql+psycopg2://{u}:{p}@{h}:5432/mnemo")',
        "mysql://{u}:{p}@{h}:3306/shop",
        "SQLALCHEMY_DATABASE_URI = 'mysql+pymysql://{u}:{p}@{h}/wordpress'",
        'mongosh "mongodb+srv://{u}:{p}@cluster0.x1y2z.mongodb.net/app?retryWrites=true"',
        "MONGO_URL=mongodb://{u}:{p}@mongo-0.mongo,mongo-1.mongo,mongo-2.mongo/?replicaSet=rs0",
        "REDIS_URL=redis://:{p}@{h}:6379/0",
        "redis-cli -u rediss://default:{p}@eu1-cool-fox-31337.upstash.io:6379",
        "CELERY_BROKER_URL=amqp://{u}:{p}@{h}:5672/vhost",
        "amqps://{u}:{p}@b-1234.mq.eu-west-1.amazonaws.com:5671",
        "git clone https://{u}:{p}@git.acme.io/platform/infra.git",
        "ftp://{u}:{p}@ftp.acme.io/incoming/",
        "EMAIL_URL=smtp://{u}:{p}@smtp.mailgun.org:587",
        "https://{u}:{p}@registry.acme.io/v2/_catalog",
        "  url: postgresql://{u}:{p}@{h}:5432/metabase",
        "Connecting to postgres://{u}:{p}@{h}/app ... done",
        "sqlserver://{u}:{p}@{h}:1433?database=erp",
        "clickhouse://{u}:{p}@{h}:9000/default",
    ]
    for template in templates:
        user = rng.choice(["app", "postgres", "admin", "ana.silva", "svc_reports", "ana%40acme.io"])
        pw = _url_password(rng)
        host = rng.choice(hosts)
        out.append(Case(template.format(u=user, p=pw, h=host), pw, "url"))
    pw = _password(rng, "human")
    out.append(
        Case(
            f"jdbc:postgresql://{rng.choice(hosts)}:5432/app?user=app&password={pw}&ssl=true",
            pw,
            "url",
        )
    )
    pw = _password(rng, "manager").replace(";", "")
    text = (
        "Server=tcp:acme-sql.database.windows.net,1433;Initial Catalog=erp;User ID=sqladmin;"
        f"Password={pw};Encrypt=True;Connection Timeout=30;"
    )
    out.append(Case(text, pw, "url"))
    pw = _password(rng, "human")
    text = (
        f"Driver={{ODBC Driver 18 for SQL Server}};Server=db.internal;Database=erp;Uid=sa;Pwd={pw};"
    )
    out.append(Case(text, pw, "url"))
    pw = _password(rng, "human")
    out.append(
        Case(
            f"host=db.internal port=5432 dbname=app user=app password={pw} sslmode=require",
            pw,
            "url",
        )
    )
    return out


# --- names assigned values: every case, every assignment form ---------------------------------

NAMES = [
    ("db", "password"),
    ("secret", "key"),
    ("api", "token"),
    ("client", "secret"),
    ("private", "key"),
    ("passwd",),
    ("pwd",),
    ("auth", "token"),
    ("access", "token"),
    ("refresh", "token"),
    ("smtp", "password"),
    ("jwt", "secret"),
    ("session", "secret"),
    ("encryption", "key"),
    ("master", "key"),
    ("signing", "key"),
    ("app", "key"),
    ("webhook", "secret"),
    ("api", "key"),
    ("consumer", "secret"),
    ("admin", "pass"),
    ("db", "pass"),
    ("redis", "password"),
    ("postgres", "password"),
    ("mysql", "root", "password"),
    ("sentry", "auth", "token"),
    ("datadog", "api", "key"),
    ("license", "key"),
    ("hmac", "key"),
    ("passphrase",),
    ("credentials",),
    ("bearer", "token"),
    ("id", "token"),
    ("session", "token"),
    ("cookie", "secret"),
    ("oauth", "client", "secret"),
    ("storage", "account", "key"),
    ("service", "account", "key"),
    ("secret",),
    ("token",),
    ("apikey",),
    ("mail", "password"),
    ("ldap", "bind", "password"),
    ("keystore", "password"),
    ("ssh", "passphrase"),
    ("vault", "token"),
    ("slack", "signing", "secret"),
    ("nextauth", "secret"),
    ("aes", "key"),
    ("api", "secret"),
    ("secret", "access", "key"),
    ("auth", "key"),
    ("encryption", "salt"),
    ("cipher", "key"),
    ("root", "password"),
    ("user", "pass"),
]
PASSWORD_WORDS = {"password", "pass", "passwd", "pwd", "passphrase"}


def _styled(words: tuple[str, ...], style: str, rng: random.Random) -> str:
    if style == "UPPER":
        return "_".join(w.upper() for w in words)
    if style == "lower":
        return "_".join(words)
    if style == "camel":
        return words[0] + "".join(w.capitalize() for w in words[1:])
    if style == "Pascal":
        return "".join(w.capitalize() for w in words)
    if style == "kebab":
        return "-".join(words)
    if style == "Title":
        return " ".join(w.capitalize() for w in words)
    prefix = rng.choice(
        ["spring.datasource", "app", "service.auth", "mail.smtp", "quarkus.datasource", "db"]
    )
    return prefix + "." + rng.choice([".", "-"]).join(words)


def _value_for(words: tuple[str, ...], rng: random.Random, *, quoted: bool) -> str:
    """What such a name holds: a password for password-like names, else a key or token."""
    if words[-1] in PASSWORD_WORDS:
        value = _password(rng)
    else:
        kind = rng.choice(["hex32", "hex64", "b64", "alnum", "urlsafe", "django", "laravel"])
        value = {
            "hex32": lambda: _r(rng, HEX, 32),
            "hex64": lambda: _r(rng, HEX, 64),
            "b64": lambda: _b64(rng, 32),
            "alnum": lambda: _r(rng, ALNUM, rng.randint(20, 48)),
            "urlsafe": lambda: _b64url(rng, 32),
            "django": lambda: "django-insecure-" + _r(rng, LOWER + DIGITS + "!@#%^&*(-_=+)", 50),
            "laravel": lambda: "base64:" + _b64(rng, 32),
        }[kind]()
    if not quoted:
        # Unquoted in a shell or a .env file, people avoid what the shell would eat.
        value = "".join(c for c in value if c not in "#$&;()'\"`\\ ")
    return value.replace("'", "").replace('"', "")


FORMS: list[tuple[str, tuple[str, ...], bool]] = [
    # (template, case styles that fit it, quoted)
    ("{n}={v}", ("UPPER", "lower", "camel", "kebab", "dotted"), False),
    ("{n} = {v}", ("UPPER", "lower", "camel", "Pascal", "dotted"), False),
    ("{n}: {v}", ("UPPER", "lower", "camel", "Pascal", "kebab", "dotted", "Title"), False),
    ('{n} := "{v}"', ("lower", "camel", "Pascal", "UPPER"), True),
    ('"{n}": "{v}"', ("lower", "camel", "Pascal", "kebab", "UPPER", "dotted"), True),
    ('{n}: "{v}"', ("lower", "camel", "kebab", "UPPER"), True),
    ("{n}: '{v}'", ("lower", "camel", "kebab"), True),
    ("{n}='{v}'", ("UPPER", "lower", "camel"), True),
    ('{n}="{v}"', ("UPPER", "lower", "camel", "kebab"), True),
    ('{n} = "{v}"', ("lower", "camel", "UPPER", "Pascal"), True),
    ("export {n}={v}", ("UPPER",), False),
    ('export {n}="{v}"', ("UPPER",), True),
    ("set {n}={v}", ("UPPER",), False),
    ('$env:{n} = "{v}"', ("UPPER", "Pascal"), True),
    ('setx {n} "{v}"', ("UPPER",), True),
    ("--{n}={v}", ("kebab",), False),
    ("--{n} {v}", ("kebab",), False),
    ("docker run -d -e {n}={v} acme/api:latest", ("UPPER",), False),
    ("ENV {n}={v}", ("UPPER",), False),
    ("ENV {n} {v}", ("UPPER",), False),
    ("<{n}>{v}</{n}>", ("camel", "lower", "Pascal"), True),
    ("    '{n}' => '{v}',", ("lower", "camel"), True),
    ("define( '{n}', '{v}' );", ("UPPER",), True),
    ('os.environ["{n}"] = "{v}"', ("UPPER",), True),
    ('  <add key="{n}" value="{v}" />', ("Pascal", "camel"), True),
    ('        - name: {n}\n          value: "{v}"', ("UPPER",), True),
    ("      - {n}={v}", ("UPPER",), False),
    ("heroku config:set {n}={v} -a acme-api", ("UPPER",), False),
    ("kubectl create secret generic api --from-literal={n}={v}", ("lower", "kebab"), False),
    ('gh secret set {n} --body "{v}"', ("UPPER",), True),
    ('    .{n}("{v}")', ("camel",), True),
    ('{n} => "{v}"', ("lower",), True),
]


def _assignments(rng: random.Random) -> list[Case]:
    """Each form with each case style that fits it, a different name and value every time."""
    out: list[Case] = []
    names = list(NAMES)
    rng.shuffle(names)
    i = 0
    for template, styles, quoted in FORMS:
        for style in styles:
            words = names[i % len(names)]
            i += 1
            name = _styled(words, style, rng)
            value = _value_for(words, rng, quoted=quoted)
            out.append(Case(template.format(n=name, v=value), value, "env"))
    return out


def _env_files(rng: random.Random) -> list[Case]:
    """Whole .env / config files; each case's secret is one of their lines."""
    out: list[Case] = []
    plain = [
        "NODE_ENV=production",
        "PORT=8080",
        "LOG_LEVEL=info",
        "APP_URL=https://app.acme.io",
        "DB_HOST=db.internal",
        "DB_PORT=5432",
        "DB_USER=app",
        "REDIS_HOST=redis",
        "MAIL_FROM=no-reply@acme.io",
        "FEATURE_FLAGS=search,graph",
        "TZ=Europe/Lisbon",
    ]
    secret_names = [
        "DB_PASSWORD",
        "SECRET_KEY",
        "API_TOKEN",
        "STRIPE_SECRET_KEY",
        "JWT_SECRET",
        "MAIL_PASSWORD",
        "SESSION_SECRET",
        "ENCRYPTION_KEY",
        "APP_KEY",
        "AUTH_TOKEN",
        "CLIENT_SECRET",
        "PRIVATE_KEY_PASSPHRASE",
        "ADMIN_PASS",
        "WEBHOOK_SECRET",
    ]
    for name in secret_names:
        words = tuple(name.lower().split("_"))
        value = _value_for(words, rng, quoted=False)
        lines = rng.sample(plain, 5)
        lines.insert(rng.randint(1, 5), f"{name}={value}")
        out.append(Case("$ cat .env\n" + "\n".join(lines), value, "env"))

    pw = _password(rng, "human")
    text = f"[client]\nuser=root\npassword={pw}\nhost=127.0.0.1"
    out.append(Case(text, pw, "env"))
    pw = _password(rng, "phrase")
    text = f'[database]\nhost = "db.internal"\nuser = "app"\npassword = "{pw}"\n'
    out.append(Case(text, pw, "env"))
    key = _r(rng, ALNUM + "!@#$%^&*()-_=+", 64)
    text = (
        f"define( 'AUTH_KEY',         '{key}' );\n"
        f"define( 'SECURE_AUTH_KEY',  '{_r(rng, ALNUM, 64)}' );"
    )
    out.append(Case(text, key, "env"))
    pw = _password(rng, "human")
    text = (
        "spring:\n  datasource:\n    url: jdbc:postgresql://db:5432/app\n"
        f"    username: app\n    password: {pw}"
    )
    out.append(Case(text, pw, "env"))
    pw = _password(rng, "manager")
    text = (
        "apiVersion: v1\nkind: Secret\nmetadata:\n  name: db\ntype: Opaque\nstringData:\n"
        f"  username: app\n  password: '{pw}'"
    )
    out.append(Case(text, pw, "env"))
    enc = base64.b64encode(_password(rng, "human").encode()).decode()
    text = f"apiVersion: v1\nkind: Secret\ndata:\n  username: YXBw\n  password: {enc}"
    out.append(Case(text, enc, "env"))
    return out


def _labels(rng: random.Random) -> list[Case]:
    """Dashboards and dialogs: a label, then the value, often with no colon between them."""
    out: list[Case] = []
    frames = [
        "Client secret   {v}   Copy",
        "Secret key\n{v}",
        "API key    {v}    Created Jun 1, 2024",
        "Access token  {v}",
        "Signing secret  {v}  Show",
        "Your API key is {v}",
        "Token: {v}",
        "Secret: {v}",
        "Password\n{v}",
        "Recovery key: {v}",
    ]
    for frame in frames:
        if frame.startswith("Password"):
            value = _password(rng, "manager")
        elif frame.startswith("Recovery"):
            value = "-".join(_r(rng, DIGITS, 6) for _ in range(8))
        else:
            value = rng.choice([_r(rng, ALNUM, 32), _r(rng, HEX, 40), _b64url(rng, 24)])
        out.append(Case(frame.format(v=value), value, "label"))
    return out


def _prose(rng: random.Random) -> list[Case]:
    """Passwords and codes in chat and notes."""
    out: list[Case] = []
    frames = [
        "the wifi password is {p}",
        "WiFi: HomeNet-5G / pass: {p}",
        "login ana.silva  pw: {p}",
        "my password for the bank is {p}",
        "Password for guest network: {p}",
        "changed the router password to {p}",
        "new password = {p} (don't forget this time)",
        "Passwort: {p}",
        "mot de passe : {p}",
        "contraseña: {p}",
        "user: admin\npass: {p}",
    ]
    for frame in frames:
        p = _password(rng)
        out.append(Case(frame.format(p=p), p, "prose"))
    pin = _r(rng, DIGITS, 4)
    out.append(Case(f"card PIN: {pin}", pin, "prose"))
    pin = _r(rng, DIGITS, 6)
    out.append(Case(f"my PIN is {pin}, the other card is different", pin, "prose"))
    secret = _r(rng, BASE32, 32)
    text = f"otpauth://totp/Acme:ana@acme.io?secret={secret}&issuer=Acme&algorithm=SHA1&digits=6"
    out.append(Case(text, secret, "prose"))
    secret = " ".join(_r(rng, BASE32.lower(), 4) for _ in range(8))
    out.append(Case(f"Can't scan it? Enter this setup key instead: {secret}", secret, "prose"))
    phrase = " ".join(rng.sample(WORDS, 12))
    out.append(Case(f"Secret Recovery Phrase\n{phrase}", phrase, "prose"))
    phrase = " ".join(rng.sample(WORDS, 12))
    out.append(Case(f"seed phrase: {phrase}", phrase, "prose"))
    k = "0x" + _r(rng, HEX, 64)
    out.append(Case(f"Private key: {k}", k, "prose"))
    return out


# --- private keys ----------------------------------------------------------------------------

_PEM_HEADS = {
    "RSA PRIVATE KEY": "MIIEpAIBAAKCAQEA",
    "EC PRIVATE KEY": "MHcCAQEEI",
    "PRIVATE KEY": "MIIEvQIBADANBgkqhkiG9w0BAQEFAASC",
    "ENCRYPTED PRIVATE KEY": "MIIFHDBOBgkqhkiG9w0BBQ0wQTApBgkqhkiG9w0BBQwwHAQI",
    "OPENSSH PRIVATE KEY": "b3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQAAAAAAAAABAAAAMwAAAAtzc2gtZW",
    "DSA PRIVATE KEY": "MIIBuwIBAAKBgQD",
}


def _private_keys(rng: random.Random) -> list[Case]:
    out: list[Case] = []
    for label, head in _PEM_HEADS.items():
        width = 70 if "OPENSSH" in label else 64
        body = _pem_body(rng, head, 6, width)
        pem = f"-----BEGIN {label}-----\n" + "\n".join(body) + f"\n-----END {label}-----"
        out.append(Case(f"$ cat id_key\n{pem}\n$ ", body[2], "pem"))
    body = _pem_body(rng, "lQOYBGZ", 8)
    text = (
        "-----BEGIN PGP PRIVATE KEY BLOCK-----\n\n"
        + "\n".join(body)
        + "\n=x3Kq\n-----END PGP PRIVATE KEY BLOCK-----"
    )
    out.append(Case(text, body[4], "pem"))
    # cut off at the bottom of the screen
    body = _pem_body(rng, _PEM_HEADS["RSA PRIVATE KEY"], 5)
    out.append(
        Case("vim server.key\n-----BEGIN RSA PRIVATE KEY-----\n" + "\n".join(body), body[3], "pem")
    )
    body = _pem_body(rng, _PEM_HEADS["OPENSSH PRIVATE KEY"], 3, 70)
    out.append(Case("-----BEGIN OPENSSH PRIVATE KEY-----\n" + "\n".join(body), body[1], "pem"))
    # cut off at the top: the screen scrolled past BEGIN
    body = _pem_body(rng, _PEM_HEADS["RSA PRIVATE KEY"], 12)[6:]
    out.append(Case("\n".join(body) + "\n-----END RSA PRIVATE KEY-----\n$ ", body[2], "pem"))
    body = _pem_body(rng, _PEM_HEADS["PRIVATE KEY"], 12)[7:]
    out.append(Case("\n".join(body) + "\n-----END PRIVATE KEY-----", body[1], "pem"))
    # only the middle of a key on screen
    body = _pem_body(rng, _PEM_HEADS["RSA PRIVATE KEY"], 16)[5:9]
    out.append(Case("\n".join(body), body[1], "pem"))
    # indented in YAML, and OCR reading five dashes as four
    body = _pem_body(rng, _PEM_HEADS["PRIVATE KEY"], 4)
    text = (
        "tls:\n  key: |\n    -----BEGIN PRIVATE KEY-----\n"
        + "\n".join("    " + b for b in body)
        + "\n    -----END PRIVATE KEY-----"
    )
    out.append(Case(text, body[2], "pem"))
    body = _pem_body(rng, _PEM_HEADS["RSA PRIVATE KEY"], 4)
    text = "----BEGIN RSA PRIVATE KEY----\n" + "\n".join(body) + "\n----END RSA PRIVATE KEY----"
    out.append(Case(text, body[1], "pem"))
    # a key base64-encoded once more, as in a Kubernetes secret
    body = _pem_body(rng, _PEM_HEADS["PRIVATE KEY"], 6)
    pem = "-----BEGIN PRIVATE KEY-----\n" + "\n".join(body) + "\n-----END PRIVATE KEY-----\n"
    enc = base64.b64encode(pem.encode()).decode()
    text = (
        "apiVersion: v1\nkind: Secret\ntype: kubernetes.io/tls\ndata:\n"
        f"  tls.crt: LS0tLS1CRUdJTiBDRVJUSUZJQ0FURS0tLS0t\n  tls.key: {enc}"
    )
    out.append(Case(text, enc[60:], "pem"))  # its first characters are "-----BEGIN ..."
    # PuTTY's own format
    pub = _pem_body(rng, "AAAAC3NzaC1lZDI1NTE5AAAAI", 1)[0]
    priv = _pem_body(rng, "AAAAI", 1, 44)[0]
    text = (
        "PuTTY-User-Key-File-3: ssh-ed25519\nEncryption: none\nComment: eddsa-key-20240601\n"
        f"Public-Lines: 2\n{pub}\nPrivate-Lines: 1\n{priv}\nPrivate-MAC: {_r(rng, HEX, 64)}"
    )
    out.append(Case(text, priv, "pem"))
    return out


# --- numbers -----------------------------------------------------------------------------------


def _cards(rng: random.Random) -> list[Case]:
    out: list[Case] = []
    brands = [
        ("4", 16, (4, 4, 4, 4)),
        ("51", 16, (4, 4, 4, 4)),
        ("55", 16, (4, 4, 4, 4)),
        ("2221", 16, (4, 4, 4, 4)),
        ("37", 15, (4, 6, 5)),
        ("34", 15, (4, 6, 5)),
        ("6011", 16, (4, 4, 4, 4)),
        ("3530", 16, (4, 4, 4, 4)),
        ("36", 14, (4, 6, 4)),
        ("62", 19, (4, 4, 4, 4, 3)),
        ("4", 13, (13,)),
    ]
    frames = [
        "Card number {c}  Exp 09/27  CVC 311",
        "paid with {c}",
        '"number": "{c}",',
        "{c}",
        "card: {c} exp 11/26",
        "Visa ending... no wait, full number is {c}",
    ]
    for i, (prefix, length, groups) in enumerate(brands):
        digits = _luhn_complete(prefix, length, rng)
        sep = rng.choice([" ", "-", ""]) if groups != (13,) else ""
        parts, pos = [], 0
        for g in groups:
            parts.append(digits[pos : pos + g])
            pos += g
        number = sep.join(parts)
        out.append(Case(frames[i % len(frames)].format(c=number), number, "card"))
    digits = _luhn_complete("4", 16, rng)
    number = "  ".join(digits[i : i + 4] for i in range(0, 16, 4))
    out.append(Case(f"CARD NUMBER\n{number}", number, "card"))
    digits = _luhn_complete("5", 16, rng)
    out.append(Case(f"4242 is the test one, mine is {digits}", digits, "card"))
    return out


def _ibans(rng: random.Random) -> list[Case]:
    out: list[Case] = []
    formats = {
        "DE": lambda: _r(rng, DIGITS, 18),
        "FR": lambda: _r(rng, DIGITS, 23),
        "GB": lambda: _r(rng, UPPER, 4) + _r(rng, DIGITS, 14),
        "NL": lambda: _r(rng, UPPER, 4) + _r(rng, DIGITS, 10),
        "ES": lambda: _r(rng, DIGITS, 20),
        "IT": lambda: _r(rng, UPPER, 1) + _r(rng, DIGITS, 10) + _r(rng, DIGITS + UPPER, 12),
        "BE": lambda: _r(rng, DIGITS, 12),
        "CH": lambda: _r(rng, DIGITS, 5) + _r(rng, DIGITS, 12),
        "PT": lambda: _r(rng, DIGITS, 21),
        "IE": lambda: _r(rng, UPPER, 4) + _r(rng, DIGITS, 14),
        "PL": lambda: _r(rng, DIGITS, 24),
        "NO": lambda: _r(rng, DIGITS, 11),
        "AT": lambda: _r(rng, DIGITS, 16),
        "MT": lambda: _r(rng, UPPER, 4) + _r(rng, DIGITS, 5) + _r(rng, DIGITS + UPPER, 18),
        "BR": lambda: _r(rng, DIGITS, 23) + "C" + _r(rng, DIGITS, 1),
        "SA": lambda: _r(rng, DIGITS, 2) + _r(rng, DIGITS, 18),
    }
    frames = [
        "IBAN: {i}",
        "Please transfer the deposit to {i} (Ana Silva) by Friday",
        '"iban": "{i}",',
        "Beneficiary: Acme GmbH\nIBAN {i}\nBIC COBADEFFXXX",
        "{i}",
        "bank details: {i}, ref INV-2024-117",
    ]
    for i, (country, bban) in enumerate(formats.items()):
        iban = _iban(country, bban())
        assert _iban_valid(iban)
        shown = _group4(iban) if i % 2 == 0 else iban
        out.append(Case(frames[i % len(frames)].format(i=shown), shown, "iban"))
    iban = _iban("DE", _r(rng, DIGITS, 18))
    out.append(Case(f"iban {_group4(iban).lower()}", _group4(iban).lower(), "iban"))
    return out


# --- a secret passed to what takes one ----------------------------------------------------------


def _calls(rng: random.Random) -> list[Case]:
    """A password or a token given as an argument, to a function whose name says it takes one
    (its last argument), or to one that logs in with a user and a password (the second)."""
    frames = [
        'keyring.set_password("mnemo", "ana", "{p}")',
        ">>> keyring.set_password('smtp.acme.io', 'ana@acme.io', '{p}')",
        'keyring.set_password(\n    "mnemo-backup", "ana", "{p}"\n)',
        'user.set_password("{p}")',
        'dataSource.setPassword("{p}");',
        'HttpClient client = new UsernamePasswordCredentials("deploy", "{p}");',
        'server.login("ana@acme.io", "{p}")',
        "ftp.login('deploy', '{p}')",
        'conn.simple_bind_s("cn=admin,dc=acme,dc=io", "{p}")',
        'r = requests.get(url, auth=("ana", "{p}"))',
        'r = requests.get(url, auth=HTTPBasicAuth("ana", "{p}"), timeout=10)',
        'user = authenticate(username, "{p}")',
        "await client.signIn('ana@acme.io', '{p}');",
    ]
    out = [Case(f.format(p=(p := _password(rng))), p, "call") for f in frames]
    token = _r(rng, ALNUM, 32)
    out.append(Case(f'client.set_api_key("{token}")', token, "call"))
    token = _r(rng, HEX, 40)
    out.append(Case(f'vault.store_secret("prod/db", "{token}")', token, "call"))
    return out


def cases() -> list[Case]:
    """Every case, in a fixed order; each family draws from its own seed."""
    families = [
        _aws,
        _gcp,
        _azure,
        _github,
        _gitlab,
        _slack,
        _stripe,
        _ai,
        _services,
        _tokens_and_headers,
        _urls,
        _assignments,
        _env_files,
        _labels,
        _prose,
        _private_keys,
        _cards,
        _ibans,
        _calls,
    ]
    out: list[Case] = []
    for seed, family in enumerate(families):
        out.extend(family(random.Random(1000 + seed)))
    seen: set[str] = set()
    unique = []
    for case in out:
        if case.text not in seen:
            seen.add(case.text)
            unique.append(case)
    return unique


# --- look-alikes ----------------------------------------------------------------------------


def look_alikes() -> list[str]:
    """Texts with no secret in them that look like they might: must come through unchanged."""
    rng = random.Random(7)

    def sha(n: int = 40) -> str:
        return _r(rng, HEX, n)

    def uuid() -> str:
        return f"{sha(8)}-{sha(4)}-4{sha(3)}-{rng.choice('89ab')}{sha(3)}-{sha(12)}"

    def not_luhn(prefix: str, length: int) -> str:
        digits = prefix + _r(rng, DIGITS, length - len(prefix))
        if _luhn_ok(digits):
            digits = digits[:-1] + str((int(digits[-1]) + 1) % 10)
        return digits

    order = not_luhn("4", 16)
    texts = [
        f"commit {sha()}\nAuthor: Ana Silva <ana@acme.io>\n"
        "Date:   Sat Jun 1 10:12:44 2024 +0100\n\n"
        "    Fix token refresh race in the sync worker",
        f"{sha(7)} Fix token refresh race\n{sha(7)} Rotate secrets on deploy\n"
        f"{sha(7)} Bump version",
        f"$ git rev-parse HEAD\n{sha()}",
        f"Merge pull request #4521 from ana/fix-auth\n\n{sha()}",
        f"{sha(64)}  dist/mnemo-0.1.0.tar.gz",
        f"acme/api   latest   sha256:{sha(64)}   3 days ago   412MB",
        f"https://app.acme.io/projects/{uuid()}/settings",
        f"request_id={uuid()} status=200 duration_ms=35",
        f"Order #{order[:4]} {order[4:8]} {order[8:12]} {order[12:]} shipped",
        "timestamp 1717171717123",
        "2024-06-01T12:34:56.789Z INFO token refreshed for user_id=4821 in 35ms",
        "The secret to good bread is time, not yeast.",
        "token_count = 512",
        "max_tokens=4096",
        "tokenizer: bert-base-uncased",
        "secret_santa = yes",
        "/home/ana/projects/mnemo/core/capture/redact.py",
        "C:\\Users\\ana\\AppData\\Local\\Mnemo\\secrets.db",
        "mnemo 0.1.0 (python 3.11.9, pyside6 6.11.3)",
        "v2.14.0-rc.1+build.5",
        "Password must be at least 12 characters and include a number.",
        "Forgot password?",
        "Your password is incorrect. Try again.",
        "The password is too short",
        "Password is required",
        "Bearer tokens expire after an hour; refresh them with the refresh token.",
        '"token_type": "Bearer",\n"expires_in": 3600,',
        "const TOKEN_EXPIRY_SECONDS = 3600;",
        "password_min_length: 12",
        "primary_key: id\nsort_key: created_at",
        "public_key_path: ~/.ssh/id_ed25519.pub",
        "The API key field is optional; leave it empty to use the local model.",
        "color: #1a2b3c; background: #fafafa;",
        "Build 20240601.3 succeeded in 4m 12s",
        f'"integrity": "sha512-{_b64(rng, 64)}",',
        '"resolved": "https://registry.npmjs.org/lodash/-/lodash-4.17.21.tgz",',
        "Invoice INV-2024-000123 due 2024-07-01",
        "ISBN 978-0-306-40615-7",
        "Tracking: 1Z999AA10123456784",
        "ping 192.168.1.20 from 10.0.0.1:8080",
        "ether 3c:22:fb:12:ab:9e  txqueuelen 1000",
        "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGk7k9rWq8xTQv3ZJm1bHcP4uA2sYdL0eN6fR5tV8wXy "
        "ana@laptop",
        "256 SHA256:nThbg6kXUpJWGl7E1IGOCspRomTxdCARLviKw6E5SY8 ana@laptop (ED25519)",
        "https://www.youtube.com/watch?v=dQw4w9WgXcQ",
        "https://docs.google.com/document/d/1aBcDeFgHiJkLmNoPqRsTuVwXyZ0123456789abcdEF/edit",
        "s3://mnemo-backups/2024/06/01/db.sqlite",
        "AWS access key IDs start with AKIA; secret keys are 40 characters.",
        "sk-learn is a library; hf_hub_download(repo_id='bert-base-uncased') fetches a file",
        'api_key = os.environ["OPENAI_API_KEY"]',
        'api_key = os.getenv("OPENAI_API_KEY")',
        "secret_key = settings.SECRET_KEY",
        "self.access_token = access_token",
        'token = response.json()["access_token"]',
        "conn = psycopg.connect(host=host, user=user, password=password)",
        'tokenizer = AutoTokenizer.from_pretrained("bert-base-uncased")',
        "password: ${{ secrets.DOCKER_PASSWORD }}",
        "DB_PASSWORD=${DB_PASSWORD}",
        "export GITHUB_TOKEN=$(gh auth token)",
        "The meeting moved to 14:30; room 4.12, code of conduct applies.",
        "Flight TP 1337 departs 2024-06-14 at 07:45, seat 23A, PNR X7KQ2M",
        "Total: 1,450.00 EUR (VAT 23%: 271.14)",
        "Your verification email was sent to the address on file.",
        "Use a passphrase manager; never reuse passwords across sites.",
        f"X-Request-ID: {uuid()}",
        f"data:image/png;base64,{_b64(rng, 48)}",
        "key: value pairs are separated by a colon in YAML",
        f"Signature verified with key ID {sha(16).upper()}",
        # Calls that name a secret and are given none of it.
        'password = keyring.get_password("mnemo", "ana")',
        'keyring.delete_password("mnemo", "ana")',
        'auth.reset_password("ana@acme.io")',
        'getpass.getpass("Password: ")',
        'form.prompt_password("Password: ")',
        "user.set_password(form.cleaned_data['password1'])",
        'settings.set_password_policy("strict")',
        'cache.set_key("session", "user:1234:profile")',
        "login(request, user)",
        'login(request, "registration/login.html")',
        "client.login(username=user, password=password)",
        'client.login("ana", "<password>")',
        'r = requests.get(url, auth=("ana", os.environ["API_PASSWORD"]))',
        'self.set_token_type("Bearer")',
        'router.get("/login", "login_page")',
        'logger.info("login", "ok")',
    ]
    return texts
