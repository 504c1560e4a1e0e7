"""newsdag's local servers against the machine they run on (issue 29): the Prefect server and the explore
notebook answer only requests addressed to them, `newsdag ui --stop` does not pull the server from
under a run, and `--ephemeral` waits for Prefect's temporary server on a loaded machine.

Real servers on free loopback ports, real subprocesses; `http.client` sets the Host and Origin headers
a DNS-rebinding or cross-site page would send."""

from __future__ import annotations

import http.client
import os
import subprocess
import sys
import textwrap
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import duckdb
import pytest

from tests.conftest import PROJECT_ROOT, free_port

pytestmark = pytest.mark.slow  # each test starts a Prefect server or the notebook (tens of seconds)


def status(port: int, path: str, headers: dict[str, str]) -> int:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        connection.request("GET", path, headers=headers)
        return connection.getresponse().status
    finally:
        connection.close()


def assert_answers_only_its_own_hosts(port: int, path: str) -> None:
    own = f"127.0.0.1:{port}"
    assert status(port, path, {"Host": own}) == 200
    assert status(port, path, {"Host": f"localhost:{port}"}) == 200
    # A page on evil.example whose name now resolves to 127.0.0.1 (DNS rebinding) sends its own name.
    assert status(port, path, {"Host": f"evil.example:{port}"}) == 400
    assert status(port, path, {"Host": "evil.example"}) == 400
    # A page of another site calling the server by its real address: refused by its Origin.
    assert status(port, path, {"Host": own, "Origin": "http://evil.example"}) == 403
    assert status(port, path, {"Host": own, "Origin": f"http://127.0.0.1:{port}"}) == 200  # its own page


def newsdag(*args: str, env: dict[str, str], timeout: int = 180) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "flows", *args], env=env, capture_output=True, text=True,
                          timeout=timeout, cwd=PROJECT_ROOT)


@pytest.fixture()
def own_server(tmp_path: Path) -> Iterator[dict]:
    """A Prefect server of this test's own (it gets stopped), started by `newsdag ui`."""
    port = free_port()
    env = {**os.environ, "PREFECT_HOME": str(tmp_path / "prefect"), "NEWSDAG_PREFECT_PORT": str(port),
           "PREFECT_SERVER_ANALYTICS_ENABLED": "false"}
    env.pop("PREFECT_API_URL", None)
    started = newsdag("ui", env=env)
    assert started.returncode == 0, started.stderr
    yield {"env": env, "port": port, "api": f"http://127.0.0.1:{port}/api"}
    newsdag("ui", "--stop", "--force", env=env, timeout=60)


def test_prefect_server_answers_only_its_own_hosts(live_server) -> None:
    port = int(live_server["url"].rsplit(":", 1)[1])
    assert_answers_only_its_own_hosts(port, "/api/health")
    # The UI too (its page, and the API it calls, are the same server).
    assert status(port, "/ui-settings", {"Host": f"evil.example:{port}"}) == 400
    assert status(port, "/ui-settings", {"Host": f"127.0.0.1:{port}"}) == 200


def test_explore_notebook_answers_only_its_own_hosts(tmp_path: Path) -> None:
    warehouse = tmp_path / "w.duckdb"
    duckdb.connect(str(warehouse)).close()  # the page is served whatever the warehouse holds
    port = free_port()
    explore = subprocess.Popen(
        [sys.executable, "-m", "flows", "explore", "--warehouse", str(warehouse), "--port", str(port), "--no-open"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=PROJECT_ROOT,
    )
    try:
        line = explore.stdout.readline() if explore.stdout else ""
        assert f"http://127.0.0.1:{port}" in line, (line, explore.stderr.read() if explore.poll() is not None else "")
        assert_answers_only_its_own_hosts(port, "/")
    finally:
        explore.terminate()
        explore.wait(timeout=30)


def flow_run_in_state(api_url: str, state_name: str, flow_run_id: uuid.UUID | None = None) -> tuple[uuid.UUID, str]:
    """A flow run as a `newsdag run` leaves it on the server (created, or the one given, moved to
    `state_name`); its id and name."""
    from prefect import flow
    from prefect.client.orchestration import SyncPrefectClient
    from prefect.states import Completed, Pending, Running

    @flow(name="newsdag-ingest")
    def ingest() -> None:  # only its name: the run is made on the server, never executed
        pass

    state = {"Running": Running, "Pending": Pending, "Completed": Completed}[state_name]()
    with SyncPrefectClient(api_url) as client:
        if flow_run_id is None:
            flow_run_id = client.create_flow_run(ingest, state=Pending()).id
        client.set_flow_run_state(flow_run_id, state, force=True)
        return flow_run_id, client.read_flow_run(flow_run_id).name


def test_ui_stop_refuses_while_a_flow_run_uses_the_server(own_server) -> None:
    from flows.server import is_healthy

    env, api = own_server["env"], own_server["api"]
    running, running_name = flow_run_in_state(api, "Running")

    refused = newsdag("ui", "--stop", env=env)
    assert refused.returncode == 1
    assert len(refused.stderr.strip().splitlines()) == 1, refused.stderr  # one line
    assert running_name in refused.stderr and "(Running)" in refused.stderr and "--force" in refused.stderr
    assert is_healthy(api)  # still serving the run

    flow_run_in_state(api, "Completed", running)  # that run finished; another is about to start
    _, pending_name = flow_run_in_state(api, "Pending")
    refused = newsdag("ui", "--stop", env=env)
    assert refused.returncode == 1 and pending_name in refused.stderr and running_name not in refused.stderr
    assert is_healthy(api)

    forced = newsdag("ui", "--stop", "--force", env=env)
    assert forced.returncode == 0 and "stopped" in forced.stdout, forced.stderr
    deadline = time.monotonic() + 30
    while is_healthy(api) and time.monotonic() < deadline:
        time.sleep(0.5)
    assert not is_healthy(api)


def test_ui_stop_stops_an_idle_server(own_server) -> None:
    from flows.server import is_healthy

    flow_run_in_state(own_server["api"], "Completed")  # finished runs do not hold it
    stopped = newsdag("ui", "--stop", env=own_server["env"])
    assert stopped.returncode == 0 and "Prefect server stopped" in stopped.stdout, stopped.stderr
    deadline = time.monotonic() + 30
    while is_healthy(own_server["api"]) and time.monotonic() < deadline:
        time.sleep(0.5)
    assert not is_healthy(own_server["api"])


def test_ephemeral_mode_waits_for_a_slow_temporary_server(tmp_path: Path) -> None:
    """A startup timeout far below what the temporary server needs (1 s; it needs ~10-60 s here, more on
    a loaded machine): Prefect alone gives up ("Timed out while attempting to connect to ephemeral
    Prefect API server"); through newsdag's ephemeral mode a flow runs on it."""
    script = textwrap.dedent("""
        from prefect import flow
        from flows.server import use_server

        assert use_server("ephemeral") is None

        @flow
        def probe() -> int:
            return 42

        state = probe(return_state=True)
        print("result", state.result())
    """)
    env = {**os.environ, "PREFECT_HOME": str(tmp_path / "prefect"), "PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS": "1",
           "PREFECT_SERVER_ANALYTICS_ENABLED": "false", "PYTHONPATH": str(PROJECT_ROOT)}
    env.pop("PREFECT_API_URL", None)
    result = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=900,
                            cwd=PROJECT_ROOT)
    assert result.returncode == 0, result.stderr[-2000:]
    assert "result 42" in result.stdout
