"""Derived tables (article vectors, article similarity, topics, stories), rebuilt at the end of a run,
and what a run checks and reports over the warehouse."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import duckdb
import polars as pl

from storage.connection import utc_now
from storage.frames import insert, internal_sql, key_frame, read_frame, registered, sql_files


def article_signatures(con: duckdb.DuckDBPyConnection, period: str, identical_max: int) -> pl.DataFrame:
    """Every article's grouping period and the digests of what its derived rows are computed from, now
    (`article_id`, `period`, `grouping_signature`, `similarity_signature`)."""
    return read_frame(con, internal_sql("grouping_signatures"),
                      {"one_period": period == "all", "part": "day" if period == "all" else period,
                       "identical_max": identical_max})


def stored_article_signatures(con: duckdb.DuckDBPyConnection) -> pl.DataFrame:
    """The periods and digests as of the last grouping."""
    return read_frame(con, "select article_id, period, grouping_signature, similarity_signature from article_signatures")


def grouping_inputs(con: duckdb.DuckDBPyConnection, article_ids: list[str]) -> dict[str, pl.DataFrame]:
    """What topics and stories of these articles (whole periods) are computed from: their metadata,
    entity profiles, stored story and topic, and the ids a new cluster must not take."""
    with registered(con, "regrouped_articles", key_frame("article_id", article_ids)):
        previous = read_frame(con, internal_sql("grouping_previous"))
        replaced = pl.concat([previous["story_id"], previous["topic_id"]]).drop_nulls().unique().rename("id")
        with registered(con, "replaced_ids", replaced.to_frame()):
            reserved = read_frame(con, internal_sql("grouping_reserved_ids"))
        return {
            "articles": read_frame(con, internal_sql("grouping_articles")),
            "entities": read_frame(
                con,
                "select m.article_id, e.canonical_name, e.label, count(*) as mentions "
                "from entity_mentions m semi join regrouped_articles r using (article_id) "
                "join entities e using (entity_id) group by all",
            ),
            "previous": previous,
            "reserved": reserved,
        }


def similarity_inputs(con: duckdb.DuckDBPyConnection, article_ids: list[str]) -> dict[str, pl.DataFrame]:
    """What the article-similarity rows of pairs with an end in these articles are computed from: their
    paragraph links, the paragraphs sharing a text with theirs, and both ends' metadata."""
    with registered(con, "changed_articles", key_frame("article_id", article_ids)):
        links = read_frame(con, internal_sql("grouping_similarity_links"))
        shared = read_frame(con, internal_sql("grouping_shared_texts"))
    linked = pl.concat([links["article_id_a"], links["article_id_b"], shared["article_id"]]).unique().rename("article_id")
    with registered(con, "linked_articles", linked.to_frame()):
        articles = read_frame(con, internal_sql("grouping_article_meta"))
    return {"links": links, "paragraph_hashes": shared, "articles": articles}


def refresh_article_vector_rows(
    con: duckdb.DuckDBPyConnection, article_ids: list[str], compute: Callable[[pl.DataFrame], pl.DataFrame]
) -> pl.DataFrame:
    """Inside the caller's transaction: bring these articles' rows of `article_vectors` in line with the
    articles (drop those of gone or changed ones, add the missing ones with `compute(paragraph_id,
    article_id, embedding)` -> article_id, embedding) and return theirs (`article_id`, `embedding`)."""
    with registered(con, "regrouped_articles", key_frame("article_id", article_ids)):
        con.execute(
            "delete from article_vectors v where article_id in (select article_id from regrouped_articles) and not exists "
            "(select 1 from articles a where a.article_id = v.article_id and a.content_sha256 = v.content_sha256)")
        missing = read_frame(con, internal_sql("grouping_missing_vectors"))
        if missing.height:
            fresh = compute(missing).join(
                read_frame(con, "select article_id, content_sha256 from articles semi join regrouped_articles using (article_id)"),
                on="article_id")
            with registered(con, "incoming_vectors", fresh):
                con.execute("insert into article_vectors select article_id, content_sha256, embedding from incoming_vectors")
        return read_frame(con, "select article_id, embedding from article_vectors semi join regrouped_articles "
                               "using (article_id) order by article_id")


