"""The only module that talks to DuckDB: schema, reads of warehouse state, and transactional loads."""

from __future__ import annotations

import fcntl
import json
import os
import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import IO

import duckdb
import polars as pl

from tasks.frames import differing_rows


class WarehouseBusy(RuntimeError):
    """Another newsdag run is writing to this warehouse."""


class WarehouseCheckFailed(RuntimeError):
    """A data check found problems in the warehouse."""


def _rollback(con: duckdb.DuckDBPyConnection) -> None:
    """Roll back, keeping the original error: after a failed commit (e.g. a full disk) DuckDB has no
    transaction left to roll back, and that second error would hide the first."""
    try:
        con.execute("rollback")
    except duckdb.Error:
        pass


def utc_now() -> datetime:
    return datetime.now(timezone.utc).replace(tzinfo=None)


# Attempts of a transaction that a concurrent DuckLake commit keeps conflicting with (see the DuckLake section).
LAKE_COMMIT_ATTEMPTS = 30


def rollback_quietly(con: duckdb.DuckDBPyConnection) -> None:
    """Roll back if a transaction is open (a failed DuckLake commit has already ended it)."""
    try:
        con.execute("rollback")
    except duckdb.Error:
        pass


def is_commit_conflict(error: BaseException) -> bool:
    return isinstance(error, duckdb.TransactionException) and "conflict" in str(error).lower()


def retry_on_conflict(function):  # type: ignore[no-untyped-def]
    """Run a writing function (its first argument a connection) again, whole, when its commit conflicts
    with a concurrent one (DuckLake's optimistic concurrency; never on the single file, one writer).
    The function must be a unit: its own transaction, or one statement."""
    import functools
    import random
    import time

    @functools.wraps(function)
    def wrapper(con, *args, **kwargs):  # type: ignore[no-untyped-def]
        for attempt in range(LAKE_COMMIT_ATTEMPTS):
            try:
                return function(con, *args, **kwargs)
            except duckdb.Error as error:
                if not is_commit_conflict(error) or attempt == LAKE_COMMIT_ATTEMPTS - 1:
                    raise
                rollback_quietly(con)
                # Jittered back-off: two runs retrying in step would conflict again.
                time.sleep(random.uniform(0.05, 0.25) * min(2 ** attempt, 16))
        raise AssertionError("unreachable")

    return wrapper


@contextmanager
def writer_lock(warehouse: Path, wait: bool = False) -> Iterator[None]:
    """One writing run per warehouse: an advisory lock on `<warehouse>.lock`, released on exit or crash."""
    if is_lake(warehouse):  # a DuckLake takes many writers (commits retried on conflict)
        yield
        return
    warehouse.parent.mkdir(parents=True, exist_ok=True)
    handle: IO[str] = open(warehouse.with_suffix(warehouse.suffix + ".lock"), "w")
    try:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | (0 if wait else fcntl.LOCK_NB))
        except BlockingIOError:
            raise WarehouseBusy(f"another newsdag run is writing to {warehouse}; try again when it has finished") from None
        yield
    finally:
        handle.close()


class WarehouseInUse(RuntimeError):
    """The DuckDB file is open in another process in a way that excludes this one."""


class WarehouseTooNew(RuntimeError):
    """The DuckDB file was written by a newer DuckDB than this one reads."""


def open_database(
    warehouse: Path, read_only: bool = False, config: dict[str, object] | None = None
) -> duckdb.DuckDBPyConnection:
    """duckdb.connect, with the two errors a user meets translated into what to do about them."""
    try:
        return duckdb.connect(str(warehouse), read_only=read_only, config=config or {})
    except duckdb.IOException as error:
        message = str(error)
        if "Could not set lock" in message:
            holder = re.search(r"held in (.+?) \(PID (\d+)\)", message)
            who = f" ({Path(holder.group(1)).name}, PID {holder.group(2)})" if holder else ""
            if read_only:
                raise WarehouseInUse(
                    f"{warehouse} is open for writing by another process{who}, likely a newsdag run; "
                    "try again when it has finished"
                ) from None
            raise WarehouseInUse(
                f"{warehouse} is open in another process{who} (a `newsdag explore`, `sql` or other reader?); "
                "close it and run again"
            ) from None
        if "newer version of DuckDB" in message or "created with an newer version" in message:
            raise WarehouseTooNew(
                f"{warehouse} was written by a newer DuckDB than this newsdag's ({duckdb.__version__}); "
                "upgrade newsdag, or use another --warehouse file"
            ) from None
        raise


@contextmanager
def connect(warehouse: Path, read_only: bool = False) -> Iterator[duckdb.DuckDBPyConnection]:
    """A connection to the warehouse. `read_only=True`: the guarded connection of `connect_read_only`
    (every reader gets it: it cannot write any file, not only the warehouse). A DuckLake URL
    (`ducklake:...`): a connection whose default catalog is the lake."""
    if read_only:
        with connect_read_only(warehouse) as guarded:
            yield guarded
        return
    if is_lake(warehouse):
        with connect_lake(warehouse) as lake:
            yield lake
        return
    warehouse.parent.mkdir(parents=True, exist_ok=True)
    con = open_database(warehouse)
    try:
        yield con
    finally:
        con.close()


# --- read-only access (`newsdag sql`, `newsdag search`, notebooks) ---

class QueryRefused(ValueError):
    """A query the read-only path does not run (not one statement, or not a reading statement)."""


# Statement kinds that only read. EXPLAIN only plans (EXPLAIN ANALYZE runs its query, still read-only
# on a guarded connection). Everything else (COPY, EXPORT, ATTACH, SET, PRAGMA, INSTALL, LOAD, CALL,
# CREATE, ...) is refused by kind before DuckDB's own guards are needed.
READING_STATEMENTS = frozenset({"SELECT", "EXPLAIN"})


@contextmanager
def connect_read_only(warehouse: Path, extensions: tuple[str, ...] = ("fts",)) -> Iterator[duckdb.DuckDBPyConnection]:
    """A connection that cannot change any file: the warehouse opened read-only, the extensions the
    reading paths need loaded first (from their pip packages), then DuckDB's own guards: no access to
    files or the network beyond the open database (`enable_external_access = false`), no extension
    auto-install/auto-load, and the configuration locked so that a query cannot undo any of it.
    (`read_only=True` alone still lets `COPY ... TO`, `EXPORT DATABASE` and `ATTACH` write files.)
    A DuckLake: attached read-only, with file access limited to its data folder (`connect_lake_read_only`)."""
    if is_lake(warehouse):
        with connect_lake_read_only(warehouse) as lake:
            yield lake
        return
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


def read_query(warehouse: Path, query: str, params: list[object] | dict[str, object] | None = None) -> pl.DataFrame:
    """Run one reading statement on a guarded read-only connection."""
    with connect_read_only(warehouse) as con:
        return read_frame(con, reading_statement(con, query), params)


@contextmanager
def held_open(warehouse: Path, memory_limit: str | None = None) -> Iterator[None]:
    """Keep the database open while a run's steps connect and disconnect: DuckDB shares one open
    database among a process's connections, so each step's connect is then nearly free, and the
    write-ahead log is checkpointed once at the end instead of whenever a step's connection closes
    (~0.1 s each; commits are durable in the log either way).

    `memory_limit` (e.g. "256MB") caps DuckDB's buffer pool for the time it is held: an open database
    keeps every block it has read or written cached up to the limit, by default 80% of the machine's
    memory, so without a cap a long run's memory grows with the warehouse."""
    if is_lake(warehouse):
        open_lake(warehouse, memory_limit=memory_limit)
        yield
        return
    with connect(warehouse) as con:
        if memory_limit:
            con.execute(f"set memory_limit = '{memory_limit}'")
        yield


def memory_in_use(con: duckdb.DuckDBPyConnection) -> int:
    """Bytes DuckDB's buffer manager holds now (cached blocks, hash tables, appended data)."""
    row = con.execute("select coalesce(sum(memory_usage_bytes), 0) from duckdb_memory()").fetchone()
    return int(row[0]) if row else 0


def _sql_files(folder: Path) -> list[Path]:
    return sorted(folder.glob("*.sql")) if folder.is_dir() else []


# --- what makes a database a newsdag warehouse (issue 29) ---
#
# newsdag writes a mark into warehouse_meta in the transaction that creates a warehouse, and writes to
# nothing that lacks it: a DuckDB file (or a DuckLake) that holds anyone else's tables is refused whole,
# never "repaired", extended or discarded. Warehouses from before the mark are recognised by the meta
# rows every newsdag warehouse has had since its first version, and marked on their next run.

WAREHOUSE_FORMAT = "newsdag-warehouse"
WAREHOUSE_FORMAT_VERSION = 1
_LEGACY_TABLES = frozenset({"articles", "paragraphs", "runs", "ingest_files", "warehouse_meta"})
_LEGACY_META_KEYS = frozenset({"embedding_dim", "created_with_model"})


class NotAWarehouse(RuntimeError):
    """An existing file or lake that newsdag did not create: refused, left untouched."""


def _mark_rows(embedding_dim: int, model: str) -> list[tuple[str, str]]:
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


def _refuse_foreign(where: str) -> NotAWarehouse:
    return NotAWarehouse(
        f"{where} exists and is not a newsdag warehouse (it lacks newsdag's mark): nothing was changed; "
        "point --warehouse / NEWSDAG_WAREHOUSE at a new file or at a newsdag warehouse")


