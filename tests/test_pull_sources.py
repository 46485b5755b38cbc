"""The sources file: read strictly, credentials only as references."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.helpers.pulls import write_sources
from trialdw.pull.sources import DEFAULT_KNOWN_HOSTS, load_sources, source_from_url
from trialdw.study_config import ConfigError

SFTP = {
    "name": "site-101",
    "url": "sftp://trialdw@sftp.example.org:2222/outgoing",
    "studies": ["HCC-REGO-PD1"],
    "sites": ["101"],
    "identity": "keys/site101",
    "known_hosts": "known_hosts",
}
S3 = {
    "name": "edc",
    "url": "s3://edc-exports/trialdw",
    "studies": ["HCC-SURU-SC"],
    "endpoint_url": "https://objects.example.org",
    "access_key_id_env": "EDC_KEY_ID",
    "secret_access_key_file": "/etc/trialdw/edc.secret",
}
FILE = {"name": "share", "url": "file:///mnt/dropzone", "studies": ["HCC-REGO-PD1"]}


def refused(tmp_path: Path, *entries: dict) -> str:
    with pytest.raises(ConfigError) as caught:
        load_sources(write_sources(tmp_path / "sources.yml", list(entries)))
    message = str(caught.value)
    assert "\n" not in message
    return message


def test_a_sources_file_with_every_kind_of_source(tmp_path):
    sftp, s3, share = load_sources(write_sources(tmp_path / "sources.yml", [SFTP, S3, FILE]))
    assert (sftp.scheme, sftp.host, sftp.port, sftp.user, sftp.root) == (
        "sftp",
        "sftp.example.org",
        2222,
        "trialdw",
        "/outgoing",
    )
    assert sftp.display == "sftp://trialdw@sftp.example.org:2222/outgoing"
    assert sftp.identity == tmp_path / "keys/site101" and sftp.known_hosts == tmp_path / "known_hosts"
    assert sftp.studies == ("HCC-REGO-PD1",) and sftp.sites == ("101",)
    assert sftp.wants("HCC-REGO-PD1", "101") and not sftp.wants("HCC-REGO-PD1", "102") and not sftp.wants("X")
    assert (s3.root, s3.display, s3.endpoint_url) == (
        "edc-exports/trialdw",
        "s3://edc-exports/trialdw",
        S3["endpoint_url"],
    )
    assert s3.access_key_id.env == "EDC_KEY_ID" and s3.secret_access_key.file == Path("/etc/trialdw/edc.secret")
    assert (share.root, share.sites) == ("/mnt/dropzone", None)


def test_unknown_keys_are_refused_with_the_key_the_file_and_a_hint(tmp_path):
    message = refused(tmp_path, {**SFTP, "idenity": "x"})
    assert message == (
        f"{tmp_path / 'sources.yml'}: sources[0] (site-101): unknown key 'idenity' (did you mean 'identity'?)"
    )
    assert refused(tmp_path, {**FILE, "identity": "k"}).endswith(
        "sources[0] (share): key 'identity' applies to sftp:// sources only"
    )
    (tmp_path / "top.yml").write_text("source: []\n")
    with pytest.raises(ConfigError, match=r"top.yml: unknown key 'source' \(did you mean 'sources'\?\)"):
        load_sources(tmp_path / "top.yml")


@pytest.mark.parametrize(
    ("entry", "expected"),
    [
        ({**SFTP, "url": "sftp://trialdw:hunter2@sftp.example.org/x"}, "the url holds a password; refused"),
        ({**S3, "url": "s3://AKIA:secret@bucket/x"}, "the url holds a password; refused"),
        ({**SFTP, "url": "ftp://example.org/x"}, "url scheme 'ftp' is not one of sftp://, s3://, file://"),
        ({**SFTP, "identity": None}, "missing required key 'identity'"),
        ({**FILE, "studies": None}, "missing required key 'studies'"),
        ({**FILE, "sites": ["../101"]}, "'sites' entry '../101' is not a folder name"),
        ({**S3, "secret_access_key_env": "X"}, "give 'secret_access_key_env' or 'secret_access_key_file', not both"),
        ({**S3, "access_key_id_env": "AKIA/abc+def="}, "'access_key_id_env' must name an environment variable"),
        ({**S3, "access_key_id_env": None}, "give both access_key_id_* and secret_access_key_*, or neither"),
        ({**S3, "endpoint_url": "https://u:p@host"}, "endpoint_url must be an http(s):// URL without credentials"),
        ({**FILE, "url": "file://relative/path"}, "must be file:///absolute/path"),
    ],
)
def test_what_is_refused(tmp_path, entry, expected):
    message = refused(tmp_path, entry)
    assert expected in message
    assert "hunter2" not in message and "AKIA:secret" not in message  # a password in a URL is never echoed


def test_two_sources_of_one_name_are_refused(tmp_path):
    assert refused(tmp_path, FILE, FILE).endswith("source name 'share' is used twice")


def test_secret_references_resolve_at_use_and_a_shared_secret_file_is_refused(tmp_path, monkeypatch):
    secret = tmp_path / "edc.secret"
    secret.write_text("s3cr3t-value\n")
    os.chmod(secret, 0o640)
    (_, s3) = load_sources(
        write_sources(tmp_path / "sources.yml", [FILE, {**S3, "secret_access_key_file": str(secret)}])
    )
    with pytest.raises(ConfigError) as caught:
        s3.secret_access_key.value()
    assert str(caught.value) == (
        f"{tmp_path / 'sources.yml'}: sources[1] (edc): secret_access_key_file: secret file {secret} has mode 0640, "
        f"so group or others can read it; refused (run: chmod 600 {secret})"
    )
    os.chmod(secret, 0o600)
    assert s3.secret_access_key.value() == "s3cr3t-value"
    monkeypatch.delenv("EDC_KEY_ID", raising=False)
    with pytest.raises(ConfigError, match="access_key_id_env: environment variable EDC_KEY_ID is not set"):
        s3.access_key_id.value()
    monkeypatch.setenv("EDC_KEY_ID", "AKIA-TEST")
    assert s3.access_key_id.value() == "AKIA-TEST"


def test_a_source_on_the_command_line():
    sftp = source_from_url("sftp://me@host/data", identity="~/k")
    assert (sftp.port, sftp.root, sftp.studies, sftp.known_hosts) == (
        22,
        "/data",
        None,
        DEFAULT_KNOWN_HOSTS.expanduser(),
    )
    assert sftp.display == "sftp://me@host/data"
    with pytest.raises(ConfigError, match="needs --identity KEYFILE"):
        source_from_url("sftp://me@host/data")
    with pytest.raises(ConfigError, match="apply to sftp:// sources only"):
        source_from_url("file:///x", identity="k")
    with pytest.raises(ConfigError, match="the url holds a password"):
        source_from_url("sftp://me:pw@host/data", identity="k")


def test_the_documented_example_is_a_valid_sources_file():
    from trialdw.project import PROJECT_ROOT

    names = [s.name for s in load_sources(PROJECT_ROOT / "docs" / "sources.example.yml")]
    assert names == ["rego-site-101", "suru-edc-vendor", "shared-dropzone"]
