"""The bad-input corpus: the data managers' catalogue of what sites get wrong.

Every kind is one row of CASES: what to write on disk, the exact findings it must
produce (file, line, column, value, rule, severity) and what must be loaded. Each
case runs the real thing: a clean transfer T1 of the site first, then the
defective transfer into a real DuckDB file with ``ingest_landing`` (as the flow
does), and then it checks, from the database:

- nothing crashed, and the findings of the defective transfer are exactly the
  expected ones (``audit.finding_occurrences`` joined to ``audit.findings``);
- a *rejected* transfer loaded nothing (no raw rows, no reconciliation) and T1
  stays the site's CURRENT transfer;
- an *accepted* one reconciles per domain: sent = loaded + quarantined, counted
  in raw.<domain> and audit.quarantine, with the expected numbers.

The catalogue with one line per kind is in docs/data-contracts.md ("Bad-input
corpus"). Kinds that need more than one run (incomplete transfer, permissions,
a fix across transfers) are the tests after the table.
"""

from __future__ import annotations

import errno
import os
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import duckdb
import pytest

from tests.helpers.transfers import (
    SITE,
    STUDY,
    ae_row,
    base_files,
    csv_text,
    dm_row,
    ex_row,
    lb_row,
    study_config,
    write_transfer,
)
from trialdw.ingest import ingest_landing, load_contracts

T1, T2, T3 = "20250301T020000Z", "20250401T020000Z", "20250501T020000Z"
S1, S2 = f"{STUDY}-{SITE}-001", f"{STUDY}-{SITE}-002"
CLEAN = {"DM": (2, 2, 0), "AE": (2, 2, 0), "EX": (2, 2, 0), "TR": (4, 4, 0), "LB": (2, 2, 0)}
REJECTED = None


# --- how a case writes its transfer -------------------------------------------------


def sent(
    tid: str = T2, *, files: dict | None = None, manifest_edit=None, after=None, study: str = STUDY, site: str = SITE
) -> Callable[[Path], None]:
    """Write the clean base transfer with ``files`` replaced (None value = file left
    out), a correct manifest (``manifest_edit`` may break it), then ``after(folder,
    landing)`` may damage the folder behind the manifest's back."""

    def write(landing: Path) -> None:
        content = {**base_files(), **(files or {})}
        content = {k: v for k, v in content.items() if v is not None}
        folder = write_transfer(landing, tid, content, study=study, site=site, manifest_edit=manifest_edit)
        if after:
            after(folder, landing)

    return write


def ae(*rows) -> dict:
    return {"AE.csv": csv_text(list(rows))}


def crlf(text: str) -> str:
    return text.replace("\n", "\r\n")


def rewrite(name: str, content: str | bytes):
    def after(folder: Path, landing: Path) -> None:
        (folder / name).write_bytes(content.encode("utf-8") if isinstance(content, str) else content)

    return after


def drop_manifest_field(field_name: str):
    return lambda m: {k: v for k, v in m.items() if k != field_name}


def move_into_subfolder(folder: Path, landing: Path) -> None:
    (folder / "sub").mkdir()
    (folder / "AE.csv").rename(folder / "sub" / "AE.csv")


def relist(old: str, new: str):
    def edit(m):
        m["files"][new] = m["files"].pop(old)

    return edit


def symlink_outside(name: str):
    """Replace ``name`` by a symbolic link to a trip-wired FIFO outside the transfer."""

    def after(folder: Path, landing: Path) -> None:
        (folder / name).unlink()
        os.symlink(landing.parent / "outside" / "secret.csv", folder / name)

    return after


def wrong_separator(text: str) -> str:
    return text.replace(",", ";")


# --- the corpus ---------------------------------------------------------------------


@dataclass(frozen=True)
class Case:
    kind: str
    write: Callable[[Path], None]
    findings: set  # {(file, line, column, value, rule, severity)}
    loaded: dict | None = field(
        default_factory=dict
    )  # domain → (sent, loaded, quarantined) unlike CLEAN; None = rejected
    where: tuple[str, str, str] = (STUDY, SITE, T2)
    message: str | None = None  # text the (first) finding's message must contain
    # (file, line) of rows held back as orphans: quarantined with rule orphan, their
    # finding is the subject's one orphan_subject root cause (not one per row).
    orphans: frozenset = frozenset()


def F(file, rule, *, line=None, column=None, value=None, severity="reject"):
    return (file, line, column, value, rule, severity)


