"""The demo data generator writes what the input spec describes, deterministically.

Real files on disk, read back with the csv module; the expectations (columns,
RECIST arithmetic, life cycle of the planted defects) are transcribed from
shared/spec/site-exports.md and analysis-tables.md, not from the generator.
"""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import json
import time
from collections import defaultdict
from pathlib import Path

import pytest

from trialdw.study_config import load_studies
from trialdw.synth import generate
from trialdw.synth.recist import timepoint

EARLY, LATE = "20260720T020000Z", "20261119T020000Z"

# Transcribed from the input spec, "Domains" (order irrelevant, names exact).
SPEC_COLUMNS = {
    "DM": "STUDYID SITEID SUBJID USUBJID RFICDTC ENRLDTC BRTHDTC AGE SEX RACE ETHNIC COUNTRY ARMCD ARM DTHDTC DTHFL",
    "SC": "USUBJID SCTESTCD SCTEST SCORRES SCDTC",
    "EX": "USUBJID EXSEQ EXTRT EXDOSE EXDOSU EXDOSFRQ EXROUTE EXSTDTC EXENDTC",
    "AE": "USUBJID AESEQ AETERM AEDECOD AEBODSYS AESTDTC AEENDTC AETOXGR AESER AEREL AEACN AEOUT",
    "TU": "USUBJID TULNKID TUORRES TULOC TUMETHOD TUDTC VISIT",
    "TR": "USUBJID TRLNKID TRTESTCD TRORRES TRSTRESN TRSTRESU VISIT VISITNUM TRDTC",
    "RS": "USUBJID RSTESTCD RSSTRESC RSEVAL VISIT VISITNUM RSDTC",
    "LB": "USUBJID LBTESTCD LBSTRESN LBSTRESU LBSTNRLO LBSTNRHI VISIT LBDTC",
    "DS": "USUBJID DSCAT DSSCAT DSDECOD DSSTDTC",
    "SS": "USUBJID SSTESTCD SSSTRESC SSDTC",
    "CP": "USUBJID CPREFID CPSPEC VISIT VISITNUM CPTESTCD CPTEST CPSTRESN CPSTRESU CPMETHOD CPDTC",
    "GF": "USUBJID GFREFID VISIT VISITNUM GFCELLTY GFGENSY GFSTRESN GFSTRESU GFDTC",
}
SPEC_KEYS = {
    "DM": ("USUBJID",),
    "SC": ("USUBJID", "SCTESTCD"),
    "EX": ("USUBJID", "EXSEQ"),
    "AE": ("USUBJID", "AESEQ"),
    "TU": ("USUBJID", "TULNKID"),
    "TR": ("USUBJID", "TRLNKID", "TRTESTCD", "VISITNUM"),
    "RS": ("USUBJID", "RSTESTCD", "RSEVAL", "VISITNUM"),
    "LB": ("USUBJID", "LBTESTCD", "LBDTC"),
    "DS": ("USUBJID", "DSSCAT"),
    "SS": ("USUBJID", "SSDTC"),
    "CP": ("USUBJID", "CPREFID", "CPTESTCD"),
    "GF": ("USUBJID", "GFREFID", "GFCELLTY", "GFGENSY"),
}


def read_records(path: Path) -> list[tuple[int, dict[str, str]]]:
    """(physical start line, row) per record; header = line 1."""
    with open(path, newline="", encoding="utf-8") as f:
        reader = csv.reader(f)
        header = next(reader)
        out, line = [], reader.line_num + 1
        for values in reader:
            out.append((line, dict(zip(header, values, strict=False))))
            line = reader.line_num + 1
    return out


def rows(landing: Path, study: str, domain: str, transfer: str = LATE, site: str = "101") -> list[dict]:
    return [r for _, r in read_records(landing / study / site / transfer / f"{domain}.csv")]


def by_subject(records: list[dict]) -> dict[str, list[dict]]:
    grouped = defaultdict(list)
    for r in records:
        grouped[r["USUBJID"]].append(r)
    return grouped


@pytest.fixture(scope="module")
def landing(tmp_path_factory):
    out = tmp_path_factory.mktemp("landing")
    started = time.perf_counter()
    summary = generate(out)
    return out, summary, time.perf_counter() - started


@pytest.fixture(scope="module")
def clean_landing(tmp_path_factory):
    out = tmp_path_factory.mktemp("clean")
    return out, generate(out, defects=False)


