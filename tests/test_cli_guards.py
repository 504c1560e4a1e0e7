"""`newsdag` refuses what it cannot do in one line and in seconds, before anything is started or touched
(issue 29: settings checked with the others, an unreachable Dask scheduler, search texts, `--output` onto
a hard link of the warehouse), and `newsdag status` works while a run writes. Real subprocesses, files
and DuckDB databases throughout."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import duckdb
import pytest

from tests.conftest import PROJECT_ROOT, SEEDS_DIR

# Nothing listens here: a command that reached Prefect would fail on it with a Prefect error, not a setting's.
NO_PREFECT = "http://127.0.0.1:9/api"


def newsdag(*args: str | bytes, env: dict[str, str] | None = None, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    environment = {**os.environ, "PREFECT_API_URL": NO_PREFECT, **(env or {})}
    environment.pop("NEWSDAG_DEBUG", None)
    return subprocess.run([sys.executable, "-m", "flows", *args], capture_output=True, text=True, timeout=timeout,
                          env=environment, cwd=PROJECT_ROOT, errors="replace")


def one_line_error(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode == 1, (result.stdout, result.stderr)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("newsdag: error: "), result.stderr
    return lines[0]


@pytest.fixture
def raw_dir(tmp_path: Path) -> Path:
    folder = tmp_path / "raw"
    folder.mkdir()
    shutil.copy(sorted(SEEDS_DIR.glob("*.txt"))[0], folder)
    return folder


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


# --- newsdag run: refused with the other settings, before Prefect starts a flow run ---

@pytest.mark.parametrize("shard, words", [("3/2", "below the shard count: 0/2 to 1/2"), ("2/2", "0/2 to 1/2"),
                                          ("x", "allowed is i/n"), ("0/0", "allowed is i/n")])
def test_run_refuses_a_shard_out_of_range_before_prefect(raw_dir: Path, tmp_path: Path, shard: str, words: str) -> None:
    warehouse = tmp_path / "w.duckdb"
    started = time.monotonic()
    line = one_line_error(newsdag("run", "--raw-dir", str(raw_dir), "--warehouse", str(warehouse), "--shard", shard))
    assert f"invalid setting NEWSDAG_SHARD={shard}:" in line and words in line
    assert time.monotonic() - started < 30
    assert not warehouse.exists()


def test_run_refuses_a_shard_from_the_environment_too(raw_dir: Path, tmp_path: Path) -> None:
    line = one_line_error(newsdag("run", "--raw-dir", str(raw_dir), "--warehouse", str(tmp_path / "w.duckdb"),
                                  env={"NEWSDAG_SHARD": "5/5"}))
    assert "NEWSDAG_SHARD=5/5" in line and "0/5 to 4/5" in line


def test_a_shard_in_range_is_accepted() -> None:
    from tasks.settings import get_settings

    assert get_settings(shard="1/2").shard == "1/2"


def test_run_says_a_raw_dir_that_is_a_file_is_a_file(tmp_path: Path) -> None:
    a_file = tmp_path / "articles.txt"
    a_file.write_text("not a folder\n")
    line = one_line_error(newsdag("run", "--raw-dir", str(a_file), "--warehouse", str(tmp_path / "w.duckdb")))
    assert "is a file, not a folder" in line and "does not exist" not in line
    missing = one_line_error(newsdag("run", "--raw-dir", str(tmp_path / "none"), "--warehouse", str(tmp_path / "w.duckdb")))
    assert "does not exist" in missing


def test_run_refuses_local_dask_without_workers(raw_dir: Path, tmp_path: Path) -> None:
    line = one_line_error(newsdag("run", "--raw-dir", str(raw_dir), "--warehouse", str(tmp_path / "w.duckdb"),
                                  "--dask", "local:0"))
    assert "NEWSDAG_DASK=local:0" in line and "N >= 1" in line


def test_run_fails_in_seconds_when_no_dask_scheduler_answers(raw_dir: Path, tmp_path: Path) -> None:
    address = f"tcp://127.0.0.1:{free_port()}"  # a port nothing listens on
    started = time.monotonic()
    line = one_line_error(newsdag("run", "--raw-dir", str(raw_dir), "--warehouse", str(tmp_path / "w.duckdb"),
                                  "--dask", address))
    assert f"cannot reach the Dask scheduler at {address}: " in line
    assert time.monotonic() - started < 30


# --- newsdag search: texts it cannot search for ---

def test_search_refuses_an_empty_text(tmp_path: Path) -> None:
    for text in ("", "   "):
        line = one_line_error(newsdag("search", text, "--warehouse", str(tmp_path / "w.duckdb")))
        assert "the search text is empty" in line


def test_search_refuses_text_that_is_not_utf8(tmp_path: Path) -> None:
    line = one_line_error(newsdag("search", b"Kerry \xff\xfe Lavrov", "--warehouse", str(tmp_path / "w.duckdb")))
    assert "not valid UTF-8" in line and "TextEncodeInput" not in line


# --- newsdag sql --output: never onto the warehouse, by any name ---

def make_database(path: Path) -> str:
    with duckdb.connect(str(path)) as con:
        con.execute("create table t as select range as x from range(100)")
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_sql_output_refuses_a_hard_link_of_the_warehouse(tmp_path: Path) -> None:
    warehouse = tmp_path / "w.duckdb"
    digest = make_database(warehouse)
    link = tmp_path / "result.csv"
    os.link(warehouse, link)
    line = one_line_error(newsdag("sql", "select x from t", "--warehouse", str(warehouse), "-f", "csv", "-o", str(link)))
    assert "is the warehouse" in line
    assert hashlib.sha256(warehouse.read_bytes()).hexdigest() == digest
    other = tmp_path / "other.csv"  # a file of its own is written as before
    written = newsdag("sql", "select x from t", "--warehouse", str(warehouse), "-f", "csv", "-o", str(other))
    assert written.returncode == 0, written.stderr
    assert other.read_text().splitlines()[:2] == ["x", "0"]


# --- newsdag status while a run writes ---

# A writer as a run is one: the DuckDB file open for writing (which locks other processes out) and the
# run's state published by the code the flow uses (flows/progress.py).
WRITER = """
import sys, time, duckdb
from pathlib import Path
from flows.progress import RunProgress, published_run
con = duckdb.connect(sys.argv[1])
with published_run(Path(sys.argv[1]), "run-under-test"), RunProgress(10, 2, enabled=False) as progress:
    progress.advance(4, 1)
    print("writing", flush=True)
    time.sleep(120)
