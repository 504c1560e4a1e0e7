"""Crash safety, concurrency, transient failures and data checks, with the real flow and DuckDB."""

from __future__ import annotations

import os
import random
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import duckdb
import pytest

from tasks import warehouse
from tasks.ingest import UnreadableFile, _read_bytes
from tests.conftest import PROJECT_ROOT, SEEDS_DIR

SQL_DIR = PROJECT_ROOT / "sql"


def copy_seeds(raw: Path) -> None:
    raw.mkdir(parents=True, exist_ok=True)
    for path in sorted(SEEDS_DIR.glob("*.txt")):
        shutil.copy(path, raw / path.name)


def state(path: Path) -> dict[str, list]:
    with duckdb.connect(str(path), read_only=True) as con:
        return {
            "articles": con.execute("select article_id, content_sha256, body from articles order by 1").fetchall(),
            "paragraphs": con.execute("select paragraph_id, text_sha256 from paragraphs order by 1").fetchall(),
            "mentions": con.execute("select paragraph_id, start_char, entity_id from entity_mentions order by 1, 2").fetchall(),
            "entities": con.execute("select entity_id, canonical_name from entities order by 1").fetchall(),
            "links": con.execute("select paragraph_id_a, paragraph_id_b from paragraph_similarity order by 1, 2").fetchall(),
        }


def assert_consistent(path: Path) -> None:
    """The warehouse opens and every article in it is whole (the flow's own data checks pass)."""
    with duckdb.connect(str(path), read_only=True) as con:
        problems = warehouse.run_checks(con, SQL_DIR)
    assert problems.height == 0, problems.rows()


@pytest.fixture()
def api_env(prefect_server) -> dict[str, str]:
    """Environment for subprocess runs against the session's test server (no ephemeral start-up)."""
    from prefect.settings import PREFECT_API_URL

    return {**os.environ, "PREFECT_API_URL": PREFECT_API_URL.value(), "NEWSDAG_BATCH_SIZE": "1"}


def test_sigkill_at_random_points_then_rerun_reaches_the_uninterrupted_state(api_env, run_flow, tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("NEWSDAG_BATCH_SIZE", "1")
    reference_raw, crashed_raw = tmp_path / "ref" / "raw", tmp_path / "crash" / "raw"
    copy_seeds(reference_raw)
    copy_seeds(crashed_raw)
    reference = tmp_path / "ref" / "w.duckdb"
    run_flow(reference_raw, reference)

    crashed = tmp_path / "crash" / "w.duckdb"
    command = [sys.executable, "-m", "flows", "run", "--raw-dir", str(crashed_raw), "--warehouse", str(crashed)]
    rng = random.Random(20141403)
    for delay in sorted(rng.uniform(6, 20) for _ in range(3)):
        process = subprocess.Popen(command, env=api_env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                   start_new_session=True)
        time.sleep(delay)
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()
        if crashed.exists():
            assert_consistent(crashed)
    finished = subprocess.run(command, env=api_env, capture_output=True, text=True, timeout=600)
    assert finished.returncode == 0, finished.stderr[-2000:]
    assert_consistent(crashed)
    assert state(crashed) == state(reference)


def test_second_writer_exits_with_a_clear_message(api_env, tmp_path: Path) -> None:
    raw = tmp_path / "raw"
    copy_seeds(raw)
    path = tmp_path / "w.duckdb"
    with warehouse.writer_lock(path):
        result = subprocess.run(
            [sys.executable, "-m", "flows", "run", "--raw-dir", str(raw), "--warehouse", str(path)],
            env=api_env, capture_output=True, text=True, timeout=300,
        )
    assert result.returncode != 0
    assert "another newsdag run is writing" in result.stderr
    assert "Traceback" not in result.stderr.splitlines()[-1]


def test_transient_read_failures_are_retried(tmp_path: Path, monkeypatch) -> None:
    path = tmp_path / "a.txt"
    path.write_text("Title\n\nText.")
    real_read = Path.read_bytes
    failures = iter([OSError(11, "Resource temporarily unavailable")] * 2)

    def flaky_read(self: Path) -> bytes:  # fault injection: the first two reads fail
        error = next(failures, None)
        if error:
            raise error
        return real_read(self)

    monkeypatch.setattr(Path, "read_bytes", flaky_read)
    assert _read_bytes(path, delay_s=0.01) == b"Title\n\nText."
    failures = iter([OSError(11, "Resource temporarily unavailable")] * 3)
    with pytest.raises(UnreadableFile, match="temporarily unavailable"):
        _read_bytes(path, delay_s=0.01)


def test_vanished_file_is_recorded_not_raised(tmp_path: Path) -> None:
    with pytest.raises(UnreadableFile, match="vanished"):
        _read_bytes(tmp_path / "gone.txt")


def test_failed_data_check_fails_the_run(prefect_server, tmp_path: Path, monkeypatch) -> None:
    sql_dir = tmp_path / "sql"
    shutil.copytree(SQL_DIR, sql_dir)
    (sql_dir / "checks" / "always_fails.sql").write_text(
        "select 'planted problem' as problem, article_id as detail from articles"
    )
    monkeypatch.setenv("NEWSDAG_SQL_DIR", str(sql_dir))
    raw = tmp_path / "raw"
    raw.mkdir()
    shutil.copy(sorted(SEEDS_DIR.glob("*.txt"))[2], raw / "a.txt")
    from flows.ingest import ingest_flow

    state_ = ingest_flow(raw_dir=str(raw), warehouse_path=str(tmp_path / "w.duckdb"), return_state=True)
    assert state_.is_failed()
    assert "planted problem" in str(state_.message) or "check" in str(state_.message)
