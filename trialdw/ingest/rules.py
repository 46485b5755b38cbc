"""The row-rule vocabulary: every rule a data contract can name, implemented once.

A rule turns into one or more ``RowCheck``s: a polars expression that is True
where a row passes (never null), the column a finding names (the *dependent*
column, e.g. AEENDTC for an end before its start), and a per-row message a data
manager understands. ``contracts.build_schema`` wraps them in pandera checks.

Column-level rules come from the column's own keys (``type``, ``codelist``,
``min``/``max``, ``pattern``, ``nullable``); cross-field and study-dependent rules
are listed under ``rules:`` in the contract (see data_contracts/README.md).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import polars as pl

REJECT = "reject"
WARNING = "warning"

INTEGER_RE = r"^-?\d+$"
NUMBER_RE = r"^-?\d+(\.\d+)?([eE][+-]?\d+)?$"
DATE_RE = r"^\d{4}-\d{2}-\d{2}$"
PARTIAL_DATE_RE = r"^\d{4}(-\d{2}(-\d{2})?)?$"
# UTF-8 text decoded as Windows-1252/Latin-1: a lead byte shown as Â, Ã or â followed
# by a continuation byte shown as a C1/Latin-1 punctuation character (â‰¥, â€™, Ã©),
# or the replacement character left by a lossy conversion.
MOJIBAKE_RE = r"[ÂÃâ][\x{80}-\x{BF}€‚ƒ„…†‡ˆ‰Š‹ŒŽ‘’“”•–—˜™š›œžŸ]|\x{FFFD}"


@dataclass(frozen=True)
class RuleContext:
    """What a rule may depend on besides the row: the study, the site folder and
    the subjects with an accepted DM row in the same transfer."""

    study: object  # trialdw.config.StudyConfig
    site: str
    dm_subjects: frozenset[str] | None = None


@dataclass(frozen=True)
class RowCheck:
    rule: str
    column: str  # the column the finding names
    ok: pl.Expr  # True where the row passes; never null
    message: pl.Expr  # evaluated on failing rows only
    severity: str = REJECT
    column_level: bool = False  # attach to the pandera Column (single-column rules)
    value: pl.Expr | None = None  # what VALUE shows; the column's value by default

    @property
    def value_expr(self) -> pl.Expr:
        return self.value if self.value is not None else pl.col(self.column)


def _q(column: str) -> pl.Expr:
    """A value quoted for messages; empty shows as (empty)."""
    return pl.format("'{}'", pl.col(column)).fill_null(pl.lit("(empty)"))


def _lit(text: str) -> pl.Expr:
    return pl.lit(text, dtype=pl.String)


def _passes(failing: pl.Expr) -> pl.Expr:
    """Rows where ``failing`` is null (a value it needs is missing) pass: the missing
    value is the business of the ``required`` check, not of this rule."""
    return (~failing).fill_null(True)


def complete_date(column: str) -> pl.Expr:
    """The value as a DATE when it is a real calendar date YYYY-MM-DD, else null."""
    c = pl.col(column)
    return pl.when(c.str.contains(DATE_RE)).then(c.str.to_date("%Y-%m-%d", strict=False))


def valid_partial_date(column: str) -> pl.Expr:
    """True for YYYY, YYYY-MM (month 01-12) and real YYYY-MM-DD dates."""
    c = pl.col(column)
    as_month = pl.concat_str([c, _lit("-01")]).str.to_date("%Y-%m-%d", strict=False)
    return (
        pl.when(~c.str.contains(PARTIAL_DATE_RE))
        .then(False)
        .when(c.str.len_chars() == 4)
        .then(True)
        .when(c.str.len_chars() == 7)
        .then(as_month.is_not_null())
        .otherwise(c.str.to_date("%Y-%m-%d", strict=False).is_not_null())
    )


def as_number(column: str) -> pl.Expr:
    return pl.when(pl.col(column).str.contains(NUMBER_RE)).then(pl.col(column).cast(pl.Float64, strict=False))


def _condition(mapping: dict) -> tuple[pl.Expr, str]:
    """``{COL: value}`` or ``{COL: [v1, v2]}`` (all keys must hold) → expr, text."""
    exprs, words = [], []
    for column, value in mapping.items():
        values = [str(v) for v in value] if isinstance(value, list) else [str(value)]
        exprs.append(pl.col(column).is_in(values))
        words.append(f"{column} is {' or '.join(values)}")
    expr = exprs[0]
    for e in exprs[1:]:
        expr = expr & e
    return expr.fill_null(False), " and ".join(words)


def _listing(values, limit: int = 8) -> str:
    values = [str(v) for v in values]
    shown = ", ".join(values[:limit])
    return shown + (f", … ({len(values)} values)" if len(values) > limit else "")


# --- column-level rules (from a column's own keys) -------------------------------


def column_checks(spec, free_text: bool) -> list[RowCheck]:
    """Checks for one column of a contract (``spec`` is a contracts.ColumnSpec).

    ``required`` (empty value) is pandera's own ``nullable=False``; it is mapped to
    the rule name ``required`` in rows.py.
    """
    name = spec.name
    c = pl.col(name)
    # A value with stray spaces gets the whitespace finding only: one defect, one
    # finding ("'N ' has trailing spaces", not also "'N ' is not in the codelist").
    spaced = (c != c.str.strip_chars()).fill_null(False)
    checks = [
        RowCheck(
            "whitespace",
            name,
            _passes(c != c.str.strip_chars()),
            pl.format("{} {} has leading or trailing spaces", _lit(name), _q(name)),
            column_level=True,
        )
    ]
    type_ok = None
    if spec.type == "integer":
        type_ok = c.str.contains(INTEGER_RE)
        what = "an integer"
    elif spec.type == "number":
        type_ok = c.str.contains(NUMBER_RE)
        what = "a number (digits, '.' as decimal mark)"
    elif spec.type == "date":
        type_ok = complete_date(name).is_not_null()
        what = "a date YYYY-MM-DD"
    elif spec.type == "partial_date":
        type_ok = valid_partial_date(name)
        what = "a date YYYY-MM-DD, YYYY-MM or YYYY"
    if type_ok is not None:
        message = pl.format("{} {} is not {}", _lit(name), _q(name), _lit(what))
        if spec.type == "date":
            message = (
                pl.when(valid_partial_date(name))
                .then(
                    pl.format("{} {} is a partial date; a complete date YYYY-MM-DD is required", _lit(name), _q(name))
                )
                .otherwise(message)
            )
        checks.append(
            RowCheck(
                "type",
                name,
                pl.when(c.is_null() | spaced).then(True).otherwise(type_ok).fill_null(False),
                message,
                column_level=True,
            )
        )
    if spec.codelist is not None:
        checks.append(
            RowCheck(
                "codelist",
                name,
                _passes(~c.is_in(list(spec.codelist)) & ~spaced),
                pl.format("{} {} is not one of: {}", _lit(name), _q(name), _lit(_listing(spec.codelist))),
                column_level=True,
            )
        )
    if spec.min is not None or spec.max is not None:
        value = as_number(name)
        too_low = pl.lit(False)
        too_high = pl.lit(False)
        if spec.min is not None:
            too_low = value <= spec.min if spec.min_exclusive else value < spec.min
        if spec.max is not None:
            too_high = value >= spec.max if spec.max_exclusive else value > spec.max
        checks.append(
            RowCheck(
                "range",
                name,
                _passes(too_low | too_high),
                pl.format("{} {} is outside the allowed range {}", _lit(name), _q(name), _lit(spec.range_text)),
                column_level=True,
            )
        )
    if spec.pattern is not None:
        hint = spec.pattern_message or f"the pattern {spec.pattern}"
        checks.append(
            RowCheck(
                "pattern",
                name,
                _passes(~c.str.contains(f"^(?:{spec.pattern})$") & ~spaced),
                pl.format("{} {} does not match {}", _lit(name), _q(name), _lit(hint)),
                column_level=True,
            )
        )
    if free_text:
        checks.append(
            RowCheck(
                "mojibake",
                name,
                _passes(c.str.contains(MOJIBAKE_RE)),
                pl.format(
                    "{} {} looks like mis-decoded text (mojibake); check the site's export encoding",
                    _lit(name),
                    _q(name),
                ),
                severity=WARNING,
                column_level=True,
            )
        )
    return checks


# --- cross-field and study-dependent rules (the ``rules:`` list) -----------------

RuleBuilder = Callable[[dict, RuleContext], list[RowCheck]]
RULES: dict[str, RuleBuilder] = {}
# Columns each rule's parameters refer to, so a contract can be checked when loaded.
RULE_COLUMNS: dict[str, Callable[[dict], list[str]]] = {}


def rule(name: str, columns: Callable[[dict], list[str]]):
    def register(builder: RuleBuilder) -> RuleBuilder:
        RULES[name] = builder
        RULE_COLUMNS[name] = columns
        return builder

    return register


def _severity(p: dict) -> str:
    return p.get("severity", REJECT)


@rule("not_before", lambda p: [p["column"], p["after"]])
def _not_before(p: dict, ctx: RuleContext) -> list[RowCheck]:
    """``column`` may not be before ``after``; only checked when both are complete dates."""
    col, after = p["column"], p["after"]
    return [
        RowCheck(
            "not_before",
            col,
            _passes(complete_date(col) < complete_date(after)),
            pl.format("{} {} is before {} {}", _lit(col), pl.col(col), _lit(after), pl.col(after)),
            severity=_severity(p),
        )
    ]


@rule("not_above", lambda p: [p["column"], p["limit"]])
def _not_above(p: dict, ctx: RuleContext) -> list[RowCheck]:
    """Numeric ``column`` ≤ ``limit`` (e.g. LBSTNRLO ≤ LBSTNRHI) when both are numbers."""
    col, limit = p["column"], p["limit"]
    return [
        RowCheck(
            "not_above",
            col,
            _passes(as_number(col) > as_number(limit)),
            pl.format("{} {} is above {} {}", _lit(col), pl.col(col), _lit(limit), pl.col(limit)),
            severity=_severity(p),
        )
    ]


@rule("iff", lambda p: [p["column"], p["other_present"]])
def _iff(p: dict, ctx: RuleContext) -> list[RowCheck]:
    """``column`` = ``value`` exactly when ``other_present`` has a value (DTHFL Y ⇔ DTHDTC)."""
    col, value, other = p["column"], str(p["value"]), p["other_present"]
    flagged = (pl.col(col) == value).fill_null(False)
    present = pl.col(other).is_not_null()
    return [
        RowCheck(
            "iff",
            other,
            ~(flagged & ~present),
            pl.format("{} is {} but {} is empty", _lit(col), _lit(value), _lit(other)),
            severity=_severity(p),
        ),
        RowCheck(
            "iff",
            col,
            ~(~flagged & present),
            pl.format(
                "{} is {} but {} is {} (must be {} when {} is present)",
                _lit(other),
                pl.col(other),
                _lit(col),
                _q(col),
                _lit(value),
                _lit(other),
            ),
            severity=_severity(p),
        ),
    ]


@rule("equivalent", lambda p: [*p["if"], *p["then"]])
def _equivalent(p: dict, ctx: RuleContext) -> list[RowCheck]:
    """``if`` holds exactly when ``then`` holds, checked in both directions; the
    finding names the column that disagrees with the other one."""
    ((a, a_value),) = p["if"].items()
    ((b, b_value),) = p["then"].items()
    a_holds = (pl.col(a) == str(a_value)).fill_null(False)
    b_holds = (pl.col(b) == str(b_value)).fill_null(False)
    return [
        RowCheck(
            "equivalent",
            b,
            ~(a_holds & ~b_holds),
            pl.format(
                "{} is {} but {} is {} (must be {})", _lit(a), _lit(str(a_value)), _lit(b), _q(b), _lit(str(b_value))
            ),
            severity=_severity(p),
        ),
        RowCheck(
            "equivalent",
            a,
            ~(b_holds & ~a_holds),
            pl.format(
                "{} is {} but {} is {} (must be {})", _lit(b), _lit(str(b_value)), _lit(a), _q(a), _lit(str(a_value))
            ),
            severity=_severity(p),
        ),
    ]


@rule("usubjid_parts", lambda p: [p.get("usubjid", "USUBJID"), *p.get("parts", ["STUDYID", "SITEID", "SUBJID"])])
def _usubjid_parts(p: dict, ctx: RuleContext) -> list[RowCheck]:
    """USUBJID = STUDYID-SITEID-SUBJID (checked when all parts are present)."""
    usubjid = p.get("usubjid", "USUBJID")
    parts = p.get("parts", ["STUDYID", "SITEID", "SUBJID"])
    expected = pl.concat_str([pl.col(x) for x in parts], separator="-")
    return [
        RowCheck(
            "usubjid_parts",
            usubjid,
            _passes(pl.col(usubjid) != expected),
            pl.format("{} {} does not equal {} ({})", _lit(usubjid), pl.col(usubjid), _lit("-".join(parts)), expected),
            severity=_severity(p),
        )
    ]


@rule("matches_transfer", lambda p: list(p))
def _matches_transfer(p: dict, ctx: RuleContext) -> list[RowCheck]:
    """A column must equal the transfer folder's study or site: ``{STUDYID: study, SITEID: site}``."""
    checks = []
    for column, what in p.items():
        if column == "severity":
            continue
        expected = ctx.study.study if what == "study" else ctx.site
        checks.append(
            RowCheck(
                "matches_transfer",
                column,
                _passes(pl.col(column) != expected),
                pl.format(
                    "{} {} does not match the transfer folder's {} {}",
                    _lit(column),
                    pl.col(column),
                    _lit(what),
                    _lit(expected),
                ),
                severity=_severity(p),
            )
        )
    return checks


