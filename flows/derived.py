"""What is derived from everything stored, at the end of a run: entities resolved over every stored
mention, then article similarity, topics and stories. One piece for the single file's end-of-run steps
(and `newsdag prune`) and for a lake's end-of-run step.

On the single file each of these steps records what it was computed for: the content version
(storage/state.py: bumped by every write that changes stored content) and the settings and code that
shape it. A run that finds the record equal to what it would compute for skips the step.
"""

from __future__ import annotations

import hashlib
from functools import lru_cache
from pathlib import Path
from typing import Any

import polars as pl

from storage.backend import backend_of
from storage.connection import in_transaction
from storage.derived import (
    refresh_article_vector_rows, refresh_article_vectors, replace_stories, replace_story_tables,
    story_inputs,
)
from storage.frames import sql_files
from storage.loads import backfill_raw_mentions, record_derived, replace_settled_entities
from storage.state import (
    article_paragraph_texts, cached_embeddings, content_version, derived_stamp, entities_resolved_for,
    raw_mentions_fingerprint, stored_quote_blocks, stored_quotes_of, stored_raw_mentions, stored_resolved_mentions,
)
from tasks import embed, entities, paragraphs, quotes, stories, topics
from tasks.frames import differing_rows
from tasks.settings import PROJECT_ROOT, Settings, code_fingerprint

# The derived steps that record what they were computed for (storage/state.DERIVED_KEY + the name).
ENTITIES, STORIES, CHECKS = "entities", "stories", "checks"
# The code that groups topics and stories, and the libraries it calls: another version regroups.
STORY_MODULES = (PROJECT_ROOT / "tasks" / "topics.py", PROJECT_ROOT / "tasks" / "stories.py",
                 PROJECT_ROOT / "sql" / "internal" / "story_articles_input.sql")
STORY_LIBRARIES = ("numpy", "scipy", "scikit-learn", "polars")


@lru_cache(maxsize=1)
def _story_code() -> str:
    return code_fingerprint(PROJECT_ROOT, STORY_MODULES, STORY_LIBRARIES)


