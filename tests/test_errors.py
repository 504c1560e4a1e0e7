"""Errors a user can act on: one line saying what to do, and a non-zero exit (a real `newsdag` process)."""

from __future__ import annotations

import os
import shutil
import socket
import struct
import subprocess
import sys
from pathlib import Path

import duckdb

from tests.conftest import PROJECT_ROOT, SEEDS_DIR


def newsdag(*args: str, env: dict[str, str] | None = None, timeout: int = 300) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "flows", *args], capture_output=True, text=True, timeout=timeout,
                          env={**os.environ, **(env or {})})


def one_line_error(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode != 0
    lines = [line for line in result.stderr.strip().splitlines() if line.startswith("newsdag: error:")]
    assert len(lines) == 1 and "Traceback" not in result.stderr, result.stderr[-2000:]
    return lines[0]


def raw_folder(tmp_path: Path) -> Path:
    raw = tmp_path / "raw"
    raw.mkdir()
    shutil.copy(sorted(SEEDS_DIR.glob("*.txt"))[0], raw / "a.txt")
    return raw


def newer_duckdb_file(path: Path) -> None:
    """A DuckDB file whose header claims a storage version this DuckDB cannot read (the header's
    checksum recomputed as DuckDB does: XOR of each 64-bit word times a constant)."""
    duckdb.connect(str(path)).execute("create table t (a integer)").close()
    data = bytearray(path.read_bytes())
    struct.pack_into("<Q", data, 12, 999)  # version number, after the checksum and the magic "DUCK"
    checksum = 5381
    for (word,) in struct.iter_unpack("<Q", bytes(data[8:4096])):
        checksum ^= (word * 0xBF58476D1CE4E5B9) & 0xFFFFFFFFFFFFFFFF
    struct.pack_into("<Q", data, 0, checksum)
    path.write_bytes(bytes(data))


def test_missing_raw_folder(tmp_path: Path) -> None:
    line = one_line_error(newsdag("run", "--raw-dir", str(tmp_path / "nope"), "--warehouse", str(tmp_path / "w.duckdb")))
    assert "does not exist" in line and "--raw-dir" in line
    assert not (tmp_path / "w.duckdb").exists()


def test_warehouse_from_a_newer_duckdb(tmp_path: Path) -> None:
    warehouse = tmp_path / "new.duckdb"
    newer_duckdb_file(warehouse)
    before = warehouse.read_bytes()
    for args in (["sql", "select 1"], ["run", "--raw-dir", str(raw_folder(tmp_path))]):
        line = one_line_error(newsdag(*args, "--warehouse", str(warehouse)))
        assert "newer DuckDB" in line and "upgrade newsdag" in line
    assert warehouse.read_bytes() == before


def test_warehouse_locked_by_another_run(tmp_path: Path) -> None:
    from storage.backend import backend_for

    warehouse = tmp_path / "w.duckdb"
    with backend_for(warehouse).writer_lock():
        line = one_line_error(newsdag("run", "--raw-dir", str(raw_folder(tmp_path)), "--warehouse", str(warehouse)))
    assert "another newsdag run is writing" in line and "try again" in line


def test_warehouse_open_in_a_reader(tmp_path: Path) -> None:
    from storage.schema import claim_warehouse

    warehouse = tmp_path / "w.duckdb"
    claim_warehouse(warehouse, PROJECT_ROOT / "sql", 384, "model")  # a newsdag warehouse, empty
    reader = duckdb.connect(str(warehouse), read_only=True)  # as `newsdag explore` holds it
    try:
        line = one_line_error(newsdag("run", "--raw-dir", str(raw_folder(tmp_path)), "--warehouse", str(warehouse)))
    finally:
        reader.close()
    assert "open in another process" in line and "close it" in line


def test_prefect_port_taken_by_another_program(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        env = {"NEWSDAG_PREFECT_PORT": str(port), "PREFECT_HOME": str(tmp_path / "home"), "PREFECT_API_URL": ""}
        line = one_line_error(newsdag("run", "--raw-dir", str(raw_folder(tmp_path)), "--warehouse",
                                      str(tmp_path / "w.duckdb"), env=env))
    assert f"port {port}" in line and "another program" in line and "NEWSDAG_PREFECT_PORT" in line


def test_prefect_port_taken_by_a_server_with_another_home(live_server, tmp_path: Path) -> None:
    """A healthy Prefect server of another PREFECT_HOME on newsdag's port is not used as newsdag's own."""
    port = live_server["url"].rsplit(":", 1)[1]
    env = {"NEWSDAG_PREFECT_PORT": port, "PREFECT_HOME": str(tmp_path / "other-home"), "PREFECT_API_URL": ""}
    line = one_line_error(newsdag("run", "--raw-dir", str(raw_folder(tmp_path)), "--warehouse",
                                  str(tmp_path / "w.duckdb"), env=env))
    assert "another Prefect server" in line and str(live_server["home"]) in line
    assert not (tmp_path / "w.duckdb").exists()