TRANSFER_CASES = [
    Case(
        "checksum mismatch",
        sent(after=rewrite("DM.csv", csv_text([dm_row("001"), dm_row("002", AGE="65")]))),
        {F("DM.csv", "checksum")},
        REJECTED,
        message="DM.csv sha256 is ",
    ),
    Case(
        "row-count mismatch",
        sent(manifest_edit=lambda m: m["files"]["AE.csv"].update(rows=3)),
        {F("AE.csv", "row_count", value="2")},
        REJECTED,
        message="AE.csv has 2 records, manifest.json says 3",
    ),
    Case(
        "listed file missing",
        sent(after=lambda folder, _: (folder / "LB.csv").unlink()),
        {F("LB.csv", "file_missing")},
        REJECTED,
    ),
    Case(
        "unlisted file present", sent(after=rewrite("notes.txt", "hello")), {F("notes.txt", "file_unlisted")}, REJECTED
    ),
    Case(
        "manifest not valid JSON",
        sent(after=rewrite("manifest.json", '{"study": "HCC-TEST",')),
        {F("manifest.json", "manifest_json")},
        REJECTED,
    ),
    Case(
        "manifest missing a field",
        sent(manifest_edit=drop_manifest_field("exported_at")),
        {F("manifest.json", "manifest_fields")},
        REJECTED,
        message="lacks the field(s) exported_at",
    ),
    Case(
        "manifest entry without a usable sha256/rows",
        sent(manifest_edit=lambda m: m["files"]["LB.csv"].update(rows="2")),
        {F("manifest.json", "manifest_fields")},
        REJECTED,
        message="'LB.csv'",
    ),
    # Three disagreements share one identity (study + site + file + rule): one finding naming all three.
    Case(
        "manifest disagrees with its folder (study, site, transfer id)",
        sent(manifest_edit=lambda m: {**m, "study": "HCC-X", "site": "102", "transfer_id": T3}),
        {F("manifest.json", "manifest_mismatch", column="study,site,transfer_id", value=f"HCC-X; 102; {T3}")},
        REJECTED,
        message="manifest.json says study 'HCC-X' but the folder is 'HCC-TEST'; manifest.json says site",
    ),
    Case(
        "missing required column (names are case-sensitive)",
        sent(files={"EX.csv": base_files()["EX.csv"].replace("EXDOSE", "exdose", 1)}),
        {F("EX.csv", "missing_column", column="EXDOSE")},
        REJECTED,
        message="(header has 'exdose'",
    ),
    Case(
        "header repeats a column",
        sent(files={"LB.csv": base_files()["LB.csv"].replace("VISIT", "LBDTC", 1)}),
        {F("LB.csv", "duplicate_column"), F("LB.csv", "column_absent", column="VISIT", severity="warning")},
        REJECTED,
    ),
    Case(
        "not UTF-8 (Latin-1 é)",
        sent(files={"AE.csv": base_files()["AE.csv"].replace("Nausea,Nausea", "Nausée,Nausea", 1).encode("latin-1")}),
        {F("AE.csv", "encoding")},
        REJECTED,
        message="byte 0xE9 on line 2",
    ),
    Case(
        "truncated: unterminated quote",
        sent(files={"AE.csv": base_files()["AE.csv"] + f'{S1},2,"Vomiting\n'}),
        {F("AE.csv", "truncated")},
        REJECTED,
        message="the quoted field opened on line 4 is never closed",
    ),
    Case(
        "truncated: short last record",
        sent(files={"AE.csv": base_files()["AE.csv"] + f"{S1},2,Vomiting"}),
        {F("AE.csv", "truncated")},
        REJECTED,
        message="the last record (line 4) has 3 fields, the header has 12",
    ),
    Case(
        "unquoted comma in a value (a record too wide)",
        sent(files={"AE.csv": base_files()["AE.csv"].replace("POSSIBLY RELATED", "POSSIBLY, RELATED", 1)}),
        {F("AE.csv", "field_count")},
        REJECTED,
        message="AE.csv line 2 has 13 fields, the header has 12",
    ),
    Case(
        "NUL byte in a file",
        sent(files={"LB.csv": base_files()["LB.csv"].replace("SCREENING", "SCREEN\x00ING", 1)}),
        {F("LB.csv", "csv_syntax")},
        REJECTED,
        message="LB.csv line 2 contains a NUL byte",
    ),
    Case("empty file (0 bytes)", sent(files={"LB.csv": ""}), {F("LB.csv", "empty_file")}, REJECTED),
    Case(
        "another separator (;)",
        sent(files={"LB.csv": wrong_separator(base_files()["LB.csv"])}),
        {F("LB.csv", "separator")},
        REJECTED,
        message="LB.csv uses semicolon as separator",
    ),
    Case(
        "manifest entry ../DM.csv (outside the folder)",
        sent(manifest_edit=relist("DM.csv", "../DM.csv")),
        # DM.csv is now in the folder but not listed, and "../DM.csv" (a trip-wired FIFO) is never opened.
        {F("../DM.csv", "unsafe_path", value="../DM.csv"), F("DM.csv", "file_unlisted"), F("DM.csv", "file_missing")},
        REJECTED,
    ),
    Case(
        "manifest entry with a sub-path",
        sent(manifest_edit=relist("AE.csv", "sub/AE.csv"), after=move_into_subfolder),
        {
            F("sub/AE.csv", "unsafe_path", value="sub/AE.csv"),
            F("sub", "file_unlisted"),
            F("AE.csv", "domain_absent", severity="warning"),
        },
        REJECTED,
        message="folder sub is in the transfer folder",
    ),
    Case(
        "symbolic link to a file outside the transfer",
        sent(after=symlink_outside("LB.csv")),
        {F("LB.csv", "symlink")},
        REJECTED,
        message="LB.csv is a symbolic link; it is not followed",
    ),
    Case(
        "manifest.json is a symbolic link",
        sent(after=symlink_outside("manifest.json")),
        {F("manifest.json", "symlink")},
        REJECTED,
    ),
    Case(
        "DM.csv not sent",
        sent(files={"DM.csv": None}),
        {F("DM.csv", "file_missing")},
        REJECTED,
        message="every other domain depends on it",
    ),
    Case(
        "file name not a domain of the study (ae.csv)",
        sent(manifest_edit=relist("AE.csv", "ae.csv"), after=lambda f, _: (f / "AE.csv").rename(f / "ae.csv")),
        {F("ae.csv", "unknown_file"), F("AE.csv", "domain_absent", severity="warning")},
        REJECTED,
    ),
    Case(
        "badly named transfer folder",
        sent("latest"),
        {F("(transfer)", "folder_name")},
        REJECTED,
        where=(STUDY, SITE, "latest"),
    ),
    Case(
        "study folder not configured",
        sent(study="HCC-OTHER"),
        {F("(transfer)", "study_not_configured")},
        REJECTED,
        where=("HCC-OTHER", SITE, T2),
    ),
]

