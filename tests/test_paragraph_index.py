"""The HNSW index file follows the stored paragraphs by the journalled changes (storage/paragraph_index.py):
after adds, edits and deletes it holds exactly the stored paragraphs with their current vectors, a relink
with changes never reads every stored paragraph, and a file out of step (a crash between its save and the
commit, a deleted file) is built again."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import duckdb
import numpy as np
import polars as pl
import pytest

import storage.paragraph_index as paragraph_index
from flows.relink import relink
from storage.backend import backend_for, backend_of
from storage.frames import insert
from storage.loads import delete_articles
from storage.paragraph_index import DIGEST_KEY, journal_added, keyed_paragraphs, sidecar_path, stored_digest
from storage.state import stored_meta
from tasks.similarity import paragraph_key

PROJECT_ROOT = Path(__file__).resolve().parent.parent
DIMENSION = 8
EXACT_MAX = 20  # the index past 20 stored paragraphs


def _paragraphs(article: str, per_article: int, seed: int) -> pl.DataFrame:
    rng = np.random.default_rng(seed)
    vectors = rng.standard_normal((per_article, DIMENSION))
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    texts = [f"{article} paragraph {i}, version {seed}" for i in range(per_article)]
    return pl.DataFrame({
        "paragraph_id": [f"{article}-{i}" for i in range(per_article)], "article_id": [article] * per_article,
        "position": list(range(per_article)), "text": texts,
        "text_sha256": [hashlib.sha256(t.encode()).hexdigest() for t in texts], "n_words": [5] * per_article,
        "embedding": vectors.astype(np.float32), "model": ["test"] * per_article,
    }).with_columns(pl.col("position", "n_words").cast(pl.Int32), pl.col("embedding").cast(pl.Array(pl.Float32, DIMENSION)))


def _article_row(article: str, n_paragraphs: int) -> pl.DataFrame:
    return pl.DataFrame({"article_id": [article], "source_path": [f"{article}.txt"], "content_sha256": ["x"],
                         "body": ["b"], "n_words": [1], "n_paragraphs": [n_paragraphs], "run_id": ["r"]}).with_columns(
        pl.col("n_words", "n_paragraphs").cast(pl.Int32), ingested_at=pl.lit("2026-01-01").str.to_datetime())


def _load(con: duckdb.DuckDBPyConnection, path: Path, frames: list[pl.DataFrame], rollback: bool = False) -> None:
    """Replace these articles whole and relink, in one transaction, as storage/loads.load_batch does."""
    con.execute("begin transaction")
    delete_articles(con, [frame["article_id"][0] for frame in frames])
    for frame in frames:
        insert(con, "articles", _article_row(frame["article_id"][0], frame.height))
        insert(con, "paragraphs", keyed_paragraphs(frame))
        journal_added(con, frame)
        con.execute("insert into relink_queue select paragraph_id, true from paragraphs where article_id = ?",
                    [frame["article_id"][0]])
    relink(con, 0.0, 3, EXACT_MAX, path, DIMENSION)
    con.execute("rollback" if rollback else "commit")


def _delete(con: duckdb.DuckDBPyConnection, path: Path, article: str) -> None:
    con.execute("begin transaction")
    delete_articles(con, [article])
    relink(con, 0.0, 3, EXACT_MAX, path, DIMENSION)
    con.execute("commit")


def _index_content(path: Path) -> dict[int, np.ndarray]:
    from usearch.index import Index

    index = Index.restore(str(path))
    keys = np.asarray(index.keys)
    return {int(key): np.asarray(index.get(key), dtype=np.float32) for key in keys}


def _assert_in_step(con: duckdb.DuckDBPyConnection, path: Path) -> None:
    stored = con.execute("select index_key, embedding from paragraphs").pl()
    held = _index_content(path)
    assert set(held) == set(stored["index_key"].to_list())
    for key, vector in zip(stored["index_key"].to_list(), stored["embedding"].to_list()):
        assert np.allclose(held[key], np.asarray(vector, dtype=np.float32), atol=1e-6)  # the current vector
    digest = stored_digest(con)
    assert int(stored_meta(con, DIGEST_KEY) or -1) == digest
    assert int(json.loads(sidecar_path(path).read_text())["digest"]) == digest
    assert con.execute("select count(*) from paragraph_index_journal").fetchone() == (0,)


@pytest.fixture()
def warehouse(tmp_path: Path):  # noqa: ANN201
    with backend_for(tmp_path / "w.duckdb").connect() as con:
        backend_of(con).apply_schema(con, PROJECT_ROOT / "sql", DIMENSION, "test")
        yield con, tmp_path / "w.duckdb.hnsw"


def test_the_python_key_is_duckdbs_md5_number(tmp_path: Path) -> None:
    ids = ["a-0", "b4f1c2-17", "été-3", ""]
    sql = duckdb.sql("select md5_number_upper(i) >> 1 from unnest(?) t(i)", params=[ids]).fetchall()
    assert paragraph_key(ids).tolist() == [row[0] for row in sql]


def test_the_index_follows_adds_edits_and_deletes_without_reading_every_paragraph(
        warehouse, monkeypatch: pytest.MonkeyPatch) -> None:
    con, path = warehouse
    builds: list[int] = []
    built = paragraph_index._built_index
    monkeypatch.setattr(paragraph_index, "_built_index", lambda con, dim: builds.append(1) or built(con, dim))
    _load(con, path, [_paragraphs(f"a{n}", 6, n) for n in range(3)])  # 18: exact search, no file
    assert not path.exists() and builds == []
    _load(con, path, [_paragraphs("a3", 6, 3)])  # 24: past EXACT_MAX, the file is built once
    assert builds == [1]
    _assert_in_step(con, path)

    # From here, nothing reads every stored paragraph: no build, no digest over the whole table.
    monkeypatch.setattr(paragraph_index, "stored_digest", lambda con: pytest.fail("read every paragraph"))
    _load(con, path, [_paragraphs("a4", 5, 4)])  # added
    _load(con, path, [_paragraphs("a1", 4, 99)])  # edited: new vectors under the same keys, two paragraphs fewer
    _delete(con, path, "a2")  # deleted
    assert builds == [1]
    monkeypatch.undo()
    _assert_in_step(con, path)
    assert con.execute("select count(*) from paragraphs where article_id = 'a2'").fetchone() == (0,)


def test_a_file_out_of_step_is_built_again(warehouse, monkeypatch: pytest.MonkeyPatch) -> None:
    con, path = warehouse
    _load(con, path, [_paragraphs(f"a{n}", 8, n) for n in range(4)])
    _assert_in_step(con, path)
    # A crash between the file's save and the commit: the file holds a5, the warehouse does not.
    _load(con, path, [_paragraphs("a5", 8, 5)], rollback=True)
    assert len(_index_content(path)) == 40
    builds: list[int] = []
    built = paragraph_index._built_index
    monkeypatch.setattr(paragraph_index, "_built_index", lambda con, dim: builds.append(1) or built(con, dim))
    _load(con, path, [_paragraphs("a6", 8, 6)])
    assert builds == [1]
    _assert_in_step(con, path)
    # The file deleted: built again at the next relink.
    path.unlink()
    _load(con, path, [_paragraphs("a7", 8, 7)])
    assert builds == [1, 1]
    _assert_in_step(con, path)
    # A file usearch cannot read (truncated): built again, not a failed run.
    path.write_bytes(path.read_bytes()[:100])
    _load(con, path, [_paragraphs("a8", 8, 8)])
    assert builds == [1, 1, 1]
    _assert_in_step(con, path)
    # In step again: the next change is applied, not rebuilt.
    _delete(con, path, "a6")
    assert builds == [1, 1, 1]
    _assert_in_step(con, path)


def test_a_warehouse_from_before_the_journal_gets_keys_and_a_digest(warehouse) -> None:
    con, path = warehouse
    for n in range(4):  # stored by an older newsdag: no index_key, nothing journalled, no digest
        frame = _paragraphs(f"a{n}", 8, n)
        insert(con, "articles", _article_row(f"a{n}", frame.height))
        insert(con, "paragraphs", frame)
    assert con.execute("select count(*) from paragraphs where index_key is null").fetchone() == (32,)
    _load(con, path, [_paragraphs("a4", 8, 4)])
    assert con.execute("select count(*) from paragraphs where index_key is null").fetchone() == (0,)
    _assert_in_step(con, path)
    assert con.execute("select count(*) from paragraph_neighbours where paragraph_id like 'a4-%'").fetchone()[0] > 0


def test_the_digest_file_is_one_of_the_warehouses_files(tmp_path: Path) -> None:
    """So that `make clean-warehouse`, a discarded first run and the --output guard take it with the index."""
    from flows.lifecycle import warehouse_files
    from tasks.similarity import paragraph_index_path

    warehouse = tmp_path / "w.duckdb"
    index = paragraph_index_path(warehouse)
    assert {index, sidecar_path(index)} <= set(warehouse_files(warehouse, data_only=True))


def test_a_relink_with_nothing_queued_or_journalled_does_not_open_the_file(warehouse, monkeypatch: pytest.MonkeyPatch) -> None:
    """Every run ends with a relink; a run that changed no paragraph must not read the index file."""
    con, path = warehouse
    _load(con, path, [_paragraphs(f"a{n}", 8, n) for n in range(4)])
    monkeypatch.setattr(paragraph_index, "_restored", lambda path, dim: pytest.fail("read the index file"))
    con.execute("begin transaction")
    assert relink(con, 0.0, 3, EXACT_MAX, path, DIMENSION) == 0
    con.execute("commit")
