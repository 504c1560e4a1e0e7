"""Article similarity, duplicate flags and stories, derived from the paragraph links.

Rebuilt from `paragraph_similarity` (which is itself incremental) after each run's batches load:
the cost grows with the number of links, not with pairs of articles.
"""

from __future__ import annotations

import re
from collections import Counter

import polars as pl

ARTICLE_SIMILARITY_SCHEMA = {
    "article_id_a": pl.String,
    "article_id_b": pl.String,
    "linked_paragraphs_a": pl.Int32,
    "linked_paragraphs_b": pl.Int32,
    "share_a": pl.Float32,
    "share_b": pl.Float32,
    "copied_share_a": pl.Float32,
    "copied_share_b": pl.Float32,
    "mean_cosine": pl.Float32,
    "relation": pl.String,
    "original_article_id": pl.String,
    "original_basis": pl.String,
}
STORY_SCHEMA = {
    "story_id": pl.String, "label": pl.String, "headline": pl.String, "n_articles": pl.Int32,
    "n_outlets": pl.Int32, "first_seen": pl.Date, "last_seen": pl.Date,
}
STORY_ARTICLE_SCHEMA = {"story_id": pl.String, "article_id": pl.String, "is_original": pl.Boolean}

# Both articles mostly made of each other's text, copied: a syndicated copy.
DUPLICATE_MIN_COPIED_SHARE = 0.8
# A good part of both articles copied from each other: an edited copy or an update. Reworded
# paragraphs alone do not count: outlets reporting one event independently share many of those.
# (0.3 keeps all 31 same-title updates of the BBC corpus: bench/duplicates.py.)
NEAR_DUPLICATE_MIN_COPIED_SHARE = 0.3
# Same story: at least this many paragraphs linked and this share of the shorter side.
STORY_MIN_LINKED = 2
STORY_MIN_SHARE = 0.2
# An article joins a story when linked to at least this share of its articles.
STORY_MIN_MEMBER_SHARE = 0.5
LABEL_ENTITY_TYPES = ("PERSON", "ORG", "GPE", "NORP", "LOC", "EVENT", "FAC", "PRODUCT", "WORK_OF_ART", "LAW")
LABEL_SIZE = 3
_STOPWORDS = frozenset(
    "a an the and or but of to in on at for by with from as is are was were be been it its this that these those "
    "after before over under into about says say said new not no up down out will would can could has have had "
    "his her their our your my he she they we you i".split()
)


# Text carried by more articles than this is boilerplate ("Follow us on ..."), not a copied story.
IDENTICAL_MAX_ARTICLES = 50


def identical_paragraph_links(paragraphs: pl.DataFrame, max_articles: int = IDENTICAL_MAX_ARTICLES) -> pl.DataFrame:
    """Links between paragraphs with the same text in different articles (`paragraph_id`,
    `article_id`, `text_sha256`), every pair: the top-k similarity links miss some pairs when a
    story is syndicated to more than k outlets."""
    shared = paragraphs.group_by("text_sha256").agg(pl.col("article_id").n_unique().alias("n")).filter(
        pl.col("n").is_between(2, max_articles))
    rows = paragraphs.join(shared.select("text_sha256"), on="text_sha256").select("paragraph_id", "article_id", "text_sha256")
    return (
        rows.join(rows, on="text_sha256", suffix="_b")
        .filter(pl.col("article_id") < pl.col("article_id_b"))
        .select(paragraph_id_a="paragraph_id", paragraph_id_b="paragraph_id_b", article_id_a="article_id",
                article_id_b="article_id_b", cosine=pl.lit(1.0, dtype=pl.Float32), kind=pl.lit("copy"))
    )


