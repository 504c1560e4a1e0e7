"""One storage interface, two backends: the single DuckDB file and the DuckLake (storage/lake.py).

The backend is chosen once, from the warehouse setting (`backend_for(settings.warehouse)`): the run,
the CLI and the notebook ask it to connect, lock, hold the database open, and say what it allows (many
writers? a paragraph-index file beside it?); nothing outside storage/ asks which backend it got.

Operations on an open connection (loads, links, derived tables, reads) reach their backend through
`backend_of(con)`, which reads it off the connection (the type of its default catalog). Why not pass
the backend down instead: a connection already says what it is connected to, so callers keep passing
only the connection they hold (as Prefect tasks and the relink do today), and a connection can never
be paired with the wrong backend. The methods below are exactly the operations where the two differ;
everything they share is a plain function of the module named for what it stores.
"""

from __future__ import annotations

import fcntl
import json
from abc import ABC, abstractmethod
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path
from typing import IO

import duckdb
import polars as pl

from storage import lake, search_index
from storage.connection import (
    WarehouseBusy, load_extension, open_database, retry_on_conflict, transaction, utc_now,
)
from storage.frames import insert, internal_sql, key_frame, read_frame, registered, sql_files
from storage.readonly import guarded_file_connection
from storage.schema import (
    check_embedding_dim, claim_warehouse, create_schema, existing_warehouse_kind, lake_schema, mark_rows,
    refuse_foreign, warehouse_kind,
)

_CRASHED_RUN_SUMMARY = json.dumps({"error": "the run's process ended without finishing it (killed, or the machine "
                                            "stopped); found by the next run"})