def forget_article_vectors(con: duckdb.DuckDBPyConnection, article_ids: list[str]) -> None:
    """Inside the caller's transaction: the article vectors of these (gone) articles."""
    with registered(con, "gone_articles", key_frame("article_id", article_ids)):
        con.execute("delete from article_vectors where article_id in (select article_id from gone_articles)")


def replace_groups(
    con: duckdb.DuckDBPyConnection, regrouped: list[str], changed: list[str], article_similarity: pl.DataFrame,
    stories: pl.DataFrame, story_articles: pl.DataFrame, topics: pl.DataFrame, merges: pl.DataFrame,
    signatures: pl.DataFrame, run_id: str = "", everything: bool = False,
) -> None:
    """Inside the caller's transaction: the regrouped articles' topics and stories replace those they were
    in; the similarity rows of pairs with an end in a changed article replace theirs; new merges are
    recorded (`level`, `absorbed_id`, `survivor_id`); `signatures` (of the regrouped and changed articles
    still stored) replace theirs, and the gone articles' go. `everything`: every article was regrouped
    (new settings or code): the tables are replaced whole."""
    if everything:
        for table in ("article_similarity", "story_articles", "stories", "topics", "article_signatures"):
            con.execute(f"delete from {table}")  # our own table names
    with registered(con, "regrouped_articles", key_frame("article_id", regrouped)), \
            registered(con, "changed_articles", key_frame("article_id", changed)):
        con.execute("delete from article_similarity where article_id_a in (select article_id from changed_articles) "
                    "or article_id_b in (select article_id from changed_articles)")
        insert(con, "article_similarity", article_similarity)
        # The clusters of the regrouped articles lie within their periods: they are replaced whole.
        con.execute("create or replace temp table replaced_stories as select distinct sa.story_id, s.topic_id "
                    "from story_articles sa semi join regrouped_articles using (article_id) left join stories s using (story_id)")
        con.execute("delete from story_articles where story_id in (select story_id from replaced_stories) "
                    "or article_id in (select article_id from regrouped_articles)")
        con.execute("delete from stories where story_id in (select story_id from replaced_stories)")
        con.execute("delete from topics where topic_id in (select topic_id from replaced_stories)")
        con.execute("drop table replaced_stories")
        insert(con, "topics", topics)
        insert(con, "stories", stories)
        insert(con, "story_articles", story_articles)
        con.execute("delete from article_signatures where article_id in (select article_id from regrouped_articles) "
                    "or article_id in (select article_id from changed_articles)")
        insert(con, "article_signatures", signatures)
    if merges.height:
        recorded = merges.with_columns(merged_at=pl.lit(utc_now()), run_id=pl.lit(run_id))
        with registered(con, "incoming_merges", recorded):
            con.execute("insert into cluster_merges select level, absorbed_id, survivor_id, merged_at, run_id "
                        "from incoming_merges anti join cluster_merges using (level, absorbed_id)")


def story_count(con: duckdb.DuckDBPyConnection) -> int:
    row = con.execute("select count(*) from stories").fetchone()
    return int(row[0]) if row else 0


def claim_derived_tables(con: duckdb.DuckDBPyConnection, run_id: str) -> None:
    """Inside a transaction that rebuilds derived tables: rewrite one row every such transaction
    writes, so that two of them at once conflict and the later retries on the other's result."""
    # The embedding_dim row always exists: deleting it is what makes two such transactions conflict.
    dimension = con.execute("select value from warehouse_meta where key = 'embedding_dim'").fetchone()[0]  # type: ignore[index]
    con.execute("delete from warehouse_meta where key in ('embedding_dim', 'derived_by')")
    con.execute("insert into warehouse_meta values ('embedding_dim', ?), ('derived_by', ?)", [dimension, run_id])