def article_similarity(
    links: pl.DataFrame, articles: pl.DataFrame, identical: pl.DataFrame | None = None
) -> pl.DataFrame:
    """One row per article pair with linked paragraphs: shares both ways, relation and likely original.

    `links`: paragraph_similarity rows (with `kind`); `articles`: `article_id`, `n_paragraphs`,
    `published`, `first_seen_at`; `identical`: `identical_paragraph_links`, counted as copies.
    """
    if identical is not None and identical.height:
        links = pl.concat([links.select(identical.columns).cast(identical.schema), identical])  # type: ignore[arg-type]
        links = links.unique(["paragraph_id_a", "paragraph_id_b"], keep="first")
    if links.height == 0:
        return pl.DataFrame(schema=ARTICLE_SIMILARITY_SCHEMA)
    copied = pl.col("kind") == "copy"
    pairs = links.group_by("article_id_a", "article_id_b").agg(
        linked_paragraphs_a=pl.col("paragraph_id_a").n_unique(),
        linked_paragraphs_b=pl.col("paragraph_id_b").n_unique(),
        copied_a=pl.col("paragraph_id_a").filter(copied).n_unique(),
        copied_b=pl.col("paragraph_id_b").filter(copied).n_unique(),
        mean_cosine=pl.col("cosine").mean(),
    )
    meta = articles.select("article_id", "n_paragraphs", "published", "first_seen_at")
    pairs = (
        pairs.join(meta.rename(lambda c: f"{c}_a"), on="article_id_a")
        .join(meta.rename(lambda c: f"{c}_b"), on="article_id_b")
        .with_columns(
            share_a=(pl.col("linked_paragraphs_a") / pl.col("n_paragraphs_a")).clip(upper_bound=1.0),
            share_b=(pl.col("linked_paragraphs_b") / pl.col("n_paragraphs_b")).clip(upper_bound=1.0),
            copied_share_a=(pl.col("copied_a") / pl.col("n_paragraphs_a")).clip(upper_bound=1.0),
            copied_share_b=(pl.col("copied_b") / pl.col("n_paragraphs_b")).clip(upper_bound=1.0),
        )
    )
    relation = (
        pl.when(pl.min_horizontal("copied_share_a", "copied_share_b") >= DUPLICATE_MIN_COPIED_SHARE)
        .then(pl.lit("duplicate"))
        .when(pl.min_horizontal("copied_share_a", "copied_share_b") >= NEAR_DUPLICATE_MIN_COPIED_SHARE)
        .then(pl.lit("near_duplicate"))
        .otherwise(pl.lit("related"))
    )
    # The likely original: the earlier publication date where both dates are known and differ,
    # otherwise the one this warehouse saw first.
    dated = pl.col("published_a").is_not_null() & pl.col("published_b").is_not_null() & (
        pl.col("published_a") != pl.col("published_b"))
    seen_differs = pl.col("first_seen_at_a") != pl.col("first_seen_at_b")
    original = (
        pl.when(dated).then(pl.when(pl.col("published_a") < pl.col("published_b"))
                            .then(pl.col("article_id_a")).otherwise(pl.col("article_id_b")))
        .when(seen_differs).then(pl.when(pl.col("first_seen_at_a") < pl.col("first_seen_at_b"))
                                 .then(pl.col("article_id_a")).otherwise(pl.col("article_id_b")))
    )
    basis = pl.when(dated).then(pl.lit("published")).when(seen_differs).then(pl.lit("first_seen"))
    is_copy = pl.col("relation") != "related"
    return (
        pairs.with_columns(relation=relation)
        .with_columns(
            original_article_id=pl.when(is_copy).then(original),
            original_basis=pl.when(is_copy).then(basis),
        )
        .select(list(ARTICLE_SIMILARITY_SCHEMA))
        .cast(ARTICLE_SIMILARITY_SCHEMA)  # type: ignore[arg-type]
        .sort("article_id_a", "article_id_b")
    )


def story_edges(similar: pl.DataFrame) -> pl.DataFrame:
    """Article pairs close enough to be one story: copies, or several linked paragraphs that make up a
    fair share of at least one article."""
    return similar.filter(
        (pl.col("relation") != "related")
        | ((pl.min_horizontal("linked_paragraphs_a", "linked_paragraphs_b") >= STORY_MIN_LINKED)
           & (pl.max_horizontal("share_a", "share_b") >= STORY_MIN_SHARE))
    ).select("article_id_a", "article_id_b")


