"""Link similar paragraphs across articles (shared wire copy, the same quote in several outlets)."""

from __future__ import annotations

import numpy as np
import polars as pl

LINK_SCHEMA = {
    "paragraph_id_a": pl.String,
    "paragraph_id_b": pl.String,
    "article_id_a": pl.String,
    "article_id_b": pl.String,
    "cosine": pl.Float32,
}


def _matrix(frame: pl.DataFrame) -> np.ndarray:
    if frame.height == 0:
        return np.zeros((0, 0), dtype=np.float32)
    return frame["embedding"].to_numpy().astype(np.float32, copy=False)


def link_similar_paragraphs(
    new: pl.DataFrame,
    existing: pl.DataFrame,
    threshold: float,
    top_k: int,
    chunk_rows: int = 2048,
) -> pl.DataFrame:
    """Exact cosine search of each new paragraph against existing and new paragraphs.

    Frames hold `paragraph_id`, `article_id` and unit-length `embedding`. Keeps each new paragraph's
    top-k neighbours from other articles with cosine >= threshold; each pair is stored once
    (paragraph_id_a < paragraph_id_b).
    """
    if new.height == 0:
        return pl.DataFrame(schema=LINK_SCHEMA)
    corpus = pl.concat([existing.select("paragraph_id", "article_id", "embedding"),
                        new.select("paragraph_id", "article_id", "embedding")]).unique("paragraph_id", keep="last")
    corpus_vectors = _matrix(corpus)
    corpus_ids = corpus["paragraph_id"].to_numpy()
    corpus_articles = corpus["article_id"].to_numpy()
    new_vectors = _matrix(new)
    new_ids = new["paragraph_id"].to_numpy()
    new_articles = new["article_id"].to_numpy()
    k = min(top_k, len(corpus_ids))
    pairs: dict[tuple[str, str], tuple[str, str, float]] = {}
    for start in range(0, len(new_ids), chunk_rows):
        scores = new_vectors[start:start + chunk_rows] @ corpus_vectors.T
        rows = np.arange(scores.shape[0])
        same_article = new_articles[start:start + chunk_rows, None] == corpus_articles[None, :]
        scores[same_article] = -np.inf
        best = np.argpartition(-scores, k - 1, axis=1)[:, :k] if k < scores.shape[1] else np.tile(np.arange(scores.shape[1]), (scores.shape[0], 1))
        for row in rows:
            source = start + row
            for column in best[row]:
                cosine = float(scores[row, column])
                if cosine < threshold:
                    continue
                a, b = new_ids[source], corpus_ids[column]
                article_a, article_b = new_articles[source], corpus_articles[column]
                if a > b:
                    a, b, article_a, article_b = b, a, article_b, article_a
                pairs[(a, b)] = (article_a, article_b, min(cosine, 1.0))
    return pl.DataFrame(
        [{"paragraph_id_a": a, "paragraph_id_b": b, "article_id_a": aa, "article_id_b": ab, "cosine": c}
         for (a, b), (aa, ab, c) in sorted(pairs.items())],
        schema=LINK_SCHEMA,
    )
