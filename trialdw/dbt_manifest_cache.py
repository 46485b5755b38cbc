"""The parsed dbt project, kept per code version for every warehouse on the machine.

Parsing the project costs ~5 s of a demo night's 15 s budget, and dbt's own
partial parse does not help a warehouse's first night: its state is only valid
for the profile it was parsed with, and the profile names the build file's path.
A parsed manifest itself holds no path: every node's database is the build
file's stem (``build``), the same for every warehouse. So a manifest parsed once
serves every build of the same code, target, schema prefix and database name;
loading it takes ~0.02 s.

The key is a digest of what a parse reads: dbt_project.yml and every file under
dbt_project/ (models, macros, tests, profiles.yml), the versions of dbt and its
adapters and of Python, the target, the schema prefix and the database name.
Any change to one of them is a new key, so a stale manifest is never used:
the first build after a code change parses once, for every warehouse after it
(``make bench`` does that first, and says whether it had to).

Where: ``$TRIALDW_CACHE_DIR`` or ``$XDG_CACHE_HOME/trialdw`` (``~/.cache/trialdw``),
folder ``dbt-manifests``; the newest KEEP entries are kept. The files are
pickles written by this package, read by the same user (the trust of the code
in the virtual environment that wrote them). What is pickled is the manifest's
public fields, not the Manifest: its own ``__reduce_ex__`` leaves out a field
(dbt-core 1.11's ``fixtures``), which shifts the lookups into the wrong slots on
loading; rebuilt from its fields, the manifest recreates its lookups as dbt does.
"""

from __future__ import annotations

import dataclasses
import hashlib
import os
import pickle
import sys
import tempfile
from importlib import metadata
from pathlib import Path

from trialdw.project import PROJECT_ROOT

KEEP = 8  # manifests kept (about 1.5 MB each): a few code versions and targets
_PARSE_INPUTS = ("dbt_project.yml",)
_PARSE_FOLDER = "dbt_project"
_NOT_PARSED = {"target", "logs", "dbt_packages"}  # dbt's outputs under dbt_project/
_PACKAGES = ("dbt-core", "dbt-adapters", "dbt-duckdb", "dbt-spark")


def cache_dir() -> Path:
    root = os.environ.get("TRIALDW_CACHE_DIR")
    if not root:
        root = os.path.join(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache", "trialdw")
    return Path(root) / "dbt-manifests"


def _parsed_files(root: Path) -> list[Path]:
    files = [root / name for name in _PARSE_INPUTS]
    for path in sorted((root / _PARSE_FOLDER).rglob("*")):
        relative = path.relative_to(root / _PARSE_FOLDER).parts
        if path.is_file() and relative[0] not in _NOT_PARSED:
            files.append(path)
    return files


def _version(package: str) -> str:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return "-"


def manifest_key(target: str, schema_prefix: str, database: str, root: Path = PROJECT_ROOT) -> str:
    """What a parse of the project depends on, as a digest."""
    digest = hashlib.sha256()
    for part in (sys.version, target, schema_prefix, database, *(f"{p}={_version(p)}" for p in _PACKAGES)):
        digest.update(part.encode() + b"\0")
    for path in _parsed_files(root):
        digest.update(str(path.relative_to(root)).encode() + b"\0")
        digest.update(path.read_bytes())
    return digest.hexdigest()[:32]


def load(key: str):
    """The manifest kept under ``key``, or None (never kept, or unreadable)."""
    from dbt.contracts.graph.manifest import Manifest

    path = cache_dir() / f"{key}.pickle"
    try:
        with path.open("rb") as handle:
            manifest = Manifest(**pickle.load(handle))
    except (OSError, pickle.UnpicklingError, EOFError, AttributeError, ImportError, TypeError):
        return None
    os.utime(path)  # recently used: kept longest
    return manifest


def _public_fields(manifest) -> dict:
    return {f.name: getattr(manifest, f.name) for f in dataclasses.fields(manifest) if not f.name.startswith("_")}


def save(key: str, manifest) -> None:
    """Keep ``manifest`` under ``key`` (atomically; a full or read-only cache is no error)."""
    folder = cache_dir()
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=folder, prefix=f".{key}-", delete=False) as handle:
            pickle.dump(_public_fields(manifest), handle, protocol=pickle.HIGHEST_PROTOCOL)
        os.replace(handle.name, folder / f"{key}.pickle")
    except (OSError, pickle.PicklingError):
        return
    try:
        kept = sorted(folder.glob("*.pickle"), key=lambda p: p.stat().st_mtime, reverse=True)
        for old in kept[KEEP:]:
            old.unlink(missing_ok=True)
    except OSError:
        pass
