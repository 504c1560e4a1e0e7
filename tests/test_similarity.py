"""Paragraph similarity: exact search, the index file, lexical overlap, article relations."""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from tasks import similarity, stories, topics


def clustered_vectors(n: int, dimension: int = 32, clusters: int = 100, noise: float = 0.35, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    centres = rng.standard_normal((clusters, dimension)).astype(np.float32)
    vectors = centres[rng.integers(0, clusters, n)] + noise * rng.standard_normal((n, dimension)).astype(np.float32)
    return vectors / np.linalg.norm(vectors, axis=1, keepdims=True)


def paragraph_frame(vectors: np.ndarray, per_article: int = 4, texts: list[str] | None = None) -> pl.DataFrame:
    ids = [f"a{i // per_article:05d}-{i % per_article:04d}" for i in range(vectors.shape[0])]
    return pl.DataFrame({
        "paragraph_id": ids,
        "article_id": [i.split("-")[0] for i in ids],
        "text": texts or [f"text {i}" for i in range(len(ids))],
        "embedding": vectors,
    }).with_columns(pl.col("embedding").cast(pl.Array(pl.Float32, vectors.shape[1])))


def test_exact_neighbours_are_the_true_top_k() -> None:
    vectors = clustered_vectors(300)
    rows, scores = similarity.exact_neighbours(vectors[:20], vectors, 5, chunk_rows=7)
    full = vectors[:20] @ vectors.T
    for q in range(20):
        assert set(rows[q]) == set(np.argsort(-full[q])[:5])
        assert np.all(np.diff(scores[q]) <= 1e-6)  # best first
    assert rows[0][0] == 0 and scores[0][0] == pytest.approx(1.0, abs=1e-5)


def test_exact_search_scores_a_bounded_block_whatever_the_corpus_size() -> None:
    for corpus_rows in (10, 3_000, 50_000, 10_000_000):
        chunk = similarity.exact_chunk_rows(corpus_rows)
        assert chunk >= 1 and (chunk == 1 or chunk * corpus_rows <= similarity.EXACT_BLOCK_CELLS)
    vectors = clustered_vectors(3000)
    one_block, _ = similarity.exact_neighbours(vectors[:500], vectors, 5, chunk_rows=500)
    default, _ = similarity.exact_neighbours(vectors[:500], vectors, 5)
    assert np.array_equal(np.sort(default, axis=1), np.sort(one_block, axis=1))


def test_index_file_follows_the_warehouse(tmp_path: Path) -> None:
    paragraphs = paragraph_frame(clustered_vectors(200))
    path = tmp_path / "w.hnsw"
    fetch = lambda ids: paragraphs.filter(pl.col("paragraph_id").is_in(ids))  # noqa: E731
    _, added, removed = similarity.sync_paragraph_index(path, paragraphs.select("paragraph_id", "article_id"), fetch, 32)
    assert (added, removed) == (200, 0) and path.exists()
    _, added, removed = similarity.sync_paragraph_index(path, paragraphs.select("paragraph_id", "article_id"), fetch, 32)
    assert (added, removed) == (0, 0)  # reopened from the file, nothing to do
    # Article a00000 replaced or pruned: its paragraphs leave the index and are never returned.
    kept = paragraphs.filter(pl.col("article_id") != "a00000")
    index, added, removed = similarity.sync_paragraph_index(path, kept.select("paragraph_id", "article_id"), fetch, 32)
    assert (added, removed) == (0, 4)
    found, _, _ = index.search(paragraph_frame(clustered_vectors(200))["embedding"].to_numpy()[:4].astype(np.float32), 10)
    assert all(article != "a00000" for hits in found for _, article in hits)


def test_lexical_overlap_tells_copy_from_paraphrase() -> None:
    wire = "Russian Foreign Minister Sergei Lavrov said on Friday that Moscow would respect the will of Crimea."
    assert similarity.lexical_overlap(wire, wire) == 1.0
    assert similarity.lexical_overlap(wire, wire.upper().replace(".", "!")) == 1.0  # case, punctuation
    assert similarity.lexical_overlap(wire, "LONDON (AP) - " + wire + " He did not elaborate.") == 1.0  # contained
    edited = wire.replace("on Friday", "on Friday in London").replace("would", "will")
    assert 0.5 <= similarity.lexical_overlap(wire, edited) < 1.0
    paraphrase = "Moscow will honour what the people of Crimea decide, Lavrov told reporters at the end of the day."
    assert similarity.lexical_overlap(wire, paraphrase) < 0.2
    assert similarity.link_kind(similarity.lexical_overlap(wire, edited)) == "copy"
    assert similarity.link_kind(similarity.lexical_overlap(wire, paraphrase)) == "paraphrase"
    assert similarity.lexical_overlap("", wire) == 0.0


def _links(pairs: list[tuple[str, str, str]]) -> pl.DataFrame:
    """Links from (paragraph_a, paragraph_b, kind); article ids are the part before '-'."""
    return pl.DataFrame(
        [{"paragraph_id_a": a, "paragraph_id_b": b, "article_id_a": a.split("-")[0], "article_id_b": b.split("-")[0],
          "cosine": 0.95 if kind == "copy" else 0.7, "kind": kind} for a, b, kind in pairs]
    )


def _articles(rows: list[tuple[str, int, date | None, datetime]]) -> pl.DataFrame:
    return pl.DataFrame(rows, schema={"article_id": pl.String, "n_paragraphs": pl.Int64, "published": pl.Date,
                                      "first_seen_at": pl.Datetime}, orient="row")


def test_article_similarity_flags_copies_and_the_original() -> None:
    day = datetime(2024, 1, 1)
    articles = _articles([
        ("a", 4, date(2024, 1, 2), day), ("b", 4, date(2024, 1, 1), day),   # b published first
        ("c", 4, None, day), ("d", 5, None, datetime(2024, 1, 3)),          # c seen first
        ("e", 10, None, day), ("f", 10, None, day),
    ])
    links = _links(
        [(f"a-{i}", f"b-{i}", "copy") for i in range(4)]                     # syndicated copy
        + [(f"c-{i}", f"d-{i}", "copy" if i < 2 else "paraphrase") for i in range(4)]  # edited copy
        + [("e-0", "f-0", "paraphrase"), ("e-1", "f-1", "paraphrase")]       # same topic
    )
    similar = stories.article_similarity(links, articles)
    by_pair = {(r["article_id_a"], r["article_id_b"]): r for r in similar.to_dicts()}
    assert by_pair[("a", "b")]["relation"] == "duplicate"
    assert by_pair[("a", "b")]["original_article_id"] == "b" and by_pair[("a", "b")]["original_basis"] == "published"
    assert by_pair[("c", "d")]["relation"] == "near_duplicate"
    assert by_pair[("c", "d")]["share_a"] == 1.0 and by_pair[("c", "d")]["share_b"] == pytest.approx(0.8)
    assert by_pair[("c", "d")]["original_article_id"] == "c" and by_pair[("c", "d")]["original_basis"] == "first_seen"
    assert by_pair[("e", "f")]["relation"] == "related" and by_pair[("e", "f")]["original_article_id"] is None


def test_stories_group_close_articles_and_name_them() -> None:
    day = datetime(2024, 1, 1)
    articles = _articles([("a", 4, date(2024, 1, 2), day), ("b", 4, date(2024, 1, 1), day),
                          ("c", 4, None, datetime(2024, 1, 5)), ("z", 3, None, day)]).with_columns(
        title=pl.Series(["Storm hits coast", "Storm hits the coast", "Coast storm", "Budget vote"]),
        lede=pl.Series(["Storm Ciara cut power along the coast.", "The storm flooded the coast road.",
                        "Coast towns count the storm damage.", "Parliament passed the budget."]),
        outlet=pl.Series(["one.com", "two.com", "two.com", "one.com"]))
    storm = np.zeros(8)
    storm[0] = 1.0
    budget = np.zeros(8)
    budget[1] = 1.0
    near = storm + 0.1 * budget
    vectors = pl.DataFrame({"article_id": ["a", "b", "c", "z"], "embedding": [storm, near, storm, budget]},
                           schema={"article_id": pl.String, "embedding": pl.List(pl.Float32)})
    entities = pl.DataFrame({"article_id": ["a", "b", "c", "a"], "canonical_name": ["Storm Ciara", "Storm Ciara",
                             "Storm Ciara", "Met Office"], "label": ["EVENT", "EVENT", "EVENT", "ORG"],
                             "mentions": [2, 1, 1, 5]})
    previous = pl.DataFrame(schema={"article_id": pl.String, "story_id": pl.String, "topic_id": pl.String})
    grouping = topics.group_articles(vectors, articles, entities, previous)
    story_frame, members = grouping.stories, grouping.story_articles
    assert story_frame.height == 2 and grouping.topics.height == 2
    storm_story = story_frame.filter(pl.col("n_articles") == 3).row(0, named=True)
    assert storm_story["story_id"] == "story-b"  # b was published first
    assert storm_story["label"].startswith("Storm Ciara") and "storm" in storm_story["terms"]
    assert storm_story["n_outlets"] == 2
    assert (storm_story["first_seen"], storm_story["last_seen"]) == (date(2024, 1, 1), date(2024, 1, 2))
    assert storm_story["representative_article_id"] in {"a", "c"}  # nearest the centre: b leans to the budget
    budget_story = story_frame.filter(pl.col("n_articles") == 1).row(0, named=True)
    assert budget_story["terms"][0] in {"budget", "parliament", "passed", "vote"}
    assert members.filter(pl.col("is_original"))["article_id"].sort().to_list() == ["b", "z"]


def test_identical_text_links_every_copy_of_a_widely_syndicated_story() -> None:
    # Seven outlets carry the same three paragraphs; top-k links alone join each copy to a few others.
    paragraphs = pl.DataFrame({
        "paragraph_id": [f"{outlet}-{i}" for outlet in "abcdefg" for i in range(3)],
        "article_id": [outlet for outlet in "abcdefg" for _ in range(3)],
        "text_sha256": [f"h{i}" for _ in "abcdefg" for i in range(3)],
    })
    articles = _articles([(outlet, 3, None, datetime(2024, 1, 1 + n)) for n, outlet in enumerate("abcdefg")])
    top_k_only = _links([(f"a-{i}", f"b-{i}", "copy") for i in range(3)])
    assert stories.article_similarity(top_k_only, articles).height == 1
    identical = stories.identical_paragraph_links(paragraphs)
    assert identical.height == 21 * 3
    similar = stories.article_similarity(top_k_only, articles, identical)
    assert similar.height == 21 and (similar["relation"] == "duplicate").all()
    assert (similar["original_article_id"] == similar["article_id_a"]).all()  # the earlier seen of each pair
    # Boilerplate carried by more articles than the cap is not a copy.
    assert stories.identical_paragraph_links(paragraphs, max_articles=5).height == 0