# --- checks and reports ---

def _check_result(con: duckdb.DuckDBPyConnection, path: Path) -> pl.DataFrame:
    """One check's problems. A check over every stored row that runs out of DuckDB's memory cap is run
    again on one thread (DuckDB's own advice: each thread holds its own share of a join's or an
    aggregate's state), and if it fails again the error names the check. Seen: the first run after an
    upgrade, checking a 10,000-article warehouse whole beside other work, failed 4 times in 4 under the
    default 128 MB; each check alone passed (bench/README, Scale)."""
    try:
        return read_frame(con, path.read_text())
    except duckdb.OutOfMemoryException:
        threads = con.execute("select current_setting('threads')").fetchone()[0]  # type: ignore[index]
        con.execute("set threads = 1")
        try:
            return read_frame(con, path.read_text())
        except duckdb.OutOfMemoryException as error:
            raise duckdb.OutOfMemoryException(f"data check {path.stem}: {error}") from error
        finally:
            con.execute(f"set threads = {int(threads)}")


def run_checks(
    con: duckdb.DuckDBPyConnection, sql_dir: Path, run_id: str | None = None, only: tuple[str, ...] | None = None,
    scoped: bool = False,
) -> pl.DataFrame:
    """Run every data check in `sql/checks/` (`only`: those of these names); returns the problems found
    (empty when all pass). `run_id`: the run checking, whose own articles must be whole; other runs still
    writing (on a lake) have not grouped theirs yet. `scoped`: examine only the rows of the articles that
    run changed (sql/internal/check_scope_run.sql) plus the stored counts and the tables regrouped whole
    each run; otherwise every stored row."""
    if scoped and run_id is None:
        raise ValueError("a scoped check needs the run it checks")
    if run_id is not None:
        con.execute("set variable newsdag_checking_run = ?", [run_id])
    con.execute("set variable newsdag_checks_scoped = ?", [scoped])
    scoped_lookups = scoped
    try:
        if scoped:
            # A semi join on up to this many keys (DuckDB's index_scan_max_count) becomes a key list in the
            # scan, which a primary key's index answers: the run's paragraphs are read by key, not found by
            # reading every paragraph. (A read-only connection's settings are locked: scans, same result.)
            try:
                con.execute("set dynamic_or_filter_threshold = 2048")
            except duckdb.InvalidInputException:
                scoped_lookups = False
        con.execute(internal_sql("check_scope_run" if scoped else "check_scope_all"))
        problems = [
            _check_result(con, path).with_columns(check=pl.lit(path.stem)).select("check", "problem", "detail")
            for path in sql_files(sql_dir / "checks") if only is None or path.stem in only
        ]
    finally:
        for kind, name in con.execute(internal_sql("check_scope_objects")).fetchall():
            con.execute(f"drop {kind} if exists {name}")  # our own temporary relations' names
        if scoped and scoped_lookups:
            con.execute("reset dynamic_or_filter_threshold")
        con.execute("reset variable newsdag_checks_scoped")
        if run_id is not None:
            con.execute("reset variable newsdag_checking_run")
    if not problems:
        return pl.DataFrame(schema={"check": pl.String, "problem": pl.String, "detail": pl.String})
    return pl.concat(problems)


def run_report(con: duckdb.DuckDBPyConnection, sql_dir: Path, run_id: str) -> dict[str, object]:
    """Quality figures for one run's articles and the most-linked cross-outlet statements."""
    quality = read_frame(con, (sql_dir / "reports" / "run_quality.sql").read_text(), [run_id]).to_dicts()[0]
    statements = read_frame(con, (sql_dir / "reports" / "top_statements.sql").read_text(), [run_id])
    return {**quality, "top_statements": statements.to_dicts()}