@rule("study_arm", lambda p: [p.get("armcd", "ARMCD"), p.get("arm", "ARM")])
def _study_arm(p: dict, ctx: RuleContext) -> list[RowCheck]:
    """ARMCD must be an arm of the study configuration, and ARM that arm's name."""
    armcd_col, arm_col = p.get("armcd", "ARMCD"), p.get("arm", "ARM")
    names = {a.armcd: a.arm for a in ctx.study.arms}
    listing = _listing([f"{a.armcd} = {a.arm}" for a in ctx.study.arms])
    return [
        RowCheck(
            "study_arm",
            armcd_col,
            _passes(~pl.col(armcd_col).is_in(list(names))),
            pl.format(
                "{} {} is not an arm of study {} ({})",
                _lit(armcd_col),
                _q(armcd_col),
                _lit(ctx.study.study),
                _lit(listing),
            ),
            severity=_severity(p),
        ),
        RowCheck(
            "study_arm",
            arm_col,
            _passes(
                pl.col(armcd_col).is_in(list(names))
                & (pl.col(arm_col) != pl.col(armcd_col).replace_strict(names, default=None))
            ),
            pl.format(
                "{} {} is not the name of arm {} in study {} ({})",
                _lit(arm_col),
                _q(arm_col),
                pl.col(armcd_col),
                _lit(ctx.study.study),
                _lit(listing),
            ),
            severity=_severity(p),
        ),
    ]


