"""The pull from a folder (``file://``): the landing's guarantees on real files.

The same copy-verify-rename runs for every kind of source; these tests exercise
it without a server (the SFTP and S3 tests repeat the essentials over real ones).
"""

from __future__ import annotations

import os
import shutil
import stat
from pathlib import Path

import pytest

from tests.helpers.pulls import (
    copy_transfer_as,
    fingerprint,
    hidden_entries,
    rewrite_manifest,
    sha256,
    transfer_files,
    visible_transfers,
)
from tests.helpers.transfers import SITE, STUDY, base_files, write_transfer
from trialdw.pull import pull_sources, source_from_url
from trialdw.pull.landing_area import LOCK_NAME, landing_lock
from trialdw.pull.progress import Progress, Silent
from trialdw.synth import generate

TID, TID2 = "20250301T020000Z", "20250401T020000Z"


def pull(source_dir: Path, landing: Path, **kw):
    return pull_sources([source_from_url(f"file://{source_dir}")], landing, Silent(), **kw)


def outcomes(report) -> list[tuple]:
    return [(o.where, o.outcome, o.rule) for o in report.outcomes]


@pytest.fixture(scope="module")
def demo(tmp_path_factory) -> Path:
    """The demo landing of `trialdw synth` (both studies, two transfers each)."""
    root = tmp_path_factory.mktemp("demo-source")
    generate(root, subjects=6)
    return root


def test_demo_landing_lands_byte_identical_and_read_only(tmp_path, demo):
    landing = tmp_path / "landing"
    report = pull(demo, landing)
    assert report.counts()["landed"] == 4 and report.exit_code() == 0, report.summary()
    assert transfer_files(landing) == transfer_files(demo)
    assert len(visible_transfers(landing)) == 4 and hidden_entries(landing) == []
    for folder in landing.glob("*/*/*"):
        assert stat.S_IMODE(folder.stat().st_mode) == 0o555
        for path in folder.iterdir():
            assert stat.S_IMODE(path.stat().st_mode) == 0o444
            assert int(path.stat().st_mtime) == int((demo / path.relative_to(landing)).stat().st_mtime)
    landed = report.of("landed")[0]
    assert landed.files == len(list((landing / landed.where).iterdir())) and landed.bytes > 0


def test_second_pull_copies_nothing_and_a_new_transfer_only_itself(tmp_path, demo):
    source = tmp_path / "source"
    shutil.copytree(demo, source)
    landing = tmp_path / "landing"
    pull(source, landing)
    before = fingerprint(landing)
    again = pull(source, landing)
    assert again.counts()["skipped"] == 4 and again.counts()["landed"] == 0
    assert fingerprint(landing) == before

    newest = sorted(source.glob("HCC-REGO-PD1/*/*"))[-1]
    copy_transfer_as(newest, "20261201T020000Z")
    third = pull(source, landing)
    assert [o.where for o in third.of("landed")] == [f"HCC-REGO-PD1/{newest.parent.name}/20261201T020000Z"]
    landed_before = {k: v for k, v in before.items() if len(Path(k).parts) >= 3}  # transfers and their files
    assert {k: v for k, v in fingerprint(landing).items() if k in landed_before} == landed_before


