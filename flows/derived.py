"""Article similarity, topics and stories, derived from what is stored: one piece for the single file's
stories step (and `newsdag prune`) and for a lake's end-of-run step."""

from __future__ import annotations

from typing import Any

from tasks import stories, topics, warehouse
from tasks.settings import Settings


def derive_stories(con: Any, settings: Settings, run_id: str, in_callers_transaction: bool = False) -> int:
    """Rebuild article similarity, article vectors, topics and stories; returns the number of stories.
    `in_callers_transaction`: write inside the caller's transaction (a lake's claimed one) instead of in
    transactions of their own."""
    inputs = warehouse.story_inputs(con)
    identical = stories.identical_paragraph_links(inputs["paragraph_hashes"])
    similar = stories.article_similarity(inputs["links"], inputs["articles"], identical)
    refresh = warehouse.refresh_article_vector_rows if in_callers_transaction else warehouse.refresh_article_vectors
    replace = warehouse.replace_story_tables if in_callers_transaction else warehouse.replace_stories
    vectors = refresh(con, topics.article_vectors)
    grouping = topics.group_articles(
        vectors, inputs["articles"], inputs["entities"], inputs["previous"],
        frozenset(inputs["retired"]["absorbed_id"].to_list()),
        topic_min=settings.topic_min_similarity, story_min=max(settings.story_min_similarity, settings.topic_min_similarity),
    )
    replace(con, similar, grouping.stories, grouping.story_articles, grouping.topics, grouping.merges, run_id)
    return grouping.stories.height
