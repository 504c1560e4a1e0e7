"""Data checks scoped to a run (issue 31): a run's checks examine the articles it changed, plus the stored
counts and the tables regrouped whole each run; `newsdag check --all` (run_checks unscoped) examines every
row. Each check still finds its problem, and a scoped check over a large warehouse reads the paragraphs
(texts, vectors) of the run's articles only.

The warehouse here is written directly, without the models: OLD articles of a completed run, then NEW
ones of the run checking, each with paragraphs, a mention, a quote, removed spans, a link to the next
article and its neighbour-list row, one story."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import duckdb
import pytest

from storage.derived import run_checks
from storage.schema import create_schema

SQL_DIR = Path(__file__).resolve().parent.parent / "sql"
RUN = "run-new"
N_OLD, N_NEW, PARAGRAPHS = 400, 4, 3


def build_warehouse(con: duckdb.DuckDBPyConnection, n_old: int = N_OLD, n_new: int = N_NEW, dim: int = 4) -> None:
    """A warehouse whose every check passes: articles 0..n_old-1 of a completed run, then n_new of RUN."""
    create_schema(con, SQL_DIR, dim)
    con.execute("insert into runs values ('run-old', timestamp '2026-01-01', timestamp '2026-01-01 01:00', 'completed', null, null),"
                f" ('{RUN}', timestamp '2026-02-01', null, 'running', null, null)")
    con.execute("create temp table plan as select i, left(md5(i::varchar), 16) as a, i >= ? as is_new from range(?) t(i)",
                [n_old, n_old + n_new])
    con.execute(f"""
        insert into articles (article_id, source_path, content_sha256, body, n_words, n_paragraphs, ingested_at, run_id)
        select a, i || '.txt', md5(a), 'body', 30, {PARAGRAPHS},
               case when is_new then timestamp '2026-02-01 00:10' else timestamp '2026-01-01 00:10' end,
               case when is_new then '{RUN}' else 'run-old' end
        from plan order by i""")
    con.execute("insert into article_sources select a, 'utf-8', 'raw' from plan order by i")
    con.execute("insert into removed_spans select a, 0, 5, 'Share', 'share' from plan order by i")
    con.execute(f"""
        insert into paragraphs (paragraph_id, article_id, position, text, text_sha256, n_words, embedding, model)
        select printf('%s-%04d', a, p), a, p, 'Kerry said "we agree" on ' || i, md5(i || '-' || p), 5,
               list_transform(range({dim}), x -> (x = 0)::float)::float[{dim}], 'm'
        from plan, range({PARAGRAPHS}) r(p) order by i, p""")
    con.execute("insert into entities (entity_id, canonical_name, label, aliases, mention_count) "
                "select 'e-' || a, 'Kerry ' || i, 'PERSON', [], 1 from plan order by i")
    con.execute("insert into entity_mentions select 'e-' || a, a, printf('%s-0000', a), 0, 5, 'Kerry', 'PERSON' from plan order by i")
    con.execute("""
        insert into quotes (quote_id, article_id, paragraph_id, start_char, end_char, text, is_partial,
                            speaker_entity_id, speaker_surface, verb, attribution)
        select printf('%s-0000-q12', a), a, printf('%s-0000', a), 12, 20, 'we agree', false, 'e-' || a, 'Kerry', 'said', 'before'
        from plan order by i""")
    # Article i's paragraph 1 is linked to article i+1's: a neighbour-list row and the link (a < b).
    pairs = """(select least(printf('%s-0001', x.a), printf('%s-0001', y.a)) as pa, greatest(printf('%s-0001', x.a), printf('%s-0001', y.a)) as pb,
                       x.a as xa, y.a as ya, printf('%s-0001', x.a) < printf('%s-0001', y.a) as x_first, x.i
                from plan x join plan y on y.i = x.i + 1)"""
    con.execute(f"insert into paragraph_neighbours select printf('%s-0001', xa), printf('%s-0001', ya), xa, ya, 0.9 from {pairs} order by i")
    con.execute(f"""insert into paragraph_similarity (paragraph_id_a, paragraph_id_b, article_id_a, article_id_b, cosine, lexical_overlap, kind)
                    select pa, pb, case when x_first then xa else ya end, case when x_first then ya else xa end, 0.9, 0.5, 'paraphrase'
                    from {pairs} order by i""")
    con.execute("""insert into quote_links select least(printf('%s-0000-q12', x.a), printf('%s-0000-q12', y.a)),
                          greatest(printf('%s-0000-q12', x.a), printf('%s-0000-q12', y.a)),
                          case when x.a < y.a then x.a else y.a end, case when x.a < y.a then y.a else x.a end, 0.9, 1.0, true
                   from plan x join plan y on y.i = x.i + 1 order by x.i""")
    con.execute("insert into topics (topic_id, label, n_articles, n_outlets, n_stories) values ('topic-0', 'Kerry', 1, 1, 1)")
    con.execute("insert into stories (story_id, label, n_articles, n_outlets, topic_id) values ('story-0', 'Kerry', 1, 1, 'topic-0')")
    con.execute("insert into story_articles select 'story-0', a, i = 0 from plan order by i")
    con.execute("drop table plan")


def article(con: duckdb.DuckDBPyConnection, new: bool) -> str:
    """An article of the run checking (new) or of the completed run before it (old), not the first or last."""
    row = con.execute("select article_id from articles where run_id = ? order by ingested_at, source_path limit 1 offset 1",
                      [RUN if new else "run-old"]).fetchone()
    assert row
    return str(row[0])


@pytest.fixture
def warehouse(tmp_path: Path) -> Iterator[duckdb.DuckDBPyConnection]:
    with duckdb.connect(str(tmp_path / "w.duckdb")) as connection:
        build_warehouse(connection)
        yield connection


def problems(con: duckdb.DuckDBPyConnection, scoped: bool) -> set[str]:
    return set(run_checks(con, SQL_DIR, RUN, scoped=scoped)["problem"].to_list())


def test_a_whole_warehouse_passes_scoped_and_whole(warehouse: duckdb.DuckDBPyConnection) -> None:
    con = warehouse
    assert problems(con, scoped=False) == set()
    assert problems(con, scoped=True) == set()
    # nothing of the checks is left on the connection
    assert con.execute("select count(*) from duckdb_views() where view_name like 'checked%'").fetchone() == (0,)
    assert con.execute("select count(*) from duckdb_tables() where table_name like 'checked%'").fetchone() == (0,)


# (problem the check reports, statement planting it in article :a, whose first paragraph is :p)
PLANTED = [
    ("paragraph without embedding", "update paragraphs set embedding = null where paragraph_id = $p"),
    ("article with wrong paragraph count", "update articles set n_paragraphs = 4 where article_id = $a"),
    ("mention without paragraph",
     "update entity_mentions set paragraph_id = $a || '-0007' where article_id = $a"),
    ("mention without entity", "update entity_mentions set entity_id = 'ghost' where article_id = $a"),
    ("link without paragraph",
     "insert into paragraph_similarity values ($p, 'zz-0000', $a, 'zz', 0.9, 0.5, 'paraphrase')"),
    ("quote without paragraph", "update quotes set paragraph_id = $a || '-0007' where article_id = $a"),
    ("quote text does not match its offsets", "update quotes set text = 'we disagree' where article_id = $a"),
    ("quote speaker without entity", "update quotes set speaker_entity_id = 'ghost' where article_id = $a"),
    ("quote link without quote",
     "insert into quote_links values ($p || '-q12', 'zz-0000-q1', $a, 'zz', 0.9, 1.0, false)"),
    ("quote link within one article",
     "insert into quote_links values ($p || '-q12', $p || '-q13', $a, $a, 0.9, 1.0, false)"),
    ("entity mention_count out of date", "update entities set mention_count = 2 where entity_id = 'e-' || $a"),
    ("neighbour list row without paragraph",
     "insert into paragraph_neighbours values ($a || '-0002', 'zz-0000', $a, 'zz', 0.8)"),
    ("link in no neighbour list", "delete from paragraph_neighbours where article_id = $a or neighbour_article_id = $a"),
    ("link within one article",
     "insert into paragraph_similarity values ($p, $a || '-0002', $a, $a, 0.9, 0.5, 'copy')"),
    ("link not stored once (a >= b)",
     "insert into paragraph_similarity values ($a || '-0002', $p, $a, 'zz', 0.9, 0.5, 'copy')"),
    ("cosine out of range", "update paragraph_similarity set cosine = 1.5 where article_id_a = $a or article_id_b = $a"),
    ("lexical overlap out of range",
     "update paragraph_similarity set lexical_overlap = -1 where article_id_a = $a or article_id_b = $a"),
    ("article in no story", "delete from story_articles where article_id = $a"),
]


@pytest.mark.parametrize(("problem", "plant"), PLANTED, ids=[p for p, _ in PLANTED])
def test_a_problem_planted_in_the_runs_articles_is_found_scoped_and_whole(
        warehouse: duckdb.DuckDBPyConnection, problem: str, plant: str) -> None:
    con = warehouse
    a = article(con, new=True)
    values = {"a": a, "p": f"{a}-0000"}
    con.execute(plant, {name: value for name, value in values.items() if f"${name}" in plant})
    assert problem in problems(con, scoped=True)
    assert problem in problems(con, scoped=False)


def test_rows_left_by_a_file_this_run_found_duplicate_are_found(warehouse: duckdb.DuckDBPyConnection) -> None:
    """A file that became a duplicate (or empty) this run had its article deleted: nothing of it may remain."""
    con = warehouse
    con.execute("insert into ingest_files (source_path, status, first_seen_at, last_seen_at, run_id) "
                "values ('gone.txt', 'duplicate', now(), now(), ?)", [RUN])
    gone = con.execute("select left(sha256('gone.txt'), 16)").fetchone()[0]
    con.execute("insert into removed_spans values (?, 0, 5, 'Share', 'share')", [gone])
    con.execute("insert into entity_mentions values ('e-x', ?, ? || '-0000', 0, 5, 'Kerry', 'PERSON')", [gone, gone])
    found = problems(con, scoped=True)
    assert {"removed span without article", "mention without paragraph"} <= found


def test_rows_orphaned_outside_the_run_show_in_the_stored_counts(warehouse: duckdb.DuckDBPyConnection) -> None:
    """An old article's extra paragraph, a mention of an entity that is gone: the scoped check does not read
    those rows, but the counts they break are global."""
    con = warehouse
    old = article(con, new=False)
    con.execute("insert into paragraphs (paragraph_id, article_id, position, text, text_sha256, n_words, embedding, model) "
                "values (? || '-0009', ?, 9, 'stray', 'x', 1, [1, 0, 0, 0], 'm')", [old, old])
    found = problems(con, scoped=True)
    assert "stored paragraphs differ from the articles' n_paragraphs" in found
    assert "article with wrong paragraph count" in problems(con, scoped=False)

    con.execute("delete from paragraphs where paragraph_id = ? || '-0009'", [old])
    con.execute("update entity_mentions set entity_id = 'ghost' where article_id = ?", [old])
    con.execute("update entities set mention_count = 0 where entity_id = 'e-' || ?", [old])
    found = problems(con, scoped=True)
    assert {"stored mentions differ from the entities' mention_count", "entity without mention"} <= found
    assert {"mention without entity", "entity without mention"} <= problems(con, scoped=False)


def test_a_row_problem_in_an_untouched_article_is_left_to_the_whole_check(warehouse: duckdb.DuckDBPyConnection) -> None:
    """The scope: a quote of an article no run changed since its check is not read again; --all reads it."""
    con = warehouse
    old = article(con, new=False)
    con.execute("update quotes set text = 'we disagree' where article_id = ?", [old])
    assert "quote text does not match its offsets" not in problems(con, scoped=True)
    assert "quote text does not match its offsets" in problems(con, scoped=False)


def test_the_articles_of_a_crashed_run_since_the_last_completed_one_are_checked(warehouse: duckdb.DuckDBPyConnection) -> None:
    con = warehouse
    old = article(con, new=False)
    con.execute("insert into runs values ('run-crashed', timestamp '2026-01-15', null, 'crashed', null, null)")
    con.execute("update articles set run_id = 'run-crashed', ingested_at = timestamp '2026-01-15 00:10' where article_id = ?", [old])
    con.execute("update quotes set text = 'we disagree' where article_id = ?", [old])
    assert "quote text does not match its offsets" in problems(con, scoped=True)


class ProfiledConnection:
    """A connection that records, per table, the rows DuckDB's scans read (its profiler's rows scanned) for
    every statement run through it (statements given together are run one at a time to be profiled)."""

    def __init__(self, con: duckdb.DuckDBPyConnection, output: Path) -> None:
        self._con, self._output = con, output
        self.rows_scanned: Counter[str] = Counter()
        con.execute("pragma enable_profiling = 'json'")
        con.execute("""pragma custom_profiling_settings = '{"OPERATOR_ROWS_SCANNED": "true", "OPERATOR_TYPE": "true", "EXTRA_INFO": "true"}'""")
        con.execute(f"set profiling_output = '{output}'")

    def execute(self, query: str, params: object = None) -> duckdb.DuckDBPyConnection:
        statements = [s for s in query.split(";\n") if s.strip() and not all(
            line.strip().startswith("--") or not line.strip() for line in s.splitlines())]
        result = self._con
        for statement in statements:
            result = self._con.execute(statement, params) if len(statements) == 1 else self._con.execute(statement)
            self._collect()
        return result

    def _collect(self) -> None:
        def walk(node: dict) -> None:
            info = node.get("extra_info") or {}
            if node.get("operator_type") == "TABLE_SCAN" and "Table" in info:
                self.rows_scanned[str(info["Table"]).split(".")[-1]] += int(node.get("operator_rows_scanned") or 0)
            for child in node.get("children", []):
                walk(child)
        if self._output.exists():
            walk(json.loads(self._output.read_text()))
            self._output.unlink()

    def __getattr__(self, name: str) -> object:
        return getattr(self._con, name)


def test_a_scoped_check_reads_the_paragraphs_of_the_runs_articles_only(tmp_path: Path) -> None:
    """On a warehouse of 20,000 articles (60,000 paragraphs), a run of 4: the scoped checks find the
    paragraphs of those 4 (and those their rows name) in a pass over the paragraph ids each (no key: a key's index outgrows the memory cap
    as the archive grows, storage/schema.KEYED_TABLES) and read their texts and vectors only; the whole
    check reads every paragraph, in several passes."""
    with duckdb.connect(str(tmp_path / "big.duckdb")) as raw:
        build_warehouse(raw, n_old=20_000)
    # Opened afresh, as a run opens it: a table changed on this connection is counted row by row.
    with duckdb.connect(str(tmp_path / "big.duckdb")) as raw:
        con = ProfiledConnection(raw, tmp_path / "profile.json")
        assert run_checks(con, SQL_DIR, RUN, scoped=True).height == 0  # type: ignore[arg-type]
        scoped = con.rows_scanned.copy()
        con.rows_scanned.clear()
        assert run_checks(con, SQL_DIR, RUN, scoped=False).height == 0  # type: ignore[arg-type]
        whole = con.rows_scanned
    print("rows scanned, scoped:", dict(scoped), "whole:", dict(whole))
    n_paragraphs = (20_000 + N_NEW) * PARAGRAPHS
    assert whole["paragraphs"] >= n_paragraphs
    # The run's paragraphs, and those its links, mentions and quotes name: a pass over the ids for each.
    assert 0 < scoped["paragraphs"] <= 2 * n_paragraphs < whole["paragraphs"]
    assert scoped["articles"] <= whole["articles"]  # passes over the article ids (their rows are small)
    assert scoped["article_sources"] == 0 and scoped["embedding_cache"] == 0


def test_newsdag_check_scoped_and_all(tmp_path: Path) -> None:
    """`newsdag check` checks the latest run's articles, `--all` every row; a problem exits 1."""
    import subprocess
    import sys

    path = tmp_path / "w.duckdb"
    with duckdb.connect(str(path)) as con:
        build_warehouse(con, n_old=20)
        old = article(con, new=False)
        con.execute("update quotes set text = 'we disagree' where article_id = ?", [old])

    def check(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "flows.cli", "check", "--warehouse", str(path), *args],
                              capture_output=True, text=True, cwd=SQL_DIR.parent, timeout=120)

    scoped, whole = check(), check("--all")
    assert scoped.returncode == 0 and "latest run" in scoped.stdout, scoped.stderr
    assert whole.returncode == 1 and "quote text does not match" in whole.stdout, whole.stderr