class Backend(ABC):
    """Where a warehouse lives and the operations that differ with it."""

    many_writers: bool  # several runs may write at once (commits retried on conflict), so no writer lock
    has_paragraph_index_file: bool  # an HNSW index file can live beside it (one host's)
    # A run publishes its progress in a file beside it (DuckDB lets no other process read a file it writes).
    publishes_run_state: bool
    other_model_advice: str  # what to do when the warehouse was built for another embedding size
    # Where search's full-text candidates come from (tasks/search.FULLTEXT_SOURCES): DuckDB's fts index over
    # the paragraphs the search connection sees, unless the backend keeps an index of its own.
    fulltext_source: str = "fts"

    def __init__(self, location: Path | str) -> None:
        self.location = location

    # --- the warehouse as a whole ---

    @abstractmethod
    def connect(self) -> AbstractContextManager[duckdb.DuckDBPyConnection]:
        """A writing connection whose default catalog is the warehouse."""

    @abstractmethod
    def connect_read_only(self) -> AbstractContextManager[duckdb.DuckDBPyConnection]:
        """A connection that cannot change any file (every reader gets it)."""

    @abstractmethod
    def held_open(self, memory_limit: str | None = None, data_path: str | None = None) -> AbstractContextManager[None]:
        """Keep the database open while a run's steps connect and disconnect (`data_path`: where a new
        DuckLake keeps its data files)."""

    @abstractmethod
    def writer_lock(self, wait: bool = False) -> AbstractContextManager[None]:
        """Hold the right to write for the block (one writing run where there can be only one)."""

    @abstractmethod
    def exists(self) -> bool:
        """Whether there may be a warehouse to read here."""

    @abstractmethod
    def absolute_location(self) -> Path | str:
        """The location as another process, started from another folder, finds the same warehouse."""

    @abstractmethod
    def check_writable(self) -> None:
        """Raise now what would stop a run from writing here (another writer, someone else's file, a file
        open elsewhere or from a newer DuckDB); the run checks again."""

    @abstractmethod
    def accept_existing(self, sql_dir: Path, embedding_dim: int, model: str) -> None:
        """Refuse a command that changes an existing warehouse when there is none, or it is not newsdag's
        (untouched); mark one from before the mark."""

    # --- operations on a connection ---

    @abstractmethod
    def apply_schema(self, con: duckdb.DuckDBPyConnection, sql_dir: Path, embedding_dim: int, model: str) -> None:
        """Create tables and views (idempotent) and refuse a warehouse built for another embedding size.
        Only on a warehouse newsdag has accepted (or created)."""

    def upsert_files(self, con: duckdb.DuckDBPyConnection, frame: pl.DataFrame) -> None:
        """Insert or update ingest_files rows (`frame`: the columns of loads.record_files), as one unit.
        No table that grows with the archive has a key (storage/schema.KEYED_TABLES), so no ON CONFLICT:
        the merged rows, then delete + insert, in one transaction; the first sighting and a skipped file's
        encoding are kept."""
        with transaction(con):
            with registered(con, "incoming_files", frame):
                merged = read_frame(con, internal_sql("merged_ingest_files"))
                con.execute("delete from ingest_files where source_path in (select source_path from incoming_files)")
            insert(con, "ingest_files", merged)

    @abstractmethod
    def mark_gone_files_deleted(self, con: duckdb.DuckDBPyConnection, present_paths: list[str], run_id: str) -> int:
        """Mark `deleted` every recorded file not among `present_paths`, as one unit; returns how many."""

    @abstractmethod
    def start_run(self, con: duckdb.DuckDBPyConnection, run_id: str, raw_dir: str) -> list[str]:
        """Record a new run; returns the ids of runs found crashed."""

    def queue_for_relink(self, con: duckdb.DuckDBPyConnection, paragraphs_sql: str, added: bool, replace: bool = True) -> None:
        """Queue the paragraphs `paragraphs_sql` selects (`paragraph_id`) for relinking: `replace` sets their
        `added` flag, else paragraphs already queued keep theirs (inside the caller's transaction). No key
        (a settings change queues every paragraph): delete + insert, or insert of those not queued."""
        flag = "true" if added else "false"
        if replace:
            con.execute(f"delete from relink_queue where paragraph_id in (select paragraph_id from ({paragraphs_sql}))")
        con.execute(f"insert into relink_queue select paragraph_id, {flag} from ({paragraphs_sql}) "
                    f"where paragraph_id not in (select paragraph_id from relink_queue)")  # our own SQL

    @abstractmethod
    def replace_meta(self, con: duckdb.DuckDBPyConnection, key: str, value: str) -> None:
        """Set one warehouse_meta row (inside the caller's transaction)."""

    @abstractmethod
    def rebuild_search_index(self, con: duckdb.DuckDBPyConnection) -> None:
        """Bring the BM25 full-text index in line with the stored paragraphs, where one is stored (on the
        single file incrementally: it costs what changed since the last time)."""

    @abstractmethod
    def has_search_index(self, con: duckdb.DuckDBPyConnection) -> bool: ...

    @abstractmethod
    def search_paragraphs(self, con: duckdb.DuckDBPyConnection, query: str, params: dict[str, object]) -> pl.DataFrame:
        """Run a search query (built by tasks/search.py for this backend's `fulltext_source`, values as
        parameters) with its full-text candidates at hand."""


