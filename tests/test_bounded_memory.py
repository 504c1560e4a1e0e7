"""Bounded working sets (issue 31): the relink's links under a small DuckDB memory cap whatever the
syndication, and discovery that does not read files unchanged since the last run."""

from __future__ import annotations

import hashlib
from pathlib import Path

import duckdb
import numpy as np
import polars as pl

from flows.relink import relink
from storage.backend import backend_for, backend_of
from storage.frames import insert
from tasks import similarity

PROJECT_ROOT = Path(__file__).resolve().parent.parent
DIMENSION = 8
# ~2 KB of wire copy, carried by every outlet (each copy marked, as bench/scale.py marks its copies).
WIRE = "Wire copy about the harbour dredging vote and what the council said about it on Friday. " * 23


def _syndicated_paragraphs(outlets: int, per_article: int) -> pl.DataFrame:
    """`outlets` articles of `per_article` ~2 KB paragraphs; paragraph i of every outlet has nearly the
    same vector and text as paragraph i of the others (one paragraph in `outlets` outlets)."""
    rng = np.random.default_rng(0)
    ids = [f"outlet{a:03d}-{i:04d}" for a in range(outlets) for i in range(per_article)]
    texts = [f"{WIRE} paragraph {i} (copy {a % 3})" for a in range(outlets) for i in range(per_article)]
    vectors = np.zeros((len(ids), DIMENSION))
    vectors[np.arange(len(ids)), np.arange(len(ids)) % per_article % DIMENSION] = 1.0
    vectors += 0.01 * rng.standard_normal(vectors.shape)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    return pl.DataFrame({
        "paragraph_id": ids, "article_id": [i.split("-")[0] for i in ids],
        "position": [int(i.split("-")[1]) for i in ids], "text": texts,
        "text_sha256": [hashlib.sha256(t.encode()).hexdigest() for t in texts], "n_words": [300] * len(ids),
        "embedding": vectors.astype(np.float32), "model": ["test"] * len(ids),
    }).with_columns(pl.col("position", "n_words").cast(pl.Int32), pl.col("embedding").cast(pl.Array(pl.Float32, DIMENSION)))


def _links_after_relink(path: Path, paragraphs: pl.DataFrame, memory_limit: str) -> pl.DataFrame:
    with backend_for(path).connect() as con:
        backend_of(con).apply_schema(con, PROJECT_ROOT / "sql", DIMENSION, "test")
        insert(con, "paragraphs", paragraphs)
        con.execute("insert into relink_queue select paragraph_id, true from paragraphs")
        con.execute(f"set memory_limit = '{memory_limit}'")
        con.execute("begin transaction")
        relink(con, 0.5, 5, 10**9, path.with_name(path.name + ".hnsw"), DIMENSION)
        con.execute("commit")
        return con.execute("select * from paragraph_similarity order by all").pl()


def test_links_of_widely_syndicated_copy_fit_a_small_memory_cap(tmp_path: Path) -> None:
    """60 outlets carry the same ten ~2 KB paragraphs. Joined into the pairs' aggregate, their texts
    outgrew a 32 MB cap (as 128 MB did on BBC x4 at 4,500 articles); read a block of paragraphs at a
    time after an aggregate of ids, the links are made, and are those of an uncapped run."""
    paragraphs = _syndicated_paragraphs(60, 10)
    capped = _links_after_relink(tmp_path / "capped.duckdb", paragraphs, "32MB")
    assert capped.height > 2_000 and (capped["kind"] == "copy").all()
    # The reference: every pair's texts joined in SQL, uncapped, the overlap computed pair by pair.
    with duckdb.connect(str(tmp_path / "capped.duckdb")) as con:
        pairs = con.execute(
            "select s.paragraph_id_a, s.paragraph_id_b, a.text as text_a, b.text as text_b from paragraph_similarity s "
            "join paragraphs a on a.paragraph_id = s.paragraph_id_a join paragraphs b on b.paragraph_id = s.paragraph_id_b "
            "order by all").pl()
    overlaps = [similarity.lexical_overlap(a, b) for a, b in pairs.select("text_a", "text_b").iter_rows()]
    assert np.allclose(capped["lexical_overlap"].to_numpy(), np.array(overlaps, dtype=np.float32))
    uncapped = _links_after_relink(tmp_path / "uncapped.duckdb", paragraphs, "4GB")
    assert capped.equals(uncapped)


def test_links_are_the_same_whatever_the_block_of_texts() -> None:
    """Texts asked a few paragraphs at a time give the links of one block, and no block asks for more."""
    rows = [(f"p{i:03d}", f"p{j:03d}") for i in range(30) for j in range(i + 1, min(i + 4, 30))]
    pairs = pl.DataFrame({"paragraph_id_a": [a for a, _ in rows], "paragraph_id_b": [b for _, b in rows],
                          "article_id_a": [a[:3] for a, _ in rows], "article_id_b": [b[:3] for _, b in rows],
                          "cosine": [0.9] * len(rows)})
    texts = {f"p{i:03d}": " ".join(f"word{(i // 3) * 7 + k}" for k in range(12)) for i in range(30)}
    asked: list[int] = []

    def texts_of(ids: list[str]) -> dict[str, str]:
        asked.append(len(ids))
        return {i: texts[i] for i in ids}

    whole = similarity.links_from_pairs(pairs, texts_of, max_paragraphs=1_000)
    assert asked == [30]
    asked.clear()
    blocked = similarity.links_from_pairs(pairs, texts_of, max_paragraphs=5)
    assert len(asked) > 5 and max(asked) <= 5
    assert blocked.equals(whole) and whole["kind"].to_list().count("copy") > 0
