"""pharmaverse SDTM (CDISC pilot + RECIST add-on) -> our site exports.

``build_landing(sdtm_dir, out)`` writes ONE accepted transfer per SITEID of
CDISCPILOT01 in the layout of shared/spec/site-exports.md
(``<out>/CDISCPILOT01/<SITEID>/<TRANSFER_ID>/manifest.json + DM.csv ...``), with
the exact columns of our data contracts, so the real pipeline can run on it and
its ADaM can be compared with pharmaverseadam's.

What is selected, derived and mapped (and why) is listed in docs/conformance.md;
the term mappings themselves live in ``pharmaverse_terms``. Values are kept as
the SDTM has them otherwise: nothing is "fixed" to get a match, so rows our
contracts reject are quarantined by the pipeline like any site's.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import polars as pl

from trialdw.conformance import pharmaverse_terms as T
from trialdw.ingest.contracts import load_contracts
from trialdw.synth.csvout import TrackedCsvWriter, write_manifest

STUDY = "CDISCPILOT01"
# Fixed, so that reruns produce byte-identical transfers (the content has no
# export time of its own; this is the conversion's nominal export time).
TRANSFER_ID = "20250101T000000Z"
EXPORTED_AT = "2025-01-01T00:00:00Z"
DOMAINS = ("DM", "EX", "AE", "DS", "TU", "TR", "RS")


@dataclass
class ConversionSummary:
    transfers: list[Path] = field(default_factory=list)
    # pharmaverse USUBJID (01-701-1015) -> ours (CDISCPILOT01-701-1015)
    subject_map: dict[str, str] = field(default_factory=dict)
    rows: Counter = field(default_factory=Counter)  # domain -> rows written
    not_sent: Counter = field(default_factory=Counter)  # reason -> SDTM records not sent

    @property
    def reverse_map(self) -> dict[str, str]:
        return {ours: theirs for theirs, ours in self.subject_map.items()}


def _read(sdtm_dir: Path, name: str) -> pl.DataFrame:
    """An SDTM CSV as text (empty field -> null): values travel as written."""
    return pl.read_csv(sdtm_dir / f"{name}.csv", infer_schema=False)


def _integer_text(value: str | None) -> str | None:
    """'63.0' -> '63': the R export writes whole numbers as doubles; our
    integer columns (AGE, --SEQ) need the integer spelling of the same number."""
    if value is None:
        return None
    number = float(value)
    return str(int(number)) if number.is_integer() else value


def _complete(date: str | None) -> str | None:
    return date if date is not None and len(date) == 10 else None


def _randomisation_dates(ds: pl.DataFrame) -> dict[str, str]:
    """DS RANDOMIZED DSSTDTC per subject = ADSL RANDDT = our ENRLDTC."""
    rows = ds.filter(pl.col("DSDECOD") == "RANDOMIZED").select("USUBJID", "DSSTDTC").iter_rows()
    return dict(rows)


def _consent_dates(dm: pl.DataFrame, ds: pl.DataFrame, sv: pl.DataFrame) -> dict[str, str]:
    """RFICDTC: DM RFICDTC, else DS informed-consent date, else the first SV
    visit date. The pilot has neither of the first two; consent precedes any
    study procedure, so the first (screening) visit is the closest recorded date
    on or after it. Documented as a derived value in docs/conformance.md."""
    first_visit = dict(
        sv.filter(pl.col("SVSTDTC").str.len_chars() == 10).group_by("USUBJID").agg(pl.col("SVSTDTC").min()).iter_rows()
    )
    consent_ds = dict(
        ds.filter(pl.col("DSDECOD").str.contains("INFORMED CONSENT")).select("USUBJID", "DSSTDTC").iter_rows()
    )
    return {u: rf or consent_ds.get(u) or first_visit.get(u) for u, rf in dm.select("USUBJID", "RFICDTC").iter_rows()}


class _Converter:
    def __init__(self, sdtm_dir: Path):
        self.dm = _read(sdtm_dir, "dm")
        self.ds = _read(sdtm_dir, "ds")
        self.sv = _read(sdtm_dir, "sv")
        self.ex = _read(sdtm_dir, "ex")
        self.ae = _read(sdtm_dir, "ae")
        self.tu = _read(sdtm_dir, "tu_onco_recist")
        self.tr = _read(sdtm_dir, "tr_onco_recist")
        self.rs = _read(sdtm_dir, "rs_onco_recist")
        self.summary = ConversionSummary()
        self.site_of: dict[str, str] = {}

    # --- subjects -------------------------------------------------------------
    def dm_rows(self) -> list[dict]:
        randomised = _randomisation_dates(self.ds)
        consent = _consent_dates(self.dm, self.ds, self.sv)
        rows = []
        for r in self.dm.iter_rows(named=True):
            if r["USUBJID"] not in randomised:
                # Screen failures (ARM "Screen Failure", no randomisation): our
                # spec says they are not sent, and ITTFL needs ENRLDTC.
                self.summary.not_sent["DM: screen failure (not randomised), not sent per spec"] += 1
                continue
            ours = f"{r['STUDYID']}-{r['SITEID']}-{r['SUBJID']}"
            self.summary.subject_map[r["USUBJID"]] = ours
            self.site_of[r["USUBJID"]] = r["SITEID"]
            rows.append(
                {
                    "STUDYID": r["STUDYID"],
                    "SITEID": r["SITEID"],
                    "SUBJID": r["SUBJID"],
                    "USUBJID": ours,
                    "RFICDTC": consent.get(r["USUBJID"]),
                    "ENRLDTC": randomised[r["USUBJID"]],
                    "BRTHDTC": r["BRTHDTC"],
                    "AGE": _integer_text(r["AGE"]),
                    "SEX": r["SEX"],
                    "RACE": r["RACE"],
                    "ETHNIC": r["ETHNIC"],
                    "COUNTRY": r["COUNTRY"],
                    "ARMCD": r["ARMCD"],
                    "ARM": r["ARM"],
                    "DTHDTC": r["DTHDTC"],
                    "DTHFL": r["DTHFL"],
                    "SDTM_USUBJID": r["USUBJID"],
                }
            )
        return rows

    def _sent(self, domain: str, frame: pl.DataFrame) -> pl.DataFrame:
        """Only randomised subjects' records are sent (the others have no DM row)."""
        keep = frame.filter(pl.col("USUBJID").is_in(list(self.summary.subject_map)))
        if dropped := frame.height - keep.height:
            self.summary.not_sent[f"{domain}: subject not randomised (screen failure)"] += dropped
        return keep

    # --- domains --------------------------------------------------------------
    def ex_rows(self) -> list[dict]:
        return [
            {
                "USUBJID": r["USUBJID"],
                "EXSEQ": _integer_text(r["EXSEQ"]),
                "EXTRT": r["EXTRT"],
                "EXDOSE": r["EXDOSE"],
                "EXDOSU": r["EXDOSU"],
                "EXDOSFRQ": r["EXDOSFRQ"],
                "EXROUTE": None,
                "SDTM_EXROUTE": r["EXROUTE"],
                "EXSTDTC": r["EXSTDTC"],
                "EXENDTC": r["EXENDTC"],
            }
            for r in self._sent("EX", self.ex).iter_rows(named=True)
        ]

    def ae_rows(self) -> list[dict]:
        return [
            {
                "USUBJID": r["USUBJID"],
                "AESEQ": _integer_text(r["AESEQ"]),
                "AETERM": r["AETERM"],
                "AEDECOD": r["AEDECOD"],
                "AEBODSYS": r["AEBODSYS"],
                "AESTDTC": r["AESTDTC"],
                "AEENDTC": r["AEENDTC"],
                "AETOXGR": T.AESEV_TO_AETOXGR.get(r["AESEV"], r["AESEV"]),
                "AESER": r["AESER"],
                "AEREL": T.AEREL_TO_OURS.get(r["AEREL"], r["AEREL"]),
                "AEACN": r["AEACN"],
                "AEOUT": r["AEOUT"],
            }
            for r in self._sent("AE", self.ae).iter_rows(named=True)
        ]

    def ds_rows(self) -> list[dict]:
        ds = self._sent("DS", self.ds)
        other = ds.filter(pl.col("DSCAT") != "DISPOSITION EVENT")
        for (decod,), n in Counter(other.select("DSDECOD").iter_rows()).items():
            # RANDOMIZED becomes DM ENRLDTC; FINAL LAB/RETRIEVAL VISIT are
            # milestones, not disposition events (our DSCAT has only the latter).
            self.summary.not_sent[f"DS: {decod} (DSCAT not DISPOSITION EVENT)"] += n
        return [
            {
                "USUBJID": r["USUBJID"],
                "DSCAT": r["DSCAT"],
                "DSSCAT": T.DS_DISPOSITION_DSSCAT,
                "DSDECOD": r["DSDECOD"],
                "DSSTDTC": r["DSSTDTC"],
            }
            for r in ds.filter(pl.col("DSCAT") == "DISPOSITION EVENT").iter_rows(named=True)
        ]

    def _investigator(self, domain: str, frame: pl.DataFrame, column: str) -> pl.DataFrame:
        keep = frame.filter(pl.col(column) == T.INVESTIGATOR)
        self.summary.not_sent[f"{domain}: independent-review records (our {domain} has no evaluator)"] += (
            frame.height - keep.height
        )
        return keep

    def tr_rows(self) -> list[dict]:
        tr = self._investigator("TR", self._sent("TR", self.tr), "TREVAL")
        lperp = tr.filter(pl.col("TRTESTCD") == "LPERP")
        self.summary.not_sent["TR: LPERP (perpendicular diameter, not a RECIST 1.1 test of ours)"] += lperp.height
        return [
            {
                "USUBJID": r["USUBJID"],
                "TRLNKID": r["TRLNKID"],
                "TRTESTCD": r["TRTESTCD"],
                "TRORRES": r["TRORRES"],
                "TRSTRESN": r["TRSTRESN"],
                "TRSTRESU": r["TRSTRESU"],
                "VISIT": r["VISIT"],
                "VISITNUM": r["VISITNUM"],
                "TRDTC": r["TRDTC"],
            }
            for r in tr.filter(pl.col("TRTESTCD") != "LPERP").iter_rows(named=True)
        ]

    def tu_rows(self) -> list[dict]:
        tu = self._investigator("TU", self._sent("TU", self.tu), "TUEVAL")
        # The RECIST add-on's TU has no TUDTC; the lesion was identified at the
        # scan of the TU visit, whose date is the investigator's TR date there.
        scan_dates = {
            (u, v): d
            for u, v, d in self.tr.filter(pl.col("TREVAL") == T.INVESTIGATOR)
            .select("USUBJID", "VISITNUM", "TRDTC")
            .unique()
            .iter_rows()
        }
        return [
            {
                "USUBJID": r["USUBJID"],
                "TULNKID": r["TULNKID"],
                "TUORRES": r["TUORRES"],
                "TULOC": r["TULOC"],
                "TUMETHOD": T.TUMETHOD_TO_OURS.get(r["TUMETHOD"], r["TUMETHOD"]),
                "TUDTC": scan_dates.get((r["USUBJID"], r["VISITNUM"])),
                "VISIT": r["VISIT"],
            }
            for r in tu.iter_rows(named=True)
        ]

    def rs_rows(self) -> list[dict]:
        rs = self._sent("RS", self.rs)
        keep = rs.filter(
            (pl.col("RSEVAL") == T.INVESTIGATOR) | ((pl.col("RSEVAL") == T.INDEPENDENT) & (pl.col("RSACPTFL") == "Y"))
        )
        self.summary.not_sent["RS: independent reader record not accepted (RSACPTFL empty)"] += rs.height - keep.height
        return [
            {
                "USUBJID": r["USUBJID"],
                "RSTESTCD": r["RSTESTCD"],
                "RSSTRESC": r["RSSTRESC"],
                "RSEVAL": r["RSEVAL"],
                "VISIT": r["VISIT"],
                "VISITNUM": r["VISITNUM"],
                "RSDTC": r["RSDTC"],
            }
            for r in keep.iter_rows(named=True)
        ]