ROW_CASES = [
    Case(
        "bad code",
        sent(files=ae(ae_row(S1, 1, AESER="X"), ae_row(S2, 1))),
        {F("AE.csv", "codelist", line=2, column="AESER", value="X")},
        {"AE": (2, 1, 1)},
        message="AESER 'X' is not one of: Y, N",
    ),
    Case(
        "out-of-range grade (AETOXGR 6)",
        sent(files=ae(ae_row(S1, 1), ae_row(S2, 1, AETOXGR="6"))),
        {F("AE.csv", "codelist", line=3, column="AETOXGR", value="6")},
        {"AE": (2, 1, 1)},
    ),
    Case(
        "grade 5 without FATAL outcome",
        sent(files=ae(ae_row(S1, 1, AETOXGR="5"), ae_row(S2, 1))),
        {F("AE.csv", "equivalent", line=2, column="AEOUT", value="RECOVERED/RESOLVED")},
        {"AE": (2, 1, 1)},
        message="AETOXGR is 5 but AEOUT is 'RECOVERED/RESOLVED' (must be FATAL)",
    ),
    Case(
        "impossible date (2025-02-30)",
        sent(files={"EX.csv": csv_text([ex_row(S1, 1, EXSTDTC="2025-02-30"), ex_row(S2, 1)])}),
        {F("EX.csv", "type", line=2, column="EXSTDTC", value="2025-02-30")},
        {"EX": (2, 1, 1)},
    ),
    Case(
        "wrongly formatted date (01/02/2025)",
        sent(files={"LB.csv": csv_text([lb_row(S1, "AFP", "2025-01-05"), lb_row(S2, "AFP", "01/02/2025")])}),
        {F("LB.csv", "type", line=3, column="LBDTC", value="01/02/2025")},
        {"LB": (2, 1, 1)},
        message="LBDTC '01/02/2025' is not a date YYYY-MM-DD",
    ),
    Case(
        "partial date where not allowed (EXSTDTC 2025-03)",
        sent(files={"EX.csv": csv_text([ex_row(S1, 1), ex_row(S2, 1, EXSTDTC="2025-03")])}),
        {F("EX.csv", "type", line=3, column="EXSTDTC", value="2025-03")},
        {"EX": (2, 1, 1)},
        message="is a partial date; a complete date YYYY-MM-DD is required",
    ),
    Case(
        "partial date where allowed (AESTDTC 2025-02) is fine",
        sent(files=ae(ae_row(S1, 1, AESTDTC="2025-02"), ae_row(S2, 1, AESTDTC="2025"))),
        set(),
    ),
    Case(
        "USUBJID disagreeing with its parts",
        sent(files={"DM.csv": csv_text([dm_row("001"), dm_row("002"), dm_row("003", USUBJID=f"{STUDY}-{SITE}-030")])}),
        {F("DM.csv", "usubjid_parts", line=4, column="USUBJID", value=f"{STUDY}-{SITE}-030")},
        {"DM": (3, 2, 1)},
    ),
    Case(
        "duplicate --SEQ (every row sharing the key)",
        sent(files=ae(ae_row(S1, 1), ae_row(S1, 1, AETERM="Vomiting"), ae_row(S2, 1))),
        {
            F("AE.csv", "duplicate_key", line=2, column="USUBJID,AESEQ", value=f"{S1}|1"),
            F("AE.csv", "duplicate_key", line=3, column="USUBJID,AESEQ", value=f"{S1}|1"),
        },
        {"AE": (3, 1, 2)},
        message=f"record key USUBJID, AESEQ = {S1}|1 appears on lines 2 and 3",
    ),
    Case(
        "negative dose",
        sent(files={"EX.csv": csv_text([ex_row(S1, 1, EXDOSE="-100"), ex_row(S2, 1)])}),
        {
            F("EX.csv", "range", line=2, column="EXDOSE", value="-100"),
            F("EX.csv", "positive_unless_placebo", line=2, column="EXDOSE", value="-100"),
        },
        {"EX": (2, 1, 1)},
    ),
    Case(
        "zero dose of an active treatment",
        sent(files={"EX.csv": csv_text([ex_row(S1, 1), ex_row(S2, 1, EXDOSE="0")])}),
        {F("EX.csv", "positive_unless_placebo", line=3, column="EXDOSE", value="0")},
        {"EX": (2, 1, 1)},
    ),
    Case(
        "negative lab value",
        sent(
            files={
                "LB.csv": csv_text([lb_row(S1, "AFP", "2025-01-05", LBSTRESN="-1"), lb_row(S2, "AFP", "2025-01-05")])
            }
        ),
        {F("LB.csv", "range", line=2, column="LBSTRESN", value="-1")},
        {"LB": (2, 1, 1)},
    ),
    Case(
        "end before start",
        sent(files=ae(ae_row(S1, 1), ae_row(S2, 1, AEENDTC="2025-01-20"))),
        {F("AE.csv", "not_before", line=3, column="AEENDTC", value="2025-01-20")},
        {"AE": (2, 1, 1)},
        message="AEENDTC 2025-01-20 is before AESTDTC 2025-02-01",
    ),
    Case(
        "bad ages (17, 121, sixty)",
        sent(
            files={
                "DM.csv": csv_text(
                    [
                        dm_row("001"),
                        dm_row("002"),
                        dm_row("003", AGE="17"),
                        dm_row("004", AGE="121"),
                        dm_row("005", AGE="sixty"),
                    ]
                )
            }
        ),
        {
            F("DM.csv", "range", line=4, column="AGE", value="17"),
            F("DM.csv", "range", line=5, column="AGE", value="121"),
            F("DM.csv", "type", line=6, column="AGE", value="sixty"),
        },
        {"DM": (5, 2, 3)},
    ),
    Case(
        "leading/trailing spaces",
        sent(files=ae(ae_row(S1, 1, AETERM=" Nausea"), ae_row(S2, 1, AESER="N "))),
        {
            F("AE.csv", "whitespace", line=2, column="AETERM", value=" Nausea"),
            F("AE.csv", "whitespace", line=3, column="AESER", value="N "),
        },
        {"AE": (2, 0, 2)},
    ),
    Case(
        "required value empty",
        sent(files=ae(ae_row(S1, 1, AEDECOD=""), ae_row(S2, 1))),
        {F("AE.csv", "required", line=2, column="AEDECOD")},
        {"AE": (2, 1, 1)},
    ),
    Case(
        "mojibake (â‰¥) is a warning, the row loads",
        sent(files=ae(ae_row(S1, 1, AETERM="ALT â‰¥ 3x ULN"), ae_row(S2, 1))),
        {F("AE.csv", "mojibake", line=2, column="AETERM", value="ALT â‰¥ 3x ULN", severity="warning")},
    ),
    Case(
        "extra column is a warning, the rows load",
        sent(
            files={"AE.csv": csv_text([ae_row(S1, 1, AECOMMENT="seen"), ae_row(S2, 1)], [*ae_row(S1, 1), "AECOMMENT"])}
        ),
        {F("AE.csv", "extra_columns", line=1, column="AECOMMENT", severity="warning")},
    ),
    Case(
        "orphan subject (no DM row)",
        sent(files=ae(ae_row(S1, 1), ae_row(S2, 1), ae_row(f"{STUDY}-{SITE}-009", 1))),
        {F("AE.csv", "orphan_subject", line=4, column="USUBJID", value=f"{STUDY}-{SITE}-009")},
        {"AE": (3, 2, 1)},
        message=f"subject {STUDY}-{SITE}-009 has no DM row in this transfer; 1 row held back: AE 1",
        orphans=frozenset({("AE.csv", 4)}),
    ),
    Case(
        "subject whose DM row is quarantined is an orphan everywhere",
        sent(files={"DM.csv": csv_text([dm_row("001"), dm_row("002", SEX="X")])}),
        # One root cause for the subject, at its DM row; its 5 other rows are all held back.
        {
            F("DM.csv", "codelist", line=3, column="SEX", value="X"),
            F("DM.csv", "orphan_subject", line=3, column="USUBJID", value=S2),
        },
        {"DM": (2, 1, 1), "AE": (2, 1, 1), "EX": (2, 1, 1), "TR": (4, 2, 2), "LB": (2, 1, 1)},
        message=f"subject {S2} has no accepted DM row (DM line 3 was quarantined: SEX 'X' is not one of: M, F, U); "
        "5 rows held back: EX 1, AE 1, TR 2, LB 1",
        orphans=frozenset({("AE.csv", 3), ("EX.csv", 3), ("TR.csv", 3), ("TR.csv", 5), ("LB.csv", 3)}),
    ),
    Case(
        "treatment not in the study",
        sent(files={"EX.csv": csv_text([ex_row(S1, 1), ex_row(S2, 1, EXTRT="DRUG Y")])}),
        {F("EX.csv", "in_study_treatments", line=3, column="EXTRT", value="DRUG Y")},
        {"EX": (2, 1, 1)},
    ),
    Case(
        "lab unit not the test's unit",
        sent(
            files={
                "LB.csv": csv_text([lb_row(S1, "AFP", "2025-01-05", LBSTRESU="U/L"), lb_row(S2, "AFP", "2025-01-05")])
            }
        ),
        {F("LB.csv", "codelist_by_value", line=2, column="LBSTRESU", value="U/L")},
        {"LB": (2, 1, 1)},
    ),
    Case(
        "normal range low above high",
        sent(
            files={
                "LB.csv": csv_text([lb_row(S1, "AFP", "2025-01-05"), lb_row(S2, "AFP", "2025-01-05", LBSTNRLO="30")])
            }
        ),
        {F("LB.csv", "not_above", line=3, column="LBSTNRLO", value="30")},
        {"LB": (2, 1, 1)},
    ),
    Case(
        "DTHFL Y without a death date",
        sent(files={"DM.csv": csv_text([dm_row("001"), dm_row("002"), dm_row("003", DTHFL="Y")])}),
        {F("DM.csv", "iff", line=4, column="DTHDTC")},
        {"DM": (3, 2, 1)},
        message="DTHFL is Y but DTHDTC is empty",
    ),
    Case(
        "UTF-8 BOM at file start is fine",
        sent(files={"DM.csv": b"\xef\xbb\xbf" + base_files()["DM.csv"].encode()}),
        set(),
    ),
    Case(
        "header-only file is fine (0 rows)",
        sent(files={"LB.csv": base_files()["LB.csv"].splitlines()[0] + "\n"}),
        set(),
        {"LB": (0, 0, 0)},
    ),
    Case(
        "CRLF line endings are fine (lines still right)",
        sent(
            files={
                **{k: crlf(v) for k, v in base_files().items()},
                "AE.csv": crlf(csv_text([ae_row(S1, 1), ae_row(S2, 1, AESER="X")])),
            }
        ),
        {F("AE.csv", "codelist", line=3, column="AESER", value="X")},
        {"AE": (2, 1, 1)},
    ),
    Case(
        "quoted line breaks keep line numbers right",
        sent(files=ae(ae_row(S1, 1, AETERM="Nausea\nsevere\nwith vomiting"), ae_row(S2, 1, AESER="X"))),
        {F("AE.csv", "codelist", line=5, column="AESER", value="X")},
        {"AE": (2, 1, 1)},
    ),
]

