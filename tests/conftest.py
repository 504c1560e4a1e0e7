"""Shared fixtures: a Prefect test server for the session, and one real run over the samples."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

PROJECT_ROOT = Path(__file__).resolve().parent.parent
SEEDS_DIR = PROJECT_ROOT / "data" / "raw"
GOLD_FILE = PROJECT_ROOT.parent / "shared" / "gold" / "seeds.json"


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
