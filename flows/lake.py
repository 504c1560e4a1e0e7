"""The end of a run on a DuckLake warehouse, where other runs may have been writing at the same time.

Each batch relinks (tasks/similarity.py: relink) against what was committed when it loaded; two runs
loading at once do not see each other's uncommitted batches. So, once its batches are in, a run queues
the paragraphs of its articles and of those of the runs that wrote while it did, relinks them against
the whole lake, then rebuilds the derived tables (article similarity, article vectors, topics and
stories) — all in one transaction that conflicts with any other run's doing the same
(tasks/warehouse.claim_derived_tables) and is then redone on the newer state. Whichever run finishes
last leaves neighbour lists, links, topics and stories computed over everything.
"""

from __future__ import annotations

import polars as pl
from prefect import get_run_logger, task
from prefect.cache_policies import NO_CACHE

from flows.derived import derive_stories, settle_entities
from tasks import embed, quotes, similarity, warehouse
from tasks.settings import Settings


def _crossing(links: pl.DataFrame, ours: set[str], theirs: set[str], a: str, b: str) -> pl.DataFrame:
    """Only the pairs between one of our articles and one of theirs (the rest were linked by the batches)."""
    ours_list, theirs_list = list(ours), list(theirs)
    return links.filter(
        (pl.col(a).is_in(ours_list) & pl.col(b).is_in(theirs_list)) | (pl.col(a).is_in(theirs_list) & pl.col(b).is_in(ours_list))
    )


def link_concurrent_quotes(con, ours: list[str], theirs: list[str]) -> int:  # type: ignore[no-untyped-def]
    """Quote links between this run's articles and concurrent runs' that are not stored yet (inside the
    caller's transaction; each batch linked its quotes to those committed when it loaded). Returns how
    many were added."""
    our_quotes = warehouse.quotes_of(con, ours)
    quote_links = quotes.link_quotes(our_quotes, embed.embedding_matrix(our_quotes["embedding"]),
                                     warehouse.quotes_of(con, theirs))
    quote_links = _crossing(quote_links, set(ours), set(theirs), "article_id_a", "article_id_b")
    return warehouse.insert_missing_links(con, pl.DataFrame(), quote_links)


def rebuild_lake_derived(settings: Settings, con, run_id: str) -> tuple[int, int]:  # type: ignore[no-untyped-def]
    """Inside the caller's transaction: relink this run's and concurrent runs' paragraphs (and link their
    quotes), settle entities, then article similarity, vectors, topics and stories as
    flows/ingest.rebuild_derived computes them. Returns
    (paragraph lists recomputed, stories)."""
    ours = warehouse.run_article_ids(con, run_id)
    theirs = warehouse.concurrent_articles(con, run_id)
    if theirs:  # an entity first loaded by two runs at once: one row, counts over both
        warehouse.repair_lake_entities(con)
        warehouse.dedupe_lake_cache(con)
    relinked = 0
    if ours and theirs:  # alone, every batch saw everything committed before it
        warehouse.queue_articles_for_relink(con, sorted(set(ours) | set(theirs)))
        relinked = similarity.relink(
            con, settings.similarity_threshold, settings.similarity_top_k, settings.similarity_exact_max,
            similarity.paragraph_index_path(settings.warehouse), settings.embedding_dim,
        )
        link_concurrent_quotes(con, ours, theirs)
    # Entities over every article committed so far; the run that finishes last settles them over all.
    settle_entities(con, settings, in_callers_transaction=True)
    return relinked, derive_stories(con, settings, run_id, in_callers_transaction=True)


def rebuild_claimed(settings: Settings, con, run_id: str) -> tuple[int, int]:  # type: ignore[no-untyped-def]
    """rebuild_lake_derived in one transaction that claims the derived tables, redone while another
    run's commit conflicts with it."""

    @warehouse.retry_on_conflict
    def rebuild(con) -> tuple[int, int]:  # type: ignore[no-untyped-def]
        con.execute("begin transaction")
        try:
            warehouse.claim_derived_tables(con, run_id)
            result = rebuild_lake_derived(settings, con, run_id)
            con.execute("commit")
        except BaseException:
            warehouse.rollback_quietly(con)
            raise
        return result

    return rebuild(con)


@task(name="finish-lake-run", cache_policy=NO_CACHE, persist_result=False)
def finish_lake_run(settings: Settings, run_id: str) -> int:
    """Relink against concurrent runs, then the derived tables over the whole lake, in one transaction,
    redone while another run's commit conflicts with it. Returns the number of stories."""
    logger = get_run_logger()
    with warehouse.connect(settings.warehouse) as con:
        relinked, n_stories = rebuild_claimed(settings, con, run_id)
    logger.info("paragraph lists relinked against concurrent runs' articles: %d; stories: %d", relinked, n_stories)
    return n_stories
