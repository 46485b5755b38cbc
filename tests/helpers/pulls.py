"""Helpers of the pull tests: source trees, fingerprints, sources files."""

from __future__ import annotations

import hashlib
import json
import os
import stat
from pathlib import Path

import yaml

from trialdw.ingest.transfers import discover
from trialdw.pull.landing_area import LOCK_NAME


def sha256(path: Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def transfer_files(root: Path) -> dict[str, str]:
    """``study/site/transfer/file`` → sha256 of every file of every visible transfer."""
    found = {}
    for path in sorted(Path(root).glob("*/*/*/*")):
        rel = path.relative_to(root)
        if not any(part.startswith(".") for part in rel.parts) and path.is_file():
            found[str(rel)] = sha256(path)
    return found


def fingerprint(root: Path) -> dict[str, tuple]:
    """Every path under root (but the pull's lock file) with inode, size, mtime and
    mode: any rewrite shows."""
    out = {}
    for path in sorted(Path(root).rglob("*")):
        if path.name == LOCK_NAME:
            continue
        info = os.lstat(path)
        out[str(path.relative_to(root))] = (info.st_ino, info.st_size, info.st_mtime_ns, stat.S_IMODE(info.st_mode))
    return out


def visible_transfers(landing: Path) -> list[str]:
    return [r.relpath for r in discover(landing) if r.status is None]


def hidden_entries(landing: Path) -> list[str]:
    return sorted(str(p.relative_to(landing)) for p in Path(landing).rglob(".*") if p.name != LOCK_NAME)


def write_sources(path: Path, sources: list[dict]) -> Path:
    path.write_text(yaml.safe_dump({"sources": sources}, sort_keys=False), encoding="utf-8")
    return path


def rewrite_manifest(folder: Path) -> None:
    """Make manifest.json agree with the folder's files again (a site re-export)."""
    manifest = json.loads((folder / "manifest.json").read_text())
    for name in manifest["files"]:
        manifest["files"][name]["sha256"] = sha256(folder / name)
    (folder / "manifest.json").write_text(json.dumps(manifest, indent=2))


def copy_transfer_as(src: Path, transfer_id: str) -> Path:
    """A new transfer of the same site: src's files under another TRANSFER_ID."""
    dest = src.parent / transfer_id
    dest.mkdir()
    for path in src.iterdir():
        (dest / path.name).write_bytes(path.read_bytes())
    manifest = json.loads((dest / "manifest.json").read_text())
    manifest["transfer_id"] = transfer_id
    (dest / "manifest.json").write_text(json.dumps(manifest, indent=2))
    return dest
