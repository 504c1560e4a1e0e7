"""`newsdag search` as a user runs it (a real subprocess) on the samples' warehouse."""

from __future__ import annotations

import duckdb

from tests.test_cli import newsdag


def test_search_returns_nearest_paragraphs_with_outlet_and_score(seed_run) -> None:
    _, warehouse, _ = seed_run
    result = newsdag("search", "Kerry and Lavrov talks in London", "--warehouse", str(warehouse), "--limit", "3",
                     "--sql")
    assert result.returncode == 0, result.stderr
    for column in ("score", "cosine", "bm25", "outlet", "title", "paragraph_id"):
        assert column in result.stdout
    assert "match_bm25" in result.stdout and "array_cosine_similarity" in result.stdout  # --sql shows the query
    assert "Lavrov" in result.stdout
    assert "shape: (3," in result.stdout


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
