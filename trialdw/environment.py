"""Process environment for offline, quiet runs.

Set before prefect, dbt or great_expectations are imported: they read these
at import time. ``setdefault`` so an operator's explicit setting wins.
"""

from __future__ import annotations

import os

from trialdw.project import PROJECT_ROOT

QUIET_OFFLINE = {
    "DO_NOT_TRACK": "1",
    "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
    "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
    "GX_ANALYTICS_ENABLED": "false",
    "PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS": "90",  # 2 slow cores
    "PREFECT_HOME": str(PROJECT_ROOT / ".prefect"),
    "PANDERA_VALIDATION_DEPTH": "SCHEMA_AND_DATA",
}


def apply_quiet_offline_env() -> None:
    for key, value in QUIET_OFFLINE.items():
        os.environ.setdefault(key, value)