def _assign_stories(ordered_ids: list[str], edges: list[tuple[str, str]]) -> dict[str, str]:
    """article_id -> the article_id that founded its story, taking articles in the order they arrived.

    An article joins the story holding most of its neighbours if it is linked to at least
    STORY_MIN_MEMBER_SHARE of that story's articles, else it founds a story. Requiring links to a
    good part of the story (not just to one member, as connected components would) keeps a chain
    of loosely related reports from merging a whole topic into one story. Taking articles in
    arrival order makes a rebuild give what incremental assignment would.
    """
    neighbours: dict[str, set[str]] = {article_id: set() for article_id in ordered_ids}
    for a, b in edges:
        if a in neighbours and b in neighbours:
            neighbours[a].add(b)
            neighbours[b].add(a)
    story_of: dict[str, str] = {}
    size: Counter[str] = Counter()
    for article_id in ordered_ids:
        linked = Counter(story_of[n] for n in neighbours[article_id] if n in story_of)
        best = max(linked, key=lambda story: (linked[story] / size[story], linked[story]), default=None)
        if best is not None and linked[best] / size[best] >= STORY_MIN_MEMBER_SHARE:
            story_of[article_id] = best
        else:
            story_of[article_id] = article_id
        size[story_of[article_id]] += 1
    return story_of


def _keywords(titles: list[str], size: int) -> list[str]:
    # Each title counts a word once; ties keep the order the words first appear in.
    words = Counter(w for title in titles for w in dict.fromkeys(x.lower() for x in re.findall(r"[A-Za-z][\w'-]+", title or ""))
                    if w not in _STOPWORDS)
    return [w for w, _ in words.most_common(size)]


def group_stories(
    similar: pl.DataFrame, articles: pl.DataFrame, entities: pl.DataFrame
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Stories: groups of articles linked by `story_edges` (see `_assign_stories`); every article is in one story.

    A story's id comes from its earliest article (first seen, then published, then id), so a story
    keeps its id as later articles join it. Label: the entities named in most of its articles
    (`entities`: article_id, canonical_name, label, mentions), else the headline's words.
    """
    if articles.height == 0:
        return pl.DataFrame(schema=STORY_SCHEMA), pl.DataFrame(schema=STORY_ARTICLE_SCHEMA)
    ordered = articles.sort("first_seen_at", "published", "article_id", nulls_last=True)
    rank = {article_id: i for i, article_id in enumerate(ordered["article_id"].to_list())}
    component = _assign_stories(ordered["article_id"].to_list(), story_edges(similar).rows())
    members = ordered.with_columns(
        component=pl.col("article_id").replace_strict(component),
        order=pl.col("article_id").replace_strict(rank, return_dtype=pl.Int64),
    )
    earliest = members.sort("order").group_by("component", maintain_order=True).first().select(
        "component", story_id=pl.lit("story-") + pl.col("article_id"), headline=pl.col("title"),
        original_id=pl.col("article_id"),
    )
    members = members.join(earliest, on="component")
    # Publication dates where the texts give them; ingestion dates only for a story with none.
    ingested = pl.col("first_seen_at").cast(pl.Date)
    summary = members.group_by("story_id").agg(
        headline=pl.col("headline").first(),
        n_articles=pl.len().cast(pl.Int32),
        n_outlets=pl.col("outlet").n_unique().cast(pl.Int32),
        first_seen=pl.coalesce(pl.col("published").min(), ingested.min()),
        last_seen=pl.coalesce(pl.col("published").max(), ingested.max()),
        titles=pl.col("title"),
    )
    named = (
        entities.filter(pl.col("label").is_in(LABEL_ENTITY_TYPES))
        .join(members.select("article_id", "story_id"), on="article_id")
        .group_by("story_id", "canonical_name")
        .agg(n_articles=pl.col("article_id").n_unique(), mentions=pl.col("mentions").sum())
        .sort(["story_id", "n_articles", "mentions", "canonical_name"], descending=[False, True, True, False])
        .group_by("story_id", maintain_order=True)
        .agg(names=pl.col("canonical_name").head(LABEL_SIZE))
    )
    summary = summary.join(named, on="story_id", how="left")
    labels = [
        " / ".join(names) if names else " ".join(_keywords(titles, LABEL_SIZE + 2)) or "(untitled)"
        for names, titles in summary.select("names", "titles").iter_rows()
    ]
    stories = summary.with_columns(label=pl.Series(labels, dtype=pl.String)).select(list(STORY_SCHEMA)).cast(
        STORY_SCHEMA).sort("story_id")  # type: ignore[arg-type]
    story_articles = members.select(
        "story_id", "article_id", is_original=pl.col("article_id") == pl.col("original_id")
    ).sort("story_id", "article_id")
    return stories, story_articles