def _columns(contract, rows: list[dict]) -> tuple[str, ...]:
    """Our contract's columns in spec order, then the extra SDTM_* columns."""
    extras = sorted({k for row in rows for k in row} - set(contract.column_names))
    return contract.column_names + tuple(extras)


def build_landing(sdtm_dir: Path, out: Path) -> ConversionSummary:
    """Convert the pharmaverse SDTM in ``sdtm_dir`` into one transfer per site under ``out``."""
    sdtm_dir, out = Path(sdtm_dir), Path(out)
    conv = _Converter(sdtm_dir)
    contracts = load_contracts()
    dm = conv.dm_rows()  # first: it decides the subjects and their sites
    by_domain = {
        "DM": dm,
        "EX": conv.ex_rows(),
        "AE": conv.ae_rows(),
        "DS": conv.ds_rows(),
        "TU": conv.tu_rows(),
        "TR": conv.tr_rows(),
        "RS": conv.rs_rows(),
    }
    summary = conv.summary
    for site in sorted(set(conv.site_of.values())):
        folder = out / STUDY / site / TRANSFER_ID
        folder.mkdir(parents=True, exist_ok=True)
        files = {}
        for domain in DOMAINS:
            rows = [r for r in by_domain[domain] if _site_of(r, domain, conv) == site]
            if not rows:
                continue  # a domain without records at this site is absent (allowed)
            columns = _columns(contracts[domain], by_domain[domain])
            writer = TrackedCsvWriter(folder / f"{domain}.csv", columns)
            for row in rows:
                writer.write({c: ("" if row.get(c) is None else _written_value(row, c, summary)) for c in columns})
            files[f"{domain}.csv"] = writer.close()
            summary.rows[domain] += len(rows)
        write_manifest(folder, STUDY, site, TRANSFER_ID, EXPORTED_AT, files)
        summary.transfers.append(folder)
    return summary


def _site_of(row: dict, domain: str, conv: _Converter) -> str:
    if domain == "DM":
        return row["SITEID"]
    return conv.site_of[row["USUBJID"]]


def _written_value(row: dict, column: str, summary: ConversionSummary) -> str:
    """USUBJID in non-DM domains is still pharmaverse's until written: map it."""
    value = row[column]
    if column == "USUBJID":
        return summary.subject_map.get(value, value)
    return value