def _creating_path(path: Path) -> Path:
    return path.with_name(f".{path.name}.{os.getpid()}.creating")


def existing_warehouse_kind(path: Path) -> str:
    """'newsdag' or 'legacy' for an existing warehouse of ours; NotAWarehouse for any other existing
    path, which is only read (read-only: not even a checkpoint on close writes to it)."""
    if not path.is_file():
        raise NotAWarehouse(f"{path} exists and is not a file: nothing was changed; point --warehouse at a file")
    if path.stat().st_size == 0:
        raise _refuse_foreign(str(path))
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
        raise _refuse_foreign(str(path))
    return kind


def claim_warehouse(path: Path, sql_dir: Path, embedding_dim: int, model: str) -> bool:
    """Make sure `path` is a newsdag warehouse before anything writes to it: create it if absent (schema
    and mark in one transaction, in a file of its own that is then linked into place, so the path is
    either absent or a marked warehouse), mark a warehouse from before the mark, and refuse anything
    else, untouched. Returns whether it was created now. The caller holds the writer lock."""
    if path.exists() or path.is_symlink():
        if existing_warehouse_kind(path) == "legacy":
            with connect(path) as con, transaction(con):
                con.executemany("insert or replace into warehouse_meta values (?, ?)", _mark_rows(embedding_dim, model)[:2])
        return False
    path.parent.mkdir(parents=True, exist_ok=True)
    for leftover in path.parent.glob(f".{path.name}.*.creating*"):  # a creator killed before the link
        leftover.unlink(missing_ok=True)
    creating = _creating_path(path)
    con = open_database(creating)
    try:
        with transaction(con):
            _create_schema(con, sql_dir, embedding_dim)
            con.executemany("insert into warehouse_meta values (?, ?)", _mark_rows(embedding_dim, model))
        con.execute("checkpoint")
    finally:
        con.close()
    try:
        os.link(creating, path)  # never replaces a file that appeared meanwhile
    except FileExistsError:
        raise NotAWarehouse(f"{path} appeared while newsdag was creating it: nothing was changed; run again") from None
    finally:
        creating.unlink(missing_ok=True)
        creating.with_name(creating.name + ".wal").unlink(missing_ok=True)
    return True


def _create_schema(con: duckdb.DuckDBPyConnection, sql_dir: Path, embedding_dim: int) -> None:
    con.execute(sql_dir.joinpath("schema.sql").read_text().replace("{embedding_dim}", str(int(embedding_dim))))
    for view in _sql_files(sql_dir / "views"):
        con.execute(view.read_text())


def apply_schema(con: duckdb.DuckDBPyConnection, sql_dir: Path, embedding_dim: int, model: str) -> None:
    """Create tables and views (idempotent) and refuse a warehouse built for another embedding size.
    Only on a warehouse `claim_warehouse` has accepted (or created)."""
    if on_lake(con):
        _apply_lake_schema(con, sql_dir, embedding_dim, model)
        return
    _create_schema(con, sql_dir, embedding_dim)
    row = con.execute("select value from warehouse_meta where key = 'embedding_dim'").fetchone()
    if row is None:
        con.execute("insert into warehouse_meta values ('embedding_dim', ?), ('created_with_model', ?)",
                    [str(embedding_dim), model])
    elif int(row[0]) != embedding_dim:
        raise ValueError(
            f"this warehouse stores {row[0]}-dimensional embeddings; model {model!r} is configured for "
            f"{embedding_dim}. Use a new warehouse file (--warehouse) for another model."
        )


def read_frame(con: duckdb.DuckDBPyConnection, query: str, params: list[object] | dict[str, object] | None = None) -> pl.DataFrame:
    frame = con.execute(query, params or []).pl()
    if "embedding" in frame.columns and isinstance(frame.schema["embedding"], pl.List):  # a DuckLake's vectors
        frame = as_vector_arrays(frame, lake_embedding_dim(con))
    return frame


def known_files(con: duckdb.DuckDBPyConnection) -> pl.DataFrame:
    """What the warehouse holds per file. An article in the warehouse counts as loaded with the content
    it was loaded from, even when the run that loaded it died before recording its files: its batch
    was committed whole, and redoing it would re-link it against later articles (another end state)."""
    return read_frame(
        con,
        "select coalesce(f.source_path, a.source_path) as source_path, "
        "coalesce(a.content_sha256, f.content_sha256) as content_sha256, "
        "case when a.article_id is not null then 'loaded' else f.status end as status "
        "from ingest_files f full outer join articles a on a.source_path = f.source_path",
    )


@contextmanager
def registered(con: duckdb.DuckDBPyConnection, name: str, frame: pl.DataFrame) -> Iterator[None]:
    """`frame` as the relation `name` for the statements run inside the block."""
    con.register(name, frame)
    try:
        yield
    finally:
        con.unregister(name)


def _key_frame(column: str, values: list[str]) -> pl.DataFrame:
    return pl.DataFrame({column: values}, schema={column: pl.String})


def cached_embeddings(con: duckdb.DuckDBPyConnection, text_hashes: list[str], model: str) -> pl.DataFrame:
    """Embeddings already computed for these texts with this model."""
    with registered(con, "wanted_hashes", _key_frame("text_sha256", text_hashes)):
        return read_frame(
            con,
            "select c.text_sha256, c.embedding from embedding_cache c "
            "join wanted_hashes w using (text_sha256) where c.model = ?",
            [model],
        )


def stored_cleaning(
    con: duckdb.DuckDBPyConnection, article_ids: list[str], article_columns: list[str]
) -> tuple[pl.DataFrame, pl.DataFrame, pl.DataFrame]:
    """What cleaning stored for these articles: their `article_columns` of `articles`, their removed spans
    and their paragraphs' position, text and section heading (what ingest.cleaning_digests compares)."""
    columns = ", ".join('a."{}"'.format(name.replace('"', '""')) for name in article_columns)
    with registered(con, "wanted_articles", _key_frame("article_id", article_ids)):
        return (
            read_frame(con, f"select {columns} from articles a join wanted_articles w using (article_id)"),
            read_frame(con, "select r.article_id, r.start_char, r.end_char, r.text, r.reason from removed_spans r "
                            "join wanted_articles w using (article_id)"),
            read_frame(con, "select p.article_id, p.position, p.text, p.section_heading from paragraphs p "
                            "join wanted_articles w using (article_id)"),
        )


# Rows per block when stored vectors are read a block at a time (~12 MB of 384-d float32 vectors).
READ_BLOCK_ROWS = 8192


def _blocks_excluding_articles(
    con: duckdb.DuckDBPyConnection, query: str, excluding_articles: list[str], block_rows: int = READ_BLOCK_ROWS
) -> Iterator[pl.DataFrame]:
    """Stream `query`, which anti-joins the registered relation `excluded_articles` (`article_id`), a
    block at a time, so that what the process holds does not grow with the warehouse."""
    dimension = lake_embedding_dim(con) if on_lake(con) else None
    with registered(con, "excluded_articles", _key_frame("article_id", excluding_articles)):
        for batch in con.execute(query).to_arrow_reader(block_rows):
            block = pl.from_arrow(batch)
            assert isinstance(block, pl.DataFrame)
            yield as_vector_arrays(block, dimension)


def paragraph_embedding_blocks(con: duckdb.DuckDBPyConnection, excluding_articles: list[str]) -> Iterator[pl.DataFrame]:
    """Stored paragraphs' embeddings (`paragraph_id`, `article_id`, `embedding`), a block at a time,
    except those of articles about to be replaced."""
    return _blocks_excluding_articles(
        con,
        "select paragraph_id, article_id, embedding from paragraphs anti join excluded_articles using (article_id)",
        excluding_articles,
    )


def known_entities(con: duckdb.DuckDBPyConnection) -> pl.DataFrame:
    return read_frame(con, "select entity_id, canonical_name, label, aliases from entities")


# --- entities resolved over the whole warehouse (flows/derived.py: settle_entities) ---

RESOLVED_FOR_KEY = "entities_resolved_for"


def raw_mentions_fingerprint(con: duckdb.DuckDBPyConnection) -> str:
    """A digest of every stored raw mention (order-free): equal to the one recorded at the last settling,
    nothing has changed that would resolve differently."""
    row = con.execute(
        "select count(*), coalesce(bit_xor(hash(article_id, paragraph_id, start_char, end_char, surface, label, "
        "word_before)), 0) from raw_mentions").fetchone()
    return f"{row[0]}:{row[1]}" if row else "0:0"


def entities_resolved_for(con: duckdb.DuckDBPyConnection) -> str | None:
    row = con.execute("select value from warehouse_meta where key = ?", [RESOLVED_FOR_KEY]).fetchone()
    return str(row[0]) if row else None


def backfill_raw_mentions(con: duckdb.DuckDBPyConnection) -> int:
    """Articles loaded before raw mentions were kept: their resolved mentions stand in (without the word
    before each), so that they take part in the settling. Returns the articles filled in."""
    row = con.execute("select count(distinct article_id) from entity_mentions "
                      "where article_id not in (select article_id from raw_mentions)").fetchone()
    if not row or not row[0]:
        return 0
    con.execute("insert into raw_mentions select article_id, paragraph_id, start_char, end_char, surface, label, '' "
                "from entity_mentions where article_id not in (select article_id from raw_mentions)")
    return int(row[0])