class DuckDBFile(Backend):
    """The single DuckDB file: one writer process at a time (an advisory lock beside it), keys and upserts."""

    many_writers = False
    has_paragraph_index_file = True
    publishes_run_state = True
    other_model_advice = "Use a new warehouse file (--warehouse) for another model."
    fulltext_source = "index"  # a tantivy index beside the file, updated incrementally (storage/search_index.py)
    location: Path

    @contextmanager
    def connect(self) -> Iterator[duckdb.DuckDBPyConnection]:
        self.location.parent.mkdir(parents=True, exist_ok=True)
        con = open_database(self.location)
        try:
            yield con
        finally:
            con.close()

    @contextmanager
    def connect_read_only(self) -> Iterator[duckdb.DuckDBPyConnection]:
        with guarded_file_connection(self.location) as guarded:
            yield guarded

    @contextmanager
    def held_open(self, memory_limit: str | None = None, data_path: str | None = None) -> Iterator[None]:
        """DuckDB shares one open database among a process's connections, so each step's connect is then
        nearly free, and the write-ahead log is checkpointed once at the end instead of whenever a step's
        connection closes (~0.1 s each; commits are durable in the log either way).

        `memory_limit` (e.g. "256MB") caps DuckDB's buffer pool for the time it is held: an open database
        keeps every block it has read or written cached up to the limit, by default 80% of the machine's
        memory, so without a cap a long run's memory grows with the warehouse."""
        with self.connect() as con:
            if memory_limit:
                con.execute(f"set memory_limit = '{memory_limit}'")
            yield

    @contextmanager
    def writer_lock(self, wait: bool = False) -> Iterator[None]:
        """One writing run per warehouse: an advisory lock on `<warehouse>.lock`, released on exit or crash."""
        self.location.parent.mkdir(parents=True, exist_ok=True)
        handle: IO[str] = open(self.location.with_suffix(self.location.suffix + ".lock"), "w")
        try:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | (0 if wait else fcntl.LOCK_NB))
            except BlockingIOError:
                raise WarehouseBusy(
                    f"another newsdag run is writing to {self.location}; try again when it has finished") from None
            yield
        finally:
            handle.close()

    def exists(self) -> bool:
        return self.location.is_file()

    def absolute_location(self) -> Path:
        return self.location.resolve()

    def check_writable(self) -> None:
        with self.writer_lock():
            if self.location.exists() or self.location.is_symlink():
                existing_warehouse_kind(self.location)  # someone else's file: refused, untouched
                open_database(self.location).close()  # open elsewhere, or from a newer DuckDB

    def accept_existing(self, sql_dir: Path, embedding_dim: int, model: str) -> None:
        if not self.location.exists():
            raise FileNotFoundError(f"warehouse not found: {self.location}")
        with self.writer_lock():
            claim_warehouse(self.location, sql_dir, embedding_dim, model)  # a file newsdag did not create is refused

    def apply_schema(self, con: duckdb.DuckDBPyConnection, sql_dir: Path, embedding_dim: int, model: str) -> None:
        # One transaction: a warehouse whose keys are dropped (tables rebuilt) is changed whole or not at all.
        with transaction(con):
            create_schema(con, sql_dir, embedding_dim)
            row = con.execute("select value from warehouse_meta where key = 'embedding_dim'").fetchone()
            if row is None:
                con.execute("insert into warehouse_meta values ('embedding_dim', ?), ('created_with_model', ?)",
                            [str(embedding_dim), model])
        if row is not None:
            check_embedding_dim(row[0], embedding_dim, model, self.other_model_advice)

    def mark_gone_files_deleted(self, con: duckdb.DuckDBPyConnection, present_paths: list[str], run_id: str) -> int:
        with registered(con, "present_files", key_frame("source_path", present_paths)):
            gone = con.execute(
                "update ingest_files set status = 'deleted', last_seen_at = ?, run_id = ? "
                "where status <> 'deleted' and source_path not in (select source_path from present_files) returning 1",
                [utc_now(), run_id],
            ).fetchall()
        return len(gone)

    def start_run(self, con: duckdb.DuckDBPyConnection, run_id: str, raw_dir: str) -> list[str]:
        """Called under the writer lock, so any run still marked `running` has died (its process was
        killed, or the machine stopped): it is marked `crashed`."""
        crashed = [row[0] for row in con.execute(
            internal_sql("mark_crashed_runs"), [utc_now(), _CRASHED_RUN_SUMMARY, run_id]).fetchall()]
        con.execute(
            "insert or replace into runs (run_id, started_at, status, raw_dir) values (?, ?, 'running', ?)",
            [run_id, utc_now(), raw_dir],
        )
        return crashed

    def replace_meta(self, con: duckdb.DuckDBPyConnection, key: str, value: str) -> None:
        con.execute("insert or replace into warehouse_meta values (?, ?)", [key, value])

    def rebuild_search_index(self, con: duckdb.DuckDBPyConnection) -> None:
        # DuckDB's fts index cannot be updated, and rebuilding it cost ~1 ms a stored paragraph at every
        # run: a tantivy index beside the file takes the changes only.
        search_index.sync(con, self.location)

    def has_search_index(self, con: duckdb.DuckDBPyConnection) -> bool:
        return search_index.index_present(self.location)

    def search_paragraphs(self, con: duckdb.DuckDBPyConnection, query: str, params: dict[str, object]) -> pl.DataFrame:
        """The full-text candidates from the index beside the file (opened read-only), passed to the query
        as the frame `search_index_hits`; the text itself is not a parameter of the query."""
        index = search_index.open_for_search(self.location)
        params = dict(params)
        hits = search_index.top_hits(index, str(params.pop("text")), int(params["candidates"]))  # type: ignore[call-overload]
        with registered(con, "search_index_hits", hits):
            return read_frame(con, query, params)


