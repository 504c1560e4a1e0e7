"""Scheduling and monitoring against a real Prefect server on a free loopback port."""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.conftest import SEEDS_DIR


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def live_server(tmp_path_factory: pytest.TempPathFactory):
    """`newsdag ui` on a free port with its own PREFECT_HOME; stopped with `newsdag ui --stop`."""
    home = tmp_path_factory.mktemp("prefect-live")
    port = free_port()
    env = {**os.environ, "PREFECT_HOME": str(home), "NEWSDAG_PREFECT_PORT": str(port)}
    env.pop("PREFECT_API_URL", None)
    started = subprocess.run([sys.executable, "-m", "flows", "ui"], env=env, capture_output=True, text=True, timeout=180)
    assert started.returncode == 0, started.stderr
    assert f"http://127.0.0.1:{port}" in started.stdout
    yield {"env": env, "url": f"http://127.0.0.1:{port}", "api": f"http://127.0.0.1:{port}/api"}
    subprocess.run([sys.executable, "-m", "flows", "ui", "--stop"], env=env, timeout=60)


def _api(coro_factory, api_url: str):
    """Run an async Prefect client call against the live server."""
    from prefect.client.orchestration import get_client
    from prefect.settings import PREFECT_API_URL, temporary_settings

    async def runner():
        with temporary_settings({PREFECT_API_URL: api_url}):
            async with get_client() as client:
                return await coro_factory(client)

    return asyncio.run(runner())


def test_run_uses_the_background_server_and_records_every_task_run(live_server, tmp_path: Path) -> None:
    raw = tmp_path / "raw"
    raw.mkdir()
    shutil.copy(sorted(SEEDS_DIR.glob("*.txt"))[2], raw / "a.txt")
    warehouse = tmp_path / "w.duckdb"
    env = dict(live_server["env"])
    result = subprocess.run(
        [sys.executable, "-m", "flows", "run", "--raw-dir", str(raw), "--warehouse", str(warehouse)],
        env=env, capture_output=True, text=True, timeout=600,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert live_server["api"] in result.stderr

    from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterId
    from prefect.client.schemas.sorting import FlowRunSort

    async def latest_run(client):
        runs = await client.read_flow_runs(sort=FlowRunSort.START_TIME_DESC, limit=1)
        run = runs[0]
        tasks = await client.read_task_runs(flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=[run.id])))
        artifacts = await client.read_artifacts()
        return run, tasks, artifacts

    run, task_runs, artifacts = _api(latest_run, live_server["api"])
    assert run.state.is_completed()
    names = {t.name.rsplit("-", 1)[0] for t in task_runs}
    expected = {"discover-files", "plan-ingest", "read-documents", "clean-articles", "split-paragraphs",
                "embed-paragraphs", "extract-entities", "link-paragraphs", "load-warehouse", "record-files",
                "check-warehouse", "report-run"}
    assert expected <= names, expected - names
    assert all(t.state.is_completed() for t in task_runs)
    assert any(a.key == "ingest-files" and a.flow_run_id == run.id for a in artifacts)


def test_serve_registers_a_scheduled_deployment_that_runs(live_server, tmp_path: Path) -> None:
    raw = tmp_path / "raw"
    raw.mkdir()
    shutil.copy(sorted(SEEDS_DIR.glob("*.txt"))[2], raw / "a.txt")
    warehouse = tmp_path / "w.duckdb"
    env = {**live_server["env"], "PREFECT_API_URL": live_server["api"]}
    serving = subprocess.Popen(
        [sys.executable, "-m", "flows", "serve", "--raw-dir", str(raw), "--warehouse", str(warehouse),
         "--interval", "3600", "--name", "test-schedule"],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True,
    )
    try:
        from prefect.deployments import run_deployment

        async def deployment(client):
            return await client.read_deployment_by_name("newsdag-ingest/test-schedule")

        deadline = time.monotonic() + 120
        found = None
        while time.monotonic() < deadline and found is None:
            try:
                found = _api(deployment, live_server["api"])
            except Exception:  # not registered yet
                time.sleep(1)
        assert found is not None, "deployment was not registered"
        assert found.schedules and found.schedules[0].schedule.interval.total_seconds() == 3600

        from prefect.settings import PREFECT_API_URL, temporary_settings

        with temporary_settings({PREFECT_API_URL: live_server["api"]}):
            flow_run = run_deployment("newsdag-ingest/test-schedule", timeout=400)
        assert flow_run.state.is_completed(), flow_run.state

        async def artifacts(client):
            return await client.read_artifacts()

        assert any(a.key == "ingest-summary" and a.flow_run_id == flow_run.id for a in _api(artifacts, live_server["api"]))
        import duckdb

        with duckdb.connect(str(warehouse), read_only=True) as con:
            assert con.execute("select count(*) from articles").fetchone()[0] == 1
    finally:
        os.killpg(serving.pid, signal.SIGINT)
        try:
            serving.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(serving.pid, signal.SIGKILL)
