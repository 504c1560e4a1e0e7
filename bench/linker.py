"""The first linker, kept for the benches and their tests: each new paragraph linked to its top-k most
similar paragraphs in other articles, searched exactly among stored frames or through the HNSW index.

The flow links differently (flows/relink.py: neighbour lists that do not depend on arrival order);
bench/similarity.py and bench/duplicates.py measure the searches with this one. `ann_neighbours` is the
approximate search alone, over a throwaway index, for recall against `exact_neighbours`.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
import polars as pl

from tasks.embed import embedding_matrix, frame_blocks
from tasks.similarity import (
    INDEX_THREADS, LINK_SCHEMA, RANK_DECIMALS, ParagraphIndex, exact_neighbours, lexical_overlap, link_kind,
    new_ann_index,
)


def ann_neighbours(queries: np.ndarray, corpus: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Approximate top-k corpus rows by cosine (HNSW): (indices, scores), best first; -1 where fewer."""
    index = new_ann_index(corpus.shape[1])
    index.add(np.arange(corpus.shape[0], dtype=np.uint64), corpus, threads=INDEX_THREADS)
    matches = index.search(queries, min(k, corpus.shape[0]), threads=INDEX_THREADS)
    keys = np.atleast_2d(matches.keys).astype(np.int64)
    counts = np.atleast_1d(matches.counts)
    keys[np.arange(keys.shape[1])[None, :] >= counts[:, None]] = -1
    return keys, (1.0 - np.atleast_2d(matches.distances)).astype(np.float32)


def _query_depth(new: pl.DataFrame, top_k: int) -> int:
    """Neighbours to ask for so that top_k remain after dropping those in the same article."""
    longest = int(new.group_by("article_id").len()["len"].max() or 0)
    return top_k + min(longest, 64)


def _pairs_frame(pairs: dict[tuple[str, str], tuple[str, str, float]]) -> pl.DataFrame:
    return pl.DataFrame(
        [{"paragraph_id_a": a, "paragraph_id_b": b, "article_id_a": article_a, "article_id_b": article_b,
          "cosine": min(cosine, 1.0), "lexical_overlap": None, "kind": None}
         for (a, b), (article_a, article_b, cosine) in sorted(pairs.items())],
        schema=LINK_SCHEMA,
    )


def add_lexical_overlap(links: pl.DataFrame, texts: dict[str, str]) -> pl.DataFrame:
    """Fill `lexical_overlap` and `kind` from the paragraphs' texts (paragraph_id -> text)."""
    overlaps = [lexical_overlap(texts.get(a, ""), texts.get(b, ""))
                for a, b in links.select("paragraph_id_a", "paragraph_id_b").iter_rows()]
    return links.with_columns(
        lexical_overlap=pl.Series(overlaps, dtype=pl.Float32),
        kind=pl.Series([link_kind(o) for o in overlaps], dtype=pl.String),
    )


def _keep(pairs: dict, a: str, b: str, article_a: str, article_b: str, cosine: float) -> None:
    if a > b:
        a, b, article_a, article_b = b, a, article_b, article_a
    pairs[(a, b)] = (article_a, article_b, cosine)


def _total_key(hit: tuple[str, str, float]) -> tuple[float, str]:
    """(paragraph_id, article_id, cosine) ranked by cosine (at RANK_DECIMALS: float32 or float64, the
    same value) desc, then paragraph_id."""
    return -round(hit[2], RANK_DECIMALS), hit[0]


def _candidates(
    new: pl.DataFrame, neighbours: list[list[tuple[str, str, float]]], threshold: float, top_k: int,
    pairs: dict[tuple[str, str], tuple[str, str, float]],
) -> None:
    """Keep each new paragraph's top_k neighbours from other articles with cosine >= threshold."""
    for (paragraph_id, article_id), found in zip(new.select("paragraph_id", "article_id").iter_rows(), neighbours):
        kept = 0
        for other_id, other_article, cosine in sorted(found, key=_total_key):
            if kept == top_k or cosine < threshold:
                break
            if other_article == article_id or other_id == paragraph_id:
                continue
            _keep(pairs, paragraph_id, other_id, article_id, other_article, cosine)
            kept += 1


