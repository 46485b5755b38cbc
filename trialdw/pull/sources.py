"""Where the sites drop their exports: the sources file, read strictly.

A new site's drop zone is configuration, not code::

    sources:
      - name: site-101
        url: sftp://trialdw@sftp.site101.example.org:2222/outgoing
        studies: [HCC-REGO-PD1]
        sites: ["101"]                          # optional: default every site folder
        identity: keys/site101_ed25519          # private key, mode 0600
        known_hosts: known_hosts                # default ~/.ssh/known_hosts
        passphrase_env: SITE101_KEY_PASSPHRASE  # only for an encrypted key (or passphrase_file)
      - name: edc-vendor
        url: s3://edc-exports/trialdw
        studies: [HCC-SURU-SC]
        endpoint_url: https://objects.example.org     # an S3-compatible store; omit for AWS
        access_key_id_env: EDC_ACCESS_KEY_ID          # or access_key_id_file
        secret_access_key_env: EDC_SECRET_ACCESS_KEY  # or secret_access_key_file (mode 0600)
      - name: shared-folder
        url: file:///mnt/dropzone
        studies: [HCC-REGO-PD1]

Under every URL the layout is the landing's: ``<STUDYID>/<SITEID>/<TRANSFER_ID>/``.
Unknown keys are refused with the key and the file named (like study files), a
key of another kind of source too; credentials are references (an environment
variable's name or a file of mode 0600), never values, and a URL holding a
password is refused. Relative paths are read from the sources file's folder.
"""

from __future__ import annotations

import re
import urllib.parse
from dataclasses import dataclass
from pathlib import Path

from trialdw.project import read_yaml
from trialdw.pull.secrets import SecretRef
from trialdw.study_config import STUDYID_RE, ConfigError, strict_mapping

SFTP, S3, FILE = "sftp", "s3", "file"
SCHEMES = (SFTP, S3, FILE)
DEFAULT_KNOWN_HOSTS = Path("~/.ssh/known_hosts")
DEFAULT_SFTP_PORT = 22

FILE_KEYS = frozenset({"sources"})
COMMON_KEYS = frozenset({"name", "url", "studies", "sites"})
SCHEME_KEYS = {
    SFTP: frozenset({"identity", "known_hosts", "passphrase_env", "passphrase_file"}),
    S3: frozenset(
        {
            "endpoint_url",
            "region",
            "access_key_id_env",
            "access_key_id_file",
            "secret_access_key_env",
            "secret_access_key_file",
        }
    ),
    FILE: frozenset(),
}
ENV_NAME_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
# Site folder names: like STUDYIDs (they name landing folders).
SITEID_RE = STUDYID_RE


@dataclass(frozen=True)
class Source:
    """One drop zone. ``root`` is the path under which ``<STUDYID>/…`` lie, in the
    backend's own spelling (``/outgoing``, ``bucket/prefix``, ``/mnt/dropzone``)."""

    name: str
    scheme: str
    root: str
    display: str  # the URL without credentials: what logs and audit.pulls show
    studies: tuple[str, ...] | None = None  # None: every study folder
    sites: tuple[str, ...] | None = None  # None: every site folder
    host: str | None = None
    port: int | None = None
    user: str | None = None
    identity: Path | None = None
    known_hosts: Path | None = None
    passphrase: SecretRef | None = None
    endpoint_url: str | None = None
    region: str | None = None
    access_key_id: SecretRef | None = None
    secret_access_key: SecretRef | None = None
    where: str = "<source>"  # for messages: file and entry

    def wants(self, study: str, site: str | None = None) -> bool:
        if self.studies is not None and study not in self.studies:
            return False
        return site is None or self.sites is None or site in self.sites


