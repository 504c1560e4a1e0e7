"""Polars frames in and out of a connection: registered relations, inserts, reads (vectors as the
single file's fixed-size arrays whichever backend stored them), and the SQL files the code runs."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from functools import cache
from pathlib import Path

import duckdb
import polars as pl

from storage.lake import lake_embedding_dim, on_lake

INTERNAL_SQL = Path(__file__).resolve().parent.parent / "sql" / "internal"


@cache
def internal_sql(name: str) -> str:
    """The statement in sql/internal/<name>.sql (read once per process)."""
    return (INTERNAL_SQL / f"{name}.sql").read_text()


def sql_files(folder: Path) -> list[Path]:
    return sorted(folder.glob("*.sql")) if folder.is_dir() else []


@contextmanager
def registered(con: duckdb.DuckDBPyConnection, name: str, frame: pl.DataFrame) -> Iterator[None]:
    """`frame` as the relation `name` for the statements run inside the block."""
    con.register(name, frame)
    try:
        yield
    finally:
        con.unregister(name)


def key_frame(column: str, values: list[str]) -> pl.DataFrame:
    return pl.DataFrame({column: values}, schema={column: pl.String})


def insert(con: duckdb.DuckDBPyConnection, table: str, frame: pl.DataFrame) -> None:
    if frame.height == 0:
        return
    columns = ", ".join(frame.columns)
    with registered(con, "incoming", frame):
        con.execute(f"insert into {table} ({columns}) select {columns} from incoming")  # names come from our frames


def as_vector_arrays(frame: pl.DataFrame, dimension: int | None) -> pl.DataFrame:
    """`embedding` lists (a DuckLake column) as Array[Float32, dimension], as the single file gives them."""
    if dimension is None or "embedding" not in frame.columns or not isinstance(frame.schema["embedding"], pl.List):
        return frame
    return frame.with_columns(pl.col("embedding").cast(pl.Array(pl.Float32, dimension)))


def read_frame(con: duckdb.DuckDBPyConnection, query: str, params: list[object] | dict[str, object] | None = None) -> pl.DataFrame:
    frame = con.execute(query, params or []).pl()
    if "embedding" in frame.columns and isinstance(frame.schema["embedding"], pl.List):  # a DuckLake's vectors
        frame = as_vector_arrays(frame, lake_embedding_dim(con))
    return frame


def of_articles(con: duckdb.DuckDBPyConnection, query: str, article_ids: list[str]) -> pl.DataFrame:
    """`query` (our own SQL, joining the relation `wanted_articles`) for these articles."""
    with registered(con, "wanted_articles", key_frame("article_id", article_ids)):
        return read_frame(con, query)


# Rows per block when stored vectors are read a block at a time (~12 MB of 384-d float32 vectors).
READ_BLOCK_ROWS = 8192


def blocks_excluding_articles(
    con: duckdb.DuckDBPyConnection, query: str, excluding_articles: list[str], block_rows: int = READ_BLOCK_ROWS
) -> Iterator[pl.DataFrame]:
    """Stream `query`, which anti-joins the registered relation `excluded_articles` (`article_id`), a
    block at a time, so that what the process holds does not grow with the warehouse."""
    # Asked before the stream starts: a query on the connection mid-stream would end it.
    dimension = lake_embedding_dim(con) if on_lake(con) else None
    with registered(con, "excluded_articles", key_frame("article_id", excluding_articles)):
        for batch in con.execute(query).to_arrow_reader(block_rows):
            block = pl.from_arrow(batch)
            assert isinstance(block, pl.DataFrame)
            yield as_vector_arrays(block, dimension)