def link_similar_paragraphs(
    new: pl.DataFrame,
    existing: pl.DataFrame | Iterable[pl.DataFrame],
    threshold: float,
    top_k: int,
    index: ParagraphIndex | None = None,
    excluded_articles: list[str] | None = None,
) -> pl.DataFrame:
    """Link each new paragraph to its top-k most similar paragraphs in other articles (cosine >= threshold).

    `new` holds `paragraph_id`, `article_id` and unit-length `embedding` (and `text`). Stored
    paragraphs are searched exactly in `existing` (same columns; a frame, or frames read a block at a
    time so that memory stays flat as the warehouse grows) or, when given, approximately in `index`;
    articles in `excluded_articles` (about to be replaced) are skipped. New paragraphs are always
    searched exactly among themselves. Each pair is stored once (paragraph_id_a < paragraph_id_b).
    Lexical overlap is filled in where both texts are in `new` or `existing`; use
    `add_lexical_overlap` for the others.
    """
    if new.height == 0:
        return pl.DataFrame(schema=LINK_SCHEMA)
    excluded = set(excluded_articles or [])
    depth = _query_depth(new, top_k)
    # exact_neighbours breaks ties by row: rows in paragraph_id order make that the total order.
    new = new.sort("paragraph_id")
    new_vectors = embedding_matrix(new["embedding"])
    new_ids, new_articles = new["paragraph_id"].to_list(), new["article_id"].to_list()
    neighbours: list[list[tuple[str, str, float]]] = [[] for _ in new_ids]

    rows, scores = exact_neighbours(new_vectors, new_vectors, depth + 1)
    for q in range(len(new_ids)):
        neighbours[q] += [(new_ids[c], new_articles[c], float(s)) for c, s in zip(rows[q], scores[q])]

    texts: dict[str, str] = {}
    if index is not None:
        # A replaced article's old paragraphs are still in the index and resemble its new ones.
        found, cosines, _ = index.search(new_vectors, depth + (depth - top_k if excluded else 0))
        for q, hits in enumerate(found):
            neighbours[q] += [(pid, aid, float(c)) for (pid, aid), c in zip(hits, cosines[q]) if aid not in excluded]
    else:
        excluded_list = list(excluded)
        for block in frame_blocks(existing):
            stored = block.filter(~pl.col("paragraph_id").is_in(new_ids) & ~pl.col("article_id").is_in(excluded_list)
                                  ).sort("paragraph_id")
            if stored.height == 0:
                continue
            stored_ids, stored_articles = stored["paragraph_id"].to_list(), stored["article_id"].to_list()
            rows, scores = exact_neighbours(new_vectors, embedding_matrix(stored["embedding"]), depth)
            for q in range(len(new_ids)):
                hits = neighbours[q] + [(stored_ids[c], stored_articles[c], float(s)) for c, s in zip(rows[q], scores[q])]
                # Only the batch's own depth + 1 hits can be of the same article, so the best
                # 2 * depth + 1 always hold the top_k from other articles.
                neighbours[q] = sorted(hits, key=_total_key)[:2 * depth + 1]
            if "text" in stored.columns:
                kept = {hit[0] for hits in neighbours for hit in hits}
                texts.update((p, t) for p, t in zip(stored_ids, stored["text"].to_list()) if p in kept)

    pairs: dict[tuple[str, str], tuple[str, str, float]] = {}
    _candidates(new, neighbours, threshold, top_k, pairs)
    if "text" in new.columns:
        texts.update(zip(new_ids, new["text"].to_list()))
    return add_lexical_overlap(_pairs_frame(pairs), texts)
