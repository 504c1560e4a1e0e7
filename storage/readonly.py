"""Read-only access (`newsdag sql`, `newsdag search`, notebooks): connections that cannot change any
file, and the check that a user's query only reads."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

import duckdb
import polars as pl

from storage.connection import load_extension, open_database
from storage.frames import read_frame

if TYPE_CHECKING:
    from storage.backend import Backend


class QueryRefused(ValueError):
    """A query the read-only path does not run (not one statement, or not a reading statement)."""


# Statement kinds that only read. EXPLAIN only plans (EXPLAIN ANALYZE runs its query, still read-only
# on a guarded connection). Everything else (COPY, EXPORT, ATTACH, SET, PRAGMA, INSTALL, LOAD, CALL,
# CREATE, ...) is refused by kind before DuckDB's own guards are needed.
READING_STATEMENTS = frozenset({"SELECT", "EXPLAIN"})


@contextmanager
def guarded_file_connection(warehouse: Path, extensions: tuple[str, ...] = ("fts",)) -> Iterator[duckdb.DuckDBPyConnection]:
    """A connection to a DuckDB file that cannot change any file: opened read-only, the extensions the
    reading paths need loaded first (from their pip packages), then DuckDB's own guards: no access to
    files or the network beyond the open database (`enable_external_access = false`), no extension
    auto-install/auto-load, and the configuration locked so that a query cannot undo any of it.
    (`read_only=True` alone still lets `COPY ... TO`, `EXPORT DATABASE` and `ATTACH` write files.)"""
    if not warehouse.exists():
        raise FileNotFoundError(f"warehouse not found: {warehouse} (run `newsdag run` first)")
    con = open_database(
        warehouse, read_only=True, config={"autoinstall_known_extensions": False, "autoload_known_extensions": False}
    )
    try:
        for name in extensions:
            try:
                load_extension(con, name)
            except ImportError:  # the reading path works without it (search says it needs fts)
                pass
        con.execute("set enable_external_access = false")
        con.execute("set lock_configuration = true")
        yield con
    finally:
        con.close()


def reading_statement(con: duckdb.DuckDBPyConnection, query: str) -> str:
    """The query's single statement if it only reads (by DuckDB's parsed statement type, not by its
    words); QueryRefused otherwise."""
    try:
        statements = con.extract_statements(query)
    except duckdb.Error as error:
        raise QueryRefused(f"cannot parse the query: {str(error).splitlines()[0]}") from None
    if len(statements) != 1:
        raise QueryRefused(f"one statement at a time, please (got {len(statements)})")
    kind = statements[0].type.name
    if kind not in READING_STATEMENTS:
        raise QueryRefused(f"only reading statements (SELECT, WITH ... SELECT, EXPLAIN) run here; this one is {kind}")
    return query


def read_query(backend: Backend, query: str, params: list[object] | dict[str, object] | None = None) -> pl.DataFrame:
    """Run one reading statement on a guarded read-only connection."""
    with backend.connect_read_only() as con:
        return read_frame(con, reading_statement(con, query), params)
