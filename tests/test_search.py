"""`newsdag search`: the single file's full-text index (storage/search_index.py) kept in line with the
stored paragraphs incrementally, searched with any text; and the command as a user runs it (a real
subprocess) on the samples' warehouse."""

from __future__ import annotations

import hashlib
import json
import re
import shutil
from collections.abc import Iterator
from pathlib import Path

import duckdb
import numpy as np
import polars as pl
import pytest

from storage import search_index
from storage.backend import backend_for
from storage.schema import create_schema
from tasks import search
from tests.conftest import PROJECT_ROOT, SEEDS_DIR
from tests.test_cli import newsdag

SQL_DIR = PROJECT_ROOT / "sql"
DIM = 8
# Words of the samples, stop words, and texts a query language would choke on: searched as plain text.
QUERIES = ["Kerry Lavrov", "Ukraine crisis sanctions", "the referendum in Crimea", "harbour", "football",
           "president", "climate change", "press conference"]
HOSTILE = ['"unbalanced quote', "title:Kerry", "text:Kerry AND OR NOT", "((( [1 TO 5] {x}", "Kerry^3 ~2 *",
           "-Kerry +Lavrov", "/regex.*/", "\\", "x'); drop table articles; --", "ü ñ 中文 😀", "AND", "?",
           "Kerry " * 2000, "a" * 300, "the of and"]


def sample_paragraphs() -> dict[str, list[str]]:
    """The samples' paragraphs by article (their bodies split on blank lines)."""
    articles = {}
    for number, path in enumerate(sorted(SEEDS_DIR.glob("*.txt"))):
        articles[f"a{number}"] = [part.strip() for part in path.read_text().split("\n\n") if part.strip()]
    return articles


def store(con: duckdb.DuckDBPyConnection, articles: dict[str, list[str]]) -> None:
    """Make the warehouse hold exactly these articles' paragraphs (ids <article>-<position>)."""
    rows = [(f"{article_id}-{position}", article_id, position, text, hashlib.sha256(text.encode()).hexdigest(),
             np.random.default_rng(int(hashlib.sha256(text.encode()).hexdigest()[:8], 16)).normal(size=DIM).tolist())
            for article_id, texts in sorted(articles.items()) for position, text in enumerate(texts)]
    paragraphs = pl.DataFrame(rows, schema={"paragraph_id": pl.String, "article_id": pl.String, "position": pl.Int32,
                                            "text": pl.String, "text_sha256": pl.String, "embedding": pl.List(pl.Float64)},
                              orient="row")
    con.execute("delete from paragraphs")
    con.execute("delete from articles")
    con.register("incoming", paragraphs)
    con.execute("insert into articles (article_id, source_path, content_sha256, title, body, n_words, n_paragraphs, "
                "ingested_at, run_id) select article_id, article_id || '.txt', 'x', 'title ' || article_id, '', 0, "
                "count(*), now(), 'r' from incoming group by article_id")
    con.execute("insert into paragraphs (paragraph_id, article_id, position, text, text_sha256, n_words, embedding, model) "
                "select paragraph_id, article_id, position, text, text_sha256, 0, embedding, 'm' from incoming")
    con.unregister("incoming")


@pytest.fixture
def warehouse(tmp_path: Path) -> Iterator[Path]:
    path = tmp_path / "w.duckdb"
    with backend_for(path).connect() as con:
        create_schema(con, SQL_DIR, DIM)
        con.execute("insert into warehouse_meta values ('embedding_dim', ?)", [str(DIM)])
    yield path


def stored_as(path: Path, articles: dict[str, list[str]]) -> search_index.SyncCounts:
    """Store these articles, then sync the index as the end of a run does."""
    with backend_for(path).connect() as con:
        store(con, articles)
        return search_index.sync(con, path)


def synced(path: Path) -> search_index.SyncCounts:
    with backend_for(path).connect() as con:
        return search_index.sync(con, path)


def hits(path: Path, text: str) -> list[str]:
    """Every paragraph the index matches for `text` (ids, sorted)."""
    return sorted(search_index.top_hits(search_index.open_for_search(path), text, 100_000)["paragraph_id"].to_list())


def fresh(tmp_path: Path, articles: dict[str, list[str]], name: str = "fresh") -> Path:
    """A new warehouse holding these articles, its index built from scratch."""
    path = tmp_path / name / "w.duckdb"
    path.parent.mkdir()
    with backend_for(path).connect() as con:
        create_schema(con, SQL_DIR, DIM)
        store(con, articles)
        assert search_index.sync(con, path).rebuilt
    return path


