"""A warehouse as the loader leaves it, for the dbt tests: raw.* rows written
by one builder, audit.transfers, config.* from the real studies/*.yml (or from
test-only study configurations, e.g. ``parse_study`` of a dict: a data cut-off,
a reference date ENRLDT, without adding study files to studies/).

``RawRows`` writes raw.<domain> rows (text values as sites send them, plus the
lineage keys); ``create_warehouse`` turns them into a real DuckDB file that
``trialdw.dbt_runner.dbt_build`` builds for real.
"""

from __future__ import annotations

from pathlib import Path

import duckdb

from trialdw.ingest.contracts import load_contracts
from trialdw.ingest.load import ensure_raw_table
from trialdw.project import PROJECT_ROOT
from trialdw.study_config import StudyConfig, load_studies, write_config_tables

# raw.<domain> columns in input-spec order (all VARCHAR): the data contracts'
# columns, as the loader creates them (trialdw.ingest.load.ensure_raw_table).
CONTRACTS = load_contracts()
RAW_COLUMNS = {domain.lower(): contract.column_names for domain, contract in CONTRACTS.items()}
STUDIES = load_studies()


def split_usubjid(usubjid: str) -> tuple[str, str, str]:
    """STUDYID, SITEID, SUBJID of ``STUDYID-SITEID-SUBJID`` (STUDYID may hold '-')."""
    study, site, subjid = usubjid.rsplit("-", 2)
    return study, site, subjid


class RawRows:
    """raw.<domain> rows of the studies configured in studies/*.yml (or of
    ``studies``, the configurations the warehouse is then created with).

    Every row belongs to ``transfer`` unless a call names another one. Study and
    site come from the USUBJID, arm and first treatment from the study file.
    """

    def __init__(self, transfer: str, studies: dict[str, StudyConfig] | None = None):
        self.transfer = transfer
        self.studies = studies or STUDIES
        self.rows: dict[str, list[dict]] = {d: [] for d in RAW_COLUMNS}

    def add(self, domain: str, usubjid: str, *, transfer: str | None = None, **values) -> None:
        study, site, _ = split_usubjid(usubjid)
        self.rows[domain].append(
            {
                "USUBJID": usubjid,
                "_studyid": study,
                "_siteid": site,
                "_transfer_id": transfer or self.transfer,
                **values,
            }
        )

    def dm(
        self, usubjid, rfic="2026-01-02", enrl="2026-01-05", *, age="60", sex="M", dthdtc=None, transfer=None, **extra
    ) -> None:
        study, site, subjid = split_usubjid(usubjid)
        arm = self.studies[study].arms[0]
        self.add(
            "dm",
            usubjid,
            transfer=transfer,
            STUDYID=study,
            SITEID=site,
            SUBJID=subjid,
            RFICDTC=rfic,
            ENRLDTC=enrl,
            AGE=age,
            SEX=sex,
            ARMCD=arm.armcd,
            ARM=arm.arm,
            DTHDTC=dthdtc,
            DTHFL="Y" if dthdtc else None,
            **extra,
        )

    def ex(self, usubjid, seq, start, end=None, *, extrt=None, dose="80") -> None:
        study = split_usubjid(usubjid)[0]
        self.add(
            "ex",
            usubjid,
            EXSEQ=str(seq),
            EXTRT=extrt or self.studies[study].treatment_names[0],
            EXDOSE=dose,
            EXDOSU="mg",
            EXDOSFRQ="QD",
            EXROUTE="ORAL",
            EXSTDTC=start,
            EXENDTC=end,
        )

    def ae(
        self,
        usubjid,
        seq,
        start,
        end,
        *,
        grade="2",
        rel="NOT RELATED",
        out=None,
        term=None,
        pt=None,
        soc="SOC",
        ser="N",
        acn="DOSE NOT CHANGED",
    ) -> None:
        self.add(
            "ae",
            usubjid,
            AESEQ=str(seq),
            AETERM=term or pt or f"TERM {seq}",
            AEDECOD=pt or f"Term {seq}",
            AEBODSYS=soc,
            AESTDTC=start,
            AEENDTC=end,
            AETOXGR=str(grade),
            AESER=ser,
            AEREL=rel,
            AEACN=acn,
            AEOUT=out or ("NOT RECOVERED/NOT RESOLVED" if end is None else "RECOVERED/RESOLVED"),
        )

    def lesion(self, usubjid, lnkid, kind, loc, tudtc, visit="SCREENING") -> None:
        self.add("tu", usubjid, TULNKID=lnkid, TUORRES=kind, TULOC=loc, TUMETHOD="CT", TUDTC=tudtc, VISIT=visit)

    def diameter(self, usubjid, lnkid, mm, visitnum, trdtc) -> None:
        self.add(
            "tr",
            usubjid,
            TRLNKID=lnkid,
            TRTESTCD="LDIAM",
            TRORRES=mm,
            TRSTRESN=mm,
            TRSTRESU="mm",
            VISIT=f"VISIT {visitnum}",
            VISITNUM=visitnum,
            TRDTC=trdtc,
        )

    def state(self, usubjid, lnkid, state, visitnum, trdtc) -> None:
        self.add(
            "tr",
            usubjid,
            TRLNKID=lnkid,
            TRTESTCD="TUMSTATE",
            TRORRES=state,
            TRSTRESN=None,
            TRSTRESU=None,
            VISIT=f"VISIT {visitnum}",
            VISITNUM=visitnum,
            TRDTC=trdtc,
        )

    def ovr(self, usubjid, visitnum, rsdtc, response, evaluator="INVESTIGATOR") -> None:
        """An investigator (or central) overall response at VISIT <visitnum>."""
        self.add(
            "rs",
            usubjid,
            RSTESTCD="OVRLRESP",
            RSSTRESC=response,
            RSEVAL=evaluator,
            VISIT=f"VISIT {visitnum}",
            VISITNUM=str(visitnum),
            RSDTC=rsdtc,
        )

    def afp(self, usubjid, lbdtc, value, uln="10") -> None:
        self.add(
            "lb",
            usubjid,
            LBTESTCD="AFP",
            LBSTRESN=str(value),
            LBSTRESU="ng/mL",
            LBSTNRLO="0",
            LBSTNRHI=uln,
            VISIT=None,
            LBDTC=lbdtc,
        )