CASES = TRANSFER_CASES + ROW_CASES


# --- the harness --------------------------------------------------------------------


class Tripwire:
    """A FIFO outside the landing folder that notices being opened for reading.

    A reader's open() of a FIFO blocks until a writer appears, and a non-blocking
    writer's open() fails (ENXIO) while there is no reader: polling that tells us,
    without any doubt, whether the warehouse ever opened the file. When it does, the
    tripwire writes a line so the reader does not hang, and the test fails."""

    def __init__(self, path: Path):
        path.parent.mkdir(parents=True, exist_ok=True)
        os.mkfifo(path)
        self.path, self.opened, self._stop = path, threading.Event(), threading.Event()
        self._thread = threading.Thread(target=self._watch, daemon=True)
        self._thread.start()

    def _watch(self) -> None:
        while not self._stop.is_set():
            try:
                fd = os.open(self.path, os.O_WRONLY | os.O_NONBLOCK)
            except OSError as exc:
                if exc.errno != errno.ENXIO:
                    raise
                time.sleep(0.002)
                continue
            self.opened.set()
            os.write(fd, b"SECRET,DATA\n")
            os.close(fd)  # the reader now sees end of file
            return

    def close(self) -> None:
        self._stop.set()
        self._thread.join()


@pytest.fixture(scope="module")
def contracts():
    return load_contracts()


