"""Secrets are referenced, never written down: an environment variable's name or
the path of a file only its owner can read.

A secret's value therefore never appears in the sources file, on a command line,
in Prefect parameters (the flow gets the sources file's path) or in a log line:
the messages here name the variable or the file, never what they hold.
"""

from __future__ import annotations

import os
import stat
from dataclasses import dataclass
from pathlib import Path

from trialdw.study_config import ConfigError

GROUP_OR_OTHER = 0o077


@dataclass(frozen=True)
class SecretRef:
    """Where a secret is: ``env`` (a variable name) or ``file`` (a path); ``what``
    says which secret it is in messages (e.g. ``passphrase_env of source 'x'``)."""

    env: str | None = None
    file: Path | None = None
    what: str = "secret"

    def value(self) -> str:
        if self.env is not None:
            found = os.environ.get(self.env)
            if not found:
                raise ConfigError(f"{self.what}: environment variable {self.env} is not set")
            return found
        if self.file is not None:
            return read_secret_file(self.file, self.what)
        raise ConfigError(f"{self.what}: no environment variable or file given")  # pragma: no cover


def refuse_if_shared(path: Path, what: str, kind: str = "secret file") -> os.stat_result:
    """A regular file that group and others cannot read or write (like ssh's own
    check of a private key); otherwise a one-line error with the fix."""
    try:
        info = os.stat(path)
    except OSError as exc:
        raise ConfigError(f"{what}: {kind} {path} cannot be read ({exc.strerror or exc})") from None
    if not stat.S_ISREG(info.st_mode):
        raise ConfigError(f"{what}: {kind} {path} is not a regular file")
    mode = stat.S_IMODE(info.st_mode)
    if mode & GROUP_OR_OTHER:
        raise ConfigError(
            f"{what}: {kind} {path} has mode {mode:04o}, so group or others can read it; "
            f"refused (run: chmod 600 {path})"
        )
    return info


def read_secret_file(path: Path, what: str) -> str:
    """The file's text without its trailing newline, if only its owner may read it."""
    refuse_if_shared(path, what)
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{what}: secret file {path} cannot be read ({exc})") from None
    text = text.rstrip("\r\n")
    if not text:
        raise ConfigError(f"{what}: secret file {path} is empty")
    return text
