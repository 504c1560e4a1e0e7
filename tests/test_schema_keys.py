"""The single file keeps keys only where lookups and upserts need them (storage/schema.KEYED_TABLES):
DuckDB holds a key's index whole in memory while a transaction writes its table, so keys on tables that
grow by many rows an article would outgrow the default memory cap as the archive grows (issue 31: at
10,000 articles the keys' indexes took ~90 MB of the 128 MB cap and a run's load failed; the run that
failed completes once they are dropped, bench/README.md, "Scale")."""

from __future__ import annotations

from pathlib import Path

import duckdb
from storage.schema import KEYED_TABLES, create_schema

SQL_DIR = Path(__file__).resolve().parent.parent / "sql"
DIM = 8


def keyed_tables(con: duckdb.DuckDBPyConnection) -> set[str]:
    return {row[0] for row in con.execute(
        "select table_name from duckdb_constraints() where database_name = current_database() "
        "and constraint_type in ('PRIMARY KEY', 'UNIQUE')").fetchall()}


def fill_mentions(con: duckdb.DuckDBPyConnection, start: int, count: int) -> None:
    con.execute(
        "insert into entity_mentions select 'e' || (i % 5000), 'a' || (i // 30), 'a' || (i // 30) || '-' || (i % 30 // 3), "
        "(i % 3) * 40, (i % 3) * 40 + 12, 'Some Name', 'PERSON' from range(?, ?) t(i)", [start, start + count])


def test_only_the_keyed_tables_have_keys() -> None:
    with duckdb.connect() as con:
        create_schema(con, SQL_DIR, DIM)
        assert keyed_tables(con) == set(KEYED_TABLES)


def test_a_warehouse_made_with_keys_loses_them_once_and_keeps_every_row(tmp_path: Path) -> None:
    path = tmp_path / "old.duckdb"
    with duckdb.connect(str(path)) as con:  # the schema as warehouses were made before: every key
        con.execute(SQL_DIR.joinpath("schema.sql").read_text().replace("{embedding_dim}", str(DIM)))
        fill_mentions(con, 0, 3_000)
        con.execute("insert into paragraph_neighbours values ('p1', 'p2', 'a1', 'a2', 0.9), ('p2', 'p1', 'a2', 'a1', 0.9)")
        con.execute("insert into warehouse_meta values ('format', 'newsdag')")
        assert {"entity_mentions", "paragraph_neighbours", "quotes"} <= keyed_tables(con)
        columns = con.execute("select table_name, column_name, data_type from duckdb_columns() "
                              "where database_name = current_database() and not internal and table_name in (select table_name from duckdb_tables()) order by all").fetchall()
        rows = {table: con.execute(f"select * from {table} order by all").fetchall()
                for table in ("entity_mentions", "paragraph_neighbours", "warehouse_meta")}
    with duckdb.connect(str(path)) as con:
        con.execute("begin")
        create_schema(con, SQL_DIR, DIM)
        con.execute("commit")
        assert keyed_tables(con) == set(KEYED_TABLES)
        assert con.execute("select table_name, column_name, data_type from duckdb_columns() "
                           "where database_name = current_database() and not internal and table_name in (select table_name from duckdb_tables()) order by all").fetchall() == columns
        for table, expected in rows.items():
            assert con.execute(f"select * from {table} order by all").fetchall() == expected
        create_schema(con, SQL_DIR, DIM)  # nothing left to rebuild
        assert con.execute("select count(*) from duckdb_tables() where table_name like '%keyed'").fetchone() == (0,)
