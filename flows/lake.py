"""The end of a run on a DuckLake warehouse, where other runs may have been writing at the same time.

Each batch links its paragraphs and quotes to what was committed when it linked; two runs loading at
once do not see each other's uncommitted batches. So, once its batches are in, a run links its articles
to those of the runs that wrote while it did, then rebuilds the derived tables (article similarity,
stories) from the whole warehouse — all in one transaction that conflicts with any other run's doing
the same (tasks/warehouse.claim_derived_tables) and is then redone on the newer state. Whichever run
finishes last leaves links and stories computed over everything.
"""

from __future__ import annotations

import polars as pl
from prefect import get_run_logger, task
from prefect.cache_policies import NO_CACHE

from tasks import embed, quotes, similarity, stories, warehouse
from tasks.settings import Settings


def _crossing(links: pl.DataFrame, ours: set[str], theirs: set[str], a: str, b: str) -> pl.DataFrame:
    """Only the pairs between one of our articles and one of theirs (the rest were linked by the batches)."""
    ours_list, theirs_list = list(ours), list(theirs)
    return links.filter(
        (pl.col(a).is_in(ours_list) & pl.col(b).is_in(theirs_list)) | (pl.col(a).is_in(theirs_list) & pl.col(b).is_in(ours_list))
    )


def link_concurrent_runs(settings: Settings, con, run_id: str) -> int:  # type: ignore[no-untyped-def]
    """Links between this run's articles and those of concurrent runs that are not stored yet
    (inside the caller's transaction). Returns how many were added."""
    ours = warehouse.run_article_ids(con, run_id)
    theirs = warehouse.concurrent_articles(con, run_id)
    if not ours or not theirs:
        return 0
    our_paragraphs, their_paragraphs = warehouse.paragraphs_of(con, ours), warehouse.paragraphs_of(con, theirs)
    links = similarity.link_similar_paragraphs(
        our_paragraphs, their_paragraphs, settings.similarity_threshold, settings.similarity_top_k)
    links = _crossing(links, set(ours), set(theirs), "article_id_a", "article_id_b")
    texts = dict(zip(our_paragraphs["paragraph_id"].to_list(), our_paragraphs["text"].to_list()))
    texts.update(zip(their_paragraphs["paragraph_id"].to_list(), their_paragraphs["text"].to_list()))
    links = similarity.add_lexical_overlap(links, texts)
    our_quotes = warehouse.quotes_of(con, ours)
    quote_links = quotes.link_quotes(our_quotes, embed.embedding_matrix(our_quotes["embedding"]),
                                     warehouse.quotes_of(con, theirs))
    quote_links = _crossing(quote_links, set(ours), set(theirs), "article_id_a", "article_id_b")
    return warehouse.insert_missing_links(con, links, quote_links)


@task(name="finish-lake-run", cache_policy=NO_CACHE, persist_result=False)
def finish_lake_run(settings: Settings, run_id: str) -> int:
    """Cross-run links, then article similarity and stories over the whole lake, in one transaction,
    redone while another run's commit conflicts with it. Returns the number of stories."""
    logger = get_run_logger()

    @warehouse.retry_on_conflict
    def rebuild(con) -> tuple[int, int]:  # type: ignore[no-untyped-def]
        con.execute("begin transaction")
        try:
            warehouse.claim_derived_tables(con, run_id)
            added = link_concurrent_runs(settings, con, run_id)
            inputs = warehouse.story_inputs(con)
            identical = stories.identical_paragraph_links(inputs["paragraph_hashes"])
            similar = stories.article_similarity(inputs["links"], inputs["articles"], identical)
            story_frame, members = stories.group_stories(similar, inputs["articles"], inputs["entities"])
            warehouse.replace_story_rows(con, similar, story_frame, members)
            con.execute("commit")
        except BaseException:
            warehouse.rollback_quietly(con)
            raise
        return added, story_frame.height

    with warehouse.connect(settings.warehouse) as con:
        added, n_stories = rebuild(con)
    logger.info("links to concurrent runs' articles added: %d; stories: %d", added, n_stories)
    return n_stories