@pytest.fixture
def warehouse(tmp_path):
    con = duckdb.connect(str(tmp_path / "trialdw.duckdb"))
    yield con
    con.close()


def q(con, sql, params=()):
    return con.execute(sql, list(params)).fetchall()


def ingest(con, tmp_path, contracts, run_id="run-1"):
    return ingest_landing(con, tmp_path / "landing", {STUDY: study_config()}, tmp_path / "work", run_id, contracts)


def transfer_findings(con, study, site, tid) -> set:
    """Every occurrence in the transfer, with the finding's file relative to the transfer folder."""
    prefix = f"{study}/{site}/{tid}/"
    found = q(
        con,
        """SELECT o.SOURCE_FILE, o.SOURCE_LINE, f.COLUMN_NAME, o.VALUE, f.RULE, f.SEVERITY
                      FROM audit.finding_occurrences o JOIN audit.findings f USING (FINDING_ID)
                      WHERE o.TRANSFER_ID = ? AND f.STUDYID = ? AND f.SITEID = ?""",
        (tid, study, site),
    )
    return {(file.removeprefix(prefix), *rest) for file, *rest in found}


def raw_rows_of(con, tid) -> int:
    tables = [t for (t,) in q(con, "SELECT table_name FROM information_schema.tables WHERE table_schema = 'raw'")]
    return sum(q(con, f"SELECT count(*) FROM raw.{t} WHERE _transfer_id = ?", (tid,))[0][0] for t in tables)


