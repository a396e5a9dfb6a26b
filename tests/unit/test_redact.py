"""Redaction: every kind of secret is replaced by a marker; look-alikes that fail their checks
(order numbers, timestamps, invalid IBANs) are left as they are."""

import pytest

from core.capture.redact import redact

SECRETS = [
    ("api key", "export OPENAI_API_KEY=sk-proj-AbCdEf0123456789AbCdEf0123", "sk-proj-AbCdEf"),
    ("api key", "token ghp_0123456789abcdefghijABCDEFGHIJ012345 pushed", "ghp_0123"),
    ("api key", "aws id AKIAIOSFODNN7EXAMPLE in ~/.aws", "AKIAIOSFODNN7EXAMPLE"),
    ("api key", "slack xoxb-123456789012-abcdefghijkl", "xoxb-1234"),
    ("api key", "stripe sk_live_51HabcdefGHIJKLmnopQRST", "sk_live_51H"),
    ("api key", "HF hf_abcdefghijklmnopqrstuvwxyzABCDEFGH", "hf_abcdef"),
    (
        "token",
        "Authorization: eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N",
        "dozjgNryP4J3",
    ),
    ("token", "curl -H 'Authorization: Bearer abcDEF123456ghiJKL7890'", "abcDEF123456"),
    ("secret", 'client_secret = "s3cr3tV4lu3-0123456789"', "s3cr3tV4lu3"),
    ("secret", "API-KEY: 9f8e7d6c5b4a39281706", "9f8e7d6c5b4a"),
    ("password", "password: hunter2!", "hunter2"),
    ("password", "The wifi password is CorrectHorse42", "CorrectHorse42"),
    ("password", 'db_pwd="Tr0ub4dor&3"', "Tr0ub4dor"),
    ("card number", "Card 4111 1111 1111 1111 exp 12/27", "4111 1111"),
    ("card number", "paid with 5500-0000-0000-0004", "5500-0000"),
    ("iban", "IBAN PT50 0002 0123 1234 5678 9015 4 (Millennium)", "PT50 0002"),
    ("iban", "to DE89370400440532013000 by Friday", "DE89370400440532013000"),
]


@pytest.mark.parametrize(("kind", "text", "secret"), SECRETS)
def test_secrets_are_replaced_by_a_marker_of_their_kind(kind: str, text: str, secret: str) -> None:
    result = redact(text)
    assert secret not in result.text
    assert f"[redacted: {kind}]" in result.text
    assert result.found[kind] == 1


def test_a_private_key_goes_whole_even_when_cut_off() -> None:
    key = "-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAA\nQyNTUxOQAAACD\n"
    result = redact(f"cat ~/.ssh/id_ed25519\n{key}-----END OPENSSH PRIVATE KEY-----\n$ ls")
    assert "b3BlbnNzaC1rZXktdjEAAAAA" not in result.text
    assert result.text == "cat ~/.ssh/id_ed25519\n[redacted: private key]\n$ ls"
    cut = redact(f"screen ends here {key}")  # the END line is off screen
    assert "QyNTUxOQ" not in cut.text and cut.found["private key"] == 1


@pytest.mark.parametrize(
    "text",
    [
        "Order 1234 5678 9012 3456 shipped",  # 16 digits that fail Luhn
        "timestamp 1700000000123",
        "PT50 0002 0123 1234 5678 9015 5",  # an IBAN with a wrong check
        "the token bucket refills at 10/s",  # "token" with no value after it
        "Password: (hidden)",  # what a UI shows instead of a password
        "sk-learn is a library; ghp is not a prefix alone",
        "call me at 213 555 019 or mail sam@example.com",  # personal data: off by default
    ],
)
def test_look_alikes_are_kept(text: str) -> None:
    result = redact(text)
    assert result.text == text and not result.found


def test_emails_and_phones_when_asked() -> None:
    result = redact("call +351 213 555 019 or mail sam@example.com", emails=True, phones=True)
    assert result.text == "call [redacted: phone] or mail [redacted: email]"
    assert result.found == {"phone": 1, "email": 1}


SECRET = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"


@pytest.mark.parametrize(
    "line",
    [
        f"AWS_SECRET_ACCESS_KEY={SECRET}",  # the leak found: "_" before "SECRET"
        f"aws_secret_access_key = {SECRET}",
        f"Aws_Secret_Access_Key: {SECRET}",
        f'export AWS_SECRET_ACCESS_KEY="{SECRET}"',
        f"spring.datasource.secret={SECRET}",
        f'"clientSecret": "{SECRET}"',
        f"STRIPE_API_KEY={SECRET}",
        f"github_token: {SECRET}",
        f"DB_CREDENTIALS={SECRET}",
    ],
)
def test_a_secret_assigned_to_any_secret_like_name_goes(line: str) -> None:
    result = redact(f"$ cat ~/.aws/credentials\n{line}\n$")
    assert SECRET not in result.text and result.found["secret"] == 1


def test_names_that_only_contain_token_keep_short_values() -> None:
    for text in ("max_tokens=4096", "tokenizer: bert-base", "secret_santa = yes"):
        assert redact(text).text == text


PASSWORD = "Tr0ub4dor&3x"


@pytest.mark.parametrize(
    "call",
    [
        f'keyring.set_password("mnemo", "ana", "{PASSWORD}")',  # the leak found
        f"keyring.set_password('smtp', user, '{PASSWORD}')",
        f'keyring.set_password(\n    "mnemo", "ana", "{PASSWORD}"\n)',
        f'user.setPassword("{PASSWORD}");',
        f'new UsernamePasswordCredentials("ana", "{PASSWORD}")',
        f'smtp.login("ana@acme.io", "{PASSWORD}")',
        f'ldap.simple_bind_s("cn=admin,dc=acme", "{PASSWORD}")',
        f'requests.get(url, auth=("ana", "{PASSWORD}"))',
        f'requests.get(url, auth=HTTPBasicAuth("ana", "{PASSWORD}"), timeout=5)',
    ],
)
def test_a_password_passed_to_what_takes_one_goes(call: str) -> None:
    result = redact(call)
    assert PASSWORD not in result.text
    assert result.found == {"password": 1}
    assert result.text == call.replace(PASSWORD, "[redacted: password]")


@pytest.mark.parametrize(
    "code",
    [
        'keyring.get_password("mnemo", "ana")',
        'keyring.delete_password("mnemo", "ana")',
        'auth.reset_password("ana@acme.io")',
        'form.prompt_password("Password: ")',
        'cache.set_key("session", "user:1234:profile")',
        'login(request, "registration/login.html")',
        'client.login("ana", "<password>")',
        'requests.get(url, auth=HTTPBasicAuth("ana", password))',  # was "auth=[redacted: ...]"
    ],
)
def test_calls_that_are_given_no_secret_are_kept(code: str) -> None:
    result = redact(code)
    assert result.text == code and not result.found


def test_a_long_name_like_value_is_read_in_one_pass() -> None:
    """The check for an identifier tried every way to cut a run of letters into words before
    it failed: this took hours (each letter more, twice as long)."""
    value = "a_" + "x" * 60 + "7b"
    assert redact(f"api_key = {value}").text == "api_key = [redacted: secret]"


def test_letters_that_only_look_ascii_are_no_iban() -> None:
    """A case-insensitive pattern takes "İ" for an I; the check then raised ValueError."""
    text = "İT60 X054 2811 1010 0000 0123 456"
    assert redact(text).text == text
