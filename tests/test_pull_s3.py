"""Pulling from an S3-compatible store: moto's S3 HTTP server on a loopback port
(a real server speaking the S3 REST API to s3fs/aiobotocore over a socket), a
sources file with an endpoint and credential references."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.helpers.pulls import sha256, transfer_files, visible_transfers, write_sources
from tests.helpers.transfers import SITE, STUDY, base_files, write_transfer
from trialdw.pull import load_sources, pull_sources
from trialdw.pull.progress import Silent
from trialdw.synth import generate

BUCKET = "edc-exports"
TID = "20250301T020000Z"


def upload(s3_server, local: Path, prefix: str) -> None:
    fs = s3_server.filesystem()
    if not fs.exists(BUCKET):
        fs.mkdir(BUCKET)
    for path in sorted(local.rglob("*")):
        if path.is_file():
            fs.pipe(f"{BUCKET}/{prefix}/{path.relative_to(local)}", path.read_bytes())


def sources_file(s3_server, tmp_path: Path, prefix: str, **extra) -> Path:
    secret = tmp_path / "s3.secret"
    secret.write_text(s3_server.secret + "\n")
    os.chmod(secret, 0o600)
    entry = {
        "name": "edc-vendor",
        "url": f"s3://{BUCKET}/{prefix}",
        "studies": ["HCC-REGO-PD1", "HCC-SURU-SC", STUDY],
        "endpoint_url": s3_server.endpoint_url,
        "region": "us-east-1",
        "access_key_id_env": "TRIALDW_TEST_S3_KEY_ID",
        "secret_access_key_file": str(secret),
        **extra,
    }
    return write_sources(tmp_path / "sources.yml", [entry])


@pytest.fixture
def s3_env(s3_server, monkeypatch):
    monkeypatch.setenv("TRIALDW_TEST_S3_KEY_ID", s3_server.key)
    return s3_server


def test_the_demo_landing_from_a_bucket_lands_byte_identical_then_nothing_is_copied(s3_env, tmp_path):
    demo = tmp_path / "demo"
    generate(demo, subjects=6)
    upload(s3_env, demo, "demo")
    sources = load_sources(sources_file(s3_env, tmp_path, "demo"))
    landing = tmp_path / "landing"
    report = pull_sources(sources, landing, Silent())
    assert report.summary() == "4 landed, 0 skipped, 0 incomplete, 0 refused, 0 failed"
    assert report.outcomes[0].source == f"s3://{BUCKET}/demo"
    assert transfer_files(landing) == transfer_files(demo)
    assert len(visible_transfers(landing)) == 4
    again = pull_sources(sources, landing, Silent())
    assert again.summary() == "0 landed, 4 skipped, 0 incomplete, 0 refused, 0 failed"


def test_a_changed_object_is_refused_and_kept_aside(s3_env, tmp_path):
    local = tmp_path / "local"
    folder = write_transfer(local, TID, base_files())
    upload(s3_env, local, "changed")
    sources = load_sources(sources_file(s3_env, tmp_path, "changed"))
    landing = tmp_path / "landing"
    assert [o.outcome for o in pull_sources(sources, landing, Silent()).outcomes] == ["landed"]

    s3_env.filesystem().pipe(f"{BUCKET}/changed/{STUDY}/{SITE}/{TID}/DM.csv", b"STUDYID\nchanged\n")
    (refused,) = pull_sources(sources, landing, Silent()).outcomes
    assert (refused.outcome, refused.rule) == ("refused", "changed_after_landing")
    assert sha256(landing / STUDY / SITE / TID / "DM.csv") == sha256(folder / "DM.csv")
    (kept,) = (landing / ".refused" / STUDY / SITE).iterdir()
    assert (kept / "DM.csv").read_bytes() == b"STUDYID\nchanged\n"


def test_a_missing_bucket_prefix_and_an_unreachable_endpoint_fail_the_source(s3_env, tmp_path, monkeypatch):
    missing = load_sources(sources_file(s3_env, tmp_path, "nothing-here"))
    (failed,) = pull_sources(missing, tmp_path / "l", Silent()).outcomes
    assert (failed.outcome, failed.rule) == ("failed", "not_found")
    assert failed.reason == f"s3://{BUCKET}/nothing-here: the folder does not exist on the source"

    from trialdw.ops import retry

    monkeypatch.setattr(retry.time, "sleep", lambda s: None)
    closed = sources_file(s3_env, tmp_path, "x", endpoint_url="http://127.0.0.1:9")  # nothing listens on port 9
    (failed,) = pull_sources(load_sources(closed), tmp_path / "l", Silent()).outcomes
    assert (failed.outcome, failed.rule) == ("failed", "unreachable")
    assert "(still failing after retries)" in failed.reason
