"""Pulling over SFTP from a real OpenSSH sshd (tests/helpers/servers.py): the demo
landing, reruns, a new transfer, an upload in progress, a changed transfer, unsafe
names, host keys and user keys, and a pull SIGKILLed in the middle of a file.

Each test serves its own folder from the one session-wide sshd.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.helpers.pulls import (
    copy_transfer_as,
    hidden_entries,
    rewrite_manifest,
    sha256,
    transfer_files,
    visible_transfers,
    write_sources,
)
from tests.helpers.servers import keygen
from tests.helpers.transfers import SITE, STUDY, base_files, write_transfer
from trialdw.ops import testhook
from trialdw.pull import load_sources, pull_sources, source_from_url
from trialdw.pull.progress import Silent
from trialdw.synth import generate

TID, TID2 = "20250301T020000Z", "20250401T020000Z"
TRIALDW = [sys.executable, "-m", "trialdw.cli"]


def served(sshd, tmp_path: Path, name: str = "drop") -> Path:
    folder = sshd.folder / f"{tmp_path.name}-{name}"
    folder.mkdir()
    return folder


def source(sshd, folder: Path, **kw):
    return source_from_url(
        sshd.url(folder),
        identity=str(kw.get("identity", sshd.user_key)),
        known_hosts=str(kw.get("known_hosts", sshd.known_hosts)),
    )


def pull(sshd, folder: Path, landing: Path, **kw):
    return pull_sources([source(sshd, folder, **kw)], landing, Silent())


def cli_pull(sshd, folder: Path, landing: Path, *extra: str, env=None, **kw) -> subprocess.CompletedProcess:
    args = [
        "pull",
        sshd.url(folder),
        str(landing),
        "--identity",
        str(kw.get("identity", sshd.user_key)),
        "--known-hosts",
        str(kw.get("known_hosts", sshd.known_hosts)),
        *extra,
    ]
    return subprocess.run([*TRIALDW, *args], capture_output=True, text=True, timeout=120, env=env or os.environ)


@pytest.fixture(scope="module")
def demo(sshd, tmp_path_factory) -> Path:
    folder = sshd.folder / "demo"
    generate(folder, subjects=6)
    return folder


def test_the_demo_landing_lands_byte_identical_then_nothing_is_copied(sshd, demo, tmp_path):
    landing = tmp_path / "landing"
    done = cli_pull(sshd, demo, landing)
    assert done.returncode == 0, done.stderr
    assert done.stdout == f"pulled into {landing}: 4 landed, 0 skipped, 0 incomplete, 0 refused, 0 failed\n"
    assert done.stderr.count("landed     ") == 4 and "Traceback" not in done.stderr
    assert transfer_files(landing) == transfer_files(demo)  # sha256 of every file
    assert len(visible_transfers(landing)) == 4 and hidden_entries(landing) == []

    again = cli_pull(sshd, demo, landing)
    assert again.returncode == 0 and "0 landed, 4 skipped" in again.stdout
    assert transfer_files(landing) == transfer_files(demo)


def test_only_a_new_transfer_is_copied(sshd, tmp_path):
    folder = served(sshd, tmp_path)
    write_transfer(folder, TID, base_files())
    landing = tmp_path / "landing"
    assert [o.outcome for o in pull(sshd, folder, landing).outcomes] == ["landed"]
    first = landing / STUDY / SITE / TID
    inodes = {p.name: p.stat().st_ino for p in first.iterdir()}

    copy_transfer_as(folder / STUDY / SITE / TID, TID2)
    report = pull(sshd, folder, landing)
    assert [(o.transfer_id, o.outcome) for o in report.outcomes] == [(TID, "skipped"), (TID2, "landed")]
    assert report.of("landed")[0].files == 6
    assert {p.name: p.stat().st_ino for p in first.iterdir()} == inodes
    assert transfer_files(landing) == transfer_files(folder)


def test_an_upload_in_progress_is_not_landed_until_it_is_complete(sshd, tmp_path):
    folder = served(sshd, tmp_path)
    transfer = write_transfer(folder, TID, base_files())  # the manifest first …
    full = (transfer / "AE.csv").read_bytes()
    (transfer / "AE.csv").write_bytes(full[:40])  # … the file still short
    landing = tmp_path / "landing"
    (incomplete,) = pull(sshd, folder, landing).outcomes
    assert incomplete.outcome == "incomplete" and incomplete.reason.startswith("AE.csv sha256 is ")
    assert visible_transfers(landing) == [] and hidden_entries(landing) == []

    (transfer / "AE.csv").write_bytes(full)
    (landed,) = pull(sshd, folder, landing).outcomes
    assert landed.outcome == "landed"
    assert transfer_files(landing) == transfer_files(folder)


def test_a_changed_file_under_a_landed_transfer_is_refused_and_kept_aside(sshd, tmp_path):
    folder = served(sshd, tmp_path)
    transfer = write_transfer(folder, TID, base_files())
    landing = tmp_path / "landing"
    pull(sshd, folder, landing)
    landed = transfer_files(landing)

    (transfer / "AE.csv").write_text((transfer / "AE.csv").read_text().replace("Nausea", "Fatigue"))
    rewrite_manifest(transfer)  # the site re-exported under the same TRANSFER_ID
    done = cli_pull(sshd, folder, landing)
    assert done.returncode == 2, done.stderr
    assert done.stderr.splitlines()[-1] == (
        f"trialdw: refused 1 transfer(s): {STUDY}/{SITE}/{TID} [changed_after_landing] (see the lines above)"
    )
    assert transfer_files(landing) == landed
    (kept,) = (landing / ".refused" / STUDY / SITE).iterdir()
    assert sha256(kept / "AE.csv") == sha256(transfer / "AE.csv")
    assert visible_transfers(landing) == [f"{STUDY}/{SITE}/{TID}"]


def test_a_remote_symlink_or_dotdot_name_is_refused(sshd, tmp_path):
    folder = served(sshd, tmp_path)
    outside = sshd.folder / f"{tmp_path.name}-outside.csv"
    outside.write_text("must never be read\n")
    linked = write_transfer(folder, TID, base_files())
    (linked / "LB.csv").unlink()
    (linked / "LB.csv").symlink_to(outside)
    write_transfer(
        folder,
        TID2,
        base_files(),
        manifest_edit=lambda m: m["files"].update({"../../../outside.csv": {"sha256": "0" * 64, "rows": 1}}),
    )
    landing = tmp_path / "landing"
    report = pull(sshd, folder, landing)
    assert [(o.transfer_id, o.outcome, o.rule) for o in report.outcomes] == [
        (TID, "refused", "symlink"),
        (TID2, "refused", "unsafe_name"),
    ]
    assert report.outcomes[0].reason.startswith("LB.csv on the server: symbolic link(s), never followed")
    assert visible_transfers(landing) == [] and hidden_entries(landing) == []


def test_an_unknown_host_key_is_refused_with_one_line_saying_how_to_add_it(sshd, tmp_path):
    empty = tmp_path / "known_hosts"
    empty.write_text("")
    done = cli_pull(sshd, sshd.folder, tmp_path / "landing", known_hosts=empty)
    assert done.returncode == 1
    last = done.stderr.strip().splitlines()[-1]
    assert last == (
        f"trialdw: pull could not complete: sftp 127.0.0.1:{sshd.port}: host key not in known_hosts file {empty}; "
        f"refused. Check the key's fingerprint with the site, then add it: "
        f"ssh-keyscan -p {sshd.port} 127.0.0.1 >> {empty}"
    )
    assert "Traceback" not in done.stderr and not (tmp_path / "landing" / STUDY).exists()


def test_a_changed_host_key_is_refused(sshd, tmp_path):
    other = keygen(tmp_path / "other_host_key")
    known = tmp_path / "known_hosts"
    known.write_text(f"[127.0.0.1]:{sshd.port} {' '.join(Path(f'{other}.pub').read_text().split()[:2])}\n")
    (failed,) = pull(sshd, sshd.folder, tmp_path / "landing", known_hosts=known).outcomes
    assert (failed.outcome, failed.rule) == ("failed", "host_key_changed")
    assert f"HOST KEY CHANGED: the server's key differs from the one in {known}" in failed.reason
    assert f"ssh-keygen -R '[127.0.0.1]:{sshd.port}' -f {known}" in failed.reason


def test_a_wrong_user_key_is_refused(sshd, tmp_path):
    done = cli_pull(sshd, sshd.folder, tmp_path / "landing", identity=sshd.wrong_key)
    assert done.returncode == 1
    assert done.stderr.strip().splitlines()[-1] == (
        f"trialdw: pull could not complete: sftp {sshd.user}@127.0.0.1:{sshd.port}: the server refused the key "
        f"{sshd.wrong_key} (Permission denied for user {sshd.user} on host 127.0.0.1); "
        "is its public key (.pub) in the site's authorized_keys for that user?"
    )


def test_an_encrypted_key_with_its_passphrase_from_the_environment(sshd, tmp_path, monkeypatch):
    # PKCS#8 encryption: asyncssh needs no bcrypt for it (OpenSSH-format encryption it would).
    key = keygen(tmp_path / "encrypted_key", "correct horse battery staple", "ecdsa", "-m", "PKCS8")
    authorized = Path(sshd.user_key).parent / "authorized_keys"
    before = authorized.read_text()
    authorized.write_text(before + Path(f"{key}.pub").read_text())
    try:
        folder = served(sshd, tmp_path)
        write_transfer(folder, TID, base_files())
        sources = write_sources(
            tmp_path / "sources.yml",
            [
                {
                    "name": "site-101",
                    "url": sshd.url(folder),
                    "studies": [STUDY],
                    "identity": str(key),
                    "known_hosts": str(sshd.known_hosts),
                    "passphrase_env": "TRIALDW_TEST_PASSPHRASE",
                }
            ],
        )
        monkeypatch.delenv("TRIALDW_TEST_PASSPHRASE", raising=False)
        (failed,) = pull_sources(load_sources(sources), tmp_path / "landing", Silent()).outcomes
        assert (failed.outcome, failed.rule) == ("failed", "config")
        assert failed.reason.endswith("passphrase_env: environment variable TRIALDW_TEST_PASSPHRASE is not set")

        monkeypatch.setenv("TRIALDW_TEST_PASSPHRASE", "correct horse battery staple")
        (landed,) = pull_sources(load_sources(sources), tmp_path / "landing", Silent()).outcomes
        assert landed.outcome == "landed", landed.reason
    finally:
        authorized.write_text(before)


def test_an_encrypted_openssh_format_key_says_what_to_do(sshd, tmp_path, monkeypatch):
    key = keygen(tmp_path / "encrypted_key", "correct horse battery staple")
    sources = write_sources(
        tmp_path / "sources.yml",
        [
            {
                "name": "site-101",
                "url": sshd.url(sshd.folder),
                "studies": [STUDY],
                "identity": str(key),
                "known_hosts": str(sshd.known_hosts),
                "passphrase_file": str(tmp_path / "passphrase"),
            }
        ],
    )
    (tmp_path / "passphrase").write_text("correct horse battery staple\n")
    os.chmod(tmp_path / "passphrase", 0o600)
    (failed,) = pull_sources(load_sources(sources), tmp_path / "landing", Silent()).outcomes
    assert failed.rule == "config"
    assert failed.reason.endswith(f"re-encrypt it as PKCS#8: ssh-keygen -p -m PKCS8 -f {key} (RSA and ECDSA keys)")


def test_a_pull_killed_mid_file_leaves_nothing_visible_and_the_next_one_completes_it(sshd, tmp_path):
    folder = served(sshd, tmp_path)
    files = base_files()
    files["GF.csv"] = os.urandom(6 << 20)  # several reads long; the warehouse would reject it, the pull does not care
    write_transfer(folder, TID, files)
    landing, marker = tmp_path / "landing", tmp_path / "paused"
    env = {**os.environ, testhook.PAUSE_AT_ENV: "pull", testhook.MARKER_ENV: str(marker)}
    args = ["pull", sshd.url(folder), str(landing), "--identity", str(sshd.user_key)]
    args += ["--known-hosts", str(sshd.known_hosts)]
    process = subprocess.Popen([*TRIALDW, *args], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 120
        while not marker.exists() and process.poll() is None and time.monotonic() < deadline:
            time.sleep(0.1)
        assert marker.exists(), process.communicate()[1]
        os.kill(process.pid, signal.SIGKILL)
        process.wait(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
    (partial,) = (landing / STUDY / SITE).iterdir()  # a copy was under way …
    assert partial.name == f".{TID}.partial-{process.pid}"
    assert 0 < (partial / "GF.csv").stat().st_size < len(files["GF.csv"])
    assert visible_transfers(landing) == []  # … and the warehouse cannot see it

    done = cli_pull(sshd, folder, landing)
    assert done.returncode == 0, done.stderr
    assert f"removed {STUDY}/{SITE}/.{TID}.partial-{process.pid} (left by an interrupted pull)" in done.stderr
    assert hidden_entries(landing) == [] and visible_transfers(landing) == [f"{STUDY}/{SITE}/{TID}"]
    assert transfer_files(landing) == transfer_files(folder)