def stored_raw_mentions(con: duckdb.DuckDBPyConnection) -> pl.DataFrame:
    return read_frame(con, "select article_id, paragraph_id, start_char, end_char, surface, label, word_before "
                           "from raw_mentions")


def stored_resolved_mentions(con: duckdb.DuckDBPyConnection) -> pl.DataFrame:
    """Every stored mention with the label of the entity it points to (`entities.RESOLVED_KEY`)."""
    return read_frame(con, "select m.article_id, m.paragraph_id, m.start_char, m.end_char, m.surface, m.label, "
                           "m.entity_id, e.label as entity_label from entity_mentions m "
                           "left join (select distinct entity_id, label from entities) e using (entity_id)")


def stored_entity_rows(con: duckdb.DuckDBPyConnection) -> pl.DataFrame:
    return read_frame(con, "select entity_id, canonical_name, label, aliases, mention_count from entities")


def _of_articles(con: duckdb.DuckDBPyConnection, query: str, article_ids: list[str]) -> pl.DataFrame:
    """`query` (our own SQL, joining the relation `wanted_articles`) for these articles."""
    with registered(con, "wanted_articles", _key_frame("article_id", article_ids)):
        return read_frame(con, query)


def article_paragraph_texts(con: duckdb.DuckDBPyConnection, article_ids: list[str]) -> pl.DataFrame:
    return _of_articles(con, "select article_id, paragraph_id, position, text from paragraphs "
                             "join wanted_articles using (article_id) order by article_id, position", article_ids)


def stored_quotes_of(con: duckdb.DuckDBPyConnection, article_ids: list[str]) -> pl.DataFrame:
    """Every column of these articles' quotes, embeddings included."""
    return _of_articles(con, "select q.* from quotes q join wanted_articles using (article_id) order by quote_id",
                        article_ids)


def _alias_key(frame: pl.DataFrame) -> pl.DataFrame:
    return frame.with_columns(aliases=pl.col("aliases").list.sort().list.join("\x1f").fill_null(""))


def replace_settled_entities(
    con: duckdb.DuckDBPyConnection, entity_rows: pl.DataFrame, mention_articles: list[str], mentions: pl.DataFrame,
    quote_articles: list[str], quote_rows: pl.DataFrame, quote_links: pl.DataFrame, resolved_for: str,
) -> None:
    """Inside the caller's transaction: the entities as settled (only rows that changed are rewritten),
    the mentions of the articles whose resolution changed, the quotes (and their links) of the articles
    whose quotes changed with it, and the digest they were settled for."""
    stored = _alias_key(stored_entity_rows(con))
    settled = _alias_key(entity_rows.select(stored.columns)).cast(stored.schema)
    changed = differing_rows(stored, settled, stored.columns)["entity_id"].unique()
    if changed.len():
        with registered(con, "settled_ids", _key_frame("entity_id", changed.to_list())):
            con.execute("delete from entities where entity_id in (select entity_id from settled_ids)")
        _insert(con, "entities", entity_rows.filter(pl.col("entity_id").is_in(changed.implode())))
    if mention_articles:
        with registered(con, "settled_articles", _key_frame("article_id", mention_articles)):
            con.execute("delete from entity_mentions where article_id in (select article_id from settled_articles)")
        _insert(con, "entity_mentions", mentions)
    if quote_articles:
        with registered(con, "requoted_articles", _key_frame("article_id", quote_articles)):
            con.execute("delete from quote_links where article_id_a in (select article_id from requoted_articles) "
                        "or article_id_b in (select article_id from requoted_articles)")
            con.execute("delete from quotes where article_id in (select article_id from requoted_articles)")
        _insert(con, "quotes", quote_rows)
        _insert(con, "quote_links", quote_links)
    con.execute("delete from warehouse_meta where key = ?", [RESOLVED_FOR_KEY])
    con.execute("insert into warehouse_meta values (?, ?)", [RESOLVED_FOR_KEY, resolved_for])


def stored_quote_blocks(con: duckdb.DuckDBPyConnection, excluding_articles: list[str]) -> Iterator[pl.DataFrame]:
    """Stored quotes with their embeddings, a block at a time, except those of articles about to be replaced."""
    return _blocks_excluding_articles(
        con,
        "select quote_id, article_id, text, speaker_entity_id, embedding from quotes "
        "anti join excluded_articles using (article_id) where embedding is not null",
        excluding_articles,
    )


@dataclass
class ArticleBatch:
    """Everything loaded for a batch of articles, written in one transaction."""

    articles: pl.DataFrame
    sources: pl.DataFrame
    removed_spans: pl.DataFrame
    paragraphs: pl.DataFrame
    entities: pl.DataFrame
    mentions: pl.DataFrame
    links: pl.DataFrame
    extra: dict[str, pl.DataFrame] = field(default_factory=dict)
    # Every (text_sha256, embedding) the batch used, quotes' texts included, for the embedding cache;
    # None: the paragraphs' own.
    vectors: pl.DataFrame | None = None


# Child tables keyed by article; deleted before an article is (re)loaded.
_ARTICLE_TABLES = ("quotes", "entity_mentions", "raw_mentions", "removed_spans", "paragraphs", "article_sources", "articles")


def _insert(con: duckdb.DuckDBPyConnection, table: str, frame: pl.DataFrame) -> None:
    if frame.height == 0:
        return
    columns = ", ".join(frame.columns)
    with registered(con, "incoming", frame):
        con.execute(f"insert into {table} ({columns}) select {columns} from incoming")  # names come from our frames


def _queue_for_relink(con: duckdb.DuckDBPyConnection, paragraphs_sql: str, added: bool, replace: bool = True) -> None:
    """Queue the paragraphs `paragraphs_sql` selects (`paragraph_id`) for relinking: `replace` sets their
    `added` flag (insert or replace), else paragraphs already queued keep theirs (insert or ignore).
    A DuckLake has no keys for either: delete + insert, or insert of those not queued (inside the
    caller's transaction)."""
    flag = "true" if added else "false"
    if not on_lake(con):
        con.execute(f"insert or {'replace' if replace else 'ignore'} into relink_queue "
                    f"select paragraph_id, {flag} from ({paragraphs_sql})")  # our own SQL
        return
    if replace:
        con.execute(f"delete from relink_queue where paragraph_id in (select paragraph_id from ({paragraphs_sql}))")
    con.execute(f"insert into relink_queue select paragraph_id, {flag} from ({paragraphs_sql}) "
                f"where paragraph_id not in (select paragraph_id from relink_queue)")


def delete_articles(con: duckdb.DuckDBPyConnection, article_ids: list[str]) -> None:
    """Remove articles and every row that hangs off them (inside the caller's transaction)."""
    if not article_ids:
        return
    with registered(con, "doomed", _key_frame("article_id", article_ids)):
        # Articles are loaded whole, so none of these stored means no row anywhere hangs off them:
        # new articles (a first run) skip the scans of every table below.
        stored = con.execute("select count(*) from articles where article_id in (select article_id from doomed)").fetchone()
        if not stored or stored[0] == 0:
            return
        con.execute(
            "delete from paragraph_similarity where article_id_a in (select article_id from doomed) "
            "or article_id_b in (select article_id from doomed)"
        )
        con.execute(
            "delete from article_similarity where article_id_a in (select article_id from doomed) "
            "or article_id_b in (select article_id from doomed)"
        )
        # Paragraphs of other articles that had one of these among their nearest neighbours get new lists.
        _queue_for_relink(
            con, "select distinct paragraph_id from paragraph_neighbours where neighbour_article_id in "
            "(select article_id from doomed) and article_id not in (select article_id from doomed)", added=False, replace=False)
        con.execute(
            "delete from paragraph_neighbours where article_id in (select article_id from doomed) "
            "or neighbour_article_id in (select article_id from doomed)"
        )
        con.execute(
            "delete from relink_queue where paragraph_id in "
            "(select paragraph_id from paragraphs where article_id in (select article_id from doomed))"
        )
        con.execute("delete from story_articles where article_id in (select article_id from doomed)")
        # Stories left without articles go; the others are rebuilt at the end of the next run.
        con.execute("delete from stories where story_id not in (select story_id from story_articles)")
        con.execute("delete from topics where topic_id not in (select topic_id from stories)")
        con.execute(
            "delete from quote_links where article_id_a in (select article_id from doomed) "
            "or article_id_b in (select article_id from doomed)"
        )
        mentioned = [row[0] for row in con.execute(
            "select distinct entity_id from entity_mentions where article_id in (select article_id from doomed)"
        ).fetchall()]
        for table in _ARTICLE_TABLES:
            con.execute(f"delete from {table} where article_id in (select article_id from doomed)")
    refresh_entity_counts(con, mentioned, drop_unmentioned=True)


def refresh_entity_counts(con: duckdb.DuckDBPyConnection, entity_ids: list[str], drop_unmentioned: bool = False) -> None:
    """Keep `entities.mention_count` equal to the entity's rows in entity_mentions, for the entities
    whose mentions changed (a batch touches a few hundred; updating every stored entity would rewrite
    the whole table each batch). `drop_unmentioned`: entities left without mentions go."""
    if not entity_ids:
        return
    with registered(con, "touched_entities", _key_frame("entity_id", entity_ids)):
        if drop_unmentioned:
            con.execute(
                "delete from entities where entity_id in (select entity_id from touched_entities) "
                "and entity_id not in (select entity_id from entity_mentions)"
            )
        con.execute(
            "update entities set mention_count = coalesce((select count(*) from entity_mentions m "
            "where m.entity_id = entities.entity_id), 0) where entity_id in (select entity_id from touched_entities)"
        )


