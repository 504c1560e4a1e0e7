"""Scheduling and monitoring against a real Prefect server on a free loopback port (`live_server`),
and the Prefect UI in a real browser (Debian's chromium, headless)."""

from __future__ import annotations

import asyncio
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
import urllib.request
import uuid
from pathlib import Path

import duckdb
import pytest

from tests.conftest import PROJECT_ROOT, SEEDS_DIR

# Tasks every run has (others may be added to a batch; these must all be recorded).
RUN_TASKS = {"discover-files", "plan-ingest", "record-files", "check-warehouse", "report-run"}
BATCH_TASKS = {"read-documents", "clean-articles", "split-paragraphs", "embed-texts", "extract-entities", "extract-quotes",
               "link-quotes", "load-warehouse"}  # paragraph links are made inside load-warehouse's transaction


def api(coro_factory, api_url: str):
    """Run an async Prefect client call against the live server."""
    from prefect.client.orchestration import get_client
    from prefect.settings import PREFECT_API_URL, temporary_settings

    async def runner():
        with temporary_settings({PREFECT_API_URL: api_url}):
            async with get_client() as client:
                return await coro_factory(client)

    return asyncio.run(runner())


def flow_run_record(api_url: str, flow_run_id: str) -> dict:
    """The flow run, its task runs, artifacts and logs as the server stored them."""
    from prefect.client.schemas.filters import (
        ArtifactFilter, ArtifactFilterFlowRunId, FlowRunFilter, FlowRunFilterId, LogFilter, LogFilterFlowRunId,
    )

    run_uuid = uuid.UUID(flow_run_id)

    async def read(client):
        run = await client.read_flow_run(run_uuid)
        tasks = await client.read_task_runs(flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=[run_uuid])))
        artifacts = await client.read_artifacts(
            artifact_filter=ArtifactFilter(flow_run_id=ArtifactFilterFlowRunId(any_=[run_uuid]))
        )
        logs = await client.read_logs(log_filter=LogFilter(flow_run_id=LogFilterFlowRunId(any_=[run_uuid])))
        return {"run": run, "tasks": tasks, "artifacts": {a.key: a for a in artifacts}, "logs": [l.message for l in logs]}

    return api(read, api_url)


def task_name(task_run) -> str:
    return task_run.name.rsplit("-", 1)[0]