@pytest.mark.parametrize("case", CASES, ids=[c.kind for c in CASES])
def test_bad_input_kind(case: Case, tmp_path, warehouse, contracts):
    landing = tmp_path / "landing"
    write_transfer(landing, T1, base_files())  # the site's last good transfer
    # Files outside every transfer folder that symlinks and "../DM.csv" point at.
    tripwires = [Tripwire(tmp_path / "outside" / "secret.csv"), Tripwire(landing / STUDY / SITE / "DM.csv")]
    try:
        case.write(landing)
        summary = ingest(warehouse, tmp_path, contracts)
    finally:
        for tripwire in tripwires:
            tripwire.close()
    assert not any(t.opened.is_set() for t in tripwires), "a file outside the transfer folder was opened"
    study, site, tid = case.where

    assert transfer_findings(warehouse, study, site, tid) == case.findings
    if case.message is not None:
        messages = [
            m
            for (m,) in q(
                warehouse,
                "SELECT f.MESSAGE FROM audit.findings f JOIN audit.finding_occurrences o "
                "USING (FINDING_ID) WHERE o.TRANSFER_ID = ?",
                (tid,),
            )
        ]
        assert any(case.message in m for m in messages), messages

    status = q(
        warehouse,
        "SELECT STATUS, CURRENT FROM audit.transfers WHERE STUDYID = ? AND SITEID = ? AND TRANSFER_ID = ?",
        (study, site, tid),
    )
    recon = {
        d: (s, loaded, qn)
        for d, s, loaded, qn in q(
            warehouse,
            "SELECT DOMAIN, ROWS_SENT, ROWS_LOADED, ROWS_QUARANTINED FROM audit.reconciliation "
            "WHERE STUDYID = ? AND SITEID = ? AND TRANSFER_ID = ?",
            (study, site, tid),
        )
    }
    if case.loaded is REJECTED:
        assert status == [("rejected", None)]
        assert (*case.where, "rejected") in summary.processed
        assert recon == {} and raw_rows_of(warehouse, tid) == 0
        assert q(warehouse, "SELECT count(*) FROM audit.quarantine WHERE TRANSFER_ID = ?", (tid,)) == [(0,)]
        # The site's previous accepted transfer stays current; its data is untouched.
        assert q(
            warehouse,
            "SELECT TRANSFER_ID, STATUS FROM audit.transfers WHERE STUDYID = ? AND SITEID = ? AND CURRENT = 'Y'",
            (STUDY, SITE),
        ) == [(T1, "accepted")]
        assert raw_rows_of(warehouse, T1) == sum(n for n, _, _ in CLEAN.values())
    else:
        assert status == [("accepted", "Y")]
        expected = {**CLEAN, **case.loaded}
        assert recon == expected
        for domain, (n_sent, n_loaded, n_quarantined) in expected.items():
            assert n_loaded + n_quarantined == n_sent
            assert q(warehouse, f"SELECT count(*) FROM raw.{domain.lower()} WHERE _transfer_id = ?", (tid,)) == [
                (n_loaded,)
            ]
            assert q(
                warehouse, "SELECT count(*) FROM audit.quarantine WHERE TRANSFER_ID = ? AND DOMAIN = ?", (tid, domain)
            ) == [(n_quarantined,)]
        # A quarantined row carries exactly the rules of its reject findings, and an
        # orphan row the rule orphan (its finding is the subject's root cause).
        reject_rules = {}
        for file, line, _, _, rule, severity in case.findings:
            if severity == "reject" and rule != "orphan_subject":
                reject_rules.setdefault((file, line), set()).add(rule)
        for file, line in case.orphans:
            reject_rules.setdefault((file, line), set()).add("orphan")
        quarantined = {
            (f.rsplit("/", 1)[1], line): set(rules.split(","))
            for f, line, rules in q(
                warehouse, "SELECT SOURCE_FILE, SOURCE_LINE, RULES FROM audit.quarantine WHERE TRANSFER_ID = ?", (tid,)
            )
        }
        assert quarantined == reject_rules


