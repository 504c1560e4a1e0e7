"""The HNSW index follows the stored paragraphs by the journalled changes (storage/paragraph_index.py):
after adds, edits and deletes its segments hold exactly the stored paragraphs with their current vectors,
a relink with changes never reads every stored paragraph nor rewrites a full segment, and an index out of
step (a crash between its save and the commit, a deleted folder, a file cut short) is built again."""

from __future__ import annotations

import hashlib
import json
import shutil
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
from storage.paragraph_index import DIGEST_KEY, MANIFEST, journal_added, keyed_paragraphs, stored_digest
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


def _manifest(path: Path) -> dict:
    return json.loads((path / MANIFEST).read_text())


def _index_content(path: Path) -> dict[int, np.ndarray]:
    """What the segments hold and count: every key not listed as removed from its segment, with its vector
    (a key counted twice fails)."""
    from usearch.index import Index

    content: dict[int, np.ndarray] = {}
    for entry in _manifest(path)["segments"]:
        index = Index.restore(str(path / entry["file"]))
        removed = set(np.load(path / entry["removed_file"]).tolist()) if entry["removed_file"] else set()
        for key in np.asarray(index.keys).tolist():
            if key not in removed:
                assert key not in content, "a paragraph counted in two segments"
                content[int(key)] = np.asarray(index.get(key), dtype=np.float32)
    return content


def _assert_in_step(con: duckdb.DuckDBPyConnection, path: Path) -> None:
    stored = con.execute("select index_key, embedding from paragraphs").pl()
    held = _index_content(path)
    assert set(held) == set(stored["index_key"].to_list())
    for key, vector in zip(stored["index_key"].to_list(), stored["embedding"].to_list()):
        assert np.allclose(held[key], np.asarray(vector, dtype=np.float32), atol=1e-6)  # the current vector
    digest = stored_digest(con)
    assert int(stored_meta(con, DIGEST_KEY) or -1) == digest
    assert int(_manifest(path)["digest"]) == digest
    named = {MANIFEST} | {e["file"] for e in _manifest(path)["segments"]} | {
        e["removed_file"] for e in _manifest(path)["segments"] if e["removed_file"]}
    assert {p.name for p in path.iterdir()} == named  # nothing left of earlier generations
    assert con.execute("select count(*) from paragraph_index_journal").fetchone() == (0,)


@pytest.fixture()
def warehouse(tmp_path: Path):  # noqa: ANN201
    with backend_for(tmp_path / "w.duckdb").connect() as con:
        backend_of(con).apply_schema(con, PROJECT_ROOT / "sql", DIMENSION, "test")
        yield con, tmp_path / "w.duckdb.paragraph-index"


def test_the_python_key_is_duckdbs_md5_number(tmp_path: Path) -> None:
    ids = ["a-0", "b4f1c2-17", "été-3", ""]
    sql = duckdb.sql("select md5_number_upper(i) >> 1 from unnest(?) t(i)", params=[ids]).fetchall()
    assert paragraph_key(ids).tolist() == [row[0] for row in sql]


def test_the_index_follows_adds_edits_and_deletes_without_reading_every_paragraph(
        warehouse, monkeypatch: pytest.MonkeyPatch) -> None:
    con, path = warehouse
    builds: list[int] = []
    built = paragraph_index._built_index
    monkeypatch.setattr(paragraph_index, "_built_index", lambda *args: builds.append(1) or built(*args))
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
    monkeypatch.setattr(paragraph_index, "_built_index", lambda *args: builds.append(1) or built(*args))
    _load(con, path, [_paragraphs("a6", 8, 6)])
    assert builds == [1]
    _assert_in_step(con, path)
    # The folder deleted: built again at the next relink.
    shutil.rmtree(path)
    _load(con, path, [_paragraphs("a7", 8, 7)])
    assert builds == [1, 1]
    _assert_in_step(con, path)
    # A segment cut short (a view of it would fault when searched past its end): built again, not a failed run.
    segment = path / _manifest(path)["segments"][0]["file"]
    segment.write_bytes(segment.read_bytes()[:-100])
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


def test_the_index_folder_is_one_of_the_warehouses_files(tmp_path: Path) -> None:
    """So that `make clean-warehouse`, a discarded first run and the --output guard take it (and the single
    file of earlier versions) with the warehouse."""
    from flows.lifecycle import remove_file, warehouse_files
    from storage.paragraph_index import legacy_index_files
    from tasks.similarity import paragraph_index_path

    warehouse = tmp_path / "w.duckdb"
    index = paragraph_index_path(warehouse)
    assert {index, *legacy_index_files(index)} <= set(warehouse_files(warehouse, data_only=True))
    assert legacy_index_files(index)[0].name == "w.duckdb.hnsw"
    # removed when it is ours (a manifest of ours, or empty), kept otherwise
    index.mkdir()
    (index / MANIFEST).write_text(json.dumps({"format": "newsdag-paragraph-index"}))
    remove_file(index)
    assert not index.exists()
    index.mkdir()
    (index / "notes.txt").write_text("the user's")
    remove_file(index)
    assert (index / "notes.txt").exists()


def test_a_relink_with_nothing_queued_or_journalled_does_not_open_the_file(warehouse, monkeypatch: pytest.MonkeyPatch) -> None:
    """Every run ends with a relink; a run that changed no paragraph must not read the index file."""
    con, path = warehouse
    _load(con, path, [_paragraphs(f"a{n}", 8, n) for n in range(4)])
    monkeypatch.setattr(paragraph_index, "_restored", lambda path, dim: pytest.fail("read the index file"))
    monkeypatch.setattr(paragraph_index, "_opened", lambda folder, manifest: pytest.fail("opened the index"))
    con.execute("begin transaction")
    assert relink(con, 0.0, 3, EXACT_MAX, path, DIMENSION) == 0
    con.execute("commit")


