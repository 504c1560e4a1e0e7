"""The benches' linker (bench/linker.py): exact links read in blocks, through the HNSW index, replaced
articles skipped, ties ordered the same whatever the arrival order; and the approximate search's recall."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import polars as pl

from bench.linker import ann_neighbours, link_similar_paragraphs
from tasks import similarity
from tests.test_similarity import clustered_vectors, paragraph_frame
from tests.test_ties import THRESHOLD, TOP_K, corpus


def test_stored_paragraphs_read_in_blocks_give_the_links_of_one_read() -> None:
    paragraphs = paragraph_frame(clustered_vectors(1200, noise=0.25))
    stored, new = paragraphs.head(1000), paragraphs.tail(200)
    whole = link_similar_paragraphs(new, stored, threshold=0.8, top_k=5)
    blocks = link_similar_paragraphs(new, stored.iter_slices(97), threshold=0.8, top_k=5)
    assert whole.height > 50
    assert blocks.drop("cosine").equals(whole.drop("cosine"))
    assert np.allclose(blocks["cosine"].to_numpy(), whole["cosine"].to_numpy(), atol=1e-5)  # BLAS order differs


def test_ann_agrees_with_exact_search() -> None:
    vectors = clustered_vectors(3000)
    exact_rows, _ = similarity.exact_neighbours(vectors[:500], vectors, 10)
    ann_rows, ann_scores = ann_neighbours(vectors[:500], vectors, 10)
    recall = np.mean([len(set(exact_rows[q]) & set(ann_rows[q])) / 10 for q in range(500)])
    assert recall >= 0.95
    # The scores the index reports are the vectors' cosines.
    direct = np.einsum("qd,qkd->qk", vectors[:500], vectors[ann_rows])
    assert np.allclose(ann_scores, direct, atol=1e-4)


def test_links_through_the_index_match_exact_links(tmp_path: Path) -> None:
    paragraphs = paragraph_frame(clustered_vectors(2400, noise=0.25))
    stored, new = paragraphs.head(2000), paragraphs.tail(400)
    exact = link_similar_paragraphs(new, stored, threshold=0.8, top_k=5)
    index, added, removed = similarity.sync_paragraph_index(
        tmp_path / "w.hnsw", stored.select("paragraph_id", "article_id"),
        lambda ids: stored.filter(pl.col("paragraph_id").is_in(ids)), 32)
    assert (added, removed) == (2000, 0)
    approximate = link_similar_paragraphs(new, new.head(0), 0.8, 5, index)
    assert exact.height > 100
    same = exact.join(approximate, on=["paragraph_id_a", "paragraph_id_b"]).height
    assert same / exact.height >= 0.95
    for links in (exact, approximate):
        assert (links["article_id_a"] != links["article_id_b"]).all()
        assert (links["paragraph_id_a"] < links["paragraph_id_b"]).all()
        assert (links["cosine"] >= 0.8).all()


def test_replaced_articles_are_not_linked() -> None:
    vectors = clustered_vectors(8, clusters=1, noise=0.01)
    paragraphs = paragraph_frame(vectors, per_article=4)
    new, stored = paragraphs.filter(pl.col("article_id") == "a00000"), paragraphs.filter(pl.col("article_id") == "a00001")
    assert link_similar_paragraphs(new, stored, 0.5, 5).height > 0
    assert link_similar_paragraphs(new, stored, 0.5, 5, excluded_articles=["a00001"]).height == 0


def test_links_of_new_paragraphs_do_not_depend_on_their_order_or_blocks() -> None:
    frame = corpus()
    new, stored = frame.head(60), frame.tail(30)

    def links(new: pl.DataFrame, stored: list[pl.DataFrame]) -> list[tuple]:
        found = link_similar_paragraphs(new, stored, THRESHOLD, TOP_K)
        return sorted(found.select("paragraph_id_a", "paragraph_id_b", "cosine").iter_rows())

    expected = links(new, [stored])
    for seed in range(3):
        assert links(new.sample(fraction=1.0, shuffle=True, seed=seed),
                     list(stored.sample(fraction=1.0, shuffle=True, seed=seed).iter_slices(4))) == expected
