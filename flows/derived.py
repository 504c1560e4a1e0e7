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
    article_signatures, forget_article_vectors, grouping_inputs, refresh_article_vector_rows, replace_groups,
    similarity_inputs, story_count, stored_article_signatures,
)
from storage.frames import sql_files
from storage.loads import backfill_raw_mentions, record_derived, replace_requoted, replace_settled_entities
from storage.state import (
    article_count, article_ids_in_blocks, article_paragraph_texts, cached_embeddings, content_version, derived_stamp,
    entities_resolved_for, raw_mentions_fingerprint, resolved_mentions_of, speech_clauses_of, stored_meta,
    stored_before_speech_clauses, stored_quote_blocks, stored_quotes_of, stored_raw_mentions,
    stored_resolved_mentions,
)
from runtime import embedding_worker
from tasks import embed, entities, paragraphs, quotes, stories, topics
from tasks.frames import differing_rows
from tasks.settings import PROJECT_ROOT, Settings, code_fingerprint

# The derived steps that record what they were computed for (storage/state.DERIVED_KEY + the name).
ENTITIES, STORIES, CHECKS = "entities", "stories", "checks"
# The code that groups topics and stories, and the libraries it calls: another version regroups.
STORY_MODULES = (PROJECT_ROOT / "tasks" / "topics.py", PROJECT_ROOT / "tasks" / "stories.py",
                 *sorted((PROJECT_ROOT / "sql" / "internal").glob("grouping_*.sql")))
