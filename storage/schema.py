"""What makes a database a newsdag warehouse (its mark), creating one, and the schema each backend takes.

newsdag writes a mark into warehouse_meta in the transaction that creates a warehouse, and writes to
nothing that lacks it: a DuckDB file (or a DuckLake) that holds anyone else's tables is refused whole,
never "repaired", extended or discarded. Warehouses from before the mark are recognised by the meta
rows every newsdag warehouse has had since its first version, and marked on their next run.
"""

from __future__ import annotations

import os
import re
from contextlib import closing
from pathlib import Path

import duckdb

from storage.connection import open_database, transaction
from storage.frames import sql_files

WAREHOUSE_FORMAT = "newsdag-warehouse"
WAREHOUSE_FORMAT_VERSION = 1
_LEGACY_TABLES = frozenset({"articles", "paragraphs", "runs", "ingest_files", "warehouse_meta"})
_LEGACY_META_KEYS = frozenset({"embedding_dim", "created_with_model"})


class NotAWarehouse(RuntimeError):
    """An existing file or lake that newsdag did not create: refused, left untouched."""


def mark_rows(embedding_dim: int, model: str) -> list[tuple[str, str]]:
    return [("format", WAREHOUSE_FORMAT), ("format_version", str(WAREHOUSE_FORMAT_VERSION)),
            ("embedding_dim", str(int(embedding_dim))), ("created_with_model", model)]


def warehouse_kind(con: duckdb.DuckDBPyConnection) -> str:
    """'newsdag' (marked), 'legacy' (a newsdag warehouse from before the mark), 'empty' (no tables at
    all) or 'foreign' (anything else: someone else's database)."""
    tables = {row[0] for row in con.execute(
        "select table_name from duckdb_tables() where database_name = current_database()").fetchall()}
    views = con.execute(
        "select count(*) from duckdb_views() where database_name = current_database() and not internal").fetchone()
    if not tables and not (views and views[0]):
        return "empty"
    if "warehouse_meta" not in tables:
        return "foreign"
    try:
        meta = dict(con.execute("select key, value from warehouse_meta").fetchall())
    except duckdb.Error:  # a table of that name with other columns
        return "foreign"
    if meta.get("format") == WAREHOUSE_FORMAT:
        version = str(meta.get("format_version", ""))
        if not version.isdigit() or int(version) > WAREHOUSE_FORMAT_VERSION:
            raise NotAWarehouse(
                f"this warehouse was written by a newer newsdag (format {version!r}, this one reads up to "
                f"{WAREHOUSE_FORMAT_VERSION}): upgrade newsdag, or use another --warehouse")
        return "newsdag"
    if _LEGACY_TABLES <= tables and _LEGACY_META_KEYS <= set(meta):
        return "legacy"
    return "foreign"


def refuse_foreign(where: str) -> NotAWarehouse:
    return NotAWarehouse(
        f"{where} exists and is not a newsdag warehouse (it lacks newsdag's mark): nothing was changed; "
        "point --warehouse / NEWSDAG_WAREHOUSE at a new file or at a newsdag warehouse")


def existing_warehouse_kind(path: Path) -> str:
    """'newsdag' or 'legacy' for an existing warehouse of ours; NotAWarehouse for any other existing
    path, which is only read (read-only: not even a checkpoint on close writes to it)."""
    if not path.is_file():
        raise NotAWarehouse(f"{path} exists and is not a file: nothing was changed; point --warehouse at a file")
    if path.stat().st_size == 0:
        raise refuse_foreign(str(path))
    try:
        inspect = open_database(path, read_only=True)
    except duckdb.IOException as error:
        if "not a valid DuckDB database" in str(error):
            raise NotAWarehouse(f"{path} exists and is not a DuckDB database: nothing was changed; "
                                "point --warehouse at a new file or at a newsdag warehouse") from None
        raise
    try:
        kind = warehouse_kind(inspect)
    finally:
        inspect.close()
    if kind in ("foreign", "empty"):
        raise refuse_foreign(str(path))
    return kind


def claim_warehouse(path: Path, sql_dir: Path, embedding_dim: int, model: str) -> bool:
    """Make sure the DuckDB file `path` is a newsdag warehouse before anything writes to it: create it if
    absent (schema and mark in one transaction, in a file of its own that is then linked into place, so
    the path is either absent or a marked warehouse), mark a warehouse from before the mark, and refuse
    anything else, untouched. Returns whether it was created now. The caller holds the writer lock."""
    if path.exists() or path.is_symlink():
        if existing_warehouse_kind(path) == "legacy":
            with closing(open_database(path)) as con, transaction(con):
                con.executemany("insert or replace into warehouse_meta values (?, ?)", mark_rows(embedding_dim, model)[:2])
        return False
    path.parent.mkdir(parents=True, exist_ok=True)
    for leftover in path.parent.glob(f".{path.name}.*.creating*"):  # a creator killed before the link
        leftover.unlink(missing_ok=True)
    creating = path.with_name(f".{path.name}.{os.getpid()}.creating")
    try:
        with closing(open_database(creating)) as con:
            with transaction(con):
                create_schema(con, sql_dir, embedding_dim)
                con.executemany("insert into warehouse_meta values (?, ?)", mark_rows(embedding_dim, model))
            con.execute("checkpoint")
    except BaseException:  # e.g. a full disk: nothing of the attempt stays
        creating.unlink(missing_ok=True)
        creating.with_name(creating.name + ".wal").unlink(missing_ok=True)
        raise
    try:
        os.link(creating, path)  # never replaces a file that appeared meanwhile
    except FileExistsError:
        raise NotAWarehouse(f"{path} appeared while newsdag was creating it: nothing was changed; run again") from None
    finally:
        creating.unlink(missing_ok=True)
        creating.with_name(creating.name + ".wal").unlink(missing_ok=True)
    return True