class DuckLake(Backend):
    """A DuckLake (`ducklake:<catalog>`): many runs and hosts write at once, commits are optimistic and
    retried on conflict, and there are no keys (upserts are delete + insert in one transaction)."""

    many_writers = True
    # The HNSW index file is one host's, beside a single file: on a lake, similarity search is exact.
    has_paragraph_index_file = False
    publishes_run_state = False
    other_model_advice = "Use another warehouse for another model."
    location: str

    def __init__(self, location: Path | str) -> None:
        super().__init__(str(location))

    @contextmanager
    def connect(self) -> Iterator[duckdb.DuckDBPyConnection]:
        with lake.connect_lake(self.location) as con:
            yield con

    @contextmanager
    def connect_read_only(self) -> Iterator[duckdb.DuckDBPyConnection]:
        with lake.connect_lake_read_only(self.location) as con:
            yield con

    @contextmanager
    def held_open(self, memory_limit: str | None = None, data_path: str | None = None) -> Iterator[None]:
        """Attached once for this process (created with its data under `data_path` when new); steps'
        connections are cursors of it."""
        lake.open_lake(self.location, data_path, memory_limit)
        yield

    @contextmanager
    def writer_lock(self, wait: bool = False) -> Iterator[None]:
        yield  # a DuckLake takes many writers (commits retried on conflict)

    def exists(self) -> bool:
        return True  # a catalog elsewhere: opening it says whether it is there

    def absolute_location(self) -> str:
        return self.location

    def check_writable(self) -> None:
        pass  # many writers, and no file here to check: the run opens the lake

    def accept_existing(self, sql_dir: Path, embedding_dim: int, model: str) -> None:
        pass  # apply_schema refuses someone else's lake (and marks one from before the mark)

    def apply_schema(self, con: duckdb.DuckDBPyConnection, sql_dir: Path, embedding_dim: int, model: str) -> None:
        # Nothing to do (the common case): skip the catalog writes, which would conflict with other runs.
        tables = {row[0] for row in con.execute(
            "select table_name from duckdb_tables() where database_name = current_database()").fetchall()}
        expected = {s.query.split("exists", 1)[1].split("(", 1)[0].strip()
                    for s in con.extract_statements(lake_schema(sql_dir))
                    if s.query.lstrip().lower().startswith("create table if not exists")}
        views = {row[0] for row in con.execute(
            "select view_name from duckdb_views() where database_name = current_database()").fetchall()}
        kind = warehouse_kind(con)
        if kind == "foreign":
            raise refuse_foreign("this DuckLake")
        if kind != "newsdag" or not expected <= tables or not {p.stem for p in sql_files(sql_dir / "views")} <= views:
            _create_lake_schema(con, sql_dir, embedding_dim, model, kind == "newsdag", self.other_model_advice)
        check_embedding_dim(lake.lake_embedding_dim(con), embedding_dim, model, self.other_model_advice)

    def mark_gone_files_deleted(self, con: duckdb.DuckDBPyConnection, present_paths: list[str], run_id: str) -> int:
        # No RETURNING on a DuckLake update: count, then update, in one transaction.
        with transaction(con):
            with registered(con, "present_files", key_frame("source_path", present_paths)):
                condition = "status <> 'deleted' and source_path not in (select source_path from present_files)"
                gone_count = int(con.execute(f"select count(*) from ingest_files where {condition}").fetchone()[0])  # type: ignore[index]
                if gone_count:
                    con.execute(f"update ingest_files set status = 'deleted', last_seen_at = ?, run_id = ? where {condition}",
                                [utc_now(), run_id])
        return gone_count

    def start_run(self, con: duckdb.DuckDBPyConnection, run_id: str, raw_dir: str) -> list[str]:
        """Other runs may be writing at the same time: no run is marked crashed here."""
        retry_on_conflict(_insert_running_run)(con, run_id, raw_dir)
        return []

    def replace_meta(self, con: duckdb.DuckDBPyConnection, key: str, value: str) -> None:
        con.execute("delete from warehouse_meta where key = ?", [key])
        con.execute("insert into warehouse_meta values (?, ?)", [key, value])

    def rebuild_search_index(self, con: duckdb.DuckDBPyConnection) -> None:
        pass  # DuckLake cannot store fts's index tables; `newsdag search` builds one in memory

    def has_search_index(self, con: duckdb.DuckDBPyConnection) -> bool:
        return True  # built at search time (search_paragraphs)

    def search_paragraphs(self, con: duckdb.DuckDBPyConnection, query: str, params: dict[str, object]) -> pl.DataFrame:
        """The lake's catalog cannot hold fts's index tables: the paragraphs and articles are copied into
        this connection's in-memory database and indexed there, for this search (seconds for a corpus of
        BBC's size; a large lake wants a search service beside it)."""
        catalog, dimension = str(con.execute("select current_database()").fetchone()[0]), lake.lake_embedding_dim(con)  # type: ignore[index]
        con.execute("use memory")
        try:
            con.execute(f"create or replace table paragraphs as select paragraph_id, article_id, text, "
                        f"cast(embedding as float[{int(dimension or 0)}]) as embedding from {catalog}.paragraphs")
            con.execute(f"create or replace table articles as select * from {catalog}.articles")
            load_extension(con, "fts")  # (a guarded reader has it loaded already)
            con.execute("pragma create_fts_index('paragraphs', 'paragraph_id', 'text', overwrite = 1)")
            return con.execute(query, params).pl()
        finally:
            con.execute(f"use {catalog}")