@retry_on_conflict
def load_batch(
    con: duckdb.DuckDBPyConnection, batch: ArticleBatch, model: str,
    before_commit: Callable[[duckdb.DuckDBPyConnection], object] | None = None,
) -> None:
    """Replace the batch's articles whole: delete by key, insert, in one transaction. The new paragraphs
    are queued for linking; `before_commit(con)` (the relink) runs inside the same transaction, so that
    articles and their links are committed together. (On a DuckLake, the whole transaction is redone
    when a concurrent commit conflicts with it.)"""
    article_ids = batch.articles["article_id"].to_list()
    con.execute("begin transaction")
    try:
        delete_articles(con, article_ids)
        _insert(con, "articles", batch.articles)
        _insert(con, "article_sources", batch.sources)
        _insert(con, "removed_spans", batch.removed_spans)
        _insert(con, "paragraphs", batch.paragraphs)
        with registered(con, "incoming_paragraphs", batch.paragraphs.select("paragraph_id")):
            _queue_for_relink(con, "select paragraph_id from incoming_paragraphs", added=True)
        if batch.entities.height:
            with registered(con, "incoming_entities", batch.entities):
                con.execute("delete from entities where entity_id in (select entity_id from incoming_entities)")
            _insert(con, "entities", batch.entities)
        _insert(con, "entity_mentions", batch.mentions)
        refresh_entity_counts(con, batch.entities["entity_id"].to_list())
        _insert(con, "paragraph_similarity", batch.links)
        for table, frame in batch.extra.items():
            _insert(con, table, frame)
        vectors = batch.paragraphs.select("text_sha256", "embedding") if batch.vectors is None else batch.vectors
        cache = vectors.filter(pl.col("embedding").is_not_null()).unique("text_sha256").with_columns(model=pl.lit(model))
        with registered(con, "incoming_cache", cache):
            con.execute(
                "insert into embedding_cache select text_sha256, model, embedding from incoming_cache "
                "anti join embedding_cache using (text_sha256, model)"
            )
        if before_commit is not None:
            before_commit(con)
        con.execute("commit")
    except BaseException:
        _rollback(con)
        raise


@retry_on_conflict
def record_files(con: duckdb.DuckDBPyConnection, files: pl.DataFrame, run_id: str) -> None:
    """Upsert the outcome for every file seen in this run."""
    now = utc_now()
    frame = files.select(
        "source_path", "content_sha256", "size_bytes", "status", "change", "duplicate_of", "encoding", "error",
        "article_id",
    ).with_columns(seen_at=pl.lit(now), run_id=pl.lit(run_id))
    if on_lake(con):
        _record_files_lake(con, frame)
        return
    # One statement: DuckDB applies it whole or not at all.
    with registered(con, "incoming_files", frame):
        con.execute(
            """
            insert into ingest_files
            select source_path, content_sha256, size_bytes, status, change, duplicate_of,
                   -- a file skipped as unchanged keeps the encoding its article was decoded with
                   coalesce(encoding, (select s.encoding from article_sources s where s.article_id = i.article_id)),
                   error, article_id, seen_at, seen_at, run_id
            from incoming_files i
            on conflict (source_path) do update set
                content_sha256 = excluded.content_sha256, size_bytes = excluded.size_bytes,
                status = excluded.status, change = excluded.change, duplicate_of = excluded.duplicate_of,
                encoding = coalesce(excluded.encoding, ingest_files.encoding), error = excluded.error, article_id = excluded.article_id,
                last_seen_at = excluded.last_seen_at, run_id = excluded.run_id
            """
        )


@retry_on_conflict
def mark_deleted(con: duckdb.DuckDBPyConnection, present_paths: list[str], run_id: str, shard: str | None = None) -> int:
    """Files that were in the raw folder before and are gone now: their articles stay in the warehouse,
    their ingest_files row says `deleted` (use `newsdag prune` to remove them). A run of one `shard`
    ("i/n") judges only its own shard's files (the others are another run's)."""
    if shard is not None:
        from tasks.ingest import parse_shard, shard_of

        index, count = parse_shard(shard)
        stored = [row[0] for row in con.execute("select source_path from ingest_files where status <> 'deleted'").fetchall()]
        present_paths = sorted(set(present_paths) | {path for path in stored if shard_of(path, count) != index})
    if on_lake(con):  # no RETURNING on a DuckLake update: count, then update, in one transaction
        con.execute("begin transaction")
        try:
            with registered(con, "present_files", _key_frame("source_path", present_paths)):
                condition = "status <> 'deleted' and source_path not in (select source_path from present_files)"
                gone_count = int(con.execute(f"select count(*) from ingest_files where {condition}").fetchone()[0])  # type: ignore[index]
                if gone_count:
                    con.execute(f"update ingest_files set status = 'deleted', last_seen_at = ?, run_id = ? where {condition}",
                                [utc_now(), run_id])
            con.execute("commit")
        except BaseException:
            rollback_quietly(con)
            raise
        return gone_count
    with registered(con, "present_files", _key_frame("source_path", present_paths)):
        gone = con.execute(
            "update ingest_files set status = 'deleted', last_seen_at = ?, run_id = ? "
            "where status <> 'deleted' and source_path not in (select source_path from present_files) returning 1",
            [utc_now(), run_id],
        ).fetchall()
    return len(gone)


@retry_on_conflict
def prune_deleted(
    con: duckdb.DuckDBPyConnection, before_commit: Callable[[duckdb.DuckDBPyConnection], object] | None = None
) -> int:
    """Delete the articles of files marked `deleted`, and their ingest_files rows, in one transaction
    (with `before_commit(con)`, the relink of the paragraphs that had theirs as neighbours)."""
    paths = [row[0] for row in con.execute("select source_path from ingest_files where status = 'deleted'").fetchall()]
    ids = [row[0] for row in con.execute(
        "select article_id from articles where source_path in (select source_path from ingest_files where status = 'deleted')"
    ).fetchall()]
    con.execute("begin transaction")
    try:
        delete_articles(con, ids)
        con.execute("delete from ingest_files where status = 'deleted'")
        if before_commit is not None:
            before_commit(con)
        con.execute("commit")
    except BaseException:
        _rollback(con)
        raise
    return len(paths)


def start_run(con: duckdb.DuckDBPyConnection, run_id: str, raw_dir: str) -> list[str]:
    """Record a new run. Called under the writer lock, so any run still marked `running` has died (its
    process was killed, or the machine stopped): it is marked `crashed`. Returns those runs' ids.
    On a DuckLake other runs may be writing at the same time: their `running` rows are left alone."""
    if on_lake(con):
        retry_on_conflict(_start_run_lake)(con, run_id, raw_dir)
        return []
    crashed = [row[0] for row in con.execute(
        "update runs set status = 'crashed', finished_at = coalesce(finished_at, ?), "
        "summary = coalesce(summary, ?) where status = 'running' and run_id <> ? returning run_id",
        [utc_now(), json.dumps({"error": "the run's process ended without finishing it (killed, or the machine "
                                          "stopped); found by the next run"}), run_id],
    ).fetchall()]
    con.execute(
        "insert or replace into runs (run_id, started_at, status, raw_dir) values (?, ?, 'running', ?)",
        [run_id, utc_now(), raw_dir],
    )
    return crashed


@retry_on_conflict
def finish_run(con: duckdb.DuckDBPyConnection, run_id: str, status: str, summary: dict[str, object]) -> None:
    con.execute(
        "update runs set finished_at = ?, status = ?, summary = ? where run_id = ?",
        [utc_now(), status, json.dumps(summary, default=str), run_id],
    )


def run_checks(con: duckdb.DuckDBPyConnection, sql_dir: Path, run_id: str | None = None) -> pl.DataFrame:
    """Run every data check in `sql/checks/`; returns the problems found (empty when all pass).
    `run_id`: the run checking, whose own articles must be whole; other runs still writing (on a lake)
    have not grouped theirs yet."""
    if run_id is not None:
        con.execute("set variable newsdag_checking_run = ?", [run_id])
    try:
        problems = [
            read_frame(con, path.read_text()).with_columns(check=pl.lit(path.stem)).select("check", "problem", "detail")
            for path in _sql_files(sql_dir / "checks")
        ]
    finally:
        if run_id is not None:
            con.execute("reset variable newsdag_checking_run")
    if not problems:
        return pl.DataFrame(schema={"check": pl.String, "problem": pl.String, "detail": pl.String})
    return pl.concat(problems)


def run_report(con: duckdb.DuckDBPyConnection, sql_dir: Path, run_id: str) -> dict[str, object]:
    """Quality figures for one run's articles and the most-linked cross-outlet statements."""
    quality = read_frame(con, (sql_dir / "reports" / "run_quality.sql").read_text(), [run_id]).to_dicts()[0]
    statements = read_frame(con, (sql_dir / "reports" / "top_statements.sql").read_text())
    return {**quality, "top_statements": statements.to_dicts()}


def table_counts(con: duckdb.DuckDBPyConnection) -> dict[str, int]:
    tables = ("articles", "paragraphs", "entities", "entity_mentions", "paragraph_similarity", "removed_spans")
    return {table: int(con.execute(f"select count(*) from {table}").fetchone()[0]) for table in tables}  # type: ignore[index]