# The tables whose keys the single file keeps: small bookkeeping that upserts (insert or replace) need.
# Every other table grows with the archive, and DuckDB holds a key's index (ART) whole in memory while a
# transaction writes the table: at 10,000 articles the keys of mentions, neighbour lists, links, quotes and
# entity partitions took ~90 MB, and a run's load failed under the default 128 MB cap; the key of
# paragraphs alone made a batch's load fail (fatally: the rollback too) from ~4 million paragraphs
# (~200,000 articles; bench/README "Scale"). Rows are unique all the same: loads delete by article before
# they insert, ingest_files and relink_queue are replaced by delete + insert (as on a DuckLake, which has
# no keys at all), and sql/checks/unique_ids.sql checks the ids of articles, paragraphs and entities.
KEYED_TABLES = frozenset({"runs", "warehouse_meta"})


def create_schema(con: duckdb.DuckDBPyConnection, sql_dir: Path, embedding_dim: int) -> None:
    """sql/schema.sql and the views, as the DuckDB file takes them (idempotent): keys only on
    KEYED_TABLES. A warehouse made before that loses the other tables' keys here, once."""
    schema = without_keys(sql_dir, KEYED_TABLES).replace("{embedding_dim}", str(int(embedding_dim)))
    con.execute(schema)
    drop_growing_keys(con, schema)
    for view in sql_files(sql_dir / "views"):
        con.execute(view.read_text())


def drop_growing_keys(con: duckdb.DuckDBPyConnection, schema: str) -> None:
    """Rebuild, without its keys, each table outside KEYED_TABLES that still has one (a warehouse made
    before they were dropped): renamed aside, made anew by `schema` (its create and alter statements),
    refilled with the columns both have, dropped (inside the caller's transaction)."""
    ours = {_created_table(statement.query) for statement in con.extract_statements(schema)}
    keyed = [row[0] for row in con.execute(
        "select distinct table_name from duckdb_constraints() where database_name = current_database() "
        "and schema_name = 'main' and constraint_type in ('PRIMARY KEY', 'UNIQUE') order by table_name").fetchall()
        if row[0] not in KEYED_TABLES and row[0] in ours]
    if not keyed:
        return
    for table in keyed:
        con.execute(f'alter table "{table}" rename to "{table}__keyed"')
    con.execute(schema)
    for table in keyed:
        columns = ", ".join(f'"{row[0]}"' for row in con.execute(
            "select column_name from duckdb_columns() where database_name = current_database() and "
            "schema_name = 'main' and table_name = ? and column_name in (select column_name from duckdb_columns() "
            "where database_name = current_database() and schema_name = 'main' and table_name = ?) "
            "order by column_index", [table, f"{table}__keyed"]).fetchall())
        con.execute(f'insert into "{table}" ({columns}) select {columns} from "{table}__keyed"')
        con.execute(f'drop table "{table}__keyed"')


def _created_table(statement: str) -> str | None:
    match = re.match(r"\s*(?:--[^\n]*\n\s*)*create table if not exists (\w+)", statement, re.IGNORECASE)
    return match.group(1) if match else None


_TABLE_KEY = re.compile(r"\s*primary key \([^)]*\)\s*")  # a table's own line: "primary key (a, b)"
_COLUMN_KEY = re.compile(r"\s+(?:primary key|unique)\b")  # a column's "primary key" or "unique"
_CREATE_TABLE = re.compile(r"\s*create table if not exists (\w+)", re.IGNORECASE)


def without_keys(sql_dir: Path, keep: frozenset[str] = frozenset()) -> str:
    """sql/schema.sql without the primary keys and unique constraints of its tables (but those in `keep`).
    Comments stay as they are."""
    lines: list[tuple[str, str]] = []  # (code, comment) of each line
    table = ""
    for line in sql_dir.joinpath("schema.sql").read_text().splitlines():
        code, dashes, comment = line.partition("--")
        if created := _CREATE_TABLE.match(code):
            table = created.group(1)
        if table in keep:
            lines.append((code, dashes + comment))
            continue
        if _TABLE_KEY.fullmatch(code):  # the key line goes, and the comma that led to it
            previous_code, previous_comment = lines[-1]
            lines[-1] = (previous_code.rstrip().removesuffix(",") + " ", previous_comment)
            continue
        lines.append((_COLUMN_KEY.sub("", code), dashes + comment))
    return "\n".join(code + comment for code, comment in lines)


def lake_schema(sql_dir: Path) -> str:
    """sql/schema.sql as a DuckLake takes it: without primary keys and unique constraints, which DuckLake
    does not have, and with vectors as float[] (it has no fixed-size arrays)."""
    return without_keys(sql_dir).replace("float[{embedding_dim}]", "float[]")


def check_embedding_dim(stored: int | str | None, embedding_dim: int, model: str, advice: str) -> None:
    """Refuse a warehouse built for another embedding size (`stored`: its recorded size, None when unrecorded)."""
    if stored is not None and int(stored) != embedding_dim:
        raise ValueError(
            f"this warehouse stores {stored}-dimensional embeddings; model {model!r} is configured for "
            f"{embedding_dim}. {advice}"
        )
