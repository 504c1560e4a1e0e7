"""Reads of stored state: what the warehouse holds per file, article, paragraph, entity, quote and run,
and the settings and embedding size it was built with."""

from __future__ import annotations

from collections.abc import Iterator

import duckdb
import polars as pl

from storage.frames import blocks_excluding_articles, internal_sql, key_frame, of_articles, read_frame, registered

# warehouse_meta keys: the raw-mention digest entities were last settled for; a recorded shaping setting.
RESOLVED_FOR_KEY = "entities_resolved_for"
SETTING_KEY = "setting."
# The content version: bumped, in the writing transaction, by every write that changes stored content
# (a batch load, article deletes, a relink, settled entities) on the single file. A derived step
# (resolve entities, stories, checks) records under DERIVED_KEY + its name the version and the inputs
# that shape it it was computed for: equal now, the step has nothing to do.
CONTENT_VERSION_KEY = "content_version"
DERIVED_KEY = "derived."


# --- the warehouse as a whole ---

def stored_settings(con: duckdb.DuckDBPyConnection) -> dict[str, str]:
    """The shaping settings recorded by the last completed run (empty for a new or older warehouse)."""
    return {key.removeprefix(SETTING_KEY): value for key, value in con.execute(
        "select key, value from warehouse_meta where starts_with(key, ?)", [SETTING_KEY]).fetchall()}


def stored_embedding_dim(con: duckdb.DuckDBPyConnection) -> int | None:
    row = con.execute("select value from warehouse_meta where key = 'embedding_dim'").fetchone()
    return int(row[0]) if row else None


def stored_embedding_dim_or_none(con: duckdb.DuckDBPyConnection) -> int | None:
    """The warehouse's embedding size, None for a file without newsdag's tables yet."""
    try:
        return stored_embedding_dim(con)
    except duckdb.CatalogException:
        return None


def stored_meta(con: duckdb.DuckDBPyConnection, key: str) -> str | None:
    """The value recorded in warehouse_meta under `key`, None if none."""
    row = con.execute("select value from warehouse_meta where key = ?", [key]).fetchone()
    return str(row[0]) if row else None


def content_version(con: duckdb.DuckDBPyConnection) -> int:
    """The stored content's version (0 for a warehouse that has never recorded one)."""
    return int(stored_meta(con, CONTENT_VERSION_KEY) or 0)


def derived_stamp(con: duckdb.DuckDBPyConnection, step: str) -> str | None:
    """What a derived step was last computed for ("<content version>|<its shaping inputs>"), None if never."""
    return stored_meta(con, DERIVED_KEY + step)


def article_count(con: duckdb.DuckDBPyConnection) -> int:
    row = con.execute("select count(*) from articles").fetchone()
    return int(row[0]) if row else 0


def never_held_data(con: duckdb.DuckDBPyConnection) -> bool:
    """No article and no completed run: a warehouse a first run configured and then died in. Asked only
    of a warehouse `schema.claim_warehouse` accepted as newsdag's (never of someone else's file)."""
    row = con.execute(
        "select (select count(*) from articles) = 0 and (select count(*) from runs where status = 'completed') = 0"
    ).fetchone()
    return bool(row and row[0])


def table_counts(con: duckdb.DuckDBPyConnection) -> dict[str, int]:
    tables = ("articles", "paragraphs", "entities", "entity_mentions", "paragraph_similarity", "removed_spans")
    return {table: int(con.execute(f"select count(*) from {table}").fetchone()[0]) for table in tables}  # type: ignore[index]


# --- files and articles ---

def known_files(con: duckdb.DuckDBPyConnection) -> pl.DataFrame:
    """What the warehouse holds per file (`source_path`, `content_sha256`, `status`)."""
    return read_frame(con, internal_sql("known_files"))


RECORDED_STATS_SCHEMA = {"source_path": pl.String, "size_bytes": pl.Int64, "mtime_ns": pl.Int64, "content_sha256": pl.String}


def recorded_file_stats(con: duckdb.DuckDBPyConnection) -> pl.DataFrame:
    """Per file hashed by an earlier run: its size, mtime and hash then (`RECORDED_STATS_SCHEMA`), for
    discovery to reuse. Empty for a warehouse without newsdag's tables yet, or from before mtime_ns
    (which plan-ingest's schema then adds): every file is read, as before."""
    try:
        return read_frame(con, "select source_path, size_bytes, mtime_ns, content_sha256 from ingest_files "
                               "where mtime_ns is not null and content_sha256 is not null")
    except (duckdb.CatalogException, duckdb.BinderException):
        return pl.DataFrame(schema=RECORDED_STATS_SCHEMA)