# --- similarity, stories and search (tasks/similarity.py, tasks/stories.py, tasks/search.py) ---

def load_extension(con: duckdb.DuckDBPyConnection, name: str) -> None:
    """Load a DuckDB extension shipped by its pip package (`duckdb-extension-<name>`): no download."""
    import importlib

    try:
        loaded = con.execute("select count(*) from duckdb_extensions() where extension_name = ? and loaded", [name]).fetchone()
    except duckdb.PermissionException:
        # A guarded reader (connect_read_only) cannot list the extension folder; it loaded what it needs
        # before its guards were set, and could not load anything now anyway.
        return
    if loaded and loaded[0]:  # already loaded (e.g. before a read-only connection was locked)
        return
    package = importlib.import_module(f"duckdb_extension_{name}")
    found = sorted(Path(next(iter(package.__path__))).rglob(f"{name}.duckdb_extension"))
    if not found:
        raise RuntimeError(f"duckdb-extension-{name} is installed but holds no {name}.duckdb_extension")
    con.load_extension(str(found[-1]))


def paragraph_ids(con: duckdb.DuckDBPyConnection) -> pl.DataFrame:
    return read_frame(con, "select paragraph_id, article_id from paragraphs")


def _paragraphs_by_id(con: duckdb.DuckDBPyConnection, ids: list[str], columns: str) -> pl.DataFrame:
    with registered(con, "wanted_paragraphs", _key_frame("paragraph_id", ids)):
        return read_frame(con, f"select {columns} from paragraphs join wanted_paragraphs using (paragraph_id)")  # fixed names


def paragraph_vectors(con: duckdb.DuckDBPyConnection, ids: list[str]) -> pl.DataFrame:
    return _paragraphs_by_id(con, ids, "paragraph_id, embedding")


def paragraph_texts(con: duckdb.DuckDBPyConnection, ids: list[str]) -> pl.DataFrame:
    return _paragraphs_by_id(con, ids, "paragraph_id, text")


def story_inputs(con: duckdb.DuckDBPyConnection) -> dict[str, pl.DataFrame]:
    """What article similarity, topics and stories are computed from (article vectors: `article_vectors`)."""
    return {
        "links": read_frame(con, "select paragraph_id_a, paragraph_id_b, article_id_a, article_id_b, cosine, kind "
                                 "from paragraph_similarity"),
        "articles": read_frame(
            con,
            # The lede (the body's start) is what the labels' distinctive terms are drawn from.
            "select a.article_id, a.title, left(a.body, 2000) as lede, a.n_paragraphs, a.published, "
            "coalesce(a.publisher, a.wire_source, a.source_path) as outlet, "
            "coalesce(f.first_seen_at, a.ingested_at) as first_seen_at "
            "from articles a left join ingest_files f using (source_path)",
        ),
        "paragraph_hashes": read_frame(con, "select paragraph_id, article_id, text_sha256 from paragraphs"),
        "entities": read_frame(
            con,
            "select m.article_id, e.canonical_name, e.label, count(*) as mentions "
            "from entity_mentions m join entities e using (entity_id) group by all",
        ),
        "previous": read_frame(
            con, "select sa.article_id, sa.story_id, s.topic_id from story_articles sa left join stories s using (story_id)"),
        "retired": read_frame(con, "select absorbed_id from cluster_merges"),
    }


def refresh_article_vectors(
    con: duckdb.DuckDBPyConnection, compute: Callable[[pl.DataFrame], pl.DataFrame]
) -> pl.DataFrame:
    """Bring `article_vectors` in line with the articles (drop those of gone or changed articles, add the
    missing ones with `compute(paragraph_id, article_id, embedding)` -> article_id, embedding) and
    return them all (`article_id`, `embedding`). Only new or changed articles' paragraphs are read."""
    with transaction(con):
        return refresh_article_vector_rows(con, compute)


def refresh_article_vector_rows(
    con: duckdb.DuckDBPyConnection, compute: Callable[[pl.DataFrame], pl.DataFrame]
) -> pl.DataFrame:
    """refresh_article_vectors inside the caller's transaction."""
    con.execute(
        "delete from article_vectors v where not exists (select 1 from articles a "
        "where a.article_id = v.article_id and a.content_sha256 = v.content_sha256)")
    missing = read_frame(
        con,
        "select p.article_id, p.embedding from paragraphs p join articles a using (article_id) "
        "anti join article_vectors v using (article_id) where p.embedding is not null order by p.article_id, p.position",
    )
    if missing.height:
        fresh = compute(missing).join(
            read_frame(con, "select article_id, content_sha256 from articles"), on="article_id")
        with registered(con, "incoming_vectors", fresh):
            con.execute("insert into article_vectors select article_id, content_sha256, embedding from incoming_vectors")
    return read_frame(con, "select article_id, embedding from article_vectors order by article_id")


def _same_rows(con: duckdb.DuckDBPyConnection, table: str, frame: pl.DataFrame) -> bool:
    """Whether `table` holds exactly `frame`'s rows (its columns), so that a re-run rewrites nothing."""
    columns = ", ".join(frame.columns)
    with registered(con, "candidate_rows", frame):
        row = con.execute(
            f"select (select count(*) from {table}) = (select count(*) from candidate_rows) and not exists ("
            f"select {columns} from candidate_rows except select {columns} from {table})"  # our own names
        ).fetchone()
    return bool(row and row[0])


def replace_stories(
    con: duckdb.DuckDBPyConnection, article_similarity: pl.DataFrame, stories: pl.DataFrame,
    story_articles: pl.DataFrame, topics: pl.DataFrame | None = None, merges: pl.DataFrame | None = None,
    run_id: str = "",
) -> dict[str, bool]:
    """Replace the derived article-similarity, topic and story tables in one transaction, and record new
    merges (`level`, `absorbed_id`, `survivor_id`). A table whose rows are unchanged is not rewritten.
    Returns which tables were rewritten."""
    with transaction(con):
        return replace_story_tables(con, article_similarity, stories, story_articles, topics, merges, run_id)


def replace_story_tables(
    con: duckdb.DuckDBPyConnection, article_similarity: pl.DataFrame, stories: pl.DataFrame,
    story_articles: pl.DataFrame, topics: pl.DataFrame | None = None, merges: pl.DataFrame | None = None,
    run_id: str = "",
) -> dict[str, bool]:
    """replace_stories inside the caller's transaction."""
    frames = [("article_similarity", article_similarity), ("stories", stories), ("story_articles", story_articles)]
    if topics is not None:
        frames.append(("topics", topics))
    rewritten: dict[str, bool] = {}
    for table, frame in frames:
        rewritten[table] = not _same_rows(con, table, frame)
        if rewritten[table]:
            con.execute(f"delete from {table}")  # our own table names
            _insert(con, table, frame)
    if merges is not None and merges.height:
        recorded = merges.with_columns(merged_at=pl.lit(utc_now()), run_id=pl.lit(run_id))
        with registered(con, "incoming_merges", recorded):
            con.execute("insert into cluster_merges select level, absorbed_id, survivor_id, merged_at, run_id "
                        "from incoming_merges anti join cluster_merges using (level, absorbed_id)")
    rewritten["cluster_merges"] = bool(merges is not None and merges.height)
    return rewritten


def rebuild_search_index(con: duckdb.DuckDBPyConnection) -> None:
    """(Re)build the BM25 full-text index over paragraphs (DuckDB fts indexes are not updated on insert)."""
    if on_lake(con):  # DuckLake cannot store fts's index tables; `newsdag search` builds one in memory
        return
    load_extension(con, "fts")
    con.execute("pragma create_fts_index('paragraphs', 'paragraph_id', 'text', overwrite = 1)")


def has_search_index(con: duckdb.DuckDBPyConnection) -> bool:
    if on_lake(con):
        return True  # built at search time (rebuild_search_index)
    row = con.execute("select count(*) from duckdb_schemas() where schema_name = 'fts_main_paragraphs'").fetchone()
    return bool(row and row[0])


def search_paragraphs(con: duckdb.DuckDBPyConnection, query: str, params: dict[str, object]) -> pl.DataFrame:
    """Run a search query (built by tasks/search.py, values as parameters) with fts loaded."""
    if on_lake(con):
        return _search_lake(con, query, params)
    load_extension(con, "fts")
    return read_frame(con, query, params)


# --- paragraph links: neighbour lists and their union (tasks/similarity.py: relink) ---

def relink_queue(con: duckdb.DuckDBPyConnection) -> pl.DataFrame:
    """Queued paragraphs still stored (`paragraph_id`, `article_id`, `added`)."""
    return read_frame(con, "select q.paragraph_id, p.article_id, q.added from relink_queue q join paragraphs p using (paragraph_id)")


def queue_all_paragraphs(con: duckdb.DuckDBPyConnection) -> int:
    """Queue every stored paragraph for a new neighbour list (settings that shape links changed, or a
    warehouse from before neighbour lists)."""
    _queue_for_relink(con, "select paragraph_id from paragraphs", added=False)
    row = con.execute("select count(*) from relink_queue").fetchone()
    return int(row[0]) if row else 0


def needs_full_relink(con: duckdb.DuckDBPyConnection) -> bool:
    """Links stored without neighbour lists (a warehouse from before them)."""
    row = con.execute(
        "select (select count(*) from paragraph_similarity) > 0 and (select count(*) from paragraph_neighbours) = 0"
    ).fetchone()
    return bool(row and row[0])


