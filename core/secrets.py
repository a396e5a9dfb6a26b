"""Encryption of vault secrets at rest.

The key lives in the OS keyring when one is available. Where none is (a headless Linux box, CI),
the fallback is explicit: a key file with user-only permissions in the data folder, and a logged
warning — never a silent plaintext store.
"""

import contextlib
import logging
import os
from pathlib import Path

from cryptography.fernet import Fernet, InvalidToken
from filelock import FileLock

from core.errors import MnemoError

log = logging.getLogger(__name__)
SERVICE = "mnemo"
KEY_FILE = "vault.key"
KEY_LOCK = "vault.key.lock"  # held while a process finds or makes the key


class SecretError(MnemoError):
    """A secret that cannot be decrypted: the key is missing or does not match."""


class SecretBox:
    """Encrypts and decrypts short secrets with Fernet (AES-128-CBC + HMAC-SHA256)."""

    def __init__(self, key: bytes, where: str) -> None:
        self._fernet = Fernet(key)
        self.key = key  # for a backup that must carry it to another computer
        self.where = where  # "keyring" or "file": recorded in the store so the key is found again

    def encrypt(self, plaintext: str) -> str:
        return self._fernet.encrypt(plaintext.encode("utf-8")).decode("ascii")

    def decrypt(self, token: str) -> str:
        try:
            return self._fernet.decrypt(token.encode("ascii")).decode("utf-8")
        except InvalidToken:
            raise SecretError(
                f"a vault secret cannot be decrypted with this data folder's key ({self.where})"
            ) from None

    @classmethod
    def open(
        cls, folder: Path, store_id: str, *, location: str | None, use_keyring: bool = True
    ) -> "SecretBox":
        """Find this store's key where `location` says it is, or create one if `location` is None.

        A key recorded as in the keyring is never silently replaced by a new file key: that would
        make every earlier secret unreadable. `store_id` keeps keys of separate data folders apart.
        """
        path = folder / KEY_FILE
        # Two processes writing their first secret at once (the app and `mnemo add`) must
        # not make two keys: the one that did not win the keyring or the file would encrypt
        # with a key nobody keeps. A key already made is only read (no lock file needed, so
        # a read-only data folder still opens).
        making = location is None
        with FileLock(str(folder / KEY_LOCK)) if making else contextlib.nullcontext():
            if location == "keyring" or (location is None and use_keyring):
                key = _keyring_key(store_id, create=location is None)
                if key is not None:
                    return cls(key, "keyring")
                if location == "keyring":
                    raise SecretError(
                        "the vault key is kept in the OS keyring, which is not reachable now; "
                        "unlock or start the keyring and try again"
                    )
            if location not in (None, "keyring") and not path.exists():
                raise SecretError(
                    f"the vault key file {path} is missing; vault secrets cannot be read"
                )
            if not path.exists():
                _write_new_key(path)
            return cls(path.read_bytes().strip(), "file")


def _write_new_key(path: Path) -> None:
    """A new key in a user-only file, whole or not at all: written aside, then linked into
    place (a reader never sees it half written; a key already there is kept)."""
    aside = path.with_name(f"{path.name}.{os.getpid()}.new")
    fd = os.open(aside, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(Fernet.generate_key())
            handle.flush()
            os.fsync(handle.fileno())
        with contextlib.suppress(FileExistsError):
            os.link(aside, path)
    finally:
        aside.unlink(missing_ok=True)


def _keyring_key(store_id: str, *, create: bool) -> bytes | None:
    try:
        import keyring

        account = f"vault-key-{store_id}"
        key = keyring.get_password(SERVICE, account)
        if key is None and create:
            key = Fernet.generate_key().decode("ascii")
            keyring.set_password(SERVICE, account, key)
        return None if key is None else key.encode("ascii")
    # Locked, missing, or a backend's own error (a D-Bus failure is not a KeyringError): no
    # keyring now. A key recorded there is then refused with a SecretError, never replaced.
    except Exception as exc:
        then = "; the vault key goes in a user-only key file" if create else ""
        log.warning("no usable OS keyring (%s)%s", exc, then)
        return None
