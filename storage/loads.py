"""Loads: a batch of articles replaced whole in one transaction, their removal, the files seen and
gone, the runs, and the entities as settled over the whole warehouse."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field

import duckdb
import polars as pl

from storage.backend import backend_of
from storage.connection import retry_on_conflict, transaction, utc_now
from storage.frames import insert, internal_sql, key_frame, read_frame, registered
from storage.paragraph_index import journal_added, journal_removed, keyed_paragraphs
from storage.state import (
    CONTENT_VERSION_KEY, DERIVED_KEY, PARTITIONS_KEY, RESOLVED_FOR_KEY, SETTING_KEY, content_version,
    stored_entity_rows, stored_entity_rows_of,
)
from tasks.frames import differing_rows

# A step run inside a load's transaction just before it commits (the relink).
BeforeCommit = Callable[[duckdb.DuckDBPyConnection], object]


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


def bump_content_version(con: duckdb.DuckDBPyConnection) -> None:
    """Inside the transaction of a write that changes stored content: a new content version, so that the
    derived steps of the next run end (or of this one) see their record out of date. Committed with the
    write, so a run killed after it and before its derived steps leaves them to the next run. On a
    DuckLake nothing is recorded: every concurrent load would rewrite the one row and conflict, and a
    lake's end step derives at every run anyway."""
    backend = backend_of(con)
    if not backend.many_writers:
        backend.replace_meta(con, CONTENT_VERSION_KEY, str(content_version(con) + 1))


def record_derived(con: duckdb.DuckDBPyConnection, step: str, stamp: str) -> None:
    """A derived step's record: the content version and shaping inputs it was computed for (flows/derived.py)."""
    backend_of(con).replace_meta(con, DERIVED_KEY + step, stamp)


# Child tables keyed by article; deleted before an article is (re)loaded.
_ARTICLE_TABLES = ("quotes", "speech_clauses", "entity_mentions", "raw_mentions", "removed_spans", "paragraphs", "article_sources", "articles")


def delete_articles(con: duckdb.DuckDBPyConnection, article_ids: list[str]) -> None:
    """Remove articles and every row that hangs off them (inside the caller's transaction)."""
    if not article_ids:
        return
    with registered(con, "doomed", key_frame("article_id", article_ids)):
        # Articles are loaded whole, so none of these stored means no row anywhere hangs off them:
        # new articles (a first run) skip the scans of every table below.
        stored = con.execute("select count(*) from articles where article_id in (select article_id from doomed)").fetchone()
        if not stored or stored[0] == 0:
            return
        bump_content_version(con)
        con.execute(internal_sql("delete_article_links"))
        # Paragraphs of other articles that had one of these among their nearest neighbours get new lists.
        backend_of(con).queue_for_relink(
            con, "select distinct paragraph_id from paragraph_neighbours where neighbour_article_id in "
            "(select article_id from doomed) and article_id not in (select article_id from doomed)", added=False, replace=False)
        con.execute(internal_sql("delete_article_neighbours_and_stories"))
        journal_removed(con)
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
    with registered(con, "touched_entities", key_frame("entity_id", entity_ids)):
        if drop_unmentioned:
            con.execute(
                "delete from entities where entity_id in (select entity_id from touched_entities) "
                "and entity_id not in (select entity_id from entity_mentions)"
            )
        con.execute(internal_sql("refresh_entity_counts"))


@retry_on_conflict
def load_batch(
    con: duckdb.DuckDBPyConnection, batch: ArticleBatch, model: str, before_commit: BeforeCommit | None = None,
) -> None:
    """Replace the batch's articles whole: delete by key, insert, in one transaction. The new paragraphs
    are queued for linking; `before_commit(con)` (the relink) runs inside the same transaction, so that
    articles and their links are committed together. (On a DuckLake, the whole transaction is redone
    when a concurrent commit conflicts with it.)"""
    article_ids = batch.articles["article_id"].to_list()
    with transaction(con):
        delete_articles(con, article_ids)
        insert(con, "articles", batch.articles)
        insert(con, "article_sources", batch.sources)
        insert(con, "removed_spans", batch.removed_spans)
        insert(con, "paragraphs", keyed_paragraphs(batch.paragraphs))
        journal_added(con, batch.paragraphs)
        with registered(con, "incoming_paragraphs", batch.paragraphs.select("paragraph_id")):
            backend_of(con).queue_for_relink(con, "select paragraph_id from incoming_paragraphs", added=True)
        if batch.entities.height:
            with registered(con, "incoming_entities", batch.entities):
                con.execute("delete from entities where entity_id in (select entity_id from incoming_entities)")
            insert(con, "entities", batch.entities)
        insert(con, "entity_mentions", batch.mentions)
        refresh_entity_counts(con, batch.entities["entity_id"].to_list())
        insert(con, "paragraph_similarity", batch.links)
        for table, frame in batch.extra.items():
            insert(con, table, frame)
        vectors = batch.paragraphs.select("text_sha256", "embedding") if batch.vectors is None else batch.vectors
        cache = vectors.filter(pl.col("embedding").is_not_null()).unique("text_sha256").with_columns(model=pl.lit(model))
        with registered(con, "incoming_cache", cache):
            con.execute(
                "insert into embedding_cache select text_sha256, model, embedding from incoming_cache "
                "anti join embedding_cache using (text_sha256, model)"
            )
        bump_content_version(con)
        if before_commit is not None:
            before_commit(con)


