"""The single file keeps keys only on small bookkeeping that upserts need (storage/schema.KEYED_TABLES):
DuckDB holds a key's index whole in memory while a transaction writes its table, so a key on a table that
grows with the archive outgrows the default memory cap (issue 31: at 10,000 articles the keys' indexes of
mentions, links and lists took ~90 MB of the 128 MB cap and a run's load failed; the key of paragraphs
made a load fail fatally from ~4 million paragraphs, bench/README.md, "Scale")."""

from __future__ import annotations

from pathlib import Path

import duckdb
import polars as pl
import pytest

from storage.frames import insert
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


@pytest.mark.slow
def test_a_batch_loads_under_the_default_cap_into_four_million_paragraphs(tmp_path: Path) -> None:
    """With its key, paragraphs' index took more than the 128 MB cap here and the load failed fatally."""
    path = tmp_path / "big.duckdb"
    with duckdb.connect(str(path)) as con:
        create_schema(con, SQL_DIR, DIM)
        con.execute("insert into paragraphs (paragraph_id, article_id, position, text, text_sha256, n_words, model) "
                    "select a || '-' || (i % 20), a, i % 20, '', '', 1, 'm' from "
                    "(select i, md5((i // 20)::varchar)[:16] as a from range(4000000) t(i))")
    batch = pl.DataFrame({"paragraph_id": [f"new{i // 20}-{i % 20}" for i in range(20_000)],
                          "article_id": [f"new{i // 20}" for i in range(20_000)], "position": [i % 20 for i in range(20_000)],
                          "text": ["x"] * 20_000, "text_sha256": ["s"] * 20_000, "n_words": [1] * 20_000,
                          "model": ["m"] * 20_000}).with_columns(pl.col("position", "n_words").cast(pl.Int32))
    with duckdb.connect(str(path), config={"memory_limit": "128MB"}) as con:
        con.execute("begin")
        con.execute("delete from paragraphs where article_id in (select md5(i::varchar)[:16] from range(1000) t(i))")
        insert(con, "paragraphs", batch)
        con.execute("commit")
        assert con.execute("select count(*) from paragraphs").fetchone() == (4_000_000 - 20_000 + 20_000,)