def assert_same_index(got: Path, expected: Path) -> None:
    for text in QUERIES + HOSTILE:
        assert hits(got, text) == hits(expected, text), text
    assert (search_index.open_for_search(got).searcher().num_docs
            == search_index.open_for_search(expected).searcher().num_docs)
    with duckdb.connect(str(got), read_only=True) as con:
        assert con.execute("select count(*) from search_index.indexed anti join paragraphs using (paragraph_id, text_sha256)"
                           ).fetchone() == (0,)
        assert con.execute("select count(*) from paragraphs anti join search_index.indexed using (paragraph_id, text_sha256)"
                           ).fetchone() == (0,)


def folder_state(path: Path) -> dict[str, tuple[int, int]]:
    folder = search_index.search_index_path(path)
    return {p.name: (p.stat().st_size, p.stat().st_mtime_ns) for p in folder.iterdir()}


def test_adds_edits_deletes_and_a_crash_leave_the_index_a_fresh_build_would_have(
    warehouse: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    samples = sample_paragraphs()
    articles = {key: samples[key] for key in ("a0", "a1", "a2")}
    first = stored_as(warehouse, articles)
    assert first.rebuilt and first.added == sum(map(len, articles.values())) and first.deleted == 0

    articles["a3"] = samples["a3"]  # a new article: only its paragraphs are written
    assert stored_as(warehouse, articles) == search_index.SyncCounts(len(samples["a3"]), 0, False)

    # An edited article keeps its paragraph ids with new text: the old words no longer find it.
    old_words = {word for text in articles["a1"] for word in re.findall(r"\w+", text)}
    articles["a1"] = [text.replace("Kerry", "Zanzibarian") for text in articles["a1"]][:-1]  # and one fewer
    changed = sum("Kerry" in text for text in samples["a1"][:-1])
    assert changed and stored_as(warehouse, articles) == search_index.SyncCounts(changed, 1, False)
    assert {h.split("-")[0] for h in hits(warehouse, "Zanzibarian")} == {"a1"}
    assert not any(h.startswith("a1-") for h in hits(warehouse, "Kerry"))
    terms = {term for texts in articles.values() for text in texts for word in re.findall(r"\w+", text)
             for term in search_index.query_terms(word)}  # (word by word: stop words too)
    gone = {word for word in old_words if len(word) > 4 and not set(search_index.query_terms(word)) & terms}
    assert gone and all(hits(warehouse, word) == [] for word in gone)

    del articles["a2"]  # a pruned article: its paragraphs are deleted
    assert stored_as(warehouse, articles) == search_index.SyncCounts(0, len(samples["a2"]), False)
    assert not any(h.startswith("a2-") for texts in QUERIES for h in hits(warehouse, texts))

    # Killed between the index's commit and the warehouse's: the next sync applies the changes again.
    articles["a4"] = samples["a4"]
    del articles["a0"]
    with monkeypatch.context() as patch:
        def killed(*args: object) -> None:
            raise KeyboardInterrupt("killed between the two commits")
        patch.setattr(search_index, "_record", killed)
        with pytest.raises(KeyboardInterrupt):
            stored_as(warehouse, articles)
    assert synced(warehouse) == search_index.SyncCounts(len(samples["a4"]), len(samples["a0"]), False)

    assert_same_index(warehouse, fresh(tmp_path, articles))

    # Nothing changed: nothing written (no document, no file touched).
    before = folder_state(warehouse)
    assert synced(warehouse) == search_index.SyncCounts(0, 0, False)
    assert folder_state(warehouse) == before


def test_a_missing_unreadable_or_out_of_date_index_is_rebuilt_and_a_foreign_folder_refused(
    warehouse: Path, tmp_path: Path,
) -> None:
    samples = sample_paragraphs()
    folder = search_index.search_index_path(warehouse)
    stored_as(warehouse, {"a0": samples["a0"], "a1": samples["a1"]})
    older = tmp_path / "older"
    shutil.copytree(folder, older)
    final = {"a0": samples["a0"], "a2": samples["a2"]}
    stored_as(warehouse, final)
    expected = fresh(tmp_path, final)
    everything = sum(map(len, final.values()))

    shutil.rmtree(folder)  # missing (a warehouse from before the index, or the folder not copied with it)
    assert not search_index.index_present(warehouse)
    with pytest.raises(search_index.SearchIndexMissing, match="newsdag run"):
        search_index.open_for_search(warehouse)
    assert synced(warehouse) == search_index.SyncCounts(everything, 0, True)
    assert_same_index(warehouse, expected)

    (folder / "meta.json").write_text("not json")  # unreadable
    assert synced(warehouse) == search_index.SyncCounts(everything, 0, True)
    assert_same_index(warehouse, expected)

    (folder / search_index.MARK).write_text(json.dumps({"format": search_index.FORMAT, "version": 0}))  # another format
    assert synced(warehouse).rebuilt
    assert_same_index(warehouse, expected)

    shutil.rmtree(folder)  # put back from another time: it holds what the warehouse no longer records
    shutil.copytree(older, folder)
    assert synced(warehouse).rebuilt
    assert_same_index(warehouse, expected)

    shutil.rmtree(folder)  # someone else's folder: refused, untouched
    folder.mkdir()
    (folder / "notes.txt").write_text("mine")
    with pytest.raises(search_index.ForeignSearchIndex, match="move it away"):
        synced(warehouse)
    assert sorted(p.name for p in folder.iterdir()) == ["notes.txt"]


def test_search_takes_any_text_reads_only_and_is_deterministic(warehouse: Path) -> None:
    samples = sample_paragraphs()
    wire = "Quixotic zebras crossed the Limpopo on Tuesday."  # one wire paragraph in many outlets
    articles = {**samples, **{f"w{n:02d}": [wire, f"Local colour number {n}."] for n in range(12)}}
    stored_as(warehouse, articles)
    before_file, before_folder = warehouse.read_bytes(), folder_state(warehouse)
    backend = backend_for(warehouse)
    query = search.search_sql(SQL_DIR, DIM, backend.fulltext_source)
    assert "search_index_hits" in query and "match_bm25" not in query
    vector = np.ones(DIM, dtype=np.float32)
    with backend.connect_read_only() as con:
        for text in QUERIES + HOSTILE:
            found = backend.search_paragraphs(con, query, search.search_params(text, vector, 5))
            assert found.height == 5, text  # (the semantic candidates alone fill it)
            assert found.equals(backend.search_paragraphs(con, query, search.search_params(text, vector, 5))), text
        # The tied wire copies: all found, the cut made by paragraph id.
        tied = search_index.top_hits(search_index.open_for_search(warehouse), "quixotic zebras", 3)
        assert tied["paragraph_id"].to_list() == [f"w{n:02d}-0" for n in range(12)] and tied["bm25"].n_unique() == 1
        params = {**search.search_params("quixotic zebras", vector, 50), "candidates": 3}
        found = backend.search_paragraphs(con, query, params)
        assert found.filter(found["bm25"].is_not_null())["paragraph_id"].to_list() == ["w00-0", "w01-0", "w02-0"]
    assert warehouse.read_bytes() == before_file and folder_state(warehouse) == before_folder  # read only


def test_query_terms_are_words_never_query_syntax() -> None:
    assert search_index.query_terms('title:"Kerry" AND (Lavrov OR talks)^2 -running') == [
        "2", "kerri", "lavrov", "run", "talk", "titl"]  # (the boost is a number like any other)
    assert search_index.query_terms("the of and") == ["and", "of", "the"]  # only stop words: kept
    assert search_index.query_terms("?!*:()") == []


# --- the command, on the samples' warehouse (the real flow) ---

def test_search_returns_nearest_paragraphs_with_outlet_and_score(seed_run) -> None:
    _, warehouse, _ = seed_run
    result = newsdag("search", "Kerry and Lavrov talks in London", "--warehouse", str(warehouse), "--limit", "3",
                     "--sql")
    assert result.returncode == 0, result.stderr
    for column in ("score", "cosine", "bm25", "outlet", "title", "paragraph_id"):
        assert column in result.stdout
    # --sql shows the query: its full-text candidates are the index's, passed in as a frame
    assert "search_index_hits" in result.stdout and "array_cosine_similarity" in result.stdout
    assert "match_bm25" not in result.stdout
    assert "Lavrov" in result.stdout
    assert "3 rows" in result.stdout and "shape:" not in result.stdout


def test_search_text_is_a_parameter(seed_run) -> None:
    _, warehouse, _ = seed_run
    result = newsdag("search", "x'); drop table articles; --", "--warehouse", str(warehouse), "--limit", "2")
    assert result.returncode == 0, result.stderr
    with duckdb.connect(str(warehouse), read_only=True) as con:
        assert con.execute("select count(*) from articles").fetchone()[0] == 5


def test_search_without_warehouse_is_a_one_line_error(tmp_path) -> None:
    result = newsdag("search", "Kerry", "--warehouse", str(tmp_path / "none.duckdb"))
    assert result.returncode == 1 and "warehouse not found" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_search_without_its_index_says_how_to_build_it_and_a_run_that_changes_nothing_builds_it(
    run_flow, seed_run, tmp_path: Path,
) -> None:
    raw, seeded, _ = seed_run
    path = tmp_path / "w.duckdb"
    shutil.copy(seeded, path)  # the warehouse file alone, as from before the index (or copied without it)
    result = newsdag("search", "Kerry", "--warehouse", str(path))
    assert result.returncode == 1 and len(result.stderr.strip().splitlines()) == 1, result.stderr
    assert "full-text index" in result.stderr and "newsdag run" in result.stderr
    summary = run_flow(raw, path)
    assert summary["derived"] == "current" and search_index.index_present(path)
    assert hits(path, "Kerry Lavrov") and newsdag("search", "Kerry", "--warehouse", str(path)).returncode == 0