def test_the_corpus_covers_at_least_thirty_kinds():
    assert len({c.kind for c in CASES}) == len(CASES) >= 30


# --- kinds that need more than one run ----------------------------------------------


def test_no_manifest_is_incomplete_then_picked_up_when_it_arrives(tmp_path, warehouse, contracts):
    landing = tmp_path / "landing"
    write_transfer(landing, T1, base_files())
    write_transfer(landing, T2, base_files(subjects=("001", "002", "003")), manifest=False)
    first = ingest(warehouse, tmp_path, contracts)
    assert first.processed == [(STUDY, SITE, T1, "accepted"), (STUDY, SITE, T2, "incomplete")]
    assert q(warehouse, "SELECT TRANSFER_ID, STATUS, CURRENT FROM audit.transfers ORDER BY 1") == [
        (T1, "accepted", "Y"),
        (T2, "incomplete", None),
    ]
    assert q(warehouse, "SELECT count(*) FROM audit.findings") == [(0,)]  # skipped, not failed
    assert raw_rows_of(warehouse, T2) == 0

    write_transfer(landing, T2, base_files(subjects=("001", "002", "003")))  # the manifest arrives
    second = ingest(warehouse, tmp_path, contracts, run_id="run-2")
    assert second.processed == [(STUDY, SITE, T2, "accepted")]
    assert q(warehouse, "SELECT TRANSFER_ID, STATUS, CURRENT FROM audit.transfers ORDER BY 1") == [
        (T1, "superseded", None),
        (T2, "accepted", "Y"),
    ]
    assert q(
        warehouse,
        "SELECT ROWS_SENT, ROWS_LOADED FROM audit.reconciliation WHERE TRANSFER_ID = ? AND DOMAIN = 'DM'",
        (T2,),
    ) == [(3, 3)]


def test_fixed_defect_resolves_and_the_other_stays_open_with_the_same_id(tmp_path, warehouse, contracts):
    """Two consecutive transfers of a site: the duplicate AESEQ is fixed, the bad age is
    not (and its line moves, because a subject was added before it)."""
    landing = tmp_path / "landing"
    write_transfer(
        landing,
        T1,
        {
            **base_files(),
            "DM.csv": csv_text([dm_row("001"), dm_row("002"), dm_row("003", AGE="17")]),
            "AE.csv": csv_text([ae_row(S1, 1), ae_row(S1, 1, AETERM="Rash"), ae_row(S2, 1)]),
        },
    )
    ingest(warehouse, tmp_path, contracts)
    before = dict(q(warehouse, "SELECT RULE, FINDING_ID FROM audit.findings"))
    assert sorted(before) == ["duplicate_key", "range"]

    write_transfer(
        landing,
        T2,
        {
            **base_files(),
            "DM.csv": csv_text([dm_row("000"), dm_row("001"), dm_row("002"), dm_row("003", AGE="17")]),
            "AE.csv": csv_text([ae_row(S1, 1), ae_row(S1, 2, AETERM="Rash"), ae_row(S2, 1)]),
        },
    )
    ingest(warehouse, tmp_path, contracts, run_id="run-2")
    after = {
        r[0]: r[1:]
        for r in q(
            warehouse,
            """SELECT RULE, FINDING_ID, STATUS, FIRST_SEEN_TRANSFER,
                      LAST_SEEN_TRANSFER, RESOLVED_TRANSFER, SOURCE_LINE FROM audit.findings""",
        )
    }
    assert after == {
        "duplicate_key": (before["duplicate_key"], "resolved", T1, T1, T2, 2),  # first line of the key
        "range": (before["range"], "open", T1, T2, None, 5),
    }
    assert q(
        warehouse,
        "SELECT TRANSFER_ID, SOURCE_LINE FROM audit.finding_occurrences WHERE FINDING_ID = ? ORDER BY 1",
        (before["range"],),
    ) == [(T1, 4), (T2, 5)]


