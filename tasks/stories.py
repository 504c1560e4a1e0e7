"""Article similarity and duplicate flags, derived from the paragraph links (topics and stories: tasks/topics.py).

Rebuilt from `paragraph_similarity` (which is itself incremental) after each run's batches load:
the cost grows with the number of links, not with pairs of articles.
"""

from __future__ import annotations

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
# Both articles mostly made of each other's text, copied: a syndicated copy.
DUPLICATE_MIN_COPIED_SHARE = 0.8
# A good part of both articles copied from each other: an edited copy or an update. Reworded
# paragraphs alone do not count: outlets reporting one event independently share many of those.
# (0.3 keeps all 31 same-title updates of the BBC corpus: bench/duplicates.py.)
NEAR_DUPLICATE_MIN_COPIED_SHARE = 0.3


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