def neighbour_floors(con: duckdb.DuckDBPyConnection) -> pl.DataFrame:
    """Per paragraph with a list: its length and its weakest neighbour's cosine."""
    return read_frame(con, "select paragraph_id, count(*)::integer as n, min(cosine) as floor from paragraph_neighbours group by all")


def replace_neighbour_lists(con: duckdb.DuckDBPyConnection, paragraph_ids: list[str], lists: pl.DataFrame) -> None:
    """New neighbour lists for `paragraph_ids` (inside the caller's transaction)."""
    with registered(con, "relinked", _key_frame("paragraph_id", paragraph_ids)):
        con.execute("delete from paragraph_neighbours where paragraph_id in (select paragraph_id from relinked)")
    _insert(con, "paragraph_neighbours", lists)


def pairs_touching(con: duckdb.DuckDBPyConnection, paragraph_ids: list[str]) -> pl.DataFrame:
    """The union of the neighbour lists for every pair with an end in `paragraph_ids`, each pair once
    (a < b), with both texts (for the lexical overlap)."""
    with registered(con, "relinked", _key_frame("paragraph_id", paragraph_ids)):
        return read_frame(
            con,
            """
            with directed as (
                select least(paragraph_id, neighbour_id) as paragraph_id_a, greatest(paragraph_id, neighbour_id) as paragraph_id_b,
                       case when paragraph_id < neighbour_id then article_id else neighbour_article_id end as article_id_a,
                       case when paragraph_id < neighbour_id then neighbour_article_id else article_id end as article_id_b,
                       cosine
                from paragraph_neighbours
                where paragraph_id in (select paragraph_id from relinked) or neighbour_id in (select paragraph_id from relinked)
            )
            select d.paragraph_id_a, d.paragraph_id_b, any_value(d.article_id_a) as article_id_a,
                   any_value(d.article_id_b) as article_id_b, max(d.cosine) as cosine,
                   any_value(pa.text) as text_a, any_value(pb.text) as text_b
            from directed d join paragraphs pa on pa.paragraph_id = d.paragraph_id_a
            join paragraphs pb on pb.paragraph_id = d.paragraph_id_b
            group by d.paragraph_id_a, d.paragraph_id_b
            order by 1, 2
            """,
        )


def replace_links(con: duckdb.DuckDBPyConnection, paragraph_ids: list[str], links: pl.DataFrame) -> None:
    """Replace every paragraph_similarity row with an end in `paragraph_ids` by `links`, and empty the
    relink queue (inside the caller's transaction)."""
    with registered(con, "relinked", _key_frame("paragraph_id", paragraph_ids)):
        con.execute(
            "delete from paragraph_similarity where paragraph_id_a in (select paragraph_id from relinked) "
            "or paragraph_id_b in (select paragraph_id from relinked)"
        )
    _insert(con, "paragraph_similarity", links)
    con.execute("delete from relink_queue")


@contextmanager
def transaction(con: duckdb.DuckDBPyConnection) -> Iterator[None]:
    con.execute("begin transaction")
    try:
        yield
        con.execute("commit")
    except BaseException:
        _rollback(con)
        raise


@retry_on_conflict
def in_transaction(con: duckdb.DuckDBPyConnection, body: Callable[[duckdb.DuckDBPyConnection], object]) -> object:
    """`body(con)` in one transaction, redone whole when its commit conflicts with a concurrent one (a
    DuckLake's; `with transaction(con)` cannot be redone)."""
    with transaction(con):
        return body(con)


@retry_on_conflict
def drop_renamed(
    con: duckdb.DuckDBPyConnection, before_commit: Callable[[duckdb.DuckDBPyConnection], object] | None = None
) -> list[str]:
    """Files gone from the raw folder whose content is loaded from another path now (renamed or moved):
    their old articles and rows go, in one transaction, so a renamed file is one article, at its new
    path. Returns the old paths."""
    rows = con.execute(
        """
        select f.source_path, a.article_id from ingest_files f join articles a on a.source_path = f.source_path
        where f.status = 'deleted' and a.content_sha256 in (
            select b.content_sha256 from articles b join ingest_files g on g.source_path = b.source_path
            where g.status in ('loaded', 'unchanged'))
        order by 1
        """
    ).fetchall()
    if not rows:
        return []
    paths, ids = [r[0] for r in rows], [r[1] for r in rows]
    with transaction(con):
        delete_articles(con, ids)
        with registered(con, "renamed_paths", _key_frame("source_path", paths)):
            con.execute("delete from ingest_files where source_path in (select source_path from renamed_paths)")
        if before_commit is not None:
            before_commit(con)
    return paths


SETTING_KEY = "setting."


def stored_settings(con: duckdb.DuckDBPyConnection) -> dict[str, str]:
    """The shaping settings recorded by the last completed run (empty for a new or older warehouse)."""
    return {key.removeprefix(SETTING_KEY): value for key, value in con.execute(
        "select key, value from warehouse_meta where starts_with(key, ?)", [SETTING_KEY]).fetchall()}


def record_settings(con: duckdb.DuckDBPyConnection, values: dict[str, str]) -> None:
    lake = on_lake(con)
    for name, value in values.items():
        if lake:  # no keys on a DuckLake: delete + insert (inside the caller's transaction)
            con.execute("delete from warehouse_meta where key = ?", [SETTING_KEY + name])
            con.execute("insert into warehouse_meta values (?, ?)", [SETTING_KEY + name, value])
        else:
            con.execute("insert or replace into warehouse_meta values (?, ?)", [SETTING_KEY + name, value])


def stored_embedding_dim(con: duckdb.DuckDBPyConnection) -> int | None:
    row = con.execute("select value from warehouse_meta where key = 'embedding_dim'").fetchone()
    return int(row[0]) if row else None


def article_count(con: duckdb.DuckDBPyConnection) -> int:
    row = con.execute("select count(*) from articles").fetchone()
    return int(row[0]) if row else 0


def never_held_data(con: duckdb.DuckDBPyConnection) -> bool:
    """No article and no completed run: a warehouse a first run configured and then died in. Asked only
    of a warehouse `claim_warehouse` accepted as newsdag's (never of someone else's file)."""
    row = con.execute(
        "select (select count(*) from articles) = 0 and (select count(*) from runs where status = 'completed') = 0"
    ).fetchone()
    return bool(row and row[0])


def stored_embedding_dim_or_none(con: duckdb.DuckDBPyConnection) -> int | None:
    """The warehouse's embedding size, None for a file without newsdag's tables yet."""
    try:
        return stored_embedding_dim(con)
    except duckdb.CatalogException:
        return None


# --- DuckLake warehouse: many runs, many hosts, one warehouse (issue 18) ---
#
# `NEWSDAG_WAREHOUSE=ducklake:<catalog>` selects a DuckLake instead of the single DuckDB file:
#   ducklake:/srv/newsdag/meta.ducklake                                   one process at a time, catalog in a DuckDB file
#   ducklake:sqlite:/srv/newsdag/meta.sqlite                              several runs on one host, catalog in SQLite
#   ducklake:postgres:dbname=newsdag host=db port=5432 user=newsdag       several hosts, catalog in PostgreSQL
# Data files are Parquet under NEWSDAG_LAKE_DATA (a folder, or an object-store path), given when the lake
# is first created and remembered by its catalog; a local catalog defaults to `<catalog file>.files/`.
# DuckLake has no primary keys, unique constraints or fixed-size arrays, and commits optimistically:
# `lake_schema` is sql/schema.sql without them (vectors as float[]; sql/checks/unique_ids.sql
# guards the keys), upserts are delete + insert in one transaction, and every writing transaction is
# retried when a concurrent commit conflicts with it.

LAKE_PREFIX = "ducklake:"
_LAKE_EXTENSIONS = (  # (pip package, file in the wheel, name DuckDB loads it by: its entry point)
    ("duckdb_extension_ducklake", "ducklake", "ducklake"),
    ("duckdb_extension_postgres", "postgres", "postgres_scanner"),
    ("duckdb_extension_sqlite", "sqlite", "sqlite_scanner"),
    ("duckdb_extension_fts", "fts", "fts"),
)
# Open lakes of this process: one in-memory DuckDB per lake, with the lake attached; steps connect
# through cursors of it (each its own transaction), as they share one open database file otherwise.
_open_lakes: dict[str, duckdb.DuckDBPyConnection] = {}
_lake_dims: dict[str, int] = {}


def is_lake(warehouse: Path | str) -> bool:
    return str(warehouse).startswith(LAKE_PREFIX)


def lake_catalog_name(warehouse: Path | str) -> str:
    """The name the lake is attached under (one per lake, so a process can tell them apart)."""
    import hashlib

    return "lake_" + hashlib.sha256(str(warehouse).encode()).hexdigest()[:10]


