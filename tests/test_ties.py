"""Equal cosines are ordered the same way everywhere (issue 29, item 10): neighbour lists and links
do not depend on the order paragraphs arrive in, on how they are read in blocks, on BLAS threads, or
on exact search versus the HNSW index.

The data: paragraphs of one identical text in many articles (a wire story), so that top_k = 5 must cut
among ties, and random paragraphs whose cosines sit near the rounding step, where a float32 matrix
product's last bit decides which way a cosine rounds. The reference is a brute force in Python: each
pair's cosine in float64, rounded, ranked by (cosine desc, paragraph_id asc).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from tasks import similarity
from tests.conftest import PROJECT_ROOT

DIM, TOP_K, THRESHOLD = 32, 5, 0.2
COPIES = 30  # more than top_k + similarity.TIE_MARGIN: a cut among ties anywhere shows


def corpus(seed: int = 7) -> pl.DataFrame:
    """90 paragraphs in 45 articles: 30 copies of one text (one per article, 30 articles), the rest
    random and close to it or to each other."""
    rng = np.random.default_rng(seed)
    base = rng.normal(size=DIM)
    vectors = base + rng.normal(scale=1.5, size=(90, DIM))
    vectors[:COPIES] = base  # identical text: identical vectors (embeddings are cached per text)
    vectors = (vectors / np.linalg.norm(vectors, axis=1, keepdims=True)).astype(np.float32)
    ids = [f"p{(i * 37) % 90:03d}" for i in range(90)]  # copies' ids spread among the others'
    articles = [f"a{i:02d}" if i < COPIES else f"a{COPIES + (i - COPIES) // 4:02d}" for i in range(90)]
    return pl.DataFrame({"paragraph_id": ids, "article_id": articles,
                         "embedding": pl.Series(vectors.tolist(), dtype=pl.Array(pl.Float32, DIM))})


def reference_lists(frame: pl.DataFrame) -> set[tuple[str, str, float]]:
    ids, articles = frame["paragraph_id"].to_list(), frame["article_id"].to_list()
    vectors = similarity.embedding_matrix(frame["embedding"]).astype(np.float64)
    found = set()
    for q in range(len(ids)):
        scored = sorted((-round(float(np.dot(vectors[q], vectors[c])), similarity.RANK_DECIMALS), ids[c])
                        for c in range(len(ids)) if articles[c] != articles[q])
        found |= {(ids[q], other, -negated) for negated, other in scored[:TOP_K] if -negated >= THRESHOLD}
    return found


def lists_of(frame: pl.DataFrame, queries: pl.DataFrame, blocks: list[pl.DataFrame]) -> set[tuple[str, str, float]]:
    found = similarity.exact_neighbour_lists(
        queries["paragraph_id"].to_list(), queries["article_id"].to_list(),
        similarity.embedding_matrix(queries["embedding"]), blocks, THRESHOLD, TOP_K)
    # Stored as float32: compared at the rounding step.
    return {(a, b, round(float(c), similarity.RANK_DECIMALS)) for a, b, c in
            found.select("paragraph_id", "neighbour_id", "cosine").iter_rows()}


def test_neighbour_lists_cut_ties_by_id_whatever_the_order_and_blocks(monkeypatch) -> None:
    frame = corpus()
    expected = reference_lists(frame)
    copies = set(frame["paragraph_id"].head(COPIES).to_list())
    # The copies' lists hold the five smallest ids among the other copies: the cut is among ties.
    first = min(copies)
    assert {b for a, b, _ in expected if a == first} == set(sorted(copies - {first})[:TOP_K])
    for seed in range(4):
        shuffled = frame.sample(fraction=1.0, shuffle=True, seed=seed)
        queries = frame.sample(fraction=1.0, shuffle=True, seed=100 + seed)
        for blocks in ([shuffled], list(shuffled.iter_slices(7)), list(shuffled.iter_slices(31))):
            assert lists_of(frame, queries, blocks) == expected, seed
    # Query chunks of a few rows (other matrix shapes, other BLAS kernels).
    monkeypatch.setattr(similarity, "EXACT_BLOCK_CELLS", 90 * 3)
    assert lists_of(frame, frame.reverse(), [frame]) == expected


def test_index_lists_cut_ties_by_id_as_the_exact_search_does(tmp_path: Path) -> None:
    frame = corpus()
    stored = frame.select("paragraph_id", "article_id")
    index, _, _ = similarity.sync_paragraph_index(
        tmp_path / "w.hnsw", stored, lambda ids: frame.filter(pl.col("paragraph_id").is_in(ids)), DIM)
    found = similarity.index_neighbour_lists(
        index, frame["paragraph_id"].to_list(), frame["article_id"].to_list(),
        similarity.embedding_matrix(frame["embedding"]), THRESHOLD, TOP_K, longest_article=1)
    got = {(a, b, round(float(c), similarity.RANK_DECIMALS)) for a, b, c in
           found.select("paragraph_id", "neighbour_id", "cosine").iter_rows()}
    assert got == reference_lists(frame)  # 90 vectors: the graph search is exhaustive


def test_index_lists_are_the_same_whatever_the_block_of_queries(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """ParagraphIndex.search takes queries a block at a time (bounded memory): blocks of one query, a
    few, or all give the same lists, ties included."""
    frame = corpus()
    index, _, _ = similarity.sync_paragraph_index(
        tmp_path / "w.hnsw", frame.select("paragraph_id", "article_id"),
        lambda ids: frame.filter(pl.col("paragraph_id").is_in(ids)), DIM)

    def lists() -> pl.DataFrame:
        return similarity.index_neighbour_lists(
            index, frame["paragraph_id"].to_list(), frame["article_id"].to_list(),
            similarity.embedding_matrix(frame["embedding"]), THRESHOLD, TOP_K, longest_article=1)

    whole = lists()
    assert whole.height > 0
    for hits in (1, 50, 333):
        monkeypatch.setattr(similarity, "SEARCH_BLOCK_HITS", hits)
        assert lists().equals(whole), hits


def test_exact_neighbours_order_ties_by_row_whatever_the_chunks() -> None:
    frame = corpus()
    vectors = similarity.embedding_matrix(frame["embedding"])
    rows, scores = similarity.exact_neighbours(vectors[:COPIES], vectors, 8, chunk_rows=7)
    # A copy's best are the copies (itself included), equal, so the first 8 rows in order.
    assert rows[:, :8].tolist() == [list(range(8))] * COPIES
    again, again_scores = similarity.exact_neighbours(vectors[:COPIES], vectors, 8, chunk_rows=COPIES)
    assert np.array_equal(rows, again) and np.array_equal(scores, again_scores)


_IN_SUBPROCESS = """
import json, sys
from tests.test_ties import corpus, lists_of
frame = corpus(int(sys.argv[1]))
print(json.dumps(sorted(lists_of(frame, frame, list(frame.iter_slices(int(sys.argv[2])))))))
"""


@pytest.mark.parametrize("seed", [7, 8])
def test_neighbour_lists_do_not_depend_on_blas_threads(seed: int) -> None:
    """The same lists with one BLAS thread and with several, in fresh processes (the thread count
    is read when numpy loads)."""
    outputs = []
    for threads, block in (("1", 90), ("4", 13)):
        env = {**os.environ, "OPENBLAS_NUM_THREADS": threads, "OMP_NUM_THREADS": threads, "MKL_NUM_THREADS": threads}
        result = subprocess.run([sys.executable, "-c", _IN_SUBPROCESS, str(seed), str(block)], cwd=PROJECT_ROOT,
                                env=env, capture_output=True, text=True, timeout=300)
        assert result.returncode == 0, result.stderr[-2000:]
        outputs.append([tuple(row) for row in json.loads(result.stdout)])
    assert outputs[0] == outputs[1]
    assert set(outputs[0]) == reference_lists(corpus(seed))


def test_index_lists_when_the_search_asks_for_every_stored_paragraph(tmp_path: Path) -> None:
    """All tied, and the first search already asks for every key: nothing to search again, nothing lost."""
    n = TOP_K + similarity.TIE_MARGIN + 1  # what index_neighbour_lists asks for first, with longest_article=1
    frame = corpus().head(COPIES).head(n)
    index, _, _ = similarity.sync_paragraph_index(
        tmp_path / "w.hnsw", frame.select("paragraph_id", "article_id"),
        lambda ids: frame.filter(pl.col("paragraph_id").is_in(ids)), DIM)
    found = similarity.index_neighbour_lists(
        index, frame["paragraph_id"].to_list(), frame["article_id"].to_list(),
        similarity.embedding_matrix(frame["embedding"]), THRESHOLD, TOP_K, longest_article=1)
    got = {(a, b, round(float(c), similarity.RANK_DECIMALS)) for a, b, c in
           found.select("paragraph_id", "neighbour_id", "cosine").iter_rows()}
    assert got == reference_lists(frame) and len(got) == n * TOP_K