def test_a_transfer_without_manifest_or_with_a_short_file_is_incomplete_then_lands(tmp_path):
    source, landing = tmp_path / "source", tmp_path / "landing"
    write_transfer(source, TID, base_files(), manifest=False)
    folder = write_transfer(source, TID2, base_files())
    full = (folder / "DM.csv").read_bytes()
    (folder / "DM.csv").write_bytes(full[: len(full) // 2])  # manifest first, file still uploading

    report = pull(source, landing)
    assert outcomes(report) == [
        (f"{STUDY}/{SITE}/{TID}", "incomplete", None),
        (f"{STUDY}/{SITE}/{TID2}", "incomplete", None),
    ]
    assert report.outcomes[0].reason == "no manifest.json yet (transfer still being written)"
    assert "DM.csv sha256 is" in report.outcomes[1].reason and "upload still in progress" in report.outcomes[1].reason
    assert report.exit_code() == 0
    assert visible_transfers(landing) == [] and hidden_entries(landing) == []

    (folder / "DM.csv").write_bytes(full)
    write_transfer(source, TID, base_files())
    assert [o.outcome for o in pull(source, landing).outcomes] == ["landed", "landed"]
    assert transfer_files(landing) == transfer_files(source)


def test_a_changed_file_under_a_landed_transfer_is_refused_and_kept_aside_once(tmp_path):
    source, landing = tmp_path / "source", tmp_path / "landing"
    folder = write_transfer(source, TID, base_files())
    pull(source, landing)
    landed = transfer_files(landing)

    (folder / "AE.csv").write_bytes((folder / "AE.csv").read_bytes() + b"")  # same bytes, new mtime: not a change
    os.utime(folder / "AE.csv", (1, 1))
    assert [o.outcome for o in pull(source, landing).outcomes] == ["skipped"]

    (folder / "DM.csv").write_text((folder / "DM.csv").read_text().replace("ASIAN", "WHITE"))  # same size
    rewrite_manifest(folder)
    report = pull(source, landing)
    (refused,) = report.outcomes
    assert (refused.outcome, refused.rule, report.exit_code()) == ("refused", "changed_after_landing", 2)
    assert "DM.csv, manifest.json differ(s) from the landed copy" in refused.reason
    assert transfer_files(landing) == landed  # never replaced
    (kept,) = (landing / ".refused" / STUDY / SITE).iterdir()
    assert kept.name.startswith(f"{TID}-") and f".refused/{STUDY}/{SITE}/{kept.name}/" in refused.reason
    assert sha256(kept / "DM.csv") == sha256(folder / "DM.csv") != sha256(landing / STUDY / SITE / TID / "DM.csv")
    assert stat.S_IMODE(kept.stat().st_mode) == 0o555
    assert visible_transfers(landing) == [f"{STUDY}/{SITE}/{TID}"]  # .refused is invisible to the warehouse

    again = pull(source, landing)
    assert again.outcomes[0].rule == "changed_after_landing" and "kept aside before" in again.outcomes[0].reason
    assert len(list((landing / ".refused" / STUDY / SITE).iterdir())) == 1


def test_a_file_deleted_from_the_server_after_landing_changes_nothing(tmp_path):
    source, landing = tmp_path / "source", tmp_path / "landing"
    folder = write_transfer(source, TID, base_files())
    pull(source, landing)
    (folder / "LB.csv").unlink()
    assert [o.outcome for o in pull(source, landing).outcomes] == ["skipped"]


def test_verify_rereads_a_change_that_kept_size_and_time(tmp_path):
    source, landing = tmp_path / "source", tmp_path / "landing"
    folder = write_transfer(source, TID, base_files())
    for path in folder.iterdir():  # written long ago: the quick check trusts size and time
        os.utime(path, (1_700_000_000, 1_700_000_000))
    pull(source, landing)
    (folder / "DM.csv").write_text((folder / "DM.csv").read_text().replace("ASIAN", "WHITE"))
    os.utime(folder / "DM.csv", (1_700_000_000, 1_700_000_000))
    assert pull(source, landing).outcomes[0].outcome == "skipped"  # the quick check cannot see it
    assert pull(source, landing, verify=True).outcomes[0].rule == "changed_after_landing"


def test_symlinks_and_names_leaving_the_folder_are_refused_and_never_read(tmp_path):
    source, landing = tmp_path / "source", tmp_path / "landing"
    secret = tmp_path / "secret.csv"
    secret.write_text("not for the warehouse\n")
    linked = write_transfer(source, TID, base_files())
    (linked / "AE.csv").unlink()
    (linked / "AE.csv").symlink_to(secret)
    write_transfer(
        source,
        TID2,
        base_files(),
        manifest_edit=lambda m: m["files"].update({"../../../../secret.csv": {"sha256": sha256(secret), "rows": 0}}),
    )
    (source / STUDY / SITE / "20250501T020000Z").symlink_to(linked)
    (source / STUDY / "102").symlink_to(source / STUDY / SITE)

    report = pull(source, landing)
    assert outcomes(report) == [
        (f"{STUDY}/{SITE}/{TID}", "refused", "symlink"),
        (f"{STUDY}/{SITE}/{TID2}", "refused", "unsafe_name"),
        (f"{STUDY}/{SITE}/20250501T020000Z", "refused", "symlink"),
        (f"{STUDY}/102", "refused", "symlink"),
    ]
    assert "'../../../../secret.csv'" in report.outcomes[1].reason
    assert visible_transfers(landing) == [] and hidden_entries(landing) == []
    assert report.exit_code() == 2


def test_a_badly_named_folder_is_refused_and_dot_names_are_passed_over(tmp_path):
    source, landing = tmp_path / "source", tmp_path / "landing"
    write_transfer(source, "latest", base_files())
    write_transfer(source, ".20250301T020000Z.uploading", base_files())
    write_transfer(source, TID, base_files(), study=".trash")
    report = pull(source, landing)
    assert outcomes(report) == [(f"{STUDY}/{SITE}/latest", "refused", "folder_name")]


def test_files_the_manifest_does_not_list_are_landed_as_sent(tmp_path):
    """The warehouse, not the pull, rejects them (spec: file_unlisted)."""
    source, landing = tmp_path / "source", tmp_path / "landing"
    folder = write_transfer(source, TID, base_files())
    (folder / "notes.txt").write_text("an extra file\n")
    (landed,) = pull(source, landing).outcomes
    assert landed.outcome == "landed" and "notes.txt, not in manifest.json" in landed.reason
    assert (landing / STUDY / SITE / TID / "notes.txt").read_text() == "an extra file\n"


def test_leftovers_of_a_killed_pull_are_removed_and_a_busy_landing_refused(tmp_path):
    source, landing = tmp_path / "source", tmp_path / "landing"
    write_transfer(source, TID, base_files())
    partial = landing / STUDY / SITE / f".{TID}.partial-99999"
    partial.mkdir(parents=True)
    (partial / "DM.csv").write_text("half")
    os.chmod(partial / "DM.csv", 0o444)
    with landing_lock(landing):
        busy = pull(source, landing)
    assert outcomes(busy) == [(str(landing), "failed", "busy")]
    reason = busy.outcomes[0].reason
    assert "another trialdw pull is writing" in reason and f"(pid {os.getpid()})" in reason
    assert partial.exists()
    assert [o.outcome for o in pull(source, landing).outcomes] == ["landed"]
    assert not partial.exists() and hidden_entries(landing) == []
    assert (landing / LOCK_NAME).exists()


def test_a_missing_source_folder_fails_the_source_with_one_line(tmp_path):
    report = pull(tmp_path / "nowhere", tmp_path / "landing")
    (failed,) = report.outcomes
    assert (failed.outcome, failed.rule, report.exit_code()) == ("failed", "not_found", 1)
    assert failed.reason == f"file://{tmp_path / 'nowhere'}: the folder does not exist on the source"


def test_a_name_with_control_characters_is_shown_escaped(tmp_path):
    source, landing = tmp_path / "source", tmp_path / "landing"
    write_transfer(source, "evil\x1b[2Jname", base_files())
    lines = []
    report = pull_sources([source_from_url(f"file://{source}")], landing, Progress(emit=lines.append))
    assert report.outcomes[0].rule == "folder_name"
    assert "\x1b" not in lines[0] and "evil\\x1b[2Jname" in lines[0]


def test_progress_says_files_and_bytes_every_few_seconds_while_a_transfer_copies(tmp_path):
    source, landing = tmp_path / "source", tmp_path / "landing"
    write_transfer(source, TID, {**base_files(), "GF.csv": b"x,y\n" * (3 << 18)})
    ticks = iter(range(0, 1000, 3))  # every read is 3 s later than the one before
    lines = []
    progress = Progress(emit=lines.append, every=5, clock=lambda: next(ticks))
    pull_sources([source_from_url(f"file://{source}")], landing, progress)
    periodic = [line for line in lines if line.startswith("  … ")]
    assert periodic and periodic[0].startswith(f"  … {STUDY}/{SITE}/{TID}: ") and " file(s), " in periodic[0]
    assert periodic[-1].endswith(" of 3.1 MB")
    assert lines[-1].startswith(f"landed     {STUDY}/{SITE}/{TID}: 7 file(s), 3.1 MB")