def extension_directory() -> Path:
    """A folder laid out as DuckDB expects (`<dir>/v<version>/<platform>/<name>.duckdb_extension`) with
    the extensions of the pip wheels, each under the name of its entry point: DuckDB's own download
    site is out of reach here, and `LOAD postgres` then finds postgres_scanner.duckdb_extension."""
    import importlib.util
    import os
    import shutil
    import tempfile

    platform = duckdb.execute("pragma platform").fetchone()[0]  # type: ignore[index]
    version = "v" + duckdb.__version__
    base = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "newsdag" / "duckdb-extensions"
    target = base / version / platform
    target.mkdir(parents=True, exist_ok=True)
    for package, file_name, load_name in _LAKE_EXTENSIONS:
        spec = importlib.util.find_spec(package)
        if spec is None or not spec.submodule_search_locations:
            raise RuntimeError(f"{package.replace('_', '-')}=={duckdb.__version__} is not installed (pip install it)")
        found = sorted(Path(next(iter(spec.submodule_search_locations))).rglob(f"{file_name}.duckdb_extension"))
        if not found:
            raise RuntimeError(f"{package} holds no {file_name}.duckdb_extension")
        dest = target / f"{load_name}.duckdb_extension"
        if not dest.exists() or dest.stat().st_size != found[-1].stat().st_size:
            # Copied then renamed: several processes may lay the folder out at the same time.
            with tempfile.NamedTemporaryFile(dir=target, delete=False) as tmp:
                shutil.copyfile(found[-1], tmp.name)
            os.replace(tmp.name, dest)
    return base


def _lake_database(warehouse: Path | str, data_path: str | None = None, read_only: bool = False,
                   memory_limit: str | None = None) -> duckdb.DuckDBPyConnection:
    """An in-memory DuckDB with the lake attached (and created, when new, with its data under `data_path`)."""
    catalog = str(warehouse)[len(LAKE_PREFIX):]
    db = duckdb.connect(config={"extension_directory": str(extension_directory()),
                                "autoinstall_known_extensions": False, "autoload_known_extensions": True})
    try:
        db.execute("load ducklake")
        if catalog.startswith("postgres:"):
            db.execute("load postgres")
        elif catalog.startswith("sqlite:"):
            db.execute("load sqlite")
            if not read_only:
                Path(catalog.split(":", 1)[1]).parent.mkdir(parents=True, exist_ok=True)
        elif not read_only:
            Path(catalog).parent.mkdir(parents=True, exist_ok=True)
        if memory_limit:
            db.execute(f"set memory_limit = '{memory_limit}'")
        options = []
        if data_path:
            if "://" not in data_path:
                Path(data_path).mkdir(parents=True, exist_ok=True)
            options.append(f"data_path '{_sql_string(data_path.rstrip('/') + '/')}'")
        if read_only:
            options.append("read_only")
        attach = f"attach '{_sql_string(LAKE_PREFIX + catalog)}' as {lake_catalog_name(warehouse)}"
        db.execute(attach + (f" ({', '.join(options)})" if options else ""))
    except BaseException:
        db.close()
        raise
    return db


def _sql_string(value: str) -> str:
    return value.replace("'", "''")


def open_lake(warehouse: Path | str, data_path: str | None = None, memory_limit: str | None = None) -> None:
    """Attach the lake once for this process (creating it when new); `connect` then hands out cursors."""
    import random
    import time

    key = str(warehouse)
    for attempt in range(10):
        if key in _open_lakes:
            return
        try:
            _open_lakes[key] = _lake_database(warehouse, data_path, memory_limit=memory_limit)
        except duckdb.Error as error:
            # Two runs creating one new lake: the catalog's tables are created by one, the other retries.
            if "initialize DuckLake" not in str(error) or attempt == 9:
                raise
            time.sleep(random.uniform(0.2, 1.0))


@contextmanager
def connect_lake(warehouse: Path | str, read_only: bool = False) -> Iterator[duckdb.DuckDBPyConnection]:
    """A connection whose default catalog is the lake. Read-only: a database of its own, attached read-only
    (unless this process has the lake open already: a DuckDB-file catalog takes one attachment)."""
    if read_only and str(warehouse) not in _open_lakes:
        con = _lake_database(warehouse, read_only=True)
    else:
        open_lake(warehouse)
        con = _open_lakes[str(warehouse)].cursor()
    try:
        con.execute(f"use {lake_catalog_name(warehouse)}")
        yield con
    finally:
        con.close()


@contextmanager
def connect_lake_read_only(warehouse: Path | str) -> Iterator[duckdb.DuckDBPyConnection]:
    """connect_read_only for a DuckLake: a database of its own with the lake attached read-only, fts
    loaded, then the same guards as the single file's readers, except that files under the lake's data
    folder stay readable (its Parquet files are the tables): `allowed_directories` = that folder,
    `enable_external_access = false`, `lock_configuration = true`. Inside a process that has the lake
    open for writing (a run), a cursor of that database, unguarded (the run's own reads)."""
    if str(warehouse) in _open_lakes:
        with connect_lake(warehouse) as con:
            yield con
        return
    con = _lake_database(warehouse, read_only=True)
    try:
        catalog = lake_catalog_name(warehouse)
        con.execute("load fts")
        # Where its Parquet files are: the catalog's own record (the attach options hold it only when given).
        row = con.execute(f"select value from __ducklake_metadata_{catalog}.ducklake_metadata where key = 'data_path'").fetchone()
        data_path = str(row[0]) if row and row[0] else None
        if data_path:
            con.execute("set allowed_directories = ?", [[data_path]])
        con.execute("set enable_external_access = false")
        con.execute("set lock_configuration = true")
        con.execute(f"use {catalog}")
        yield con
    finally:
        con.close()


def close_lakes() -> None:
    for key in list(_open_lakes):
        _open_lakes.pop(key).close()


def on_lake(con: duckdb.DuckDBPyConnection) -> bool:
    """Whether this connection's default catalog is a DuckLake."""
    # By the catalog's type, not only its name: a single file named lake_*.duckdb is attached as lake_*.
    row = con.execute("select type from duckdb_databases() where database_name = current_database()").fetchone()
    return bool(row and row[0] == "ducklake")


def lake_embedding_dim(con: duckdb.DuckDBPyConnection) -> int | None:
    """The lake's vector size (warehouse_meta), cached per lake: reads turn its float[] lists into
    the fixed-size arrays the single file stores."""
    catalog = str(con.execute("select current_database()").fetchone()[0])  # type: ignore[index]
    if catalog not in _lake_dims:
        try:
            row = con.execute("select value from warehouse_meta where key = 'embedding_dim'").fetchone()
        except duckdb.CatalogException:
            return None
        if row is None:
            return None
        _lake_dims[catalog] = int(row[0])
    return _lake_dims[catalog]


def as_vector_arrays(frame: pl.DataFrame, dimension: int | None) -> pl.DataFrame:
    """`embedding` lists (a DuckLake column) as Array[Float32, dimension], as the single file gives them."""
    if dimension is None or "embedding" not in frame.columns or not isinstance(frame.schema["embedding"], pl.List):
        return frame
    return frame.with_columns(pl.col("embedding").cast(pl.Array(pl.Float32, dimension)))


_TABLE_KEY = re.compile(r"\s*primary key \([^)]*\)\s*")  # a table's own line: "primary key (a, b)"
_COLUMN_KEY = re.compile(r"\s+(?:primary key|unique)\b")  # a column's "primary key" or "unique"


def lake_schema(sql_dir: Path) -> str:
    """sql/schema.sql as a DuckLake takes it: without primary keys and unique constraints, which DuckLake
    does not have, and with vectors as float[] (it has no fixed-size arrays). Comments stay as they are."""
    lines: list[tuple[str, str]] = []  # (code, comment) of each line
    for line in sql_dir.joinpath("schema.sql").read_text().splitlines():
        code, dashes, comment = line.partition("--")
        if _TABLE_KEY.fullmatch(code):  # the key line goes, and the comma that led to it
            previous_code, previous_comment = lines[-1]
            lines[-1] = (previous_code.rstrip().removesuffix(",") + " ", previous_comment)
            continue
        lines.append((_COLUMN_KEY.sub("", code), dashes + comment))
    return "\n".join(code + comment for code, comment in lines).replace("float[{embedding_dim}]", "float[]")


def _apply_lake_schema(con: duckdb.DuckDBPyConnection, sql_dir: Path, embedding_dim: int, model: str) -> None:
    @retry_on_conflict
    def apply(con: duckdb.DuckDBPyConnection) -> None:
        con.execute("begin transaction")
        try:
            for statement in con.extract_statements(lake_schema(sql_dir)):
                con.execute(statement.query)
            for view in _sql_files(sql_dir / "views"):
                con.execute(view.read_text())
            row = con.execute("select value from warehouse_meta where key = 'embedding_dim'").fetchone()
            if row is None:
                # An update of the rows each creator would write: two first runs conflict, one retries.
                con.execute("delete from warehouse_meta")
                con.executemany("insert into warehouse_meta values (?, ?)", _mark_rows(embedding_dim, model))
            elif int(row[0]) != embedding_dim:
                raise ValueError(
                    f"this warehouse stores {row[0]}-dimensional embeddings; model {model!r} is configured for "
                    f"{embedding_dim}. Use another warehouse for another model."
                )
            elif kind != "newsdag":  # a lake from before the mark
                con.execute("delete from warehouse_meta where key in ('format', 'format_version')")
                con.executemany("insert into warehouse_meta values (?, ?)", _mark_rows(embedding_dim, model)[:2])
            con.execute("commit")
        except BaseException:
            rollback_quietly(con)
            raise

    # Nothing to do (the common case): skip the catalog writes, which would conflict with other runs.
    tables = {row[0] for row in con.execute("select table_name from duckdb_tables() where database_name = current_database()").fetchall()}
    expected = {s.query.split("exists", 1)[1].split("(", 1)[0].strip()
                for s in con.extract_statements(lake_schema(sql_dir))
                if s.query.lstrip().lower().startswith("create table if not exists")}
    views = {row[0] for row in con.execute("select view_name from duckdb_views() where database_name = current_database()").fetchall()}
    kind = warehouse_kind(con)
    if kind == "foreign":
        raise _refuse_foreign("this DuckLake")
    if kind != "newsdag" or not expected <= tables or not {p.stem for p in _sql_files(sql_dir / "views")} <= views:
        apply(con)
    stored = lake_embedding_dim(con)
    if stored != embedding_dim:
        raise ValueError(
            f"this warehouse stores {stored}-dimensional embeddings; model {model!r} is configured for "
            f"{embedding_dim}. Use another warehouse for another model."
        )