def parse_url(url: str, where: str) -> dict:
    """Scheme, root, display URL and (for sftp) host, port and user of a source URL."""
    if not isinstance(url, str) or "://" not in url:
        raise ConfigError(f"{where}: url {url!r} must be an sftp://, s3:// or file:// URL")
    parts = urllib.parse.urlsplit(url)
    scheme = parts.scheme.lower()
    if scheme not in SCHEMES:
        raise ConfigError(f"{where}: url scheme {parts.scheme!r} is not one of sftp://, s3://, file://")
    if parts.password is not None:
        # Never echo it: the message names the problem, not the URL.
        raise ConfigError(
            f"{where}: the url holds a password; refused. SFTP sources log in with a key (identity), "
            "S3 sources name their credentials (access_key_id_env / secret_access_key_env or *_file)"
        )
    if parts.query or parts.fragment:
        raise ConfigError(f"{where}: url {url!r} must not have a query or fragment")
    if scheme == FILE:
        if parts.netloc not in ("", "localhost"):
            raise ConfigError(f"{where}: file url {url!r} must be file:///absolute/path")
        path = urllib.parse.unquote(parts.path)
        if not path.startswith("/"):
            raise ConfigError(f"{where}: file url {url!r} must be file:///absolute/path")
        return {"scheme": FILE, "root": path.rstrip("/") or "/", "display": f"file://{path}"}
    if scheme == S3:
        if not parts.hostname or parts.username is not None:
            raise ConfigError(f"{where}: s3 url {url!r} must be s3://bucket/prefix (credentials go elsewhere)")
        prefix = urllib.parse.unquote(parts.path).strip("/")
        root = f"{parts.netloc}/{prefix}" if prefix else parts.netloc
        return {"scheme": S3, "root": root, "display": f"s3://{root}"}
    if not parts.hostname:
        raise ConfigError(f"{where}: sftp url {url!r} must be sftp://user@host[:port]/path")
    try:
        port = parts.port or DEFAULT_SFTP_PORT
    except ValueError:
        raise ConfigError(f"{where}: sftp url {url!r} has an invalid port") from None
    path = urllib.parse.unquote(parts.path) or "."
    user = urllib.parse.unquote(parts.username) if parts.username else None
    host = parts.hostname
    shown_host = f"[{host}]" if ":" in host else host
    display = f"sftp://{user + '@' if user else ''}{shown_host}{':' + str(port) if port != DEFAULT_SFTP_PORT else ''}"
    display += path if path.startswith("/") else f"/{path}"
    return {"scheme": SFTP, "root": path, "display": display, "host": host, "port": port, "user": user}


def _names(value, key: str, where: str, pattern: re.Pattern) -> tuple[str, ...] | None:
    if value is None:
        return None
    if not isinstance(value, list) or not value:
        raise ConfigError(f"{where}: '{key}' must be a non-empty list")
    names = tuple(str(v) for v in value)
    for name in names:
        if not pattern.match(name):
            raise ConfigError(f"{where}: '{key}' entry {name!r} is not a folder name (letters, digits, '.', '_', '-')")
    return names


def _path(value, key: str, where: str, base: Path) -> Path | None:
    if value is None:
        return None
    if not isinstance(value, str) or not value:
        raise ConfigError(f"{where}: '{key}' must be a file path")
    path = Path(value).expanduser()
    return path if path.is_absolute() else base / path


def _secret(doc: dict, stem: str, where: str, base: Path) -> SecretRef | None:
    """``<stem>_env`` or ``<stem>_file``, not both."""
    env, file = doc.get(f"{stem}_env"), doc.get(f"{stem}_file")
    if env is not None and file is not None:
        raise ConfigError(f"{where}: give '{stem}_env' or '{stem}_file', not both")
    if env is not None:
        if not isinstance(env, str) or not ENV_NAME_RE.match(env):
            raise ConfigError(
                f"{where}: '{stem}_env' must name an environment variable (letters, digits, '_'), "
                "not hold the secret itself"
            )
        return SecretRef(env=env, what=f"{where}: {stem}_env")
    if file is not None:
        return SecretRef(file=_path(file, f"{stem}_file", where, base), what=f"{where}: {stem}_file")
    return None


def _check_keys(doc: dict, scheme: str, where: str) -> None:
    allowed = COMMON_KEYS | SCHEME_KEYS[scheme]
    for key in doc:
        other = [s for s in SCHEMES if s != scheme and key in SCHEME_KEYS[s]]
        if key not in allowed and other:
            raise ConfigError(f"{where}: key '{key}' applies to {other[0]}:// sources only")
    strict_mapping(doc, where, allowed)


