"""The relink through the paragraph index reads the neighbour-list floors of the paragraphs a batch's new
ones reach, not of every list (issue 31), and makes the links it made reading them all."""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import polars as pl
import pytest

import flows.relink
from flows.relink import relink
from storage.backend import backend_for, backend_of
from storage.frames import insert
from storage.links import neighbour_floors
from storage.paragraph_index import journal_added, keyed_paragraphs

PROJECT_ROOT = Path(__file__).resolve().parent.parent
DIMENSION = 8


def _paragraphs(articles: int, per_article: int) -> pl.DataFrame:
    """Paragraphs in a few tight clusters, so that each new batch enters some stored lists."""
    rng = np.random.default_rng(7)
    ids = [f"a{a:04d}-{i:04d}" for a in range(articles) for i in range(per_article)]
    centres = rng.standard_normal((6, DIMENSION))
    vectors = centres[rng.integers(0, 6, len(ids))] + 0.3 * rng.standard_normal((len(ids), DIMENSION))
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    texts = [f"paragraph {i} of the council vote, copy {n % 5}" for n, i in enumerate(ids)]
    return pl.DataFrame({
        "paragraph_id": ids, "article_id": [i.split("-")[0] for i in ids],
        "position": [int(i.split("-")[1]) for i in ids], "text": texts,
        "text_sha256": [hashlib.sha256(t.encode()).hexdigest() for t in texts], "n_words": [8] * len(ids),
        "embedding": vectors.astype(np.float32), "model": ["test"] * len(ids),
    }).with_columns(pl.col("position", "n_words").cast(pl.Int32), pl.col("embedding").cast(pl.Array(pl.Float32, DIMENSION)))


def _relinked_in_batches(path: Path, paragraphs: pl.DataFrame, batches: int) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Load the paragraphs a batch of articles at a time, relinking each through the index (exact_max 40)."""
    articles = paragraphs["article_id"].unique().sort().to_list()
    with backend_for(path).connect() as con:
        backend_of(con).apply_schema(con, PROJECT_ROOT / "sql", DIMENSION, "test")
        for batch in np.array_split(np.array(articles), batches):
            frame = paragraphs.filter(pl.col("article_id").is_in(batch.tolist()))
            con.execute("begin transaction")
            # stored, journalled and queued as a load does (storage/loads.py: load_batch)
            insert(con, "paragraphs", keyed_paragraphs(frame))
            journal_added(con, frame)
            con.execute("insert into relink_queue select paragraph_id, true from paragraphs where article_id in "
                        f"({', '.join('?' * len(batch))})", batch.tolist())
            relink(con, 0.5, 5, 40, path.with_name(path.name + ".hnsw"), DIMENSION)
            con.execute("commit")
        return (con.execute("select * from paragraph_neighbours order by all").pl(),
                con.execute("select * from paragraph_similarity order by all").pl())


def test_links_through_the_index_read_only_the_floors_the_new_paragraphs_reach(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    paragraphs = _paragraphs(60, 4)
    asked: list[int] = []

    def counted(con, paragraph_ids=None):  # noqa: ANN001, ANN202 - the function it wraps
        asked.append(-1 if paragraph_ids is None else len(paragraph_ids))
        return neighbour_floors(con, paragraph_ids)

    monkeypatch.setattr(flows.relink, "neighbour_floors", counted)
    bounded = _relinked_in_batches(tmp_path / "bounded.duckdb", paragraphs, 6)
    # Past the first batches (exact search under 40 paragraphs), floors asked for some paragraphs, not all.
    assert asked and all(0 < n < paragraphs.height for n in asked[-3:])

    # The reference: every list's floor read, as before.
    monkeypatch.setattr(flows.relink, "neighbour_floors", lambda con, paragraph_ids=None: neighbour_floors(con))
    reference = _relinked_in_batches(tmp_path / "reference.duckdb", paragraphs, 6)
    assert bounded[1].height > 100
    assert bounded[0].equals(reference[0]) and bounded[1].equals(reference[1])