def _checks_code(sql_dir: Path) -> str:
    """The data checks and the views they read: another check runs over everything again."""
    digest = hashlib.sha256()
    for path in [*sql_files(sql_dir / "checks"), *sql_files(sql_dir / "views")]:
        digest.update(path.name.encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()


def derived_inputs(settings: Settings, step: str) -> str:
    """What shapes a derived step's result besides the stored content. Stories follow from the settled
    entities, and the checks read stories, so each includes what shapes the steps before it."""
    entity_inputs = f"resolution {entities.RESOLUTION_VERSION}"
    story_inputs_ = (f"{entity_inputs}; topic_min {settings.topic_min_similarity}; story_min "
                     f"{settings.story_min_similarity}; code {_story_code()}")
    return {ENTITIES: entity_inputs, STORIES: story_inputs_,
            CHECKS: f"{story_inputs_}; checks {_checks_code(settings.sql_dir)}"}[step]


def _stamp(con: Any, settings: Settings, step: str) -> str:
    return f"{content_version(con)}|{derived_inputs(settings, step)}"


def derived_current(con: Any, settings: Settings, step: str) -> bool:
    """Whether `step` was last computed for the content stored now, with today's settings and code. Never
    on a DuckLake, whose loads record no content version (storage/loads.bump_content_version)."""
    return not backend_of(con).many_writers and derived_stamp(con, step) == _stamp(con, settings, step)


def content_changed_since(con: Any, step: str) -> bool:
    """Whether stored content changed since `step` last ran (whatever its settings)."""
    recorded = derived_stamp(con, step)
    return recorded is None or recorded.split("|", 1)[0] != str(content_version(con))


def record_current(con: Any, settings: Settings, step: str) -> None:
    """Record that `step` is computed for the content stored now (after it succeeded). Not on a lake."""
    if not backend_of(con).many_writers:
        in_transaction(con, lambda con: record_derived(con, step, _stamp(con, settings, step)))


def settle_entities(con: Any, settings: Settings, in_callers_transaction: bool = False) -> int:
    """Resolve every stored mention at once (entities.resolve_corpus), so that entities, mentions and
    quote speakers equal a fresh run's over the same articles, whatever the order or batches they were
    loaded in; each batch's own resolution, against what was stored before it, is provisional. Only what
    changed is rewritten: the articles whose mentions resolve differently, and their quotes and quote
    links where a speaker changed with them. Skipped when no raw mention changed since the last settling.
    Returns the number of articles whose mentions changed."""
    def settle(con: Any) -> int:
        last = entities_resolved_for(con)
        if last is None:  # never settled: maybe loaded before raw mentions were kept
            backfill_raw_mentions(con)
        resolved_for = f"{entities.RESOLUTION_VERSION}:{raw_mentions_fingerprint(con)}"
        if last == resolved_for:
            return 0
        entity_rows, mentions = entities.resolve_corpus(stored_raw_mentions(con))
        settled = entities.with_entity_labels(mentions, entity_rows)
        changed = entities.articles_resolved_differently(stored_resolved_mentions(con), settled)
        changed_mentions = mentions.filter(pl.col("article_id").is_in(changed))
        quote_articles, quote_rows, quote_links = _requote(con, settings, changed, changed_mentions, entity_rows)
        replace_settled_entities(
            con, entity_rows, changed, changed_mentions.select(
                "entity_id", "article_id", "paragraph_id", "start_char", "end_char", "surface", "label"),
            quote_articles, quote_rows, quote_links, resolved_for)
        return len(changed)

    return settle(con) if in_callers_transaction else int(in_transaction(con, settle))


def _requote(
    con: Any, settings: Settings, article_ids: list[str], mentions: pl.DataFrame, entity_rows: pl.DataFrame
) -> tuple[list[str], pl.DataFrame, pl.DataFrame]:
    """Quotes of these articles found again with their settled mentions; for the articles where any
    quote changed (a speaker, mostly): (their ids, their quotes with embeddings, their quote links to
    every other stored quote). A quote's words do not depend on entities, so its vector is the stored one
    (or the embedding cache's)."""
    empty = ([], pl.DataFrame(), pl.DataFrame(schema=quotes.QUOTE_LINK_SCHEMA))
    if not article_ids:
        return empty
    found = quotes.extract_quotes(article_paragraph_texts(con, article_ids), mentions, entity_rows)
    stored = stored_quotes_of(con, article_ids)
    columns = list(quotes.QUOTE_SCHEMA)
    before, after = stored.select(columns).cast(quotes.QUOTE_SCHEMA), found.select(columns)
    differing = differing_rows(before, after, columns)
    requoted = sorted(differing["article_id"].unique().to_list())
    if not requoted:
        return empty
    found = found.filter(pl.col("article_id").is_in(requoted))
    vectors = stored.select("quote_id", "text", "embedding")
    embedded = found.join(vectors, on=["quote_id", "text"], how="left")
    missing = embedded.filter(pl.col("embedding").is_null())
    if missing.height:  # a quote whose span moved: its words' vector from the cache
        hashes = missing.with_columns(text_sha256=pl.col("text").map_elements(paragraphs.text_hash, return_dtype=pl.String))
        cached = cached_embeddings(con, hashes["text_sha256"].unique().to_list(), settings.embedding_model)
        filled = hashes.drop("embedding").join(cached, on="text_sha256", how="left").drop("text_sha256")
        embedded = pl.concat([embedded.filter(pl.col("embedding").is_not_null()),
                              filled.cast(embedded.schema)]).sort("quote_id")
    linkable = embedded.filter(pl.col("embedding").is_not_null())
    links = quotes.link_quotes(linkable, embed.embedding_matrix(linkable["embedding"]),
                               stored_quote_blocks(con, requoted))
    return requoted, embedded, links


def derive_stories(con: Any, settings: Settings, run_id: str, in_callers_transaction: bool = False) -> int:
    """Rebuild article similarity, article vectors, topics and stories; returns the number of stories.
    `in_callers_transaction`: write inside the caller's transaction (a lake's claimed one) instead of in
    transactions of their own."""
    inputs = story_inputs(con)
    identical = stories.identical_paragraph_links(inputs["paragraph_hashes"])
    similar = stories.article_similarity(inputs["links"], inputs["articles"], identical)
    refresh = refresh_article_vector_rows if in_callers_transaction else refresh_article_vectors
    replace = replace_story_tables if in_callers_transaction else replace_stories
    vectors = refresh(con, topics.article_vectors)
    grouping = topics.group_articles(
        vectors, inputs["articles"], inputs["entities"], inputs["previous"],
        frozenset(inputs["retired"]["absorbed_id"].to_list()),
        topic_min=settings.topic_min_similarity, story_min=max(settings.story_min_similarity, settings.topic_min_similarity),
    )
    replace(con, similar, grouping.stories, grouping.story_articles, grouping.topics, grouping.merges, run_id)
    return grouping.stories.height


def rebuild_derived(con: Any, settings: Settings, rebuild_search_index: bool = True, run_id: str = "") -> int:
    """Article similarity, topics and stories and the search index from what is stored (also after
    `newsdag prune`, which settles entities first, as a run's resolve-entities step does)."""
    n_stories = derive_stories(con, settings, run_id)
    if rebuild_search_index or not backend_of(con).has_search_index(con):
        backend_of(con).rebuild_search_index(con)
    return n_stories