"""


def make_warehouse(path: Path) -> None:
    """An empty warehouse with newsdag's schema (what `status` reads)."""
    from storage.backend import backend_of
    from tasks.settings import get_settings

    settings = get_settings()
    with duckdb.connect(str(path)) as con:
        backend_of(con).apply_schema(con, settings.sql_dir, settings.embedding_dim, settings.embedding_model)


def test_status_shows_the_run_that_is_writing(tmp_path: Path) -> None:
    warehouse = tmp_path / "w.duckdb"
    make_warehouse(warehouse)
    writer = subprocess.Popen([sys.executable, "-c", WRITER, str(warehouse)], cwd=PROJECT_ROOT, stdout=subprocess.PIPE,
                              text=True)
    try:
        assert writer.stdout is not None and writer.stdout.readline().strip() == "writing"
        result = newsdag("status", "--warehouse", str(warehouse))
        assert result.returncode == 0, result.stderr
        assert f"run run-under-test is writing now (PID {writer.pid}" in result.stdout
        assert "4/10 articles done (batch 1/2" in result.stdout
        assert "open for writing by this run" in result.stdout
        state = json.loads((tmp_path / "w.duckdb.run.json").read_text())
        assert state["phase"] == "batches" and state["articles_total"] == 10
    finally:
        writer.kill()
        writer.wait()
    # A state left by a process that died is no live run: status reads the warehouse as usual.
    assert (tmp_path / "w.duckdb.run.json").exists()
    after = newsdag("status", "--warehouse", str(warehouse))
    assert after.returncode == 0, after.stderr
    assert "is writing now" not in after.stdout and "latest runs (0)" in after.stdout


def test_the_published_state_is_removed_when_the_run_ends(tmp_path: Path) -> None:
    from flows.progress import RunProgress, published_run, read_run_state

    warehouse = tmp_path / "w.duckdb"
    with published_run(warehouse, "r1"):
        assert read_run_state(warehouse)["phase"] == "starting"  # type: ignore[index]
        with RunProgress(3, 1, enabled=False) as progress:
            progress.advance(3, 1)
            assert read_run_state(warehouse)["articles_done"] == 3  # type: ignore[index]
        assert read_run_state(warehouse)["phase"] == "finishing"  # type: ignore[index]
    assert not (tmp_path / "w.duckdb.run.json").exists() and read_run_state(warehouse) is None
    assert sorted(p.name for p in tmp_path.iterdir()) == []  # no temporary files left either


@pytest.mark.slow
def test_status_during_a_real_run(tmp_path: Path) -> None:
    """The real flow publishes its state: `status` answers while `newsdag run` writes."""
    raw = tmp_path / "raw"
    raw.mkdir()
    for path in sorted(SEEDS_DIR.glob("*.txt")):
        shutil.copy(path, raw / path.name)
    warehouse = tmp_path / "w.duckdb"
    env = {**os.environ, "PREFECT_HOME": str(tmp_path / "prefect")}
    env.pop("PREFECT_API_URL", None)
    run = subprocess.Popen([sys.executable, "-m", "flows", "run", "--ephemeral", "--raw-dir", str(raw),
                            "--warehouse", str(warehouse)], cwd=PROJECT_ROOT, env=env,
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    seen: list[str] = []
    try:
        deadline = time.monotonic() + 400
        while run.poll() is None and time.monotonic() < deadline:
            if (tmp_path / "w.duckdb.run.json").exists():
                result = subprocess.run([sys.executable, "-m", "flows", "status", "--warehouse", str(warehouse)],
                                        cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=120)
                assert result.returncode == 0, result.stderr
                if "is writing now" in result.stdout:
                    seen.append(result.stdout)
                    break
            time.sleep(0.5)
        assert seen, "status never showed the run while it wrote"
        assert run.wait(timeout=400) == 0
    finally:
        if run.poll() is None:
            run.send_signal(signal.SIGINT)
            run.wait(timeout=60)
    assert not (tmp_path / "w.duckdb.run.json").exists()
    done = subprocess.run([sys.executable, "-m", "flows", "status", "--warehouse", str(warehouse)], cwd=PROJECT_ROOT,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0 and "is writing now" not in done.stdout and "latest runs (1)" in done.stdout