CHILD = """
import sys
from pathlib import Path
import duckdb
from trialdw.ingest import ingest_landing
from tests.helpers.transfers import STUDY, study_config
root = Path(sys.argv[1])
con = duckdb.connect(str(root / "trialdw.duckdb"))
summary = ingest_landing(con, root / "landing", {STUDY: study_config()}, root / "work", sys.argv[2])
con.close()
print(summary.processed)
"""


def _ingest_without_privileges(root: Path, run_id: str) -> str:
    """Run the ingest in a child process that cannot read a chmod-000 file. Root reads
    anything, so as root the child runs without the capabilities that bypass file
    permissions (util-linux ``setpriv``); the files are root's own, so mode 000 holds."""
    prefix = []
    if os.geteuid() == 0:
        if shutil.which("setpriv") is None:
            pytest.skip("running as root without setpriv: cannot make a file unreadable")
        caps = "-dac_override,-dac_read_search"
        prefix = ["setpriv", f"--bounding-set={caps}", f"--inh-caps={caps}", "--"]
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
    done = subprocess.run(
        [*prefix, sys.executable, "-c", CHILD, str(root), run_id],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
        cwd=root,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def read_only(root: Path):
    return duckdb.connect(str(root / "trialdw.duckdb"), read_only=True)


@pytest.mark.parametrize(
    "target, reported",
    [("AE.csv", "AE.csv"), ("manifest.json", "manifest.json"), (".", "manifest.json")],
    ids=["data file", "manifest", "transfer folder"],
)
def test_unreadable_rejects_the_transfer_and_is_retried_once_readable(tmp_path, target, reported):
    write_transfer(tmp_path / "landing", T1, base_files())
    folder = write_transfer(tmp_path / "landing", T2, base_files(subjects=("001", "002", "003")))
    (folder / target).chmod(0o000)
    assert "rejected" in _ingest_without_privileges(tmp_path, "run-1")  # no crash: a rejection

    with read_only(tmp_path) as con:
        assert transfer_findings(con, STUDY, SITE, T2) == {F(reported, "unreadable")}
        assert q(con, "SELECT MESSAGE FROM audit.findings WHERE RULE = 'unreadable'")[0][0] == (
            f"{reported} cannot be read by the warehouse (Permission denied); nothing of the transfer is loaded. "
            "This is a landing-zone problem, not a data defect: the transfer is checked again on the next run"
        )
        assert q(con, "SELECT TRANSFER_ID, STATUS, CURRENT FROM audit.transfers ORDER BY 1") == [
            (T1, "accepted", "Y"),
            (T2, "rejected", None),
        ]
        assert raw_rows_of(con, T2) == 0

    (folder / target).chmod(0o755 if target == "." else 0o644)  # the landing zone is fixed
    _ingest_without_privileges(tmp_path, "run-2")
    with read_only(tmp_path) as con:
        assert q(con, "SELECT TRANSFER_ID, STATUS, CURRENT, RUN_ID FROM audit.transfers ORDER BY 1") == [
            (T1, "superseded", None, "run-1"),
            (T2, "accepted", "Y", "run-2"),
        ]
        assert q(con, "SELECT RULE, STATUS, LAST_SEEN_TRANSFER, RESOLVED_TRANSFER FROM audit.findings") == [
            ("unreadable", "resolved", T2, T2)
        ]
        assert q(
            con,
            "SELECT DOMAIN, ROWS_SENT, ROWS_LOADED, ROWS_QUARANTINED FROM audit.reconciliation "
            "WHERE TRANSFER_ID = ? AND DOMAIN = 'AE'",
            (T2,),
        ) == [("AE", 3, 3, 0)]
        # The failed attempt stays in the finding's history.
        assert q(con, "SELECT count(*) FROM audit.finding_occurrences WHERE TRANSFER_ID = ?", (T2,)) == [(1,)]