@rule("positive_unless_placebo", lambda p: [p["column"], p["treatment"]])
def _positive_unless_placebo(p: dict, ctx: RuleContext) -> list[RowCheck]:
    """A dose is > 0, except for a treatment the study configures as placebo (dose 0)."""
    col, trt = p["column"], p["treatment"]
    placebo = list(ctx.study.placebo_names)
    return [
        RowCheck(
            "positive_unless_placebo",
            col,
            _passes((as_number(col) <= 0) & ~pl.col(trt).is_in(placebo)),
            pl.format(
                "{} {} is not > 0 for {} {} (only a placebo may have dose 0)",
                _lit(col),
                _q(col),
                _lit(trt),
                pl.col(trt),
            ),
            severity=_severity(p),
        )
    ]


@rule("in_study_treatments", lambda p: [p["column"]])
def _in_study_treatments(p: dict, ctx: RuleContext) -> list[RowCheck]:
    """The column (EXTRT) must name one of the study's configured treatments."""
    col = p["column"]
    names = list(ctx.study.treatment_names)
    return [
        RowCheck(
            "in_study_treatments",
            col,
            _passes(~pl.col(col).is_in(names)),
            pl.format(
                "{} {} is not a treatment of study {} ({})",
                _lit(col),
                _q(col),
                _lit(ctx.study.study),
                _lit(", ".join(names)),
            ),
            severity=_severity(p),
        )
    ]