def _segment_files(path: Path) -> list[str]:
    return [entry["file"] for entry in _manifest(path)["segments"]]


def test_full_segments_are_never_rewritten_and_removals_are_listed_beside_them(
        warehouse, monkeypatch: pytest.MonkeyPatch) -> None:
    """Past SEGMENT_VECTORS new vectors go into a new segment; a relink writes the last segment alone, and
    a deleted paragraph is listed as removed beside its segment, whose file stays as it is."""
    con, path = warehouse
    monkeypatch.setattr(paragraph_index, "SEGMENT_VECTORS", 20)
    _load(con, path, [_paragraphs(f"a{n}", 8, n) for n in range(3)])  # 24: built, two segments (20, 4)
    first = _segment_files(path)
    assert len(first) == 2
    _assert_in_step(con, path)
    _load(con, path, [_paragraphs("a3", 8, 3)])  # 32: the last segment takes them (12)
    second = _segment_files(path)
    assert second[0] == first[0] and second[1] != first[1] and len(second) == 2
    _assert_in_step(con, path)
    _delete(con, path, "a0")  # listed as removed, no file rewritten
    third = _manifest(path)["segments"]
    assert [entry["file"] for entry in third] == second
    assert any(entry["removed_file"] for entry in third)
    _assert_in_step(con, path)
    _load(con, path, [_paragraphs("a4", 8, 4), _paragraphs("a5", 8, 5)])  # the last one filled, then a third
    fourth = _segment_files(path)
    assert fourth[0] == first[0] and len(fourth) == 3
    _assert_in_step(con, path)
    _load(con, path, [_paragraphs("a1", 8, 77)])  # edited: the old vectors removed, the new ones added
    _assert_in_step(con, path)


def test_a_segment_mostly_removed_is_rebuilt_from_what_is_left(warehouse, monkeypatch: pytest.MonkeyPatch) -> None:
    from usearch.index import Index

    con, path = warehouse
    monkeypatch.setattr(paragraph_index, "SEGMENT_VECTORS", 16)
    _load(con, path, [_paragraphs(f"a{n}", 8, n) for n in range(8)])  # 64: four full segments
    before = _segment_files(path)
    for n in range(5):  # 40 of 64 removed (24 left, past EXACT_MAX): some segment more than half
        _delete(con, path, f"a{n}")
    after = _manifest(path)["segments"]
    assert not set(before) <= {entry["file"] for entry in after}
    for entry in after:  # none is left more than half removed
        removed = np.load(path / entry["removed_file"]).size if entry["removed_file"] else 0
        assert removed * 2 <= len(Index.restore(str(path / entry["file"]), view=True))
    _assert_in_step(con, path)


def test_links_through_segments_equal_those_through_one(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The same changes through an index of segments of 7 vectors and through one segment give the same
    neighbour lists (on a warehouse this small the graphs find every neighbour)."""
    lists = []
    for name, segment_vectors in (("segmented", 7), ("one", 10**6)):
        monkeypatch.setattr(paragraph_index, "SEGMENT_VECTORS", segment_vectors)
        with backend_for(tmp_path / f"{name}.duckdb").connect() as con:
            backend_of(con).apply_schema(con, PROJECT_ROOT / "sql", DIMENSION, "test")
            folder = tmp_path / f"{name}.duckdb.paragraph-index"
            _load(con, folder, [_paragraphs(f"a{n}", 6, n) for n in range(4)])
            _load(con, folder, [_paragraphs("a4", 6, 4), _paragraphs("a1", 5, 41)])
            _delete(con, folder, "a2")
            _load(con, folder, [_paragraphs("a5", 6, 5)])
            lists.append(con.execute("select paragraph_id, neighbour_id, cosine from paragraph_neighbours "
                                     "order by all").fetchall())
    assert len(_manifest(tmp_path / "segmented.duckdb.paragraph-index")["segments"]) >= 3
    assert len(_manifest(tmp_path / "one.duckdb.paragraph-index")["segments"]) == 1
    assert lists[0] == lists[1] and lists[0]


def test_the_single_file_of_earlier_versions_is_replaced(warehouse) -> None:
    con, path = warehouse
    legacy = path.with_name("w.duckdb.hnsw")
    legacy.write_bytes(b"an index file of an earlier newsdag")
    legacy.with_name("w.duckdb.hnsw.json").write_text("{}")
    _load(con, path, [_paragraphs(f"a{n}", 8, n) for n in range(4)])
    _assert_in_step(con, path)
    assert not legacy.exists() and not legacy.with_name("w.duckdb.hnsw.json").exists()


def test_a_search_finds_the_same_on_any_number_of_threads() -> None:
    """Building is single-threaded (the graph depends on the threads); searching uses every core, which is
    only right if each query's answer does not depend on them."""
    from tasks.similarity import new_ann_index

    rng = np.random.default_rng(3)
    vectors = rng.standard_normal((6000, 32)).astype(np.float32)
    index = new_ann_index(32)
    index.add(np.arange(6000, dtype=np.uint64), vectors, threads=1)
    queries = vectors[:1500] + 0.3 * rng.standard_normal((1500, 32)).astype(np.float32)
    one, every, two = (index.search(queries, 40, threads=threads) for threads in (1, 0, 2))
    for other in (every, two):
        assert np.array_equal(one.keys, other.keys) and np.array_equal(one.distances, other.distances)
