"""The end of a run on a DuckLake warehouse, where other runs may have been writing at the same time.

Each batch relinks (flows/relink.py) against what was committed when it loaded; two runs
loading at once do not see each other's uncommitted batches. So, once its batches are in, a run queues
the paragraphs of its articles and of those of the runs that wrote while it did, relinks them against
the whole lake, then rebuilds the derived tables (article similarity, article vectors, topics and
stories) — all in one transaction that conflicts with any other run's doing the same
(storage/derived.claim_derived_tables) and is then redone on the newer state. Whichever run finishes
last leaves neighbour lists, links, topics and stories computed over everything.
"""

from __future__ import annotations

from prefect import get_run_logger, task
from prefect.cache_policies import NO_CACHE

from flows.derived import derive_stories, settle_entities
from flows.relink import relink
from storage.backend import backend_for
from storage.connection import retry_on_conflict, rollback_quietly
from storage.derived import claim_derived_tables
from storage.links import queue_articles_for_relink, replace_quote_links_among
from storage.loads import dedupe_lake_cache, repair_lake_entities
from storage.state import concurrent_articles, quotes_of, run_article_ids
from tasks import embed, quotes, similarity
from tasks.settings import Settings


def link_concurrent_quotes(con, article_ids: list[str]) -> int:  # type: ignore[no-untyped-def]
    """Quote links among these articles (this run's and concurrent runs'), recomputed and stored in
    place of those stored between them (inside the caller's transaction). Each batch linked its quotes
    to those committed when it read them, outside its load's transaction: a pair of two runs' batches
    that loaded at once is missing, whichever runs they were (a run killed mid-way and one that ended
    before the other's batch committed leave such a pair to the next run's end, for which neither
    article is its own), and a batch that read a quote before another run's end settled its speaker
    (and committed after it) stored a link computed with the old speaker, which adding the missing
    pairs never corrects. Run after the entities are settled, so that speakers are final. Links to
    older articles were made by the batches. Returns how many links changed."""
    found = quotes_of(con, article_ids)
    quote_links = quotes.link_quotes(found, embed.embedding_matrix(found["embedding"]))
    return replace_quote_links_among(con, article_ids, quote_links)


def rebuild_lake_derived(settings: Settings, con, run_id: str) -> tuple[int, int]:  # type: ignore[no-untyped-def]
    """Inside the caller's transaction: relink this run's and concurrent runs' paragraphs, settle
    entities, link their quotes again, then article similarity, vectors, topics and stories as
    flows/derived.rebuild_derived computes them. Returns
    (paragraph lists recomputed, stories)."""
    ours = run_article_ids(con, run_id)
    theirs = concurrent_articles(con, run_id)
    if theirs:  # an entity first loaded by two runs at once: one row, counts over both
        repair_lake_entities(con)
        dedupe_lake_cache(con)
    relinked = 0
    if theirs:  # alone (and after runs that ended long before it), every batch saw all committed before it
        both = sorted(set(ours) | set(theirs))
        queue_articles_for_relink(con, both)
        relinked = relink(
            con, settings.similarity_threshold, settings.similarity_top_k, settings.similarity_exact_max,
            similarity.paragraph_index_path(settings.warehouse), settings.embedding_dim,
        )
    # Entities over every article committed so far; the run that finishes last settles them over all.
    settle_entities(con, settings, in_callers_transaction=True)
    if theirs:  # with the speakers settled
        link_concurrent_quotes(con, both)
    return relinked, derive_stories(con, settings, run_id, in_callers_transaction=True)


def rebuild_claimed(settings: Settings, con, run_id: str) -> tuple[int, int]:  # type: ignore[no-untyped-def]
    """rebuild_lake_derived in one transaction that claims the derived tables, redone while another
    run's commit conflicts with it."""

    @retry_on_conflict
    def rebuild(con) -> tuple[int, int]:  # type: ignore[no-untyped-def]
        con.execute("begin transaction")
        try:
            claim_derived_tables(con, run_id)
            result = rebuild_lake_derived(settings, con, run_id)
            con.execute("commit")
        except BaseException:
            rollback_quietly(con)
            raise
        return result

    return rebuild(con)


@task(name="finish-lake-run", cache_policy=NO_CACHE, persist_result=False)
def finish_lake_run(settings: Settings, run_id: str) -> int:
    """Relink against concurrent runs, then the derived tables over the whole lake, in one transaction,
    redone while another run's commit conflicts with it. Returns the number of stories."""
    logger = get_run_logger()
    with backend_for(settings.warehouse).connect() as con:
        relinked, n_stories = rebuild_claimed(settings, con, run_id)
    logger.info("paragraph lists relinked against concurrent runs' articles: %d; stories: %d", relinked, n_stories)
    return n_stories
