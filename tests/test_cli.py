"""The `newsdag` command as a user runs it (a real subprocess)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from tests.conftest import SEEDS_DIR


def newsdag(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "flows", *args], capture_output=True, text=True, timeout=300)


def test_sql_prints_a_table(seed_run) -> None:
    _, warehouse, _ = seed_run
    result = newsdag("sql", "select count(*) as n_articles from articles", "--warehouse", str(warehouse))
    assert result.returncode == 0, result.stderr
    assert "n_articles" in result.stdout and "5" in result.stdout


def test_sql_runs_the_example_queries(seed_run) -> None:
    _, warehouse, _ = seed_run
    queries = sorted((Path(__file__).resolve().parent.parent / "sql" / "queries").glob("*.sql"))
    assert queries
    for query in queries:
        result = newsdag("sql", str(query), "--warehouse", str(warehouse))
        assert result.returncode == 0, (query.name, result.stderr)


def test_sql_error_is_one_line(seed_run) -> None:
    _, warehouse, _ = seed_run
    result = newsdag("sql", "select * from no_such_table", "--warehouse", str(warehouse))
    assert result.returncode != 0
    assert result.stderr.strip().startswith("newsdag: error:") and "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_missing_warehouse_is_a_clear_error(tmp_path: Path) -> None:
    result = newsdag("sql", "select 1", "--warehouse", str(tmp_path / "none.duckdb"))
    assert result.returncode == 1 and "warehouse not found" in result.stderr


def test_clean_shows_removed_spans_with_reasons() -> None:
    seed = sorted(SEEDS_DIR.glob("*.txt"))[4]
    result = newsdag("clean", str(seed))
    assert result.returncode == 0, result.stderr
    assert "[social_prompt]" in result.stdout and "[credit]" in result.stdout
    data = json.loads(newsdag("clean", "--json", str(seed)).stdout)
    assert data["metadata"]["wire_source"] == "AP"
    assert all({"start", "end", "reason", "text"} <= set(span) for span in data["removed"])


def test_clean_missing_file_is_a_clear_error(tmp_path: Path) -> None:
    result = newsdag("clean", str(tmp_path / "nope.txt"))
    assert result.returncode != 0 and "Traceback" not in result.stderr


def test_sql_writes_csv_json_and_markdown(seed_run, tmp_path: Path) -> None:
    _, warehouse, _ = seed_run
    query = "select article_id, title, authors, published from articles order by article_id"
    csv = newsdag("sql", query, "--warehouse", str(warehouse), "--format", "csv")
    assert csv.returncode == 0, csv.stderr
    lines = csv.stdout.strip().splitlines()
    assert lines[0] == "article_id,title,authors,published" and len(lines) == 6
    rows = json.loads(newsdag("sql", query, "--warehouse", str(warehouse), "-f", "json").stdout)
    assert len(rows) == 5 and isinstance(rows[0]["authors"], list)
    assert any(row["published"] == "2014-03-14" for row in rows)
    markdown = newsdag("sql", query, "--warehouse", str(warehouse), "-f", "markdown").stdout.splitlines()
    assert markdown[0] == "| article_id | title | authors | published |" and markdown[1] == "|---|---|---|---|"
    assert len(markdown) == 7
    out = tmp_path / "result.csv"
    written = newsdag("sql", query, "--warehouse", str(warehouse), "-f", "csv", "--output", str(out))
    assert written.returncode == 0 and written.stdout == "" and out.read_text() == csv.stdout


def test_sql_output_never_overwrites_the_warehouse(seed_run) -> None:
    _, warehouse, _ = seed_run
    before = warehouse.read_bytes()
    result = newsdag("sql", "select 1", "--warehouse", str(warehouse), "--output", str(warehouse))
    assert result.returncode != 0 and "is the warehouse" in result.stderr
    assert warehouse.read_bytes() == before


def test_search_writes_json(seed_run) -> None:
    _, warehouse, _ = seed_run
    result = newsdag("search", "Kerry and Lavrov met in London", "--warehouse", str(warehouse), "--limit", "3",
                     "--format", "json")
    assert result.returncode == 0, result.stderr
    hits = json.loads(result.stdout)
    assert len(hits) == 3 and all("paragraph_id" in hit for hit in hits)


def test_status_shows_runs_failures_and_size(seed_run) -> None:
    _, warehouse, summary = seed_run
    result = newsdag("status", "--warehouse", str(warehouse))
    assert result.returncode == 0, result.stderr
    assert f"warehouse {warehouse}" in result.stdout and " MB)" in result.stdout
    assert "articles 5" in result.stdout and "completed" in result.stdout
    assert "failed files (0)" in result.stdout
def test_clean_rules_lists_the_rules_in_order_without_a_warehouse(tmp_path: Path) -> None:
    result = newsdag("clean", "--rules", "--warehouse", str(tmp_path / "none.duckdb"))
    assert result.returncode == 0, result.stderr
    assert "no warehouse" in result.stdout and " 1. title (titles): " in result.stdout
    rows = json.loads(newsdag("clean", "--rules", "--json", "--warehouse", str(tmp_path / "none.duckdb")).stdout)
    assert [row["rule"] for row in rows][:2] == ["title", "markup"] and all(row["fired"] is None for row in rows)


def test_clean_rules_counts_what_each_rule_removed_in_the_warehouse(seed_run) -> None:
    import duckdb

    _, warehouse, _ = seed_run
    rows = json.loads(newsdag("clean", "--rules", "--json", "--warehouse", str(warehouse)).stdout)
    with duckdb.connect(str(warehouse), read_only=True) as con:
        stored = dict(con.execute("select reason, count(*) from removed_spans group by reason").fetchall())
    fired = {row["rule"]: row["fired"] for row in rows if row["fired"]}
    assert fired == stored and {"title", "credit", "caption"} <= set(fired)


def test_unknown_rule_in_the_setting_is_a_clear_error() -> None:
    import os

    env = {**os.environ, "NEWSDAG_CLEAN_DISABLE": "captoin"}
    result = subprocess.run([sys.executable, "-m", "flows", "clean", "--rules"], capture_output=True, text=True, env=env,
                            timeout=300)
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert "NEWSDAG_CLEAN_DISABLE" in result.stderr and "captoin" in result.stderr and "caption" in result.stderr