# --- files seen and gone ---

@retry_on_conflict
def record_files(con: duckdb.DuckDBPyConnection, files: pl.DataFrame, run_id: str) -> None:
    """Upsert the outcome for every file seen in this run."""
    frame = files.select(
        "source_path", "content_sha256", "size_bytes", "status", "change", "duplicate_of", "encoding", "error",
        "article_id", "mtime_ns",
    ).with_columns(seen_at=pl.lit(utc_now()), run_id=pl.lit(run_id))
    backend_of(con).upsert_files(con, frame)


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
    return backend_of(con).mark_gone_files_deleted(con, present_paths, run_id)


@retry_on_conflict
def prune_deleted(con: duckdb.DuckDBPyConnection, before_commit: BeforeCommit | None = None) -> int:
    """Delete the articles of files marked `deleted`, and their ingest_files rows, in one transaction
    (with `before_commit(con)`, the relink of the paragraphs that had theirs as neighbours)."""
    paths = [row[0] for row in con.execute("select source_path from ingest_files where status = 'deleted'").fetchall()]
    ids = [row[0] for row in con.execute(
        "select article_id from articles where source_path in (select source_path from ingest_files where status = 'deleted')"
    ).fetchall()]
    with transaction(con):
        delete_articles(con, ids)
        con.execute("delete from ingest_files where status = 'deleted'")
        if before_commit is not None:
            before_commit(con)
    return len(paths)


@retry_on_conflict
def drop_renamed(con: duckdb.DuckDBPyConnection, before_commit: BeforeCommit | None = None) -> list[str]:
    """Files gone from the raw folder whose content is loaded from another path now (renamed or moved):
    their old articles and rows go, in one transaction, so a renamed file is one article, at its new
    path. Returns the old paths."""
    rows = con.execute(internal_sql("renamed_files")).fetchall()
    if not rows:
        return []
    paths, ids = [r[0] for r in rows], [r[1] for r in rows]
    with transaction(con):
        delete_articles(con, ids)
        with registered(con, "renamed_paths", key_frame("source_path", paths)):
            con.execute("delete from ingest_files where source_path in (select source_path from renamed_paths)")
        if before_commit is not None:
            before_commit(con)
    return paths


# --- runs and the settings they record ---

def start_run(con: duckdb.DuckDBPyConnection, run_id: str, raw_dir: str) -> list[str]:
    """Record a new run. Where there is one writer at a time (the DuckDB file, under the writer lock),
    any run still marked `running` has died: it is marked `crashed`. Returns those runs' ids. On a
    DuckLake other runs may be writing at the same time: their `running` rows are left alone."""
    return backend_of(con).start_run(con, run_id, raw_dir)


@retry_on_conflict
def finish_run(con: duckdb.DuckDBPyConnection, run_id: str, status: str, summary: dict[str, object]) -> None:
    con.execute(
        "update runs set finished_at = ?, status = ?, summary = ? where run_id = ?",
        [utc_now(), status, json.dumps(summary, default=str), run_id],
    )


def record_settings(con: duckdb.DuckDBPyConnection, values: dict[str, str]) -> None:
    """Record the shaping settings of a completed run (inside the caller's transaction)."""
    backend = backend_of(con)
    for name, value in values.items():
        backend.replace_meta(con, SETTING_KEY + name, value)


# --- entities settled over the whole warehouse (flows/derived.py: settle_entities) ---

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


def _alias_key(frame: pl.DataFrame) -> pl.DataFrame:
    return frame.with_columns(aliases=pl.col("aliases").list.sort().list.join("\x1f").fill_null(""))


def replace_settled_entities(
    con: duckdb.DuckDBPyConnection, entity_rows: pl.DataFrame, mention_articles: list[str], mentions: pl.DataFrame,
    quote_articles: list[str], quote_rows: pl.DataFrame, quote_links: pl.DataFrame, resolved_for: str,
    scope: list[str] | None = None,
) -> None:
    """Inside the caller's transaction: the entities as settled (only rows that changed are rewritten),
    the mentions of the articles whose resolution changed, the quotes (and their links) of the articles
    whose quotes changed with it, and the digest they were settled for. `scope`: the entities settled
    (those of the partitions re-resolved, and those their mentions pointed to before); the others stay
    as stored, but for any no mention points to any more. None: every entity, `entity_rows` are all."""
    stored = _alias_key(stored_entity_rows(con) if scope is None else stored_entity_rows_of(con, scope))
    settled = _alias_key(entity_rows.select(stored.columns)).cast(stored.schema)
    changed = differing_rows(stored, settled, stored.columns)["entity_id"].unique()
    if changed.len() or mention_articles or quote_articles:  # what stories and checks read changes
        bump_content_version(con)
    if changed.len():
        with registered(con, "settled_ids", key_frame("entity_id", changed.to_list())):
            con.execute("delete from entities where entity_id in (select entity_id from settled_ids)")
        insert(con, "entities", entity_rows.filter(pl.col("entity_id").is_in(changed.implode())))
    if mention_articles:
        with registered(con, "settled_articles", key_frame("article_id", mention_articles)):
            con.execute("delete from entity_mentions where article_id in (select article_id from settled_articles)")
        insert(con, "entity_mentions", mentions)
    if quote_articles:
        _replace_quotes(con, quote_articles, quote_rows, quote_links)
    if scope is not None and (changed.len() or mention_articles):  # an entity no mention points to any more
        con.execute(internal_sql("entity_drop_unmentioned"))
    con.execute("delete from warehouse_meta where key = ?", [RESOLVED_FOR_KEY])
    con.execute("insert into warehouse_meta values (?, ?)", [RESOLVED_FOR_KEY, resolved_for])


