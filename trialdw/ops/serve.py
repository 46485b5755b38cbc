"""The nightly deployment: a cron schedule served against a real Prefect server.

``trialdw serve`` registers deployment ``trialdw-nightly/<name>`` with the
schedule and the landing/warehouse parameters, then keeps running to execute
scheduled runs and runs triggered by hand. Prefect's temporary (ephemeral)
server runs no scheduler, so serving without ``PREFECT_API_URL`` would register
a schedule that never fires: refused.
"""

from __future__ import annotations

import zoneinfo
from pathlib import Path

DEFAULT_CRON = "0 2 * * *"  # 02:00 every night
DEFAULT_TIMEZONE = "UTC"
DEFAULT_NAME = "nightly"


class ServeError(ValueError):
    """The deployment cannot be served as asked; the message says why."""


def configured_api_url() -> str | None:
    from prefect.settings import PREFECT_API_URL

    return PREFECT_API_URL.value() or None


def deployment_parameters(landing: Path, warehouse: Path, studies_dir: str | None, sources: str | None = None) -> dict:
    """Absolute paths: the served run does not start in the operator's folder. The
    sources file goes by its path: the credentials it references never become
    parameters (which the Prefect server stores and shows)."""
    params = {"landing": str(Path(landing).resolve()), "warehouse": str(Path(warehouse).resolve())}
    if studies_dir:
        params["studies_dir"] = str(Path(studies_dir).resolve())
    if sources:
        params["sources"] = str(Path(sources).resolve())
    return params


def nightly_schedule(cron: str, timezone: str):
    from prefect.schedules import Cron

    try:
        zoneinfo.ZoneInfo(timezone)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        raise ServeError(f"unknown timezone {timezone!r} (use an IANA name such as Europe/Berlin)") from None
    from prefect.client.schemas.schedules import CronSchedule

    try:
        CronSchedule(cron=cron, timezone=timezone)  # the validation the server applies
    except ValueError:  # pydantic's ValidationError is a ValueError
        raise ServeError(f"invalid cron expression {cron!r} (e.g. '0 2 * * *' for 02:00)") from None
    return Cron(cron, timezone=timezone)


def serve_nightly(
    flow,
    *,
    name: str,
    landing: Path,
    warehouse: Path,
    studies_dir: str | None,
    cron: str,
    timezone: str,
    sources: str | None = None,
    engine: dict | None = None,
) -> None:
    """Register the deployment and serve it until stopped (Ctrl-C / SIGTERM).
    ``engine``: the flow's engine parameters (``engine``, ``spark_master``,
    ``spark_warehouse``; docs/spark.md), none for the DuckDB night."""
    if not configured_api_url():
        raise ServeError(
            "serving needs a running Prefect server: start `prefect server start` and set "
            "PREFECT_API_URL=http://127.0.0.1:4200/api (the temporary server schedules nothing)"
        )
    schedule = nightly_schedule(cron, timezone)
    flow.serve(
        name=name,
        schedules=[schedule],
        parameters={**deployment_parameters(landing, warehouse, studies_dir, sources), **(engine or {})},
        limit=1,  # one run at a time from this server; the writer lock guards the rest
        description=f"trialdw nightly run: {landing} -> {warehouse}",
    )
