"""A night that pulls first: ``trialdw run --sources`` as a real process against
the session's Prefect server, one study's sites on a real sshd (an encrypted key
whose passphrase is in the environment), the other study's in an S3 bucket on
moto's server (its secret key in the environment too), and one transfer the
pull refuses. The pull's outcome per transfer must reach audit.pulls, audit.runs,
the run summary and the review page; the secrets must reach nothing.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.helpers.pulls import transfer_files, write_sources
from tests.helpers.servers import keygen
from tests.helpers.transfers import base_files, write_transfer
from trialdw import warehouse as wh
from trialdw.synth import generate

pytestmark = pytest.mark.slow

REGO, SURU = "HCC-REGO-PD1", "HCC-SURU-SC"
PASSPHRASE = "pass-4f1c9e2a-never-logged"
S3_SECRET = "s3-secret-8d07b5e3-never-logged"
REFUSED_TID = "20261201T020000Z"


@pytest.fixture(scope="module")
def night(tmp_path_factory, sshd, s3_server, prefect_harness):
    from prefect.settings import PREFECT_API_URL

    root = tmp_path_factory.mktemp("pull-night")
    demo = root / "demo"
    generate(demo, subjects=6)

    sftp_root = sshd.folder / "night"
    shutil.copytree(demo / REGO, sftp_root / REGO)
    refused = write_transfer(sftp_root, REFUSED_TID, base_files(), study=REGO, site="101")
    (refused / "AE.csv").unlink()
    (refused / "AE.csv").symlink_to(demo / REGO / "101")

    key = keygen(root / "site_key", PASSPHRASE, "ecdsa", "-m", "PKCS8")
    authorized = Path(sshd.user_key).parent / "authorized_keys"
    authorized.write_text(authorized.read_text() + Path(f"{key}.pub").read_text())

    fs = s3_server.filesystem()
    fs.mkdir("night-drops")
    for path in sorted((demo / SURU).rglob("*")):
        if path.is_file():
            fs.pipe(f"night-drops/exports/{path.relative_to(demo)}", path.read_bytes())

    sources = write_sources(
        root / "sources.yml",
        [
            {
                "name": "rego-site-101",
                "url": sshd.url(sftp_root),
                "studies": [REGO],
                "identity": str(key),
                "known_hosts": str(sshd.known_hosts),
                "passphrase_env": "TRIALDW_NIGHT_PASSPHRASE",
            },
            {
                "name": "suru-edc",
                "url": "s3://night-drops/exports",
                "studies": [SURU],
                "endpoint_url": s3_server.endpoint_url,
                "access_key_id_env": "TRIALDW_NIGHT_S3_KEY_ID",
                "secret_access_key_env": "TRIALDW_NIGHT_S3_SECRET",
            },
        ],
    )
    landing, warehouse = root / "landing", root / "wh" / "trialdw.duckdb"
    env = {
        **os.environ,
        "PREFECT_API_URL": PREFECT_API_URL.value(),
        "TRIALDW_NIGHT_PASSPHRASE": PASSPHRASE,
        "TRIALDW_NIGHT_S3_KEY_ID": s3_server.key,
        "TRIALDW_NIGHT_S3_SECRET": S3_SECRET,
    }
    command = [sys.executable, "-m", "trialdw.cli", "run", "--sources", str(sources)]
    command += ["--landing", str(landing), "--warehouse", str(warehouse)]
    done = subprocess.run(
        command,
        capture_output=True,
        text=True,
        timeout=900,
        env=env,
    )
    return {"done": done, "demo": demo, "landing": landing, "warehouse": warehouse, "sources": sources}


def _query(path: Path, sql: str):
    with wh.connect_read_only(path) as con:
        return con.execute(sql).fetchall()


def test_the_night_pulls_then_loads_what_it_pulled(night):
    done = night["done"]
    assert done.returncode == 0, done.stderr[-3000:]
    assert "pulled    : 4 landed, 0 skipped, 0 incomplete, 1 refused, 0 failed" in done.stdout
    assert transfer_files(night["landing"]) == transfer_files(night["demo"])
    accepted = _query(night["warehouse"], "SELECT STUDYID, count(*) FROM audit.transfers GROUP BY 1 ORDER BY 1")
    assert accepted == [(REGO, 2), (SURU, 2)]


def test_each_transfer_outcome_is_in_audit_pulls_runs_and_findings(night):
    sql = "SELECT STUDYID, TRANSFER_ID, SOURCE, OUTCOME, RULE FROM audit.pulls ORDER BY 1, 2"
    rows = _query(night["warehouse"], sql)
    assert [(r[0], r[3], r[4]) for r in rows] == [
        (REGO, "landed", None),
        (REGO, "landed", None),
        (REGO, "refused", "symlink"),
        (SURU, "landed", None),
        (SURU, "landed", None),
    ]
    assert rows[2][2].startswith("sftp://") and rows[3][2] == "s3://night-drops/exports"
    (details,) = _query(night["warehouse"], "SELECT DETAILS FROM audit.runs WHERE STATUS = 'completed'")[0]
    pull = json.loads(details)["pull"]
    assert pull["counts"] == {"landed": 4, "skipped": 0, "incomplete": 0, "refused": 1, "failed": 0}
    assert len(pull["outcomes"]) == 5
    findings = _query(
        night["warehouse"],
        "SELECT RULE, CATEGORY, STATUS, LAST_SEEN_TRANSFER FROM audit.findings WHERE CATEGORY = 'pull'",
    )
    assert findings == [("symlink", "pull", "open", REFUSED_TID)]


def test_run_summary_and_review_page_show_the_pull(night):
    reports = night["warehouse"].parent / "trialdw-reports"
    summary = (reports / "run-summary.md").read_text()
    assert "## Pulled from sites" in summary and "- 4 landed, 0 skipped, 0 incomplete, 1 refused, 0 failed" in summary
    assert f"| refused | {REGO} | 101 | {REFUSED_TID} | symlink |" in summary
    page = (reports / "review.html").read_text()
    assert "<h2>Pulled from sites</h2>" in page and 'id="pulls"' in page
    assert f"<td>refused</td><td>{REGO}</td><td>101</td><td>{REFUSED_TID}</td><td>symlink</td>" in page
    assert "<th>Pulled from</th>" in page and '<td class="pulled">s3://night-drops/exports at ' in page


def test_no_secret_reaches_output_logs_reports_or_prefect(night):
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import LogFilter, LogFilterFlowRunId

    done = night["done"]
    texts = {"stdout": done.stdout, "stderr": done.stderr}
    folder = night["warehouse"].parent
    texts["run log"] = (folder / "trialdw-runs.jsonl").read_text()
    for path in (folder / "trialdw-reports").rglob("*"):
        if path.is_file() and path.suffix in (".md", ".html", ".csv", ".json"):
            texts[str(path)] = path.read_text(errors="replace")
    audit = [_query(night["warehouse"], f"SELECT * FROM audit.{table}") for table in ("runs", "pulls", "findings")]
    texts["audit"] = json.dumps(audit, default=str)

    async def prefect_records():
        async with get_client() as client:
            runs = await client.read_flow_runs()
            mine = [r for r in runs if r.parameters.get("sources") == str(night["sources"].resolve())]
            assert len(mine) == 1, [r.parameters for r in runs]
            logs = await client.read_logs(LogFilter(flow_run_id=LogFilterFlowRunId(any_=[mine[0].id])))
            return json.dumps(mine[0].parameters), "\n".join(log.message for log in logs)

    texts["prefect parameters"], texts["prefect logs"] = asyncio.run(prefect_records())
    assert "landed" in texts["prefect logs"]  # the pull's lines did reach the Prefect log
    for name, text in texts.items():
        assert PASSPHRASE not in text, name
        assert S3_SECRET not in text, name