def test_a_check_out_of_memory_is_run_again_on_one_thread(
        warehouse: duckdb.DuckDBPyConnection, monkeypatch: pytest.MonkeyPatch) -> None:
    """DuckDB's advice for an aggregate or join past the memory cap: fewer threads. The check is run again
    on one, the setting put back; a second failure names the check."""
    import storage.derived as derived

    real = derived.read_frame
    seen: list[str] = []
    orphans = (SQL_DIR / "checks" / "no_orphans.sql").read_text()

    def once_out_of_memory(con, query, *args, **kwargs):  # noqa: ANN001, ANN202
        threads = con.execute("select current_setting('threads')").fetchone()[0]
        if "no_orphans" not in seen and query == orphans:
            seen.append("no_orphans")
            raise duckdb.OutOfMemoryException("Out of Memory Error: could not allocate block of size 256.0 KiB")
        if query == orphans:
            seen.append(f"retried on {threads}")
        return real(con, query, *args, **kwargs)

    warehouse.execute("set threads = 2")
    monkeypatch.setattr(derived, "read_frame", once_out_of_memory)
    assert run_checks(warehouse, SQL_DIR, RUN).height == 0
    assert seen == ["no_orphans", "retried on 1"]
    assert warehouse.execute("select current_setting('threads')").fetchone()[0] == 2

    monkeypatch.setattr(derived, "read_frame", lambda con, query, *a, **k: (_ for _ in ()).throw(
        duckdb.OutOfMemoryException("Out of Memory Error")) if query == orphans else real(con, query, *a, **k))
    with pytest.raises(duckdb.OutOfMemoryException, match="data check no_orphans"):
        run_checks(warehouse, SQL_DIR, RUN)
    assert warehouse.execute("select current_setting('threads')").fetchone()[0] == 2
