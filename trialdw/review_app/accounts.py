"""Accounts of the review app: ``<stem>-users.json`` beside the warehouse, mode 0600.

Passwords are stored as scrypt hashes only (``hashlib.scrypt``, memory-hard:
n=2**15, r=8, p=1 costs 32 MiB and about 0.1 s per check on this machine, which
is what makes guessing expensive), each with its own 16-byte random salt,
compared in constant time. The parameters are stored with each hash, so they can
be raised later without invalidating old passwords.

The file is written whole to a new file created with mode 0600 and moved over the
old one (``os.replace``), so a reader never sees half a file and the mode is never
wider, not even for a moment. A users file readable by others is refused, not
silently used: ``chmod 600`` it (an admin's copy or a restore may have widened it).

Roles: ``data-manager`` (reads and records query states) and ``viewer`` (reads).
A disabled account cannot log in and its open sessions end at their next request.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
import json
import os
import re
import secrets
import stat
from dataclasses import dataclass
from pathlib import Path

from trialdw.review_app.states import SYSTEM_USER

DATA_MANAGER = "data-manager"
VIEWER = "viewer"
ROLES = (DATA_MANAGER, VIEWER)
NAME_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9._@-]{0,63}")
MIN_PASSWORD = 12
MAX_PASSWORD = 1024  # bounds the work a login request can cause

SCRYPT = {"n": 2**15, "r": 8, "p": 1}
SCRYPT_MAXMEM = 64 * 1024 * 1024  # n * r * 128 = 32 MiB, plus headroom


class AccountError(ValueError):
    """A one-line reason for the CLI or the log."""


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def hash_password(password: str) -> dict:
    salt = secrets.token_bytes(16)
    digest = hashlib.scrypt(password.encode("utf-8"), salt=salt, maxmem=SCRYPT_MAXMEM, dklen=32, **SCRYPT)
    return {"kdf": "scrypt", **SCRYPT, "salt": _b64(salt), "hash": _b64(digest)}


def verify_password(password: str, stored: dict) -> bool:
    if stored.get("kdf") != "scrypt":
        return False
    expected = base64.b64decode(stored["hash"])
    digest = hashlib.scrypt(
        password.encode("utf-8"),
        salt=base64.b64decode(stored["salt"]),
        n=int(stored["n"]),
        r=int(stored["r"]),
        p=int(stored["p"]),
        maxmem=SCRYPT_MAXMEM,
        dklen=len(expected),
    )
    return hmac.compare_digest(digest, expected)


# Checked against when the user name is unknown, so that "no such user" takes as long as
# "wrong password" and a stranger cannot list accounts by timing.
_DUMMY = hash_password(secrets.token_urlsafe(16))


def check_password_policy(password: str) -> None:
    if len(password) < MIN_PASSWORD:
        raise AccountError(f"password too short: at least {MIN_PASSWORD} characters")
    if len(password) > MAX_PASSWORD:
        raise AccountError(f"password too long: at most {MAX_PASSWORD} characters")


@dataclass(frozen=True)
class Account:
    name: str
    role: str
    disabled: bool
    created_at: str

    @property
    def can_edit(self) -> bool:
        return self.role == DATA_MANAGER and not self.disabled


class UsersFile:
    def __init__(self, path: Path):
        self.path = Path(path)

    # ------------------------------------------------------------ file

    def _check_mode(self) -> None:
        mode = stat.S_IMODE(self.path.stat().st_mode)
        if mode & 0o077:
            raise AccountError(
                f"users file {self.path} has mode {mode:04o}: others may read the password hashes; "
                f"refusing to use it (chmod 600 {self.path})"
            )

    def _load(self) -> dict:
        if not self.path.exists():
            return {"version": 1, "users": {}}
        self._check_mode()
        try:
            doc = json.loads(self.path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise AccountError(f"users file {self.path} cannot be read: {exc}") from None
        if not isinstance(doc, dict) or not isinstance(doc.get("users"), dict):
            raise AccountError(f"users file {self.path} is not a trialdw users file")
        return doc

    def _save(self, doc: dict) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_name(f".{self.path.name}.{secrets.token_hex(4)}.tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                json.dump(doc, fh, indent=2, sort_keys=True)
                fh.write("\n")
                fh.flush()
                os.fsync(fh.fileno())
            os.chmod(tmp, 0o600)  # whatever the umask did
            os.replace(tmp, self.path)
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise

    def signature(self) -> tuple | None:
        """Changes when the file is rewritten (for the server's cache)."""
        try:
            st = self.path.stat()
        except FileNotFoundError:
            return None
        return (st.st_ino, st.st_mtime_ns, st.st_size)

    # ------------------------------------------------------------ accounts

    def add(self, name: str, role: str, password: str) -> Account:
        if not NAME_PATTERN.fullmatch(name or ""):
            raise AccountError("user name: 1-64 letters, digits, '.', '_', '@' or '-', starting with a letter or digit")
        if name == SYSTEM_USER:
            raise AccountError(f"'{SYSTEM_USER}' is the name of the nightly run's automatic entries")
        if role not in ROLES:
            raise AccountError(f"role must be one of {', '.join(ROLES)}")
        check_password_policy(password)
        doc = self._load()
        if name in doc["users"]:
            raise AccountError(f"user {name} exists")
        created = dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        doc["users"][name] = {
            "role": role,
            "disabled": False,
            "created_at": created,
            "password": hash_password(password),
        }
        self._save(doc)
        return Account(name, role, False, created)

    def disable(self, name: str) -> Account:
        doc = self._load()
        user = doc["users"].get(name)
        if user is None:
            raise AccountError(f"no user {name}")
        user["disabled"] = True
        self._save(doc)
        return self._account(name, user)

    def set_password(self, name: str, password: str) -> Account:
        check_password_policy(password)
        doc = self._load()
        user = doc["users"].get(name)
        if user is None:
            raise AccountError(f"no user {name}")
        user["password"] = hash_password(password)
        self._save(doc)
        return self._account(name, user)

    @staticmethod
    def _account(name: str, user: dict) -> Account:
        return Account(name, user["role"], bool(user.get("disabled")), user.get("created_at", ""))

    def accounts(self) -> list[Account]:
        return [self._account(name, user) for name, user in sorted(self._load()["users"].items())]

    def get(self, name: str) -> Account | None:
        user = self._load()["users"].get(name)
        return self._account(name, user) if user else None

    def authenticate(self, name: str, password: str) -> Account | None:
        """The account when name and password match and it is enabled, else None (same cost either way)."""
        if not isinstance(name, str) or not isinstance(password, str) or len(password) > MAX_PASSWORD:
            return None
        user = self._load()["users"].get(name)
        ok = verify_password(password, user["password"] if user else _DUMMY)
        if not ok or user is None or user.get("disabled"):
            return None
        return self._account(name, user)