@rule("empty_when", lambda p: [p["column"], *p["when"]])
def _empty_when(p: dict, ctx: RuleContext) -> list[RowCheck]:
    col = p["column"]
    cond, words = _condition(p["when"])
    return [
        RowCheck(
            "empty_when",
            col,
            ~(cond & pl.col(col).is_not_null()),
            pl.format("{} must be empty when {} (got {})", _lit(col), _lit(words), _q(col)),
            severity=_severity(p),
        )
    ]


@rule("present_unless", lambda p: [p["column"], *p["unless"]])
def _present_unless(p: dict, ctx: RuleContext) -> list[RowCheck]:
    col = p["column"]
    cond, words = _condition(p["unless"])
    return [
        RowCheck(
            "present_unless",
            col,
            ~(~cond & pl.col(col).is_null()),
            pl.format("{} is empty; it is required unless {}", _lit(col), _lit(words)),
            severity=_severity(p),
        )
    ]


@rule("pattern_by_value", lambda p: [p["column"], p["by"]])
def _pattern_by_value(p: dict, ctx: RuleContext) -> list[RowCheck]:
    """The column must match the pattern given for the value of ``by``; values of
    ``by`` without a pattern are not checked here."""
    col, by = p["column"], p["by"]
    failing = pl.lit(False)
    expected = pl.lit(None, dtype=pl.String)
    for value, pattern in p["patterns"].items():
        hit = pl.col(by) == str(value)
        failing = pl.when(hit).then(~pl.col(col).str.contains(f"^(?:{pattern})$")).otherwise(failing)
        expected = pl.when(hit).then(_lit(pattern)).otherwise(expected)
    return [
        RowCheck(
            "pattern_by_value",
            col,
            _passes(failing),
            pl.format("{} {} does not match {} for {} {}", _lit(col), _q(col), expected, _lit(by), pl.col(by)),
            severity=_severity(p),
        )
    ]