def parse_source(doc, where: str, base: Path) -> Source:
    if not isinstance(doc, dict):
        raise ConfigError(f"{where}: must be a mapping of keys, got {type(doc).__name__}")
    if not doc.get("url"):
        raise ConfigError(f"{where}: missing required key 'url'")
    name = str(doc.get("name") or "")
    if not name:
        raise ConfigError(f"{where}: missing required key 'name'")
    where = f"{where} ({name})"
    url = parse_url(doc["url"], where)
    _check_keys(doc, url["scheme"], where)
    if doc.get("studies") is None:
        raise ConfigError(f"{where}: missing required key 'studies' (the STUDYIDs this source delivers)")
    fields = {
        "name": name,
        **url,
        "studies": _names(doc.get("studies"), "studies", where, STUDYID_RE),
        "sites": _names(doc.get("sites"), "sites", where, SITEID_RE),
        "where": where,
    }
    if url["scheme"] == SFTP:
        if not doc.get("identity"):
            raise ConfigError(f"{where}: missing required key 'identity' (the private key SFTP logs in with)")
        fields["identity"] = _path(doc["identity"], "identity", where, base)
        fields["known_hosts"] = _path(doc.get("known_hosts"), "known_hosts", where, base) or (
            DEFAULT_KNOWN_HOSTS.expanduser()
        )
        fields["passphrase"] = _secret(doc, "passphrase", where, base)
    elif url["scheme"] == S3:
        endpoint = doc.get("endpoint_url")
        if endpoint is not None and not (isinstance(endpoint, str) and re.match(r"^https?://[^\s@]+$", endpoint)):
            raise ConfigError(f"{where}: endpoint_url must be an http(s):// URL without credentials")
        fields["endpoint_url"] = endpoint
        fields["region"] = str(doc["region"]) if doc.get("region") else None
        fields["access_key_id"] = _secret(doc, "access_key_id", where, base)
        fields["secret_access_key"] = _secret(doc, "secret_access_key", where, base)
        if (fields["access_key_id"] is None) != (fields["secret_access_key"] is None):
            raise ConfigError(
                f"{where}: give both access_key_id_* and secret_access_key_*, or neither "
                "(then the S3 client's own credential chain is used)"
            )
    return Source(**fields)


def load_sources(path: Path) -> list[Source]:
    """Every source of a sources file, checked; one-line ConfigError otherwise."""
    path = Path(path)
    doc = read_yaml(path, ConfigError, "sources file")
    if not isinstance(doc, dict):
        raise ConfigError(f"{path}: not a YAML mapping with a 'sources' list")
    strict_mapping(doc, str(path), FILE_KEYS)
    entries = doc.get("sources")
    if not isinstance(entries, list) or not entries:
        raise ConfigError(f"{path}: 'sources' must be a non-empty list of sources")
    base = path.resolve().parent
    sources = [parse_source(entry, f"{path}: sources[{i}]", base) for i, entry in enumerate(entries)]
    seen: set[str] = set()
    for source in sources:
        if source.name in seen:
            raise ConfigError(f"{path}: source name {source.name!r} is used twice")
        seen.add(source.name)
    return sources


def source_from_url(
    url: str, *, identity: str | None = None, known_hosts: str | None = None, endpoint_url: str | None = None
) -> Source:
    """A source given on the command line (``trialdw pull SOURCE LANDING``): every
    study and site under the URL. An encrypted key needs a sources file (its
    passphrase is a secret reference); S3 credentials come from the S3 client's
    own chain (``AWS_ACCESS_KEY_ID`` …)."""
    where = "SOURCE"
    fields = parse_url(url, where)
    if fields["scheme"] == SFTP:
        if not identity:
            raise ConfigError("an sftp:// SOURCE needs --identity KEYFILE (the private key to log in with)")
        return Source(
            name=fields["display"],
            **fields,
            identity=Path(identity).expanduser(),
            known_hosts=Path(known_hosts).expanduser() if known_hosts else DEFAULT_KNOWN_HOSTS.expanduser(),
            where=where,
        )
    if identity or known_hosts:
        raise ConfigError("--identity and --known-hosts apply to sftp:// sources only")
    if endpoint_url and fields["scheme"] != S3:
        raise ConfigError("--endpoint-url applies to s3:// sources only")
    return Source(name=fields["display"], **fields, endpoint_url=endpoint_url, where=where)
