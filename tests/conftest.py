"""Shared fixtures: quiet offline settings and one real Prefect test server per session."""

from __future__ import annotations

import atexit
import os
import shutil
import tempfile

# Before prefect/dbt/GX are imported by any test module. A Prefect home of the
# test run's own goes with it (after the test server has stopped).
if "PREFECT_HOME" not in os.environ:
    os.environ["PREFECT_HOME"] = tempfile.mkdtemp(prefix="trialdw-prefect-")
    atexit.register(shutil.rmtree, os.environ["PREFECT_HOME"], ignore_errors=True)
from trialdw.environment import apply_quiet_offline_env

apply_quiet_offline_env()

import pytest  # noqa: E402


@pytest.fixture(scope="session")
def prefect_harness():
    """A real (temporary) Prefect API for flow runs; started once, ~20-30 s."""
    from prefect.testing.utilities import prefect_test_harness

    with prefect_test_harness(server_startup_timeout=180):
        yield


@pytest.fixture(scope="session")
def sshd(tmp_path_factory):
    """A real OpenSSH sshd on a free loopback port (tests/helpers/servers.py)."""
    from tests.helpers.servers import running_sshd

    with running_sshd(tmp_path_factory.mktemp("sshd")) as server:
        yield server


@pytest.fixture(scope="session")
def s3_server():
    """moto's S3-compatible HTTP server on a free loopback port."""
    from tests.helpers.servers import running_s3

    with running_s3() as server:
        yield server


@pytest.fixture(scope="session")
def spark(tmp_path_factory):
    """One local SparkSession for the whole test session (local[2], 2 shuffle
    partitions, UI off; start-up ~15 s): tests/helpers/spark.py. Skips without Java."""
    from tests.helpers.spark import running_test_spark, spark_unavailable

    reason = spark_unavailable()
    if reason:
        pytest.skip(reason)
    with running_test_spark(tmp_path_factory.mktemp("spark-warehouse")) as harness:
        yield harness
