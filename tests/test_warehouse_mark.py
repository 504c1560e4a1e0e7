"""A warehouse is what newsdag created (a mark it writes); any other existing file or lake is refused
with one line and left byte for byte as it was (issue 29, case 1)."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import duckdb
import pytest

from storage.backend import backend_for, backend_of
from storage.lake import close_lakes
from storage.schema import (
    claim_warehouse, NotAWarehouse, WAREHOUSE_FORMAT, WAREHOUSE_FORMAT_VERSION, warehouse_kind,
)
from tests.conftest import PROJECT_ROOT, SEEDS_DIR

SQL_DIR = PROJECT_ROOT / "sql"


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _duckdb_file(path: Path, *statements: str) -> Path:
    with duckdb.connect(str(path)) as con:
        for statement in statements:
            con.execute(statement)
    return path


# The probe's file: an empty `articles` and a `runs(status)` table beside 5,000 customer rows (the run
# took it for a warehouse that "never held data" and deleted it).
LOOKALIKE = ("create table articles (article_id varchar)", "create table runs (status varchar)",
             "create table customers as select range as id, 'customer ' || range as customer_name from range(5000)")
FOREIGN_FILES: dict[str, Callable[[Path], Path]] = {
    "lookalike": lambda d: _duckdb_file(d / "crm.duckdb", *LOOKALIKE),
    "other_tables": lambda d: _duckdb_file(d / "sales.duckdb", "create table sales as select range as id from range(100)"),
    "incompatible_articles": lambda d: _duckdb_file(
        d / "articles.duckdb", "create table articles (id integer, headline varchar, price decimal(9, 2))",
        "insert into articles values (1, 'x', 2.5)"),
    "empty_duckdb": lambda d: _duckdb_file(d / "empty.duckdb", "select 1"),
    "not_duckdb": lambda d: (d / "notes.duckdb").write_text("my notes, not a database\n" * 50) and d / "notes.duckdb",
    "zero_bytes": lambda d: (d / "zero.duckdb").write_bytes(b"") or d / "zero.duckdb",
}


@pytest.mark.parametrize("kind", sorted(FOREIGN_FILES))
def test_claim_refuses_a_file_newsdag_did_not_create_and_leaves_it_untouched(tmp_path: Path, kind: str) -> None:
    path = FOREIGN_FILES[kind](tmp_path)
    before = _sha256(path)
    with pytest.raises(NotAWarehouse, match="nothing was changed") as refused:
        claim_warehouse(path, SQL_DIR, 384, "model")
    assert "\n" not in str(refused.value)
    assert _sha256(path) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == [path.name]  # no WAL, no half-created copy


def test_a_new_warehouse_is_created_whole_with_the_mark(tmp_path: Path) -> None:
    path = tmp_path / "new" / "w.duckdb"
    assert claim_warehouse(path, SQL_DIR, 384, "model") is True
    assert sorted(p.name for p in path.parent.iterdir()) == ["w.duckdb"]  # the creating copy is gone
    with duckdb.connect(str(path), read_only=True) as con:
        meta = dict(con.execute("select key, value from warehouse_meta").fetchall())
        assert warehouse_kind(con) == "newsdag"
    assert meta["format"] == WAREHOUSE_FORMAT
    assert meta["format_version"] == str(WAREHOUSE_FORMAT_VERSION)
    assert meta["embedding_dim"] == "384"
    # Claimed again: accepted, not created, unchanged.
    before = _sha256(path)
    assert claim_warehouse(path, SQL_DIR, 384, "model") is False
    assert _sha256(path) == before


def test_a_creator_killed_before_the_link_leaves_no_warehouse_and_is_cleaned_up(tmp_path: Path) -> None:
    path = tmp_path / "w.duckdb"
    leftover = tmp_path / ".w.duckdb.12345.creating"
    _duckdb_file(leftover, "create table half (x integer)")
    assert claim_warehouse(path, SQL_DIR, 384, "model") is True
    assert not leftover.exists()


def test_a_warehouse_from_before_the_mark_is_marked_and_kept(tmp_path: Path) -> None:
    """Warehouses built by earlier newsdag versions (no mark, newsdag's meta rows) stay usable."""
    path = tmp_path / "old.duckdb"
    with backend_for(path).connect() as con:  # what an earlier version created
        backend_of(con).apply_schema(con, SQL_DIR, 384, "model")
        con.execute("insert into runs (run_id, started_at, status) values ('r1', now(), 'completed')")
    with duckdb.connect(str(path), read_only=True) as con:
        assert warehouse_kind(con) == "legacy"
    assert claim_warehouse(path, SQL_DIR, 384, "model") is False
    with duckdb.connect(str(path), read_only=True) as con:
        assert warehouse_kind(con) == "newsdag"
        assert con.execute("select count(*) from runs").fetchone() == (1,)


def test_a_warehouse_of_a_newer_format_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "w.duckdb"
    claim_warehouse(path, SQL_DIR, 384, "model")
    with duckdb.connect(str(path)) as con:
        con.execute("update warehouse_meta set value = '99' where key = 'format_version'")
    before = _sha256(path)
    with pytest.raises(NotAWarehouse, match="newer newsdag"):
        claim_warehouse(path, SQL_DIR, 384, "model")
    assert _sha256(path) == before


def test_a_ducklake_holding_other_tables_is_refused(tmp_path: Path) -> None:
    catalog = tmp_path / "meta.ducklake"
    lake = Path(f"ducklake:{catalog}")
    with backend_for(lake).connect() as con:
        con.execute("create table sales as select range as id from range(10)")
    close_lakes()
    with pytest.raises(NotAWarehouse, match="this DuckLake exists and is not a newsdag warehouse"):
        with backend_for(lake).connect() as con:
            backend_of(con).apply_schema(con, SQL_DIR, 384, "model")
    with backend_for(lake).connect_read_only() as con:
        tables = {row[0] for row in con.execute(
            "select table_name from duckdb_tables() where database_name = current_database()").fetchall()}
    close_lakes()
    assert tables == {"sales"}


def test_a_new_ducklake_carries_the_mark(tmp_path: Path) -> None:
    lake = Path(f"ducklake:{tmp_path / 'meta.ducklake'}")
    with backend_for(lake).connect() as con:
        backend_of(con).apply_schema(con, SQL_DIR, 384, "model")
        assert warehouse_kind(con) == "newsdag"
        backend_of(con).apply_schema(con, SQL_DIR, 384, "model")  # again: accepted
    close_lakes()


def test_run_and_prune_refuse_a_foreign_file_in_one_line_before_prefect_starts(tmp_path: Path) -> None:
    path = FOREIGN_FILES["lookalike"](tmp_path)
    before = _sha256(path)
    env = {**os.environ, "PREFECT_HOME": str(tmp_path / "prefect"), "NEWSDAG_PREFECT_PORT": "1"}
    for command in (["run", "--raw-dir", str(SEEDS_DIR)], ["prune"]):
        done = subprocess.run([sys.executable, "-m", "flows", *command, "--warehouse", str(path)],
                              capture_output=True, text=True, env=env, timeout=120, cwd=PROJECT_ROOT)
        assert done.returncode == 1, done.stderr
        assert done.stderr.count("\n") == 1 and "is not a newsdag warehouse" in done.stderr, done.stderr
        assert _sha256(path) == before
    assert not (tmp_path / "prefect").exists()  # refused before a Prefect server was started


@pytest.mark.slow
def test_the_flow_refuses_a_foreign_file_and_deletes_nothing(prefect_server, tmp_path: Path) -> None:
    """The flow itself (a deployment or `serve` does not go through the CLI's checks) refuses too."""
    from flows.ingest import ingest_flow

    path = FOREIGN_FILES["lookalike"](tmp_path)
    before = _sha256(path)
    state = ingest_flow(raw_dir=str(SEEDS_DIR), warehouse_path=str(path), return_state=True)
    assert state.is_failed()
    assert "is not a newsdag warehouse" in state.message, state.message
    assert _sha256(path) == before
    with duckdb.connect(str(path), read_only=True) as con:
        assert con.execute("select count(*) from customers").fetchone() == (5000,)