@pytest.fixture(scope="module")
def background_run(live_server, tmp_path_factory: pytest.TempPathFactory) -> dict:
    """`newsdag run` as a user runs it (two batches and a bad file), and what the server recorded of it."""
    tmp_path = tmp_path_factory.mktemp("background-run")
    raw = tmp_path / "raw"
    raw.mkdir()
    seeds = sorted(SEEDS_DIR.glob("*.txt"))
    shutil.copy(seeds[2], raw / "a.txt")
    shutil.copy(seeds[3], raw / "b.txt")
    (raw / "empty.txt").write_bytes(b"")
    env = {**live_server["env"], "NEWSDAG_BATCH_SIZE": "1"}  # two batches
    result = subprocess.run(
        [sys.executable, "-m", "flows", "run", "--raw-dir", str(raw), "--warehouse", str(tmp_path / "w.duckdb")],
        env=env, capture_output=True, text=True, timeout=600,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert live_server["api"] in result.stderr  # it used the running server, not an ephemeral one
    flow_run_id = re.search(r"newsdag run ([0-9a-f-]{36})", result.stdout).group(1)
    return {"id": flow_run_id, "record": flow_run_record(live_server["api"], flow_run_id), "dir": tmp_path}


def test_run_uses_the_background_server_and_records_every_task_run(background_run) -> None:
    record = background_run["record"]
    assert record["run"].state.is_completed()
    names = [task_name(t) for t in record["tasks"]]
    assert RUN_TASKS <= set(names), RUN_TASKS - set(names)
    for name in BATCH_TASKS:
        assert names.count(name) == 2, (name, names)  # one per batch: none lost when the process exited
    assert all(t.state.is_completed() for t in record["tasks"])

    data = record["artifacts"]["ingest-files"].data
    files = {row["source_path"]: row for row in (json.loads(data) if isinstance(data, str) else data)}
    assert files["a.txt"]["status"] == "loaded" and files["a.txt"]["change"] == "new"
    assert files["empty.txt"]["status"] == "failed" and "empty" in files["empty.txt"]["error"]
    summary = record["artifacts"]["ingest-summary"].data
    assert "removed as boilerplate" in summary and "missing author" in summary and "| load |" in summary
    assert "entity mentions" in summary  # rows per step
    assert "top-statements" in record["artifacts"]  # the two reports share statements
    assert any("batch 2/2 done" in message for message in record["logs"])


def chromium() -> str:
    """Debian's chromium; installed with apt-get when missing (`.ci/run` installs it up front)."""
    found = shutil.which("chromium")
    if not found and shutil.which("apt-get"):
        for command in (["apt-get", "update", "-qq"], ["apt-get", "install", "-y", "-qq", "chromium"]):
            subprocess.run(command, capture_output=True, timeout=600)
        found = shutil.which("chromium")
    if not found:
        if os.environ.get("CI"):  # CI installs it (.ci/run): a missing browser there is a failure, not a skip
            pytest.fail("chromium is not installed in CI")
        pytest.skip("chromium is not installed and `apt-get install -y chromium` did not install it")
    return found


def keep_screenshot(path: Path) -> None:
    """Copy a screenshot into NEWSDAG_SCREENSHOT_DIR when set (how README's pictures are made)."""
    folder = os.environ.get("NEWSDAG_SCREENSHOT_DIR")
    if folder:
        Path(folder).mkdir(parents=True, exist_ok=True)
        shutil.copy(path, Path(folder) / path.name)


def render(browser: str, url: str, profile: Path, screenshot: Path) -> str:
    """The page's DOM after its scripts ran, and a screenshot of it."""
    flags = [browser, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
             "--disable-background-networking", "--disable-component-update", "--disable-sync",
             f"--user-data-dir={profile}", "--virtual-time-budget=20000", "--window-size=1400,1000"]
    subprocess.run([*flags, f"--screenshot={screenshot}", url], capture_output=True, timeout=180, check=False)
    dom = subprocess.run([*flags, "--dump-dom", url], capture_output=True, text=True, timeout=180)
    return dom.stdout


def test_ui_shows_the_flow_run_and_its_artifact(live_server, background_run, tmp_path: Path) -> None:
    """Debian's chromium, headless, opens the run's page and its artifact's page; screenshots stay in tmp_path."""
    browser = chromium()
    with urllib.request.urlopen(f"{live_server['url']}/ui-settings", timeout=10) as response:
        # The UI's scripts call this API: the server's own, not a default port's.
        assert json.load(response)["api_url"] == live_server["api"]
    run_name = background_run["record"]["run"].name
    summary = background_run["record"]["artifacts"]["ingest-summary"]

    run_page = render(browser, f"{live_server['url']}/runs/flow-run/{background_run['id']}", tmp_path / "profile-run",
                      tmp_path / "flow-run.png")
    assert run_name in run_page, "the flow run's page does not show its name"
    assert "Completed" in run_page and "newsdag-ingest" in run_page
    assert "discover-files" in run_page and "Artifacts" in run_page  # its task runs, and a tab for its artifacts

    artifact_page = render(browser, f"{live_server['url']}/artifacts/artifact/{summary.id}", tmp_path / "profile-artifact",
                           tmp_path / "artifact.png")
    assert "ingest-summary" in artifact_page and run_name in artifact_page  # the artifact, of this run
    assert "removed as boilerplate" in artifact_page  # its own text, rendered
    assert (tmp_path / "flow-run.png").stat().st_size > 10_000 and (tmp_path / "artifact.png").stat().st_size > 10_000
    keep_screenshot(tmp_path / "flow-run.png")


def test_serve_registers_a_scheduled_deployment_that_runs(live_server, tmp_path: Path) -> None:
    raw = tmp_path / "raw"
    raw.mkdir()
    seeds = sorted(SEEDS_DIR.glob("*.txt"))
    shutil.copy(seeds[2], raw / "a.txt")
    warehouse = tmp_path / "w.duckdb"
    env = {**live_server["env"], "PREFECT_API_URL": live_server["api"]}
    serving = subprocess.Popen(
        [sys.executable, "-m", "flows", "serve", "--raw-dir", str(raw), "--warehouse", str(warehouse),
         "--interval", "3600", "--name", "test-schedule"],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True,
    )
    try:
        from prefect.deployments import run_deployment
        from prefect.settings import PREFECT_API_URL, temporary_settings

        async def deployment(client):
            return await client.read_deployment_by_name("newsdag-ingest/test-schedule")

        deadline = time.monotonic() + 120
        found = None
        while time.monotonic() < deadline and found is None and serving.poll() is None:
            try:
                found = api(deployment, live_server["api"])
            except Exception:  # not registered yet
                time.sleep(1)
        assert found is not None, "deployment was not registered"
        assert found.schedules and found.schedules[0].schedule.interval.total_seconds() == 3600

        def trigger_and_count_articles() -> int:
            with temporary_settings({PREFECT_API_URL: live_server["api"]}):
                flow_run = run_deployment("newsdag-ingest/test-schedule", timeout=400)
            assert flow_run.state.is_completed(), flow_run.state
            assert "ingest-summary" in flow_run_record(live_server["api"], str(flow_run.id))["artifacts"]
            with duckdb.connect(str(warehouse), read_only=True) as con:
                return con.execute("select count(*) from articles").fetchone()[0]

        assert trigger_and_count_articles() == 1
        shutil.copy(seeds[3], raw / "b.txt")  # a file dropped in later is picked up by the next run
        assert trigger_and_count_articles() == 2
    finally:
        os.killpg(serving.pid, signal.SIGINT)
        try:
            serving.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(serving.pid, signal.SIGKILL)


def test_prefect_yaml_deploys_to_a_process_work_pool_and_a_worker_runs_it(live_server, tmp_path: Path) -> None:
    """The work-pool route of README: `prefect work-pool create`, `prefect deploy --all`, `prefect worker start`."""
    raw = tmp_path / "raw"
    raw.mkdir()
    shutil.copy(sorted(SEEDS_DIR.glob("*.txt"))[1], raw / "a.txt")
    warehouse = tmp_path / "w.duckdb"
    # NEWSDAG_* point any run this worker picks up at the test's folders, never the project's data/.
    env = {**live_server["env"], "PREFECT_API_URL": live_server["api"], "PWD": str(PROJECT_ROOT),
           "NEWSDAG_RAW_DIR": str(raw), "NEWSDAG_WAREHOUSE": str(warehouse)}
    prefect = [sys.executable, "-m", "prefect"]

    def prefect_cli(*args: str, timeout: int = 120) -> subprocess.CompletedProcess[str]:
        result = subprocess.run([*prefect, *args], env=env, cwd=PROJECT_ROOT, capture_output=True, text=True,
                                timeout=timeout)
        assert result.returncode == 0, (args, result.stdout[-2000:], result.stderr[-2000:])
        return result

    prefect_cli("work-pool", "create", "newsdag", "--type", "process", "--overwrite")  # the scale-out test may have made it
    prefect_cli("--no-prompt", "deploy", "--all")

    async def paused_deployment(client):
        deployment = await client.read_deployment_by_name("newsdag-ingest/ingest")
        # Only the run triggered below should be picked up by the worker.
        await client.pause_deployment(deployment.id)
        return deployment

    deployment = api(paused_deployment, live_server["api"])
    assert deployment.work_pool_name == "newsdag"
    assert deployment.schedules[0].schedule.interval.total_seconds() == 600
    assert deployment.pull_steps[0]["prefect.deployments.steps.set_working_directory"]["directory"] == str(PROJECT_ROOT)

    from prefect.deployments import run_deployment
    from prefect.settings import PREFECT_API_URL, temporary_settings

    with temporary_settings({PREFECT_API_URL: live_server["api"]}):
        flow_run = run_deployment("newsdag-ingest/ingest", timeout=0)
    prefect_cli("worker", "start", "--pool", "newsdag", "--run-once", timeout=400)

    record = flow_run_record(live_server["api"], str(flow_run.id))
    assert record["run"].state.is_completed(), record["run"].state
    assert "ingest-files" in record["artifacts"]
    with duckdb.connect(str(warehouse), read_only=True) as con:
        assert con.execute("select source_path from articles").fetchall() == [("a.txt",)]


def test_server_binds_to_loopback_unless_asked(monkeypatch, tmp_path: Path) -> None:
    from flows import server

    started: list[list[str]] = []

    class ExitedProcess:
        pid = -1  # never signalled: the pid file lives in this test's PREFECT_HOME only
        returncode = 1

        def __init__(self, args, **_kwargs) -> None:
            started.append(args)

        def poll(self) -> int:
            return 1

    monkeypatch.setattr(server, "is_healthy", lambda *_args, **_kwargs: False)
    monkeypatch.setattr(server, "port_in_use", lambda *_args, **_kwargs: False)
    monkeypatch.setattr(server.subprocess, "Popen", ExitedProcess)
    monkeypatch.setenv("PREFECT_HOME", str(tmp_path))
    for kwargs in ({}, {"host": "0.0.0.0"}):
        with pytest.raises(RuntimeError, match="exited"):
            server.start_server(**kwargs)
    default, asked = started
    assert default[default.index("--host") + 1] == "127.0.0.1"
    assert asked[asked.index("--host") + 1] == "0.0.0.0"
