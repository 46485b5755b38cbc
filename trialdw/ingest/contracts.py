"""Data contracts: ``data_contracts/<DOMAIN>.yml`` loaded, checked, and turned into
pandera (polars backend) schemas at run time. No schema class is written per
domain: the YAML is the single source of truth (format: data_contracts/README.md).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from trialdw.ingest import rules as R
from trialdw.project import ALL_DOMAINS, PROJECT_ROOT, read_yaml

DEFAULT_CONTRACTS_DIR = PROJECT_ROOT / "data_contracts"
TYPES = ("text", "integer", "number", "date", "partial_date")
COLUMN_KEYS = {
    "name",
    "type",
    "required",
    "nullable",
    "codelist",
    "min",
    "max",
    "min_exclusive",
    "max_exclusive",
    "pattern",
    "pattern_message",
    "description",
}
CONTRACT_KEYS = {"domain", "version", "description", "record_key", "free_text", "columns", "rules"}


class ContractError(ValueError):
    """A contract file that cannot be used; the message names the file and the key."""


@dataclass(frozen=True)
class ColumnSpec:
    name: str
    type: str = "text"
    required: bool = True  # the column must be in the header
    nullable: bool = False  # the value may be empty
    codelist: tuple[str, ...] | None = None
    min: float | None = None
    max: float | None = None
    min_exclusive: bool = False
    max_exclusive: bool = False
    pattern: str | None = None
    pattern_message: str | None = None

    @property
    def range_text(self) -> str:
        low = "" if self.min is None else f"{'>' if self.min_exclusive else '≥'} {self.min:g}"
        high = "" if self.max is None else f"{'<' if self.max_exclusive else '≤'} {self.max:g}"
        return " and ".join(x for x in (low, high) if x)


@dataclass(frozen=True)
class Contract:
    domain: str
    version: str
    columns: tuple[ColumnSpec, ...]
    record_key: tuple[str, ...]
    free_text: tuple[str, ...] = ()
    rules: tuple[tuple[str, dict], ...] = ()
    description: str = ""
    path: Path | None = None

    @property
    def file_name(self) -> str:
        return f"{self.domain}.csv"

    @property
    def column_names(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.columns)

    @property
    def required_columns(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.columns if c.required)

    def column(self, name: str) -> ColumnSpec:
        return next(c for c in self.columns if c.name == name)


def _column(doc: dict, where: str) -> ColumnSpec:
    if not isinstance(doc, dict) or "name" not in doc:
        raise ContractError(f"{where}: every column needs a 'name'")
    unknown = set(doc) - COLUMN_KEYS
    if unknown:
        raise ContractError(f"{where}: column {doc['name']}: unknown keys {sorted(unknown)}")
    kind = doc.get("type", "text")
    if kind not in TYPES:
        raise ContractError(f"{where}: column {doc['name']}: type must be one of {TYPES}, got {kind!r}")
    pattern = doc.get("pattern")
    if pattern is not None:
        try:
            re.compile(pattern)
        except re.error as exc:
            raise ContractError(f"{where}: column {doc['name']}: bad pattern ({exc})") from None
    if (doc.get("min") is not None or doc.get("max") is not None) and kind not in ("integer", "number"):
        raise ContractError(f"{where}: column {doc['name']}: min/max need type integer or number")
    codelist = doc.get("codelist")
    return ColumnSpec(
        name=str(doc["name"]),
        type=kind,
        required=bool(doc.get("required", True)),
        nullable=bool(doc.get("nullable", False)),
        codelist=tuple(str(v) for v in codelist) if codelist is not None else None,
        min=float(doc["min"]) if doc.get("min") is not None else None,
        max=float(doc["max"]) if doc.get("max") is not None else None,
        min_exclusive=bool(doc.get("min_exclusive", False)),
        max_exclusive=bool(doc.get("max_exclusive", False)),
        pattern=pattern,
        pattern_message=doc.get("pattern_message"),
    )


def parse_contract(doc: dict, where: str = "<contract>") -> Contract:
    if not isinstance(doc, dict):
        raise ContractError(f"{where}: not a YAML mapping")
    unknown = set(doc) - CONTRACT_KEYS
    if unknown:
        raise ContractError(f"{where}: unknown keys {sorted(unknown)}")
    for key in ("domain", "version", "columns", "record_key"):
        if doc.get(key) is None:
            raise ContractError(f"{where}: missing required key '{key}'")
    columns = tuple(_column(c, where) for c in doc["columns"])
    names = [c.name for c in columns]
    if len(set(names)) != len(names):
        raise ContractError(f"{where}: a column is listed twice")

    def known(cols, what):
        missing = [c for c in cols if c not in names]
        if missing:
            raise ContractError(f"{where}: {what} names unknown columns {missing}")

    record_key = tuple(doc["record_key"])
    known(record_key, "record_key")
    free_text = tuple(doc.get("free_text") or ())
    known(free_text, "free_text")
    rules = []
    for entry in doc.get("rules") or ():
        if not isinstance(entry, dict) or len(entry) != 1:
            raise ContractError(f"{where}: each rule is a one-key mapping {{rule_name: parameters}}, got {entry!r}")
        ((name, params),) = entry.items()
        if name not in R.RULES:
            raise ContractError(f"{where}: unknown rule {name!r}; known: {sorted(R.RULES)}")
        params = dict(params or {})
        try:
            referenced = R.RULE_COLUMNS[name](params)
        except (KeyError, TypeError, ValueError) as exc:
            raise ContractError(f"{where}: rule {name}: missing or malformed parameter ({exc})") from None
        known([c for c in referenced if c != "severity"], f"rule {name}")
        if params.get("severity", R.REJECT) not in (R.REJECT, R.WARNING):
            raise ContractError(f"{where}: rule {name}: severity must be reject or warning")
        rules.append((name, params))
    return Contract(
        domain=str(doc["domain"]),
        version=str(doc["version"]),
        columns=columns,
        record_key=record_key,
        free_text=free_text,
        rules=tuple(rules),
        description=str(doc.get("description", "")),
    )


def load_contract(path: Path) -> Contract:
    path = Path(path)
    doc = read_yaml(path, ContractError, "contract")
    contract = parse_contract(doc, str(path))
    if contract.domain != path.stem:
        raise ContractError(f"{path}: domain {contract.domain} does not match the file name")
    return Contract(**{**contract.__dict__, "path": path})


def load_contracts(folder: Path | None = None) -> dict[str, Contract]:
    """Every ``<DOMAIN>.yml`` in the folder (default: data_contracts/), keyed by domain.

    Only files named after a known domain are contracts; other YAML files in the
    folder (e.g. readiness.yml, the adam expectations) belong to other steps.
    """
    folder = Path(folder or DEFAULT_CONTRACTS_DIR)
    contracts = {d: load_contract(folder / f"{d}.yml") for d in ALL_DOMAINS if (folder / f"{d}.yml").is_file()}
    if not contracts:
        raise ContractError(f"{folder}: no contracts (*.yml)")
    return contracts


# Rules whose checks depend on the transfer's DM subjects (built for every file);
# every other check depends only on the contract, the study and the site.
PER_TRANSFER_RULES = frozenset({R.ORPHAN})
_checks_cache: dict[tuple[int, int, str], tuple[Contract, object, list]] = {}


def _static_checks(contract: Contract, ctx: R.RuleContext) -> list:
    """The checks that do not depend on DM subjects, built once per contract, study
    and site (building polars expressions costs ~10 ms a file; a landing has
    hundreds); a per-transfer rule is left as its (name, params) to build."""
    key = (id(contract), id(ctx.study), ctx.site)
    hit = _checks_cache.get(key)
    if hit is not None and hit[0] is contract and hit[1] is ctx.study:
        return hit[2]
    checks: list = []
    for spec in contract.columns:
        checks.extend(R.column_checks(spec, spec.name in contract.free_text))
    for name, params in contract.rules:
        if name in PER_TRANSFER_RULES:
            checks.append((name, params))
        else:
            checks.extend(R.RULES[name](params, ctx))
    checks.append(R.duplicate_key_check(contract.record_key))
    if len(_checks_cache) > 512:
        _checks_cache.clear()
    _checks_cache[key] = (contract, ctx.study, checks)
    return checks


def row_checks(contract: Contract, ctx: R.RuleContext) -> list[R.RowCheck]:
    """Every row check of a contract, in a stable order."""
    checks: list[R.RowCheck] = []
    for item in _static_checks(contract, ctx):
        if isinstance(item, R.RowCheck):
            checks.append(item)
        else:
            name, params = item
            checks.extend(R.RULES[name](params, ctx))
    return checks


REQUIRED_CHECK_PREFIX = "required:"


def build_schema(contract: Contract, ctx: R.RuleContext, checks: list[R.RowCheck] | None = None):
    """A pandera polars ``DataFrameSchema`` for a frame of the contract's columns
    (all strings, empty = null), and the map from pandera check name to RowCheck.

    Every check is named ``c<n>`` so a pandera failure case maps back to its rule;
    an empty required value is pandera's own ``not_nullable`` failure. ``checks``:
    ``row_checks(contract, ctx)`` when the caller has them already.
    """
    import pandera.polars as pa
    import polars as pl

    checks = row_checks(contract, ctx) if checks is None else checks
    by_name = {f"c{i}": check for i, check in enumerate(checks)}

    def make(name: str, check: R.RowCheck):
        expr = check.ok.alias("ok")
        return pa.Check(lambda data, e=expr: data.lazyframe.select(e), name=name, ignore_na=False)

    column_checks: dict[str, list] = {c: [] for c in contract.column_names}
    frame_checks = []
    for name, check in by_name.items():
        if check.column_level:
            column_checks[check.column].append(make(name, check))
        else:
            frame_checks.append(make(name, check))
    columns = {
        spec.name: pa.Column(pl.String, nullable=spec.nullable, checks=column_checks[spec.name])
        for spec in contract.columns
    }
    schema = pa.DataFrameSchema(columns, checks=frame_checks, strict=False, name=contract.domain)
    return schema, by_name