def _record_files_lake(con: duckdb.DuckDBPyConnection, frame: pl.DataFrame) -> None:
    """record_files on a lake (no ON CONFLICT without keys): the merged rows, then delete + insert, in one
    transaction; the first sighting and a skipped file's encoding are kept as the upsert keeps them."""
    con.execute("begin transaction")
    try:
        with registered(con, "incoming_files", frame):
            merged = read_frame(
                con,
                """
                select i.source_path, i.content_sha256, i.size_bytes, i.status, i.change, i.duplicate_of,
                       coalesce(i.encoding, (select s.encoding from article_sources s where s.article_id = i.article_id),
                                old.encoding) as encoding,
                       i.error, i.article_id, coalesce(old.first_seen_at, i.seen_at) as first_seen_at,
                       i.seen_at as last_seen_at, i.run_id
                from incoming_files i left join ingest_files old using (source_path)
                """,
            )
            con.execute("delete from ingest_files where source_path in (select source_path from incoming_files)")
        _insert(con, "ingest_files", merged)
        con.execute("commit")
    except BaseException:
        rollback_quietly(con)
        raise


def _start_run_lake(con: duckdb.DuckDBPyConnection, run_id: str, raw_dir: str) -> None:
    """Other runs may be writing at the same time: no run is marked interrupted here."""
    con.execute("begin transaction")
    try:
        con.execute("delete from runs where run_id = ?", [run_id])
        con.execute("insert into runs (run_id, started_at, status, raw_dir) values (?, ?, 'running', ?)",
                    [run_id, utc_now(), raw_dir])
        con.execute("commit")
    except BaseException:
        rollback_quietly(con)
        raise


def concurrent_articles(con: duckdb.DuckDBPyConnection, run_id: str, margin_s: int = 600) -> list[str]:
    """Articles loaded by other runs that were writing while this one was (still running, killed, or
    finished after it started, with a margin for clocks of other hosts): the ones its batches may not
    have seen when they linked."""
    return [row[0] for row in con.execute(
        """
        select a.article_id from articles a join runs r using (run_id)
        where r.run_id <> $run and (r.finished_at is null
            or r.finished_at >= (select started_at from runs where run_id = $run) - to_seconds($margin))
        """,
        {"run": run_id, "margin": margin_s},
    ).fetchall()]


def run_article_ids(con: duckdb.DuckDBPyConnection, run_id: str) -> list[str]:
    return [row[0] for row in con.execute("select article_id from articles where run_id = ?", [run_id]).fetchall()]


def paragraphs_of(con: duckdb.DuckDBPyConnection, article_ids: list[str]) -> pl.DataFrame:
    return _of_articles(con, "select paragraph_id, article_id, text, embedding from paragraphs "
                             "join wanted_articles using (article_id) order by paragraph_id", article_ids)


def quotes_of(con: duckdb.DuckDBPyConnection, article_ids: list[str]) -> pl.DataFrame:
    return _of_articles(con, "select quote_id, article_id, text, speaker_entity_id, embedding from quotes "
                             "join wanted_articles using (article_id) where embedding is not null order by quote_id",
                        article_ids)


def replace_quote_links_among(con: duckdb.DuckDBPyConnection, article_ids: list[str], quote_links: pl.DataFrame) -> int:
    """Make the quote links between any two of these articles exactly `quote_links` (every such pair,
    computed over their current quotes), inside the caller's transaction: stored links between them that
    a batch computed from an older snapshot (a speaker since settled, a quote it could not see) are
    replaced, not only completed. Returns how many rows differ from what was stored."""
    with registered(con, "linked_articles", _key_frame("article_id", article_ids)):
        among = ("from quote_links where article_id_a in (select article_id from linked_articles) "
                 "and article_id_b in (select article_id from linked_articles)")
        stored = read_frame(con, f"select * {among}")
        con.execute(f"delete {among}")
    _insert(con, "quote_links", quote_links)
    if stored.height == 0:
        return quote_links.height
    exact = [c for c in quote_links.columns if c not in ("cosine", "word_similarity")]  # the floats: noise only
    stored = stored.select(exact).cast({c: quote_links.schema[c] for c in exact})
    return quote_links.join(stored, on=exact, how="anti").height + stored.join(quote_links.select(exact), on=exact, how="anti").height


def claim_derived_tables(con: duckdb.DuckDBPyConnection, run_id: str) -> None:
    """Inside a transaction that rebuilds derived tables: rewrite one row every such transaction
    writes, so that two of them at once conflict and the later retries on the other's result."""
    # The embedding_dim row always exists: deleting it is what makes two such transactions conflict.
    dimension = con.execute("select value from warehouse_meta where key = 'embedding_dim'").fetchone()[0]  # type: ignore[index]
    con.execute("delete from warehouse_meta where key in ('embedding_dim', 'derived_by')")
    con.execute("insert into warehouse_meta values ('embedding_dim', ?), ('derived_by', ?)", [dimension, run_id])


def dedupe_lake_cache(con: duckdb.DuckDBPyConnection) -> int:
    """Inside the caller's transaction on a lake: two runs that cache the same text's vector at the same
    moment each insert it (no key to refuse the second); one row per (text, model) is kept (the vectors
    are equal). Returns the rows dropped."""
    doubled = read_frame(con, "select * from embedding_cache where (text_sha256, model) in (select (text_sha256, model) "
                              "from embedding_cache group by text_sha256, model having count(*) > 1)")
    if not doubled.height:
        return 0
    kept = doubled.unique(["text_sha256", "model"], keep="first", maintain_order=True)
    with registered(con, "doubled_cache", kept.select("text_sha256", "model")):
        con.execute("delete from embedding_cache where (text_sha256, model) in (select (text_sha256, model) from doubled_cache)")
    _insert(con, "embedding_cache", kept)
    return doubled.height - kept.height


def repair_lake_entities(con: duckdb.DuckDBPyConnection) -> int:
    """Inside the caller's transaction on a lake: two runs that load a new entity at the same moment each
    insert its row (no key to refuse the second, nothing deleted to conflict on), each counting only its
    own mentions. One row per entity is kept (the one with the most aliases, then by name: the same
    whichever run repairs), and every entity's mention_count is recounted. Returns the rows dropped."""
    doubled = read_frame(con, "select * from entities where entity_id in "
                              "(select entity_id from entities group by entity_id having count(*) > 1)")
    if doubled.height:
        kept = (doubled.with_columns(_n=pl.col("aliases").list.len().fill_null(0))
                .sort(["entity_id", "_n", "canonical_name", "label"], descending=[False, True, False, False])
                .unique("entity_id", keep="first", maintain_order=True).drop("_n"))
        with registered(con, "doubled_entities", kept.select("entity_id")):
            con.execute("delete from entities where entity_id in (select entity_id from doubled_entities)")
        _insert(con, "entities", kept)
    ids = [row[0] for row in con.execute("select entity_id from entities").fetchall()]
    refresh_entity_counts(con, ids)
    return doubled.height - (doubled["entity_id"].n_unique() if doubled.height else 0)


def queue_articles_for_relink(con: duckdb.DuckDBPyConnection, article_ids: list[str]) -> int:
    """Queue these articles' paragraphs as new (`added`) for the relink (inside the caller's transaction):
    their lists are recomputed against every stored paragraph, and they enter others' lists. Returns how
    many paragraphs were queued."""
    if not article_ids:
        return 0
    with registered(con, "requeued_articles", _key_frame("article_id", article_ids)):
        _queue_for_relink(con, "select paragraph_id from paragraphs where article_id in "
                               "(select article_id from requeued_articles)", added=True)
        row = con.execute("select count(*) from relink_queue").fetchone()
    return int(row[0]) if row else 0


def _search_lake(con: duckdb.DuckDBPyConnection, query: str, params: dict[str, object]) -> pl.DataFrame:
    """Search a DuckLake, whose catalog cannot hold fts's index tables: the paragraphs and articles are
    copied into this connection's in-memory database and indexed there, for this search (seconds for
    a corpus of BBC's size; a large lake wants a search service beside it)."""
    lake, dimension = str(con.execute("select current_database()").fetchone()[0]), lake_embedding_dim(con)  # type: ignore[index]
    con.execute("use memory")
    try:
        con.execute(f"create or replace table paragraphs as select paragraph_id, article_id, text, "
                    f"cast(embedding as float[{int(dimension or 0)}]) as embedding from {lake}.paragraphs")
        con.execute(f"create or replace table articles as select * from {lake}.articles")
        load_extension(con, "fts")  # (a guarded reader has it loaded already)
        con.execute("pragma create_fts_index('paragraphs', 'paragraph_id', 'text', overwrite = 1)")
        return con.execute(query, params).pl()
    finally:
        con.execute(f"use {lake}")
