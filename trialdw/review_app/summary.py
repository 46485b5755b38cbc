"""The figures at the top of the page and the short markdown for the run artifact."""

from __future__ import annotations

from dataclasses import asdict, dataclass

from trialdw.review_app.changes import NEW, RESOLVED


def site_key(row: dict) -> str:
    """A site is only unique within its study (site 101 may exist in two studies)."""
    return f"{row['STUDYID']}/{row['SITEID']}"


def site_label(key: str) -> str:
    study, site = key.split("/", 1)
    return f"{study} · site {site}"


@dataclass(frozen=True)
class Counts:
    open_reject: int
    open_warning: int
    new: int
    resolved_since: int
    resolved_total: int

    @property
    def open(self) -> int:
        return self.open_reject + self.open_warning

    def as_dict(self) -> dict:
        return {**asdict(self), "open": self.open}


def count_findings(findings: list[dict]) -> Counts:
    def n(**where) -> int:
        return sum(1 for f in findings if all(f[k] == v for k, v in where.items()))

    return Counts(
        open_reject=n(STATUS="open", SEVERITY="reject"),
        open_warning=n(STATUS="open", SEVERITY="warning"),
        new=n(CHANGE=NEW),
        resolved_since=n(CHANGE=RESOLVED),
        resolved_total=n(STATUS="resolved"),
    )


def md_cell(text) -> str:
    """Site ids come from folder names: keep them from breaking the table or becoming markup."""
    return str(text).replace("\\", "\\\\").replace("|", "\\|").replace("<", "&lt;").replace(">", "&gt;")


def markdown_summary(findings: list[dict], transfers: list[dict], counts: Counts, basis: str) -> str:
    """A few lines for the Prefect run artifact; the page has the detail."""
    lines = [
        "## Data review",
        "",
        f"- open findings: {counts.open} ({counts.open_reject} reject, {counts.open_warning} warning)",
        f"- new since last run: {counts.new}; resolved since last run: {counts.resolved_since} ({basis})",
        f"- rejected transfers: {sum(1 for t in transfers if t['STATUS'] == 'rejected')}",
        "- page: `review.html`, spreadsheet: `findings.csv` (in the reports folder)",
    ]
    sites = sorted({site_key(f) for f in findings if f["STATUS"] == "open" or f["CHANGE"]})
    if sites:
        lines += [
            "",
            "| study | site | open reject | open warning | new | resolved since last run |",
            "|---|---|---:|---:|---:|---:|",
        ]
        for key in sites:
            mine = [f for f in findings if site_key(f) == key]
            c = count_findings(mine)
            study, site = key.split("/", 1)
            lines.append(
                f"| {md_cell(study)} | {md_cell(site)} | {c.open_reject} | {c.open_warning} "
                f"| {c.new} | {c.resolved_since} |"
            )
    return "\n".join(lines) + "\n"