def cached_embeddings(con: duckdb.DuckDBPyConnection, text_hashes: list[str], model: str) -> pl.DataFrame:
    """Embeddings already computed for these texts with this model."""
    with registered(con, "wanted_hashes", key_frame("text_sha256", text_hashes)):
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
    with registered(con, "wanted_articles", key_frame("article_id", article_ids)):
        return (
            read_frame(con, f"select {columns} from articles a join wanted_articles w using (article_id)"),
            read_frame(con, "select r.article_id, r.start_char, r.end_char, r.text, r.reason from removed_spans r "
                            "join wanted_articles w using (article_id)"),
            read_frame(con, "select p.article_id, p.position, p.text, p.section_heading from paragraphs p "
                            "join wanted_articles w using (article_id)"),
        )


def run_article_ids(con: duckdb.DuckDBPyConnection, run_id: str) -> list[str]:
    return [row[0] for row in con.execute("select article_id from articles where run_id = ?", [run_id]).fetchall()]


def concurrent_articles(con: duckdb.DuckDBPyConnection, run_id: str, margin_s: int = 600) -> list[str]:
    """Articles loaded by other runs that were writing while this one was (still running, killed, or
    finished after it started, with a margin for clocks of other hosts): the ones its batches may not
    have seen when they linked."""
    return [row[0] for row in con.execute(
        internal_sql("concurrent_articles"), {"run": run_id, "margin": margin_s}).fetchall()]


# --- paragraphs ---

def paragraph_ids(con: duckdb.DuckDBPyConnection) -> pl.DataFrame:
    """Every stored paragraph (`paragraph_id`, `article_id`): for benchmarks; a run asks for what it needs."""
    return read_frame(con, "select paragraph_id, article_id from paragraphs")


def paragraph_count(con: duckdb.DuckDBPyConnection) -> int:
    row = con.execute("select count(*) from paragraphs").fetchone()
    return int(row[0]) if row else 0


def paragraph_articles(con: duckdb.DuckDBPyConnection, ids: list[str]) -> pl.DataFrame:
    """These paragraphs' (`paragraph_id`, `article_id`), those still stored, by paragraph_id."""
    with registered(con, "wanted_paragraphs", key_frame("paragraph_id", ids)):
        return read_frame(con, "select paragraph_id, article_id from paragraphs "
                               "join wanted_paragraphs using (paragraph_id) order by paragraph_id")


def longest_article(con: duckdb.DuckDBPyConnection) -> int:
    """The most paragraphs a stored article has (sql/checks/no_orphans.sql keeps n_paragraphs their count)."""
    row = con.execute("select coalesce(max(n_paragraphs), 0) from articles").fetchone()
    return int(row[0]) if row else 0


def paragraph_vectors(con: duckdb.DuckDBPyConnection, ids: list[str]) -> pl.DataFrame:
    with registered(con, "wanted_paragraphs", key_frame("paragraph_id", ids)):
        return read_frame(con, "select paragraph_id, embedding from paragraphs join wanted_paragraphs using (paragraph_id)")


def article_paragraph_texts(con: duckdb.DuckDBPyConnection, article_ids: list[str]) -> pl.DataFrame:
    return of_articles(con, "select article_id, paragraph_id, position, text from paragraphs "
                            "join wanted_articles using (article_id) order by article_id, position", article_ids)


def paragraph_embedding_blocks(con: duckdb.DuckDBPyConnection, excluding_articles: list[str]) -> Iterator[pl.DataFrame]:
    """Stored paragraphs' embeddings (`paragraph_id`, `article_id`, `embedding`), a block at a time,
    except those of articles about to be replaced."""
    return blocks_excluding_articles(
        con,
        "select paragraph_id, article_id, embedding from paragraphs anti join excluded_articles using (article_id)",
        excluding_articles,
    )


# --- entities and quotes ---

def known_entities(con: duckdb.DuckDBPyConnection) -> pl.DataFrame:
    return read_frame(con, "select entity_id, canonical_name, label, aliases from entities")


