"""Small, real site transfers on disk for tests (independent of trialdw.synth).

``write_transfer`` writes CSV files and a manifest whose sha256 and record counts
are computed from the bytes written, so a transfer is valid unless a test breaks
it on purpose (``manifest_edit`` or writing files after the manifest).
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
from pathlib import Path

from trialdw.study_config import parse_study

STUDY = "HCC-TEST"
SITE = "101"


def study_config(domains=("DM", "AE", "EX", "TR", "LB"), study: str = STUDY):
    return parse_study(
        {
            "study": study,
            "title": "test study",
            "arm": {"armcd": "DRUGX", "arm": "DRUG X"},
            "treatments": [{"extrt": "DRUG X", "dose": 100, "dosu": "mg", "dosfrq": "QD", "route": "ORAL"}],
            "domains": list(domains),
            "visits": {"assessment_interval_days": 42},
            "response": {"confirmation_days": 28, "sd_minimum_days": 28},
        },
        "<test study>",
    )


def dm_row(subjid: str, site: str = SITE, study: str = STUDY, **over) -> dict:
    row = {
        "STUDYID": study,
        "SITEID": site,
        "SUBJID": subjid,
        "USUBJID": f"{study}-{site}-{subjid}",
        "RFICDTC": "2025-01-02",
        "ENRLDTC": "2025-01-10",
        "BRTHDTC": "1960",
        "AGE": "64",
        "SEX": "M",
        "RACE": "ASIAN",
        "ETHNIC": "NOT HISPANIC OR LATINO",
        "COUNTRY": "CHN",
        "ARMCD": "DRUGX",
        "ARM": "DRUG X",
        "DTHDTC": "",
        "DTHFL": "",
    }
    return {**row, **over}


def ae_row(usubjid: str, seq: int, **over) -> dict:
    row = {
        "USUBJID": usubjid,
        "AESEQ": str(seq),
        "AETERM": "Nausea",
        "AEDECOD": "Nausea",
        "AEBODSYS": "Gastrointestinal disorders",
        "AESTDTC": "2025-02-01",
        "AEENDTC": "2025-02-10",
        "AETOXGR": "1",
        "AESER": "N",
        "AEREL": "POSSIBLY RELATED",
        "AEACN": "DOSE NOT CHANGED",
        "AEOUT": "RECOVERED/RESOLVED",
    }
    return {**row, **over}


def ex_row(usubjid: str, seq: int, **over) -> dict:
    row = {
        "USUBJID": usubjid,
        "EXSEQ": str(seq),
        "EXTRT": "DRUG X",
        "EXDOSE": "100",
        "EXDOSU": "mg",
        "EXDOSFRQ": "QD",
        "EXROUTE": "ORAL",
        "EXSTDTC": "2025-01-11",
        "EXENDTC": "2025-02-07",
    }
    return {**row, **over}


def tr_row(usubjid: str, lnkid: str, visitnum: str, **over) -> dict:
    target = lnkid.startswith("T")
    row = {
        "USUBJID": usubjid,
        "TRLNKID": lnkid,
        "TRTESTCD": "LDIAM" if target else "TUMSTATE",
        "TRORRES": "25" if target else "PRESENT",
        "TRSTRESN": "25" if target else "",
        "TRSTRESU": "mm" if target else "",
        "VISIT": "SCREENING",
        "VISITNUM": visitnum,
        "TRDTC": "2025-01-05",
    }
    return {**row, **over}


def lb_row(usubjid: str, testcd: str, date: str, **over) -> dict:
    units = {"AFP": "ng/mL", "ALT": "U/L"}
    row = {
        "USUBJID": usubjid,
        "LBTESTCD": testcd,
        "LBSTRESN": "12.5",
        "LBSTRESU": units[testcd],
        "LBSTNRLO": "0",
        "LBSTNRHI": "20",
        "VISIT": "SCREENING",
        "LBDTC": date,
    }
    return {**row, **over}


def csv_text(rows: list[dict], columns: list[str] | None = None) -> str:
    """RFC 4180 text (CRLF-free, minimal quoting) from dict rows."""
    columns = columns or list(rows[0])
    out = io.StringIO(newline="")
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(columns)
    for row in rows:
        writer.writerow([row.get(c, "") for c in columns])
    return out.getvalue()


def count_records(data: bytes) -> int:
    text = data.decode("utf-8-sig", errors="replace")  # count even a badly encoded file
    return max(0, sum(1 for rec in csv.reader(io.StringIO(text, newline="")) if rec) - 1)


def write_transfer(
    landing: Path,
    transfer_id: str,
    files: dict[str, str | bytes],
    *,
    study: str = STUDY,
    site: str = SITE,
    manifest_edit=None,
    manifest: bool = True,
) -> Path:
    """Write ``<landing>/<study>/<site>/<transfer_id>/`` with the files and a correct
    manifest. ``manifest_edit(dict)`` may change the manifest before it is written."""
    folder = Path(landing) / study / site / transfer_id
    folder.mkdir(parents=True, exist_ok=True)
    entries = {}
    for name, content in files.items():
        data = content.encode("utf-8") if isinstance(content, str) else content
        (folder / name).write_bytes(data)
        entries[name] = {"sha256": hashlib.sha256(data).hexdigest(), "rows": count_records(data)}
    doc = {
        "study": study,
        "site": site,
        "transfer_id": transfer_id,
        "exported_at": f"{transfer_id[:4]}-{transfer_id[4:6]}-{transfer_id[6:8]}T02:00:00Z",
        "files": entries,
    }
    if manifest_edit:
        doc = manifest_edit(doc) or doc
    if manifest:
        (folder / "manifest.json").write_text(json.dumps(doc, indent=2), encoding="utf-8")
    return folder


def base_files(subjects=("001", "002")) -> dict[str, str]:
    """A valid transfer of the test study: every domain, every row clean."""
    usubjids = [f"{STUDY}-{SITE}-{s}" for s in subjects]
    return {
        "DM.csv": csv_text([dm_row(s) for s in subjects]),
        "AE.csv": csv_text([ae_row(u, 1) for u in usubjids]),
        "EX.csv": csv_text([ex_row(u, 1) for u in usubjids]),
        "TR.csv": csv_text([tr_row(u, "T01", "0") for u in usubjids] + [tr_row(u, "NT01", "0") for u in usubjids]),
        "LB.csv": csv_text([lb_row(u, "AFP", "2025-01-05") for u in usubjids]),
    }


def validate_base_transfer(root: Path, transfer_id: str, study, contracts: dict, **replace: str):
    """The base transfer with some files replaced, written under ``root``, checked
    (it must be accepted) and row-validated: the ValidatedTransfer."""
    from trialdw.ingest.rows import validate_transfer
    from trialdw.ingest.transfers import check_transfer, discover

    files = base_files()
    files.update(replace)
    write_transfer(Path(root) / "landing", transfer_id, files)
    (ref,) = discover(Path(root) / "landing")
    check = check_transfer(ref, study, contracts)
    assert check.status == "accepted", check.reason
    return validate_transfer(ref, check, study, contracts, Path(root) / "work")