def all_files(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


# --- layout, manifest, format -------------------------------------------------------


def test_deterministic_for_a_seed_and_fast(landing, tmp_path):
    out, summary, seconds = landing
    again = generate(tmp_path / "again")
    assert all_files(out) == all_files(tmp_path / "again")
    assert again.defects == summary.defects
    other_seed = generate(tmp_path / "other", seed=7)
    assert all_files(tmp_path / "other") != all_files(out)
    assert other_seed.transfers[0].study == "HCC-REGO-PD1"
    assert seconds < 10, f"generation took {seconds:.1f} s"


def test_layout_two_cumulative_transfers_per_study(landing):
    out, summary, _ = landing
    folders = sorted(str(p.parent.relative_to(out)) for p in out.rglob("manifest.json"))
    assert folders == [
        f"HCC-REGO-PD1/101/{EARLY}",
        f"HCC-REGO-PD1/101/{LATE}",
        f"HCC-SURU-SC/101/{EARLY}",
        f"HCC-SURU-SC/101/{LATE}",
    ]
    assert [t.transfer_id for t in summary.transfers] == [EARLY, LATE, EARLY, LATE]
    assert not list(out.rglob(".manifest.json.part"))


def test_manifest_checksums_and_record_counts(landing):
    out, _, _ = landing
    for manifest_path in out.rglob("manifest.json"):
        folder = manifest_path.parent
        manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
        study, site, transfer = folder.relative_to(out).parts
        assert (manifest["study"], manifest["site"], manifest["transfer_id"]) == (study, site, transfer)
        assert manifest["exported_at"] == f"{transfer[0:4]}-{transfer[4:6]}-{transfer[6:8]}T02:00:00Z"
        assert set(manifest["files"]) == {p.name for p in folder.iterdir() if p.name != "manifest.json"}
        for name, entry in manifest["files"].items():
            data = (folder / name).read_bytes()
            assert hashlib.sha256(data).hexdigest() == entry["sha256"], name
            assert len(read_records(folder / name)) == entry["rows"], name
            assert not data.startswith(b"\xef\xbb\xbf") and b"\r" not in data
    # A quoted verbatim term with a line break: records are not lines.
    ae = out / "HCC-REGO-PD1" / "101" / LATE / "AE.csv"
    assert ae.read_bytes().count(b"\n") - 1 > len(read_records(ae))


def test_every_file_has_exactly_the_spec_columns(landing):
    out, _, _ = landing
    studies = load_studies()
    for study, cfg in studies.items():
        names = {p.stem for p in (out / study / "101" / LATE).glob("*.csv")}
        assert names == set(cfg.domains)
        for domain in cfg.domains:
            with open(out / study / "101" / LATE / f"{domain}.csv", newline="", encoding="utf-8") as f:
                assert next(csv.reader(f)) == SPEC_COLUMNS[domain].split(), domain
    assert "CP" not in studies["HCC-REGO-PD1"].domains and not (out / "HCC-REGO-PD1" / "101" / LATE / "CP.csv").exists()


def test_usubjid_is_study_site_subjid(landing):
    out, _, _ = landing
    for study in ("HCC-REGO-PD1", "HCC-SURU-SC"):
        dm = rows(out, study, "DM")
        assert [r["SUBJID"] for r in dm] == [f"{i:04d}" for i in range(1, 25)]
        for r in dm:
            assert r["USUBJID"] == f"{r['STUDYID']}-{r['SITEID']}-{r['SUBJID']}" and r["SITEID"] == "101"
        subjects = {r["USUBJID"] for r in dm}
        for path in (out / study / "101" / LATE).glob("*.csv"):
            assert {r["USUBJID"] for _, r in read_records(path)} <= subjects, path.name


# --- cumulative snapshots and defects --------------------------------------------------


def defect_lines(summary) -> dict[str, set[int]]:
    lines = defaultdict(set)
    for d in summary.defects:
        lines[d.file].add(d.line)
    return lines


def test_earlier_transfer_records_reappear_in_the_later_one(landing):
    out, summary, _ = landing
    planted = defect_lines(summary)
    checked = 0
    for study, site_dir in (
        ("HCC-REGO-PD1", out / "HCC-REGO-PD1" / "101"),
        ("HCC-SURU-SC", out / "HCC-SURU-SC" / "101"),
    ):
        for path in (site_dir / EARLY).glob("*.csv"):
            domain = path.stem
            key = SPEC_KEYS[domain]
            later = {tuple(r[c] for c in key) for _, r in read_records(site_dir / LATE / path.name)}
            rel = f"{study}/101/{EARLY}/{path.name}"
            for line, r in read_records(path):
                if line in planted[rel]:
                    continue
                assert tuple(r[c] for c in key) in later, (rel, line)
                checked += 1
    assert checked > 10000
    # ... and the later transfer has more: visits after the earlier cut.
    early_tr = rows(out, "HCC-REGO-PD1", "TR", EARLY)
    late_tr = rows(out, "HCC-REGO-PD1", "TR", LATE)
    assert max(r["TRDTC"] for r in early_tr) < "2026-07-20" <= max(r["TRDTC"] for r in late_tr)


def test_values_known_only_later_are_empty_in_the_earlier_transfer(landing):
    out, _, _ = landing
    for transfer, cut in ((EARLY, "2026-07-20"), (LATE, "2026-11-19")):
        ex = rows(out, "HCC-REGO-PD1", "EX", transfer)
        ongoing = [r for r in ex if r["EXENDTC"] == ""]
        assert ongoing, transfer  # subjects still on treatment at the cut
        assert all(r["EXSTDTC"] < cut for r in ex)
        assert all(r["EXENDTC"] >= r["EXSTDTC"] for r in ex if r["EXENDTC"])
    early = {(r["USUBJID"], r["EXSEQ"]): r for r in rows(out, "HCC-REGO-PD1", "EX", EARLY)}
    late = {(r["USUBJID"], r["EXSEQ"]): r for r in rows(out, "HCC-REGO-PD1", "EX", LATE)}
    closed_later = [k for k, r in early.items() if r["EXENDTC"] == "" and late[k]["EXENDTC"] != ""]
    assert closed_later, "a period running at the earlier cut has its end in the later transfer"


def test_planted_defects_are_where_the_summary_says(landing):
    out, summary, _ = landing
    assert summary.defects
    seen = defaultdict(set)  # (study, column) -> transfers carrying it
    for d in summary.defects:
        study, _site, transfer, _name = d.file.split("/")
        records = dict(read_records(out / d.file))
        row = records[d.line]
        value = row[d.column]
        if d.column == "SEX":
            assert value not in ("M", "F", "U")
        elif d.column == "AEENDTC":
            assert value < row["AESTDTC"] and len(value) == len(row["AESTDTC"]) == 10
        elif d.column == "LBSTRESN":
            assert value != value.strip()
        elif d.column == "AETERM":
            assert "â‰¥" in value
        elif d.column == "AEOUT":
            assert row["AETOXGR"] == "5" and value != "FATAL"
        elif d.column == "AESEQ":
            same = [r for r in records.values() if (r["USUBJID"], r["AESEQ"]) == (row["USUBJID"], value)]
            assert len(same) == 2
        elif d.column == "RSSTRESC":  # checked against TR in test_review_defects_...
            assert row["RSTESTCD"] in ("OVRLRESP", "TRGRESP") and value == "PR"
        elif d.column == "DSSTDTC":
            assert row["DSDECOD"] == "DEATH" and row["DSSCAT"] == "END OF STUDY"
        else:
            pytest.fail(f"unexpected defect column {d.column}")
        assert d.usubjid == row["USUBJID"]
        # Row defects are findings at their line; the review ones only the data review sees.
        expected_category = "review" if d.column in ("RSSTRESC", "DSSTDTC") else "row"
        assert (d.category, d.rule is None) == (expected_category, expected_category == "row"), d
        seen[(study, d.column)].add(transfer)
    for study in ("HCC-REGO-PD1", "HCC-SURU-SC"):
        assert seen[(study, "SEX")] == {EARLY}  # corrected later -> resolved
        assert seen[(study, "LBSTRESN")] == {EARLY, LATE}  # persists -> stays open
        assert seen[(study, "AEENDTC")] == {EARLY, LATE}
        assert seen[(study, "AETERM")] == {EARLY, LATE}
        assert seen[(study, "AEOUT")] == {LATE}  # new in the later transfer
        assert seen[(study, "AESEQ")] == {LATE}
        assert seen[(study, "RSSTRESC")] == {LATE}  # review defects: new in the later one
    assert seen[("HCC-REGO-PD1", "DSSTDTC")] == {LATE} and ("HCC-SURU-SC", "DSSTDTC") not in seen
    # The corrected row is the same record, now valid.
    bad_sex = next(d for d in summary.defects if d.column == "SEX" and d.file.startswith("HCC-REGO-PD1"))
    usubjid = dict(read_records(out / bad_sex.file))[bad_sex.line]["USUBJID"]
    assert next(r for r in rows(out, "HCC-REGO-PD1", "DM") if r["USUBJID"] == usubjid)["SEX"] in ("M", "F")


def test_review_defects_disagree_across_records_and_are_new_in_the_latest_transfer(landing):
    """One investigator PR over an SD target sum per study, one DS death date a day after DM (REGO)."""
    out, summary, _ = landing
    for study in ("HCC-REGO-PD1", "HCC-SURU-SC"):
        planted = planted_review(summary, study, "RS")
        assert {t for _, t in planted} == {"OVRLRESP", "TRGRESP"} and len({u for u, _ in planted}) == 1
        (u, _), ovr = next(iter(planted.items()))
        visit = int(ovr["VISITNUM"])
        targets = {r["TULNKID"] for r in rows(out, study, "TU") if r["USUBJID"] == u and r["TUORRES"] == "TARGET"}
        sod = defaultdict(int)
        for r in rows(out, study, "TR"):
            if r["USUBJID"] == u and r["TRLNKID"] in targets:
                sod[int(r["VISITNUM"])] += int(r["TRSTRESN"])
        # SD by RECIST 1.1: less than a 30 % decrease from baseline, less than a 20 % increase over the
        # nadir (no CR/PR before it, so the nadir is the smallest earlier sum).
        nadir = min(sod[v] for v in sod if v < visit)
        assert 0.7 * sod[0] < sod[visit] < 1.2 * nadir, (u, dict(sod))
        ovrl = {
            int(r["VISITNUM"]): r["RSSTRESC"]
            for r in rows(out, study, "RS")
            if r["USUBJID"] == u and r["RSTESTCD"] == "OVRLRESP"
        }
        assert ovrl[visit] == "PR" and ovrl[visit + 1] == "PR"  # a real PR follows: mild
        assert sum(r in ("CR", "PR") for n, r in ovrl.items() if n > visit) >= 2  # ... already confirmed
        assert not {"CR", "PR"} & {v for n, v in ovrl.items() if n < visit}
        early = {
            int(r["VISITNUM"]): r["RSSTRESC"]
            for r in rows(out, study, "RS", EARLY)
            if r["USUBJID"] == u and r["RSTESTCD"] == "OVRLRESP"
        }
        assert early.get(visit, "SD") == "SD"  # as read in the earlier transfer
    (u, _), death = next(iter(planted_review(summary, "HCC-REGO-PD1", "DS").items()))
    dthdtc = next(r["DTHDTC"] for r in rows(out, "HCC-REGO-PD1", "DM") if r["USUBJID"] == u)
    assert dt.date.fromisoformat(death["DSSTDTC"]) - dt.date.fromisoformat(dthdtc) == dt.timedelta(days=1)
    assert [
        r["DSSTDTC"] for r in rows(out, "HCC-REGO-PD1", "DS", EARLY) if r["USUBJID"] == u and r["DSDECOD"] == "DEATH"
    ] in ([], [dthdtc], [dthdtc, dthdtc])
    assert not planted_review(summary, "HCC-SURU-SC", "DS")
    assert "[data review: ovr_vs_recist]" in summary.describe()


def test_review_defects_change_nothing_but_their_own_rows(landing, clean_landing):
    """Against the clean landing (same seed): RS and DS differ only on the planted lines, and the
    domains no defect touches are byte-identical, so no other subject's course moved."""
    out, summary, _ = landing
    clean, _ = clean_landing
    review_lines = defaultdict(set)
    for d in summary.defects:
        if d.category == "review":
            review_lines[d.file].add(d.line)
    for study in ("HCC-REGO-PD1", "HCC-SURU-SC"):
        for transfer in (EARLY, LATE):
            for domain in ("RS", "DS"):
                rel = f"{study}/101/{transfer}/{domain}.csv"
                planted, unplanted = read_records(out / rel), read_records(clean / rel)
                assert [line for line, _ in planted] == [line for line, _ in unplanted]
                differ = {line for (line, a), (_, b) in zip(planted, unplanted, strict=False) if a != b}
                assert differ == review_lines[rel], rel
            for domain in ("TU", "TR", "EX", "SS", "SC"):
                rel = f"{study}/101/{transfer}/{domain}.csv"
                assert (out / rel).read_bytes() == (clean / rel).read_bytes(), rel


def test_defect_keeps_its_four_field_form():
    from trialdw.synth import Defect

    d = Defect("S/101/T/AE.csv", 2, "AEENDTC", "why")
    assert (d.category, d.rule, d.usubjid) == ("row", None, None) and d[:4] == ("S/101/T/AE.csv", 2, "AEENDTC", "why")


def test_clean_landing_has_no_defects(clean_landing):
    out, summary = clean_landing
    assert summary.defects == [] and "clean landing" in summary.describe()
    for path in out.rglob("*.csv"):
        text = path.read_text(encoding="utf-8")
        assert "â€" not in text and "â‰" not in text
        for _, r in read_records(path):
            assert all(v == v.strip() for v in r.values()), path
            if path.stem == "DM":
                assert r["SEX"] in ("M", "F", "U")
            if path.stem == "AE":
                assert (r["AETOXGR"] == "5") == (r["AEOUT"] == "FATAL")
                if len(r["AESTDTC"]) == len(r["AEENDTC"]) == 10:
                    assert r["AEENDTC"] >= r["AESTDTC"]
        keys = [tuple(r[c] for c in SPEC_KEYS[path.stem]) for _, r in read_records(path)]
        assert len(keys) == len(set(keys)), path


# --- clinical content -----------------------------------------------------------------


@pytest.mark.parametrize(
    "case, expected",
    [
        # (target sizes, nodal flags, baseline SOD, nadir SOD, non-target states, new lesion) -> OVRLRESP
        (({"T01": 35, "T02": 35}, {}, 100, 100, [], False), ("PR", None, "PR")),  # exactly -30 %
        (({"T01": 36, "T02": 35}, {}, 100, 100, [], False), ("SD", None, "SD")),  # -29 %
        (({"T01": 60}, {}, 100, 50, ["PRESENT"], False), ("PD", "NON-CR/NON-PD", "PD")),  # +20 %, +10 mm
        (({"T01": 24}, {}, 30, 20, [], False), ("SD", None, "SD")),  # +20 % but only +4 mm
        (({"T01": 0, "T02": 9}, {"T02": True}, 50, 9, ["ABSENT"], False), ("CR", "CR", "CR")),  # node < 10 mm
        (({"T01": 0, "T02": 10}, {"T02": True}, 50, 10, [], False), ("PR", None, "PR")),  # node 10 mm: not CR
        (({"T01": 0}, {}, 50, 0, ["PRESENT"], False), ("CR", "NON-CR/NON-PD", "PR")),  # CR + NT present = PR
        (({"T01": 30, "T02": None}, {}, 50, 40, [], False), ("NE", None, "NE")),  # lesion not measured
        (({"T01": 49, "T02": None}, {}, 50, 40, [], False), ("PD", None, "PD")),  # PD evident anyway
        (({}, {}, 0, 0, ["PRESENT"], True), (None, "NON-CR/NON-PD", "PD")),  # new lesion
        (({}, {}, 0, 0, ["PRESENT", "PRESENT"], False), (None, "NON-CR/NON-PD", "NON-CR/NON-PD")),
    ],
)
def test_recist_timepoint_hand_checked(case, expected):
    sizes, nodal, base, nadir, nt, new = case
    tp = timepoint(sizes, {k: nodal.get(k, False) for k in sizes}, base, nadir, nt, new)
    assert (tp.trgresp, tp.ntrgresp, tp.ovrlresp) == expected


def planted_review(summary, study: str, domain: str) -> dict[str, dict]:
    """USUBJID -> row of each review defect planted in the study's latest file of that domain."""
    planted = {}
    for d in summary.defects:
        if d.category == "review" and d.file == f"{study}/101/{LATE}/{domain}.csv":
            row = dict(read_records(summary.out / d.file))[d.line]
            planted[(row["USUBJID"], row.get("RSTESTCD"))] = row
    return planted


def test_investigator_responses_agree_with_the_diameters(landing):
    """Recompute every TRGRESP from TR with the RECIST arithmetic of the analysis spec:
    they all agree except the one planted misread per study."""
    out, summary, _ = landing
    compared = 0
    disagree = set()
    for study in ("HCC-REGO-PD1", "HCC-SURU-SC"):
        tu = by_subject(rows(out, study, "TU"))
        tr = by_subject(rows(out, study, "TR"))
        rs = by_subject(rows(out, study, "RS"))
        for u, lesions in tu.items():
            targets = {les["TULNKID"]: les["TULOC"] == "LYMPH NODE" for les in lesions if les["TUORRES"] == "TARGET"}
            visits = defaultdict(dict)
            for r in tr[u]:
                if r["TRTESTCD"] == "LDIAM":
                    visits[int(r["VISITNUM"])][r["TRLNKID"]] = int(r["TRSTRESN"])
            trg = {int(r["VISITNUM"]): r["RSSTRESC"] for r in rs[u] if r["RSTESTCD"] == "TRGRESP"}
            if not targets:
                assert not trg and all(r["RSTESTCD"] != "TRGRESP" for r in rs[u])
                continue
            baseline = sum(visits[0].values())
            nadir = baseline
            for num in sorted(v for v in visits if v > 0):
                sizes = visits[num]
                sod = sum(sizes.values())
                pd_ = sod >= 1.2 * nadir and sod - nadir >= 5
                if len(sizes) < len(targets):
                    expected = "PD" if pd_ else "NE"
                elif pd_:
                    expected = "PD"
                elif all(s < 10 if targets[k] else s == 0 for k, s in sizes.items()):
                    expected = "CR"
                elif sod <= 0.7 * baseline:
                    expected = "PR"
                else:
                    expected = "SD"
                if trg[num] != expected:
                    disagree.add((study, u, num, trg[num], expected))
                if expected != "NE":
                    nadir = min(nadir, sod)
                compared += 1
    assert compared > 150
    planted = {
        (study, u, int(row["VISITNUM"]), "PR", "SD")
        for study in ("HCC-REGO-PD1", "HCC-SURU-SC")
        for (u, testcd), row in planted_review(summary, study, "RS").items()
        if testcd == "TRGRESP"
    }
    assert len(planted) == 2 and disagree == planted


def test_a_mix_of_courses_and_disposition(landing):
    out, summary, _ = landing
    study = "HCC-REGO-PD1"
    dm = {r["USUBJID"]: r for r in rows(out, study, "DM")}
    ex = by_subject(rows(out, study, "EX"))
    rs = by_subject(rows(out, study, "RS"))
    lb = by_subject(rows(out, study, "LB"))
    ds = by_subject(rows(out, study, "DS"))
    ovr = {u: [r for r in rs[u] if r["RSTESTCD"] == "OVRLRESP"] for u in dm}

    def afp_near(u, day):
        afp = [r for r in lb[u] if r["LBTESTCD"] == "AFP"]
        return min(afp, key=lambda r: abs((dt.date.fromisoformat(r["LBDTC"]) - dt.date.fromisoformat(day)).days))

    cr_afp = [float(afp_near(u, r["RSDTC"])["LBSTRESN"]) for u in dm for r in ovr[u] if r["RSSTRESC"] == "CR"]
    assert any(v <= 20 for v in cr_afp) and any(v > 20 for v in cr_afp)  # the marker rule matters
    never_dosed = [u for u in dm if not ex[u]]
    assert len(never_dosed) == 1 and not ovr[never_dosed[0]]
    assert any(r["RSSTRESC"] == "NON-CR/NON-PD" for u in dm for r in ovr[u])
    death_no_pd = [u for u in dm if dm[u]["DTHDTC"] and all(r["RSSTRESC"] != "PD" for r in ovr[u])]
    assert death_no_pd
    bors = {r["RSSTRESC"] for u in dm for r in ovr[u]}
    assert {"CR", "PR", "SD", "PD", "NE"} <= bors
    death_dates_differ = set()
    for u, r in dm.items():
        assert r["RFICDTC"] <= r["ENRLDTC"] and 18 <= int(r["AGE"]) <= 120
        assert (r["DTHFL"] == "Y") == (r["DTHDTC"] != "")
        deaths = [d["DSSTDTC"] for d in ds[u] if d["DSDECOD"] == "DEATH"]
        assert bool(deaths) == bool(r["DTHDTC"])
        death_dates_differ |= {u for d in deaths if d != r["DTHDTC"]}
    assert death_dates_differ == {u for u, _ in planted_review(summary, study, "DS")}  # only the planted one


def test_dates_respect_treatment_and_death(landing):
    out, _, _ = landing
    for study in ("HCC-REGO-PD1", "HCC-SURU-SC"):
        dm = {r["USUBJID"]: r for r in rows(out, study, "DM")}
        first_dose = {}
        for r in rows(out, study, "EX"):
            first_dose[r["USUBJID"]] = min(first_dose.get(r["USUBJID"], "9999"), r["EXSTDTC"])
        for r in rows(out, study, "TR"):
            if r["VISITNUM"] == "0" and r["USUBJID"] in first_dose:
                assert r["TRDTC"] <= first_dose[r["USUBJID"]]
        dated = [("EX", "EXENDTC"), ("TR", "TRDTC"), ("RS", "RSDTC"), ("LB", "LBDTC"), ("AE", "AESTDTC")]
        for domain, column in dated:
            for r in rows(out, study, domain):
                death = dm[r["USUBJID"]]["DTHDTC"]
                if death and r[column]:
                    assert r[column][: len(death)] <= death, (domain, r)
        for r in rows(out, study, "SS"):
            death = dm[r["USUBJID"]]["DTHDTC"]
            assert (r["SSSTRESC"] == "DEAD") == bool(death and r["SSDTC"] > death)


def test_single_cell_samples(landing):
    out, _, _ = landing
    cp = rows(out, "HCC-SURU-SC", "CP")
    samples = defaultdict(dict)
    for r in cp:
        samples[(r["USUBJID"], r["CPREFID"], r["VISIT"])][r["CPTESTCD"]] = int(r["CPSTRESN"])
    codes = {"TUMOR", "ENDOTH", "MONO", "MACRO", "MAST", "TCELL", "BCELL", "DC", "NEUTRO", "OTHER"}
    assert all(set(c) == codes and 1000 < sum(c.values()) < 8000 for c in samples.values())
    visits = defaultdict(set)
    for u, _, visit in samples:
        visits[u].add(visit)
    paired = [u for u, v in visits.items() if v == {"BASELINE", "ON TREATMENT"}]
    assert len(visits) == 23 and len(paired) >= 12  # the never-dosed subject has no biopsy
    first_dose = {}
    for r in rows(out, "HCC-SURU-SC", "EX"):
        first_dose[r["USUBJID"]] = min(first_dose.get(r["USUBJID"], "9999"), r["EXSTDTC"])
    for r in cp:
        if r["VISIT"] == "BASELINE" and r["USUBJID"] in first_dose:
            assert r["CPDTC"] < first_dose[r["USUBJID"]]
    gf = rows(out, "HCC-SURU-SC", "GF")
    assert {r["GFREFID"] for r in gf} == {k[1] for k in samples}
    assert all(float(r["GFSTRESN"]) >= 0 and r["GFSTRESU"] == "LOG1P CPM" for r in gf)
    assert 20 <= len({r["GFGENSY"] for r in gf}) <= 40


def test_sites_and_folder_reuse(tmp_path):
    summary = generate(tmp_path, subjects=3, sites=2, transfers=1)
    assert sorted({(t.study, t.site) for t in summary.transfers}) == [
        ("HCC-REGO-PD1", "101"),
        ("HCC-REGO-PD1", "102"),
        ("HCC-SURU-SC", "101"),
        ("HCC-SURU-SC", "102"),
    ]
    assert {r["USUBJID"] for r in rows(tmp_path, "HCC-SURU-SC", "DM", site="102")} == {
        "HCC-SURU-SC-102-0001",
        "HCC-SURU-SC-102-0002",
        "HCC-SURU-SC-102-0003",
    }
    assert all(d.file.split("/")[1] == "101" for d in summary.defects)  # defects at the first site only
    generate(tmp_path, subjects=3, sites=2, transfers=1)  # rewriting its own files is fine
    (tmp_path / "HCC-SURU-SC" / "101" / LATE / "notes.txt").write_text("mine")
    with pytest.raises(FileExistsError):
        generate(tmp_path, subjects=3, sites=2, transfers=1)