def stored_entity_rows(con: duckdb.DuckDBPyConnection) -> pl.DataFrame:
    return read_frame(con, "select entity_id, canonical_name, label, aliases, mention_count from entities")


def raw_mentions_fingerprint(con: duckdb.DuckDBPyConnection) -> str:
    """A digest of every stored raw mention (order-free): equal to the one recorded at the last settling,
    nothing has changed that would resolve differently."""
    row = con.execute(internal_sql("raw_mentions_fingerprint")).fetchone()
    return f"{row[0]}:{row[1]}" if row else "0:0"


def entities_resolved_for(con: duckdb.DuckDBPyConnection) -> str | None:
    return stored_meta(con, RESOLVED_FOR_KEY)


def stored_raw_mentions(con: duckdb.DuckDBPyConnection) -> pl.DataFrame:
    return read_frame(con, "select article_id, paragraph_id, start_char, end_char, surface, label, word_before "
                           "from raw_mentions")


def stored_resolved_mentions(con: duckdb.DuckDBPyConnection) -> pl.DataFrame:
    """Every stored mention with the label of the entity it points to (`entities.RESOLVED_KEY`)."""
    return read_frame(con, internal_sql("stored_resolved_mentions"))


def quotes_of(con: duckdb.DuckDBPyConnection, article_ids: list[str]) -> pl.DataFrame:
    """These articles' quotes that have an embedding (what quote links are computed from)."""
    return of_articles(con, "select quote_id, article_id, text, speaker_entity_id, embedding from quotes "
                            "join wanted_articles using (article_id) where embedding is not null order by quote_id",
                       article_ids)


def stored_quotes_of(con: duckdb.DuckDBPyConnection, article_ids: list[str]) -> pl.DataFrame:
    """Every column of these articles' quotes, embeddings included."""
    return of_articles(con, "select q.* from quotes q join wanted_articles using (article_id) order by quote_id",
                       article_ids)


def speech_clauses_of(con: duckdb.DuckDBPyConnection, article_ids: list[str]) -> pl.DataFrame:
    """These articles' stored speech clauses (tasks/quotes/speech.CLAUSE_SCHEMA)."""
    return of_articles(con, "select c.article_id, c.paragraph_id, verb, verb_start, verb_end, subject_start, subject_end, "
                            "head_start, head_end, content_start, content_end from speech_clauses c "
                            "join wanted_articles using (article_id) order by c.paragraph_id, verb_start", article_ids)


def stored_before_speech_clauses(con: duckdb.DuckDBPyConnection) -> bool:
    """Whether the warehouse holds articles but no speech clause at all: loaded before reported speech
    (every article loaded since is parsed, and nearly every one has a clause or a named subject)."""
    row = con.execute("select (select count(*) from articles) > 0 and not exists (select 1 from speech_clauses)").fetchone()
    return bool(row and row[0])


def article_ids_in_blocks(con: duckdb.DuckDBPyConnection, block: int) -> Iterator[list[str]]:
    """Every stored article id, sorted, `block` at a time (read whole first: ids are small)."""
    ids = [row[0] for row in con.execute("select article_id from articles order by article_id").fetchall()]
    for offset in range(0, len(ids), block):
        yield ids[offset: offset + block]


def stored_quote_blocks(con: duckdb.DuckDBPyConnection, excluding_articles: list[str]) -> Iterator[pl.DataFrame]:
    """Stored statements with their embeddings (fragments are never linked), a block at a time, except those
    of articles about to be replaced."""
    return blocks_excluding_articles(
        con,
        "select quote_id, article_id, text, speaker_entity_id, embedding from quotes "
        "anti join excluded_articles using (article_id) where embedding is not null and kind <> 'fragment'",
        excluding_articles,
    )


# --- entity partitions (tasks/entities.py: form_keys; flows/derived.py: settle_entities) ---

# warehouse_meta key: the version of the key scheme the recorded partitions follow (entities.PARTITION_VERSION).
PARTITIONS_KEY = "entity_partitions"


def entity_partitions_version(con: duckdb.DuckDBPyConnection) -> str | None:
    return stored_meta(con, PARTITIONS_KEY)


def entity_changed_articles(con: duckdb.DuckDBPyConnection) -> list[str]:
    """Articles whose raw mentions were added, changed or deleted since their partitions were recorded."""
    return [row[0] for row in con.execute(internal_sql("entity_changed_articles")).fetchall()]