@retry_on_conflict
def _create_lake_schema(con: duckdb.DuckDBPyConnection, sql_dir: Path, embedding_dim: int, model: str,
                        marked: bool, other_model_advice: str) -> None:
    """The lake's tables, views and mark, in one transaction (redone whole on a conflict)."""
    with transaction(con):
        for statement in con.extract_statements(lake_schema(sql_dir)):
            con.execute(statement.query)
        for view in sql_files(sql_dir / "views"):
            con.execute(view.read_text())
        row = con.execute("select value from warehouse_meta where key = 'embedding_dim'").fetchone()
        if row is None:
            # An update of the rows each creator would write: two first runs conflict, one retries.
            con.execute("delete from warehouse_meta")
            con.executemany("insert into warehouse_meta values (?, ?)", mark_rows(embedding_dim, model))
        else:
            check_embedding_dim(row[0], embedding_dim, model, other_model_advice)
            if not marked:  # a lake from before the mark
                con.execute("delete from warehouse_meta where key in ('format', 'format_version')")
                con.executemany("insert into warehouse_meta values (?, ?)", mark_rows(embedding_dim, model)[:2])


def _insert_running_run(con: duckdb.DuckDBPyConnection, run_id: str, raw_dir: str) -> None:
    with transaction(con):
        con.execute("delete from runs where run_id = ?", [run_id])
        con.execute("insert into runs (run_id, started_at, status, raw_dir) values (?, ?, 'running', ?)",
                    [run_id, utc_now(), raw_dir])


def backend_for(warehouse: Path | str) -> Backend:
    """The backend of the warehouse setting: a DuckLake for a `ducklake:` URL, else the DuckDB file."""
    return DuckLake(warehouse) if lake.is_lake(warehouse) else DuckDBFile(Path(warehouse))


def backend_of(con: duckdb.DuckDBPyConnection) -> Backend:
    """The backend of the database this connection's default catalog is."""
    row = con.execute("select path from duckdb_databases() where database_name = current_database()").fetchone()
    location = str(row[0]) if row and row[0] else ""
    return DuckLake(location) if lake.on_lake(con) else DuckDBFile(Path(location))