def _replace_quotes(con: duckdb.DuckDBPyConnection, article_ids: list[str], quote_rows: pl.DataFrame,
                    quote_links: pl.DataFrame) -> None:
    """These articles' quotes and every quote link with an end in them, replaced (caller's transaction)."""
    with registered(con, "requoted_articles", key_frame("article_id", article_ids)):
        con.execute("delete from quote_links where article_id_a in (select article_id from requoted_articles) "
                    "or article_id_b in (select article_id from requoted_articles)")
        con.execute("delete from quotes where article_id in (select article_id from requoted_articles)")
    insert(con, "quotes", quote_rows)
    insert(con, "quote_links", quote_links)


def replace_requoted(con: duckdb.DuckDBPyConnection, article_ids: list[str], quote_rows: pl.DataFrame,
                     quote_links: pl.DataFrame) -> None:
    """Inside the caller's transaction: quotes found again (flows/derived.refresh_quotes) replace these
    articles' stored quotes and links; what stories and checks read has changed."""
    bump_content_version(con)
    _replace_quotes(con, article_ids, quote_rows, quote_links)


def replace_speech_clauses(con: duckdb.DuckDBPyConnection, article_ids: list[str], clauses: pl.DataFrame) -> None:
    """Inside the caller's transaction: these articles' speech clauses, parsed again, replace the stored ones."""
    with registered(con, "reparsed_articles", key_frame("article_id", article_ids)):
        con.execute("delete from speech_clauses where article_id in (select article_id from reparsed_articles)")
    insert(con, "speech_clauses", clauses)


def clear_entity_partitions(con: duckdb.DuckDBPyConnection) -> None:
    """Inside the caller's transaction: forget the recorded partitions (another key scheme, or entities
    never settled): the next recording starts from every article."""
    for table in ("entity_article_forms", "entity_form_keys", "entity_form_names", "entity_article_edges",
                  "entity_settled_rows"):
        con.execute(f"delete from {table}")
    con.execute("delete from warehouse_meta where key = ?", [PARTITIONS_KEY])


def record_entity_partitions(
    con: duckdb.DuckDBPyConnection, article_ids: list[str], article_forms: pl.DataFrame, edges: pl.DataFrame,
    form_keys: pl.DataFrame, form_names: pl.DataFrame, version: str,
) -> None:
    """Inside the caller's transaction: the partitions of these (changed) articles recorded anew: their
    forms with their digest (`article_forms`: none for a deleted article), their first-name edges, the
    keys and names of forms new to the warehouse (`form_keys`, `form_names`); forms no article has any
    more go. `version`: the key scheme they follow."""
    with registered(con, "recorded_articles", key_frame("article_id", article_ids)):
        for table in ("entity_article_forms", "entity_article_edges"):
            con.execute(f"delete from {table} where article_id in (select article_id from recorded_articles)")
    insert(con, "entity_article_forms", article_forms)
    insert(con, "entity_article_edges", edges)
    insert(con, "entity_form_keys", form_keys)
    insert(con, "entity_form_names", form_names)
    con.execute(internal_sql("entity_prune_forms"))
    backend_of(con).replace_meta(con, PARTITIONS_KEY, version)


def record_settled_rows(con: duckdb.DuckDBPyConnection, entity_ids: list[str] | None) -> None:
    """Inside the caller's transaction: these entities' rows (None: every entity's) as settled now (a
    later difference is a batch's doing); recorded rows of entities gone are dropped."""
    if entity_ids is None:
        entity_ids = [row[0] for row in con.execute("select entity_id from entities").fetchall()]
    with registered(con, "wanted_entities", key_frame("entity_id", entity_ids)):
        con.execute(internal_sql("entity_record_settled_rows"))


# --- repairs after concurrent loads on a DuckLake (flows/lake.py), where no key refuses a second row ---

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
    insert(con, "embedding_cache", kept)
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
        insert(con, "entities", kept)
    ids = [row[0] for row in con.execute("select entity_id from entities").fetchall()]
    refresh_entity_counts(con, ids)
    return doubled.height - (doubled["entity_id"].n_unique() if doubled.height else 0)