def create_warehouse(
    db_path: Path,
    rows_by_domain: dict[str, list[dict]],
    transfers: list[tuple],
    studies: dict[str, StudyConfig] | None = None,
) -> None:
    """A warehouse as the loader leaves it: audit DDL, config, all 12 raw tables.

    rows_by_domain: domain -> rows (dicts of column -> text) each with the
    lineage keys _studyid/_siteid/_transfer_id. transfers: (study, site, id, current).
    studies: the study configurations config.* is written from (default: studies/*.yml).
    """
    con = duckdb.connect(str(db_path))
    try:
        con.execute((PROJECT_ROOT / "trialdw" / "sql" / "audit.sql").read_text())
        write_config_tables(con, studies or STUDIES)
        for domain, names in RAW_COLUMNS.items():
            contract = CONTRACTS[domain.upper()]
            ensure_raw_table(con, contract)
            for line, row in enumerate(rows_by_domain.get(domain, []), start=2):
                values = [row.get(c) for c in names] + [
                    row["_studyid"],
                    row["_siteid"],
                    row["_transfer_id"],
                    f"{row['_studyid']}/{row['_siteid']}/{row['_transfer_id']}/{domain.upper()}.csv",
                    line,
                    None,
                    "|".join(row.get(k) or "" for k in contract.record_key),  # as the loader writes it
                ]
                con.execute(f"INSERT INTO raw.{domain} VALUES ({', '.join('?' * len(values))})", values)
        for study, site, transfer_id, current in transfers:
            con.execute(
                "INSERT INTO audit.transfers (STUDYID, SITEID, TRANSFER_ID, STATUS, CURRENT) VALUES (?,?,?,?,?)",
                [study, site, transfer_id, "accepted" if current else "superseded", "Y" if current else None],
            )
    finally:
        con.close()


def query(db_path: Path, sql: str) -> list[tuple]:
    with duckdb.connect(str(db_path), read_only=True) as con:
        return con.execute(sql).fetchall()


def one(db_path: Path, sql: str) -> tuple:
    rows = query(db_path, sql)
    assert len(rows) == 1, rows
    return rows[0]
