"""Derived tables (article vectors, article similarity, topics, stories), rebuilt at the end of a run,
and what a run checks and reports over the warehouse."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import duckdb
import polars as pl

from storage.connection import transaction, utc_now
from storage.frames import insert, internal_sql, read_frame, registered, sql_files


def story_inputs(con: duckdb.DuckDBPyConnection) -> dict[str, pl.DataFrame]:
    """What article similarity, topics and stories are computed from (article vectors: `article_vectors`)."""
    return {
        "links": read_frame(con, "select paragraph_id_a, paragraph_id_b, article_id_a, article_id_b, cosine, kind "
                                 "from paragraph_similarity"),
        "articles": read_frame(con, internal_sql("story_articles_input")),
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
    missing = read_frame(con, internal_sql("missing_article_vectors"))
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
            insert(con, table, frame)
    if merges is not None and merges.height:
        recorded = merges.with_columns(merged_at=pl.lit(utc_now()), run_id=pl.lit(run_id))
        with registered(con, "incoming_merges", recorded):
            con.execute("insert into cluster_merges select level, absorbed_id, survivor_id, merged_at, run_id "
                        "from incoming_merges anti join cluster_merges using (level, absorbed_id)")
    rewritten["cluster_merges"] = bool(merges is not None and merges.height)
    return rewritten


def claim_derived_tables(con: duckdb.DuckDBPyConnection, run_id: str) -> None:
    """Inside a transaction that rebuilds derived tables: rewrite one row every such transaction
    writes, so that two of them at once conflict and the later retries on the other's result."""
    # The embedding_dim row always exists: deleting it is what makes two such transactions conflict.
    dimension = con.execute("select value from warehouse_meta where key = 'embedding_dim'").fetchone()[0]  # type: ignore[index]
    con.execute("delete from warehouse_meta where key in ('embedding_dim', 'derived_by')")
    con.execute("insert into warehouse_meta values ('embedding_dim', ?), ('derived_by', ?)", [dimension, run_id])


# --- checks and reports ---

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
            read_frame(con, path.read_text()).with_columns(check=pl.lit(path.stem)).select("check", "problem", "detail")
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
    statements = read_frame(con, (sql_dir / "reports" / "top_statements.sql").read_text())
    return {**quality, "top_statements": statements.to_dicts()}