@rule("codelist_by_value", lambda p: [p["column"], p["by"]])
def _codelist_by_value(p: dict, ctx: RuleContext) -> list[RowCheck]:
    """The column's allowed values depend on ``by`` (SCORRES by SCTESTCD); values of
    ``by`` not listed are open (e.g. PRIORSYS)."""
    col, by = p["column"], p["by"]
    failing = pl.lit(False)
    allowed_text = pl.lit(None, dtype=pl.String)
    for value, allowed in p["values"].items():
        allowed = [str(a) for a in allowed]
        hit = pl.col(by) == str(value)
        failing = pl.when(hit).then(~pl.col(col).is_in(allowed)).otherwise(failing)
        allowed_text = pl.when(hit).then(_lit(_listing(allowed))).otherwise(allowed_text)
    return [
        RowCheck(
            "codelist_by_value",
            col,
            _passes(failing),
            pl.format(
                "{} {} is not allowed for {} {} (allowed: {})", _lit(col), _q(col), _lit(by), pl.col(by), allowed_text
            ),
            severity=_severity(p),
        )
    ]


ORPHAN = "orphan"


@rule(ORPHAN, lambda p: [p.get("column", "USUBJID")])
def _orphan(p: dict, ctx: RuleContext) -> list[RowCheck]:
    """The subject must have an accepted DM row in the same transfer (DM is
    validated first; ``ctx.dm_subjects`` holds its loaded USUBJIDs).

    Every failing row is quarantined with this rule, but rows.py does not make a
    finding per row: it makes one root-cause finding per subject
    (``orphan_subject``), naming why its DM row is missing and what it holds back."""
    col = p.get("column", "USUBJID")
    subjects = sorted(ctx.dm_subjects or ())
    return [
        RowCheck(
            ORPHAN,
            col,
            _passes(~pl.col(col).is_in(subjects)),
            pl.format("{} {} has no accepted DM row in this transfer", _lit(col), pl.col(col)),
            severity=_severity(p),
        )
    ]


# Filled by row validation from a whole-file pass (rows.duplicate_lines): for a row
# whose record key is shared, the lines of every row sharing it ("5, 9 and 12").
DUPLICATE_LINES = "_duplicate_lines"


def duplicate_key_check(key: tuple[str, ...]) -> RowCheck:
    """Every row whose record key is shared with another row (all of them, not the
    second one only: the site must say which is right), naming all their lines.

    Whether a key is shared is a question about the whole file, not one batch, so
    it is answered beforehand (``DUPLICATE_LINES``); this check only reads it."""
    joined = pl.concat_str([pl.col(k).fill_null("") for k in key], separator="|")
    return RowCheck(
        "duplicate_key",
        ",".join(key),
        pl.col(DUPLICATE_LINES).is_null(),
        pl.format("record key {} = {} appears on lines {}", _lit(", ".join(key)), joined, pl.col(DUPLICATE_LINES)),
        value=joined,
    )
