"""Shared fixtures: a Prefect test server for the session, and one real run over the samples."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import duckdb
import pytest

PROJECT_ROOT = Path(__file__).resolve().parent.parent
SEEDS_DIR = PROJECT_ROOT / "data" / "raw"
# The samples' hand annotation travels with them (a copy of shared/gold/seeds.json): tests read nothing
# outside the repository.
GOLD_FILE = PROJECT_ROOT / "tests" / "data" / "seeds_gold.json"


# Fixtures that run the real flow (and so the models) or a real Prefect server: a test using one is
# `slow` wherever it lives, so that `pytest -m "not slow"` stays a quick loop.
FLOW_FIXTURES = frozenset({"prefect_server", "run_flow", "seed_run", "con", "live_server"})


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if FLOW_FIXTURES & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.slow)


def pytest_configure() -> None:
    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


@pytest.fixture(scope="session")
def prefect_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """A real (temporary) Prefect server for flow tests, started once per session."""
    os.environ["PREFECT_HOME"] = str(tmp_path_factory.mktemp("prefect-home"))
    from prefect.testing.utilities import prefect_test_harness

    with prefect_test_harness(server_startup_timeout=120):
        yield


@pytest.fixture(scope="session")
def run_flow(prefect_server: None):
    """Run the real ingest flow; returns its summary (fails the test if the flow fails)."""
    from flows.ingest import ingest_flow

    def _run(raw_dir: Path, warehouse: Path) -> dict:
        state = ingest_flow(raw_dir=str(raw_dir), warehouse_path=str(warehouse), return_state=True)
        assert state.is_completed(), state.message
        return state.result()

    return _run


@pytest.fixture(scope="session")
def seed_run(run_flow, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, dict]:
    """The five sample articles run through the real flow into a fresh DuckDB file."""
    raw_dir = tmp_path_factory.mktemp("raw")
    for path in sorted(SEEDS_DIR.glob("*.txt")):
        shutil.copy(path, raw_dir / path.name)
    warehouse = tmp_path_factory.mktemp("warehouse") / "newsdag.duckdb"
    summary = run_flow(raw_dir, warehouse)
    return raw_dir, warehouse, summary


@pytest.fixture(scope="module")
def con(seed_run: tuple[Path, Path, dict]) -> Iterator[duckdb.DuckDBPyConnection]:
    """A read-only connection to the samples' warehouse (per test module: other modules may write)."""
    _, warehouse, _ = seed_run
    connection = duckdb.connect(str(warehouse), read_only=True)
    yield connection
    connection.close()


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="session")
def live_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict]:
    """A real `prefect server` started by `newsdag ui` on a free loopback port, with its own
    PREFECT_HOME, shared by the tests that run `newsdag` in subprocesses; stopped with `newsdag ui --stop`."""
    import subprocess
    import sys

    home = tmp_path_factory.mktemp("prefect-live")
    port = free_port()
    env = {**os.environ, "PREFECT_HOME": str(home), "NEWSDAG_PREFECT_PORT": str(port),
           "PREFECT_SERVER_ANALYTICS_ENABLED": "false"}
    env.pop("PREFECT_API_URL", None)
    started = subprocess.run([sys.executable, "-m", "flows", "ui"], env=env, capture_output=True, text=True, timeout=180)
    assert started.returncode == 0, started.stderr
    assert f"http://127.0.0.1:{port}" in started.stdout
    yield {"env": env, "url": f"http://127.0.0.1:{port}", "api": f"http://127.0.0.1:{port}/api", "home": home}
    # --force: a run a test killed may still show Running; the session is over whatever it shows.
    subprocess.run([sys.executable, "-m", "flows", "ui", "--stop", "--force"], env=env, timeout=60)