# What the stored topics and stories were last grouped with (settings and code): other inputs regroup everything.
GROUPING_INPUTS_KEY = "grouping.inputs"
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
                     f"{settings.story_min_similarity}; period {settings.grouping_period}; code {_story_code()}")
    # Quotes are found again with the entities (refresh_quotes after an upgrade of their extraction).
    return {ENTITIES: f"{entity_inputs}; quotes {quotes.QUOTES_VERSION}", STORIES: story_inputs_,
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
    """Resolve the stored mentions so that entities, mentions and quote speakers equal a fresh run's over
    the same articles (entities.resolve_corpus over everything), whatever the order or batches they were
    loaded in; each batch's own resolution, against what was stored before it, is provisional. Only the
    partitions that the mentions added, changed or deleted since the last settling belong to are
    resolved again (entities.form_keys: mentions of other partitions cannot resolve differently), and
    only what changed is rewritten: the articles whose mentions resolve differently, and their quotes
    and quote links where a speaker changed with them. Everything is resolved when entities were never
    settled, or with other rules or partition keys. Skipped when no raw mention changed since the last
    settling. Returns the number of articles whose mentions changed."""
    # (imported here: this function alone is this change's part of the module)
    from storage.loads import clear_entity_partitions, record_entity_partitions, record_settled_rows
    from storage.state import (
        entities_mentioned_elsewhere, entity_article_digests, entity_changed_articles, entity_edges_of_articles,
        entity_forms_of_articles, entity_forms_with_keys, entity_keys_of_forms, entity_names_in_buckets,
        entity_names_of_forms, entity_new_forms, entity_partitions_version, entity_rows_changed, raw_mentions_of,
        raw_mentions_of_forms, resolved_mentions_of, stored_entity_rows_of,
    )

    def record_partitions(con: Any, everything: bool) -> tuple[set[str], pl.DataFrame]:
        """The partitions of the articles changed since they were last recorded, recorded anew; returns
        the keys and names of their mentions, as recorded before and as they are now (none when
        `everything` is resolved)."""
        changed = entity_changed_articles(con)
        before_forms, before_edges = entity_forms_of_articles(con, changed), entity_edges_of_articles(con, changed)
        raw = raw_mentions_of(con, changed)
        forms, edges = entities.partition_records(raw, entity_article_digests(con, changed))
        new_keys, new_names = entities.form_keys(entity_new_forms(con, forms))
        record_entity_partitions(con, changed, forms, edges, new_keys, new_names, entities.PARTITION_VERSION)
        if everything:
            return set(), new_names.select("name", "bucket").clear()
        return entities.seeds_of(raw, before_forms, before_edges)

    def settle(con: Any) -> int:
        last = entities_resolved_for(con)
        if last is None:  # never settled: maybe loaded before raw mentions were kept
            backfill_raw_mentions(con)
        resolved_for = f"{entities.RESOLUTION_VERSION}:{raw_mentions_fingerprint(con)}"
        # entities a batch's provisional resolution changed, whose mentions may since be gone
        touched = entity_rows_changed(con)
        if last == resolved_for and not touched.height:
            return 0
        everything = (last is None or last.split(":", 1)[0] != entities.RESOLUTION_VERSION
                      or entity_partitions_version(con) != entities.PARTITION_VERSION)
        if everything:
            clear_entity_partitions(con)
        seed_keys, seed_names = record_partitions(con, everything)
        if not everything:
            names = touched["canonical_name"].to_list() + touched["aliases"].explode().drop_nulls().to_list()
            touched_keys, touched_names = entities.name_seeds(names)
            seed_keys, seed_names = seed_keys | touched_keys, pl.concat([seed_names, touched_names])
            graph = entities.PartitionGraph(
                lambda keys: entity_forms_with_keys(con, keys), lambda forms: entity_keys_of_forms(con, forms),
                lambda forms: entity_names_of_forms(con, forms), lambda buckets: entity_names_in_buckets(con, buckets))
            forms = entities.partitions_reached(seed_keys, seed_names, graph)
            raw = raw_mentions_of_forms(con, forms, sorted(entities.PERSON_PREFIXES))
            settled = settle_partitions(con, raw, resolved_for, touched["entity_id"].to_list())
            if settled is not None:
                return settled
        entity_rows, mentions = entities.resolve_corpus(stored_raw_mentions(con))
        settled_all = entities.with_entity_labels(mentions, entity_rows)
        changed = entities.articles_resolved_differently(stored_resolved_mentions(con), settled_all)
        return rewrite(con, entity_rows, entity_rows, changed, mentions.filter(pl.col("article_id").is_in(changed)),
                       resolved_for, None, None)

    def settle_partitions(con: Any, raw: pl.DataFrame, resolved_for: str, touched: list[str]) -> int | None:
        """The re-resolved partitions' mentions (`raw`) settled beside the stored ones of every other
        partition; None where a stored mention outside them points to one of their entities, or one of
        theirs pointed to an entity outside (a resolution that was not partitioned): then everything is
        resolved."""
        entity_rows, mentions = entities.resolve_corpus(raw)
        articles = sorted(raw["article_id"].unique().to_list())
        stored = resolved_mentions_of(con, articles)
        clean = entities.stored_beside_partitions(stored, raw_mentions_of(con, articles), raw)
        settled = pl.concat([clean, entities.with_entity_labels(mentions, entity_rows).cast(clean.schema)])
        ours = set(entity_rows["entity_id"].to_list())
        # the entities the re-resolved partitions' stored mentions pointed to (provisional ones included)
        scope = sorted(ours | set(stored.join(clean, on=entities.RESOLVED_KEY, how="anti", nulls_equal=True)
                                  ["entity_id"].drop_nulls().to_list()))
        if set(scope) & set(clean["entity_id"].to_list()) or entities_mentioned_elsewhere(con, scope, articles):
            return None
        changed = entities.articles_resolved_differently(stored, settled)
        changed_mentions = settled.filter(pl.col("article_id").is_in(changed))
        outside = stored_entity_rows_of(con, sorted(set(changed_mentions["entity_id"].to_list()) - ours))
        for_quotes = pl.concat([entity_rows.select("entity_id", "label"), outside.select("entity_id", "label")])
        return rewrite(con, entity_rows, for_quotes, changed, changed_mentions, resolved_for, scope,
                       sorted(set(scope) | set(touched)))

    def rewrite(con: Any, entity_rows: pl.DataFrame, for_quotes: pl.DataFrame, changed: list[str],
                changed_mentions: pl.DataFrame, resolved_for: str, scope: list[str] | None,
                recorded: list[str] | None) -> int:
        quote_articles, quote_rows, quote_links = _requote(con, settings, changed, changed_mentions, for_quotes)
        replace_settled_entities(
            con, entity_rows, changed, changed_mentions.select(
                "entity_id", "article_id", "paragraph_id", "start_char", "end_char", "surface", "label"),
            quote_articles, quote_rows, quote_links, resolved_for, scope)
        record_settled_rows(con, recorded)
        return len(changed)

    return settle(con) if in_callers_transaction else int(in_transaction(con, settle))


def _requote(
    con: Any, settings: Settings, article_ids: list[str], mentions: pl.DataFrame, entity_rows: pl.DataFrame,
    encode_missing: bool = False,
) -> tuple[list[str], pl.DataFrame, pl.DataFrame]:
    """Quotes of these articles found again with their settled mentions and their stored speech clauses
    (no parsing); for the articles where any quote changed (a speaker, mostly): (their ids, their quotes
    with embeddings, their quote links to every other stored quote). A quote's words do not depend on
    entities, so its vector is the stored one (or the embedding cache's); `encode_missing`: a statement in
    neither (reported speech found for the first time by refresh_quotes) is encoded here."""
    empty = ([], pl.DataFrame(), pl.DataFrame(schema=quotes.QUOTE_LINK_SCHEMA))
    if not article_ids:
        return empty
    found = quotes.extract_quotes(article_paragraph_texts(con, article_ids), mentions, entity_rows,
                                  speech_clauses_of(con, article_ids))
    stored = stored_quotes_of(con, article_ids)
    columns = list(quotes.QUOTE_SCHEMA)
    before, after = stored.select(columns).cast(quotes.QUOTE_SCHEMA), found.select(columns)
    differing = differing_rows(before, after, columns)
    requoted = sorted(differing["article_id"].unique().to_list())
    if not requoted:
        return empty
    found = found.filter(pl.col("article_id").is_in(requoted))
    vectors = stored.filter(pl.col("kind") != "fragment").select("quote_id", "text", "embedding")
    # A fragment has no vector, even where the same words were stored as a quote (by an older newsdag, or
    # before a speech clause made them part of a statement): never embedded, never linked.
    embedded = found.join(vectors, on=["quote_id", "text"], how="left").with_columns(
        embedding=pl.when(pl.col("kind") != "fragment").then(pl.col("embedding")))
    missing = embedded.filter(pl.col("embedding").is_null() & (pl.col("kind") != "fragment"))
    if missing.height:  # a quote whose span moved, or found for the first time: its words' vector
        hashes = missing.with_columns(text_sha256=pl.col("text").map_elements(paragraphs.text_hash, return_dtype=pl.String))
        cached = cached_embeddings(con, hashes["text_sha256"].unique().to_list(), settings.embedding_model)
        if encode_missing:
            encode = embedding_worker.encode_in_worker if settings.embedding_in_worker else embed.encode_texts
            cached = embed.embed_texts(hashes.select("text_sha256", "text"), cached, settings.embedding_model,
                                       settings.embedding_dim, settings.embedding_device,
                                       settings.embedding_batch_size, encode)
        filled = hashes.drop("embedding").join(cached, on="text_sha256", how="left").drop("text_sha256")
        embedded = pl.concat([embedded.join(missing.select("quote_id"), on="quote_id", how="anti"),
                              filled.cast(embedded.schema)]).sort("quote_id")
    linkable = embedded.filter(pl.col("embedding").is_not_null())
    links = quotes.link_quotes(linkable, embed.embedding_matrix(linkable["embedding"]),
                               stored_quote_blocks(con, requoted))
    return requoted, embedded, links


# Articles parsed and requoted together by refresh_quotes: bounds the memory of one step (paragraphs,
# clauses, quotes and their vectors of this many articles) and the work a crash can lose.
REFRESH_BLOCK_ARTICLES = 200


def refresh_quotes(con: Any, settings: Settings) -> int:
    """After an upgrade of quote extraction (quotes.QUOTES_VERSION other than the one recorded in
    warehouse_meta as `quotes.version`): every stored article's paragraphs parsed once for speech clauses
    (stored), and its quotes found again with its settled mentions, a block of articles per transaction.
    Recorded when all are done; a run stopped midway starts over at the next run. Returns the number of
    articles whose quotes changed."""
    from storage.loads import replace_speech_clauses  # (imported here: this function is this change's part)

    recorded = stored_meta(con, quotes.QUOTES_KEY)
    if recorded == quotes.QUOTES_VERSION:
        return 0
    if recorded is None and not stored_before_speech_clauses(con):  # made by this version: nothing to redo
        in_transaction(con, lambda con: backend_of(con).replace_meta(con, quotes.QUOTES_KEY, quotes.QUOTES_VERSION))
        return 0
    nlp = entities.load_nlp(settings.spacy_model)
    changed = 0

    def refresh(con: Any, article_ids: list[str]) -> int:
        paras = article_paragraph_texts(con, article_ids)
        clauses = quotes.parse_clauses(paras, nlp, settings.ner_batch_size)
        replace_speech_clauses(con, article_ids, clauses)
        mentions = resolved_mentions_of(con, article_ids)
        labels = mentions.select("entity_id", label=pl.coalesce("entity_label", "label")).unique("entity_id")
        requoted, rows, links = _requote(con, settings, article_ids, mentions, labels, encode_missing=True)
        if requoted:
            replace_requoted(con, requoted, rows, links)
        return len(requoted)

    for block in list(article_ids_in_blocks(con, REFRESH_BLOCK_ARTICLES)):
        changed += int(in_transaction(con, lambda con, block=block: refresh(con, block)))
    in_transaction(con, lambda con: backend_of(con).replace_meta(con, quotes.QUOTES_KEY, quotes.QUOTES_VERSION))
    return changed


def derive_stories(con: Any, settings: Settings, run_id: str, in_callers_transaction: bool = False) -> int:
    """Bring article similarity, article vectors, topics and stories up to date with what is stored,
    recomputing only what changed since the last grouping (storage/derived.article_signatures): the
    similarity rows of pairs with an end in a changed article, and the topics and stories of the periods
    (settings.grouping_period) holding a changed, new or gone article. Each period is grouped from its
    own articles alone, so the result equals grouping everything. New settings or grouping code regroup
    every period. Returns the number of stories.
    `in_callers_transaction`: write inside the caller's transaction (a lake's claimed one) instead of in
    one of its own."""
    def derive(con: Any) -> int:
        inputs = derived_inputs(settings, STORIES)
        everything = stored_meta(con, GROUPING_INPUTS_KEY) != inputs
        period = topics.grouping_period(settings.grouping_period, article_count(con))
        now = article_signatures(con, period, stories.IDENTICAL_MAX_ARTICLES)
        before = stored_article_signatures(con).filter(pl.lit(not everything))
        compared = now.join(before, on="article_id", how="full", coalesce=True, suffix="_before")
        regroup = compared.filter(pl.col("grouping_signature").ne_missing(pl.col("grouping_signature_before"))
                                  | pl.col("period").ne_missing(pl.col("period_before")))
        changed = compared.filter(pl.col("similarity_signature").ne_missing(pl.col("similarity_signature_before"))
                                  )["article_id"].sort().to_list()
        gone = compared.filter(pl.col("period").is_null())["article_id"].to_list()
        periods = pl.concat([regroup["period"], regroup["period_before"]]).drop_nulls().unique()
        regrouped = now.filter(pl.col("period").is_in(periods.implode()))["article_id"].sort().to_list()
        if changed or regrouped or gone:
            similar = _similarity_of_pairs_touching(con, changed)
            forget_article_vectors(con, gone)
            vectors = refresh_article_vector_rows(con, regrouped, topics.article_vectors)
            grouped = grouping_inputs(con, regrouped)
            grouping = topics.group_articles(
                vectors, grouped["articles"].join(now.select("article_id", "period"), on="article_id"),
                grouped["entities"], grouped["previous"], reserved=frozenset(grouped["reserved"]["id"].to_list()),
                topic_min=settings.topic_min_similarity,
                story_min=max(settings.story_min_similarity, settings.topic_min_similarity),
            )
            replace_groups(con, regrouped, changed, similar, grouping.stories, grouping.story_articles,
                           grouping.topics, grouping.merges,
                           now.filter(pl.col("article_id").is_in(sorted(set(regrouped) | set(changed)))),
                           run_id, everything=everything)
        if everything:
            backend_of(con).replace_meta(con, GROUPING_INPUTS_KEY, inputs)
        return story_count(con)

    return derive(con) if in_callers_transaction else int(in_transaction(con, derive))


def _similarity_of_pairs_touching(con: Any, article_ids: list[str]) -> pl.DataFrame:
    """Article-similarity rows of the pairs with an end in these articles, from their paragraph links and
    the paragraphs sharing a text with theirs."""
    inputs = similarity_inputs(con, article_ids)
    identical = stories.identical_paragraph_links(inputs["paragraph_hashes"])
    similar = stories.article_similarity(inputs["links"], inputs["articles"], identical)
    return similar.filter(pl.col("article_id_a").is_in(article_ids) | pl.col("article_id_b").is_in(article_ids))


def rebuild_derived(con: Any, settings: Settings, rebuild_search_index: bool = True, run_id: str = "") -> int:
    """Article similarity, topics and stories and the search index from what is stored (also after
    `newsdag prune`, which settles entities first, as a run's resolve-entities step does)."""
    n_stories = derive_stories(con, settings, run_id)
    if rebuild_search_index or not backend_of(con).has_search_index(con):
        backend_of(con).rebuild_search_index(con)
    return n_stories