def entity_article_digests(con: duckdb.DuckDBPyConnection, article_ids: list[str]) -> pl.DataFrame:
    """(`article_id`, `mentions`, `digest`) of these articles' raw mentions now."""
    return of_articles(con, internal_sql("entity_article_digests"), article_ids)


def entity_forms_of_articles(con: duckdb.DuckDBPyConnection, article_ids: list[str]) -> pl.DataFrame:
    """The forms these articles' mentions had when their partitions were recorded."""
    return of_articles(con, internal_sql("entity_forms_of_articles"), article_ids)


def entity_edges_of_articles(con: duckdb.DuckDBPyConnection, article_ids: list[str]) -> pl.DataFrame:
    return of_articles(con, internal_sql("entity_edges_of_articles"), article_ids)


def raw_mentions_of(con: duckdb.DuckDBPyConnection, article_ids: list[str]) -> pl.DataFrame:
    return of_articles(con, "select article_id, paragraph_id, start_char, end_char, surface, label, word_before "
                            "from raw_mentions join wanted_articles using (article_id)", article_ids)


def _of_forms(con: duckdb.DuckDBPyConnection, name: str, forms: pl.DataFrame, params: dict[str, object] | None = None) -> pl.DataFrame:
    with registered(con, "wanted_forms", forms.select("surface", "label", "person_before")):
        return read_frame(con, internal_sql(name), params)


def entity_forms_with_keys(con: duckdb.DuckDBPyConnection, keys: list[str]) -> pl.DataFrame:
    with registered(con, "wanted_keys", key_frame("key", keys)):
        return read_frame(con, internal_sql("entity_forms_with_keys"))


def entity_keys_of_forms(con: duckdb.DuckDBPyConnection, forms: pl.DataFrame) -> list[str]:
    """The keys of these forms and the other ends of the first-name edges on them."""
    return _of_forms(con, "entity_keys_of_forms", forms)["key"].to_list()


def entity_names_of_forms(con: duckdb.DuckDBPyConnection, forms: pl.DataFrame) -> pl.DataFrame:
    return _of_forms(con, "entity_names_of_forms", forms)


def entity_names_in_buckets(con: duckdb.DuckDBPyConnection, buckets: list[str]) -> pl.DataFrame:
    with registered(con, "wanted_buckets", key_frame("bucket", buckets)):
        return read_frame(con, internal_sql("entity_names_in_buckets"))


def entity_new_forms(con: duckdb.DuckDBPyConnection, forms: pl.DataFrame) -> pl.DataFrame:
    """Those of these forms that have no recorded keys yet."""
    return _of_forms(con, "entity_new_forms", forms)


def raw_mentions_of_forms(con: duckdb.DuckDBPyConnection, forms: pl.DataFrame, person_prefixes: list[str]) -> pl.DataFrame:
    """Every stored raw mention of these forms (`person_prefixes`: the words that make `person_before`)."""
    return _of_forms(con, "entity_raw_mentions_of_forms", forms, {"prefixes": person_prefixes})


def resolved_mentions_of(con: duckdb.DuckDBPyConnection, article_ids: list[str]) -> pl.DataFrame:
    """These articles' stored mentions with the label of the entity each points to (`entities.RESOLVED_KEY`)."""
    return of_articles(con, internal_sql("entity_resolved_mentions_of"), article_ids)


def entities_mentioned_elsewhere(con: duckdb.DuckDBPyConnection, entity_ids: list[str], article_ids: list[str]) -> list[str]:
    """Those of these entities that stored mentions outside these articles point to."""
    with registered(con, "wanted_entities", key_frame("entity_id", entity_ids)):
        return of_articles(con, internal_sql("entity_mentioned_elsewhere"), article_ids)["entity_id"].to_list()


def stored_entity_rows_of(con: duckdb.DuckDBPyConnection, entity_ids: list[str]) -> pl.DataFrame:
    with registered(con, "wanted_entities", key_frame("entity_id", entity_ids)):
        return read_frame(con, "select entity_id, canonical_name, label, aliases, mention_count from entities "
                               "join wanted_entities using (entity_id)")


def entity_rows_changed(con: duckdb.DuckDBPyConnection) -> pl.DataFrame:
    """(`entity_id`, `canonical_name`, `aliases`) of the entities whose row differs from the one the last
    settling left."""
    return read_frame(con, internal_sql("entity_rows_changed"))
