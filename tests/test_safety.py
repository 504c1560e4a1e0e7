"""Nothing a user types or drops in the folder can lose data (issue 21): one test per case the
adversarial pass broke, and a property test that incremental runs equal a run from scratch."""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import duckdb
import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from storage.backend import backend_for
from storage.derived import run_checks
from storage.readonly import QueryRefused, reading_statement
from tasks.ingest import decode_bytes
from tests.conftest import PROJECT_ROOT, SEEDS_DIR

SQL_DIR = PROJECT_ROOT / "sql"
SEEDS = sorted(SEEDS_DIR.glob("*.txt"))


def newsdag(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "flows", *args], capture_output=True, text=True, timeout=600,
                          env={**os.environ, **(env or {})}, cwd=PROJECT_ROOT)


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


# --- 1. `newsdag sql` is read-only ---------------------------------------------------------------

def test_1_sql_cannot_write_any_file(seed_run, tmp_path: Path) -> None:
    _, seeded, _ = seed_run
    path = tmp_path / "w.duckdb"
    shutil.copy(seeded, path)
    before = digest(path)
    hostile = [
        f"COPY (select 'x' as a) TO '{path}' (FORMAT csv)",
        f"COPY articles TO '{tmp_path / 'x.csv'}'",
        f"EXPORT DATABASE '{tmp_path / 'dump'}'",
        f"ATTACH '{tmp_path / 'new.duckdb'}' AS n (READ_WRITE); CREATE TABLE n.t AS SELECT * FROM articles",
        f"ATTACH '{tmp_path / 'new.duckdb'}' AS n (READ_WRITE)",
        "INSTALL httpfs",
        "LOAD httpfs",
        "DROP TABLE articles",
        "DELETE FROM articles",
        "INSERT INTO runs VALUES ('x', now(), null, 'x', null, null)",
        "SET enable_external_access = true",
        "select 1; drop table articles",
        "select * from read_text('/etc/passwd')",
        f"select * from read_csv('{tmp_path / 'x.csv'}')",
        "CHECKPOINT",
    ]
    for query in hostile:
        result = newsdag("sql", query, "--warehouse", str(path))
        assert result.returncode == 1, (query, result.stdout)
        assert result.stderr.startswith("newsdag: error:") and "Traceback" not in result.stderr, (query, result.stderr)
    assert digest(path) == before  # byte for byte
    assert sorted(p.name for p in tmp_path.iterdir()) == ["w.duckdb"]  # no file written beside it
    # Reading still works: plain selects, views, full-text search tables.
    ok = newsdag("sql", "select count(*) as n from articles", "--warehouse", str(path))
    assert ok.returncode == 0 and "5" in ok.stdout, ok.stderr


def test_1_the_guards_hold_even_without_the_statement_check(seed_run, tmp_path: Path) -> None:
    """DuckDB's own guards, under the statement-kind check: a writing statement run directly on the
    read-only connection is refused too."""
    _, seeded, _ = seed_run
    path = tmp_path / "w.duckdb"
    shutil.copy(seeded, path)
    with backend_for(path).connect_read_only() as con:
        for query in (f"COPY (select 1) TO '{path}' (FORMAT csv)", f"EXPORT DATABASE '{tmp_path / 'dump'}'",
                      f"ATTACH '{tmp_path / 'n.duckdb'}' AS n", "SET enable_external_access = true",
                      "select * from read_text('/etc/passwd')"):
            with pytest.raises(duckdb.Error):
                con.execute(query)
        assert con.execute("select count(*) from paragraphs").fetchone()[0] > 0
        with pytest.raises(QueryRefused):
            reading_statement(con, "COPY articles TO 'x.csv'")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["w.duckdb"]


# --- 2. invalid settings stop at the door ----------------------------------------------------------

@pytest.mark.parametrize("setting, value, allowed", [
    ("NEWSDAG_BATCH_SIZE", "-1", ">= 1"),
    ("NEWSDAG_BATCH_SIZE", "0", ">= 1"),
    ("NEWSDAG_SIMILARITY_THRESHOLD", "2", "<= 1.0"),
    ("NEWSDAG_SIMILARITY_TOP_K", "-1", ">= 1"),
    ("NEWSDAG_EMBEDDING_DIM", "0", ">= 1"),
])
def test_2_an_invalid_setting_is_named_and_nothing_is_touched(tmp_path: Path, setting: str, value: str, allowed: str) -> None:
    raw = tmp_path / "raw"
    shutil.copytree(SEEDS_DIR, raw)
    path = tmp_path / "w.duckdb"
    result = newsdag("run", "--ephemeral", "--raw-dir", str(raw), "--warehouse", str(path), env={setting: value})
    assert result.returncode == 1
    line = result.stderr.strip().splitlines()[-1]
    assert f"{setting}={value}" in line and allowed in line, line
    assert not path.exists() and not path.with_name("w.duckdb.lock").exists()


def test_2_every_invalid_setting_gets_its_own_line() -> None:
    from tasks.settings import SettingsError, get_settings

    with pytest.raises(SettingsError) as error:
        get_settings(batch_size=-1, similarity_top_k=0, similarity_threshold=float("nan"))
    lines = str(error.value).splitlines()
    assert len(lines) == 3 and all(line.startswith("invalid setting NEWSDAG_") for line in lines)


# --- 3, 4, 9. per-file isolation: long paragraphs, boilerplate-only files, UTF-16 ----------------

def test_3_4_9_odd_files_are_recorded_and_the_others_load(run_flow, tmp_path: Path, monkeypatch) -> None:
    from tasks.entities import load_nlp
    from tasks.settings import get_settings

    # spaCy refuses a text over nlp.max_length (1,000,000 characters) in one call; tagging a million
    # characters takes minutes here, so the limit is lowered to 10,000 for the test and the paragraph
    # is 2.5 times that (the same failure, E088, before paragraphs were tagged in pieces).
    monkeypatch.setattr(load_nlp(get_settings().spacy_model), "max_length", 10_000)
    raw = tmp_path / "raw"
    raw.mkdir()
    shutil.copy(SEEDS[0], raw / "good.txt")
    (raw / "long.txt").write_text("A very long article\n\n" + "The talks in Geneva went on all night. " * 640 + "\n")
    (raw / "boilerplate.txt").write_text("Next Story\n\nAdvertisement\n\nShare this article\n\nRead more\n")
    text = SEEDS[1].read_text()
    (raw / "utf16_bom.txt").write_bytes(text.encode("utf-16"))
    (raw / "utf16_le.txt").write_bytes(SEEDS[2].read_text().encode("utf-16-le"))
    path = tmp_path / "w.duckdb"
    summary = run_flow(raw, path)
    with duckdb.connect(str(path), read_only=True) as con:
        files = {row[0]: row[1:] for row in con.execute("select source_path, status, encoding, error from ingest_files").fetchall()}
        articles = {row[0] for row in con.execute("select source_path from articles").fetchall()}
        long_mentions = con.execute("select count(*), max(end_char) from entity_mentions m join articles a using (article_id) "
                                    "where a.source_path = 'long.txt'").fetchone()
        problems = run_checks(con, SQL_DIR)
    assert articles == {"good.txt", "long.txt", "utf16_bom.txt", "utf16_le.txt"}
    assert files["boilerplate.txt"][0] == "empty" and "no text left after cleaning" in files["boilerplate.txt"][2]
    assert files["utf16_bom.txt"][:2] == ("loaded", "utf-16") and files["utf16_le.txt"][:2] == ("loaded", "utf-16-le")
    assert long_mentions[0] >= 600 and long_mentions[1] > 20_000  # tagged in pieces, offsets into the whole
    assert problems.height == 0, problems.rows()
    assert summary["empty"] == 1 and summary["failed"] == 0
    # A re-run changes nothing and does not fail.
    again = run_flow(raw, path)
    assert again["unchanged"] == 4 and again["empty"] == 1


def test_3_a_file_whose_step_fails_is_recorded_and_the_others_load(run_flow, tmp_path: Path, monkeypatch) -> None:
    """Fault injection in the cleaning step: the batch fails, then each article alone; only the bad one is lost."""
    from tasks import cleaning

    real = cleaning.clean_articles

    def clean_but_choke(documents, *args):
        if any("CHOKE-ON-THIS" in text for text in documents["text"].to_list()):
            raise RecursionError("maximum recursion depth exceeded")
        return real(documents, *args)

    monkeypatch.setattr(cleaning, "clean_articles", clean_but_choke)
    raw = tmp_path / "raw"
    raw.mkdir()
    shutil.copy(SEEDS[3], raw / "good.txt")
    (raw / "bad.txt").write_text("Bad headline\n\nCHOKE-ON-THIS paragraph that the cleaner cannot take.\n")
    path = tmp_path / "w.duckdb"
    summary = run_flow(raw, path)
    assert (summary["new"], summary["failed"]) == (1, 1)
    with duckdb.connect(str(path), read_only=True) as con:
        assert con.execute("select status, error from ingest_files where source_path = 'bad.txt'").fetchone() == (
            "failed", "cleaning failed: RecursionError: maximum recursion depth exceeded")


def test_9_utf16_and_other_encodings_decode() -> None:
    text = "Café owners in Zürich said “no”.\n\nSecond paragraph."
    for encoding, name in (("utf-16", "utf-16"), ("utf-16-le", "utf-16-le"), ("utf-16-be", "utf-16-be"),
                           ("utf-32", "utf-32"), ("utf-8", "utf-8")):
        assert decode_bytes(text.encode(encoding)) == (text, name)
    ascii_only = "Plain ASCII headline\n\nNothing here but ASCII letters, so UTF-16 bytes are valid UTF-8 too."
    assert decode_bytes(ascii_only.encode("utf-16-le")) == (ascii_only, "utf-16-le")
    russian = "Короткая статья о погоде в Москве. Сегодня тепло.\n\nВторой абзац о погоде."
    assert decode_bytes(russian.encode("koi8_r"))[0] == russian
    assert decode_bytes("Café naïve «test» – done.".encode("cp1252")) == ("Café naïve «test» – done.", "cp1252")


# --- 5. settings that shape stored results ----------------------------------------------------------

def link_count(path: Path) -> int:
    with duckdb.connect(str(path), read_only=True) as con:
        return con.execute("select count(*) from paragraph_similarity").fetchone()[0]


def test_5_links_follow_the_similarity_settings_and_a_failed_first_run_leaves_no_file(
    seed_run, run_flow, tmp_path: Path, monkeypatch
) -> None:
    raw_dir, reference, _ = seed_run
    path = tmp_path / "w.duckdb"
    monkeypatch.setenv("NEWSDAG_SIMILARITY_THRESHOLD", "0.99")
    run_flow(raw_dir, path)
    strict = link_count(path)
    monkeypatch.delenv("NEWSDAG_SIMILARITY_THRESHOLD")
    run_flow(raw_dir, path)  # files unchanged: the links are redone with the default threshold
    assert strict < link_count(path) == link_count(reference)
    assert comparable_state(path) == comparable_state(reference)

    from flows.ingest import ingest_flow

    wrong_dim = tmp_path / "dim.duckdb"
    monkeypatch.setenv("NEWSDAG_EMBEDDING_DIM", "100")
    state = ingest_flow(raw_dir=str(raw_dir), warehouse_path=str(wrong_dim), return_state=True)
    assert state.is_failed()
    assert not wrong_dim.exists()  # nothing half-configured left behind
    monkeypatch.delenv("NEWSDAG_EMBEDDING_DIM")
    assert run_flow(raw_dir, wrong_dim)["new"] == 5


def test_5_new_cleaning_code_redoes_only_the_articles_it_cleans_differently(
    seed_run, run_flow, tmp_path: Path, monkeypatch
) -> None:
    """A warehouse built by an older cleaner (here: one without the caption rule, recorded as if that
    were the code, not a setting): the next run cleans every stored article again, redoes those that come
    out differently and leaves the others as they were; the result equals a fresh run."""
    raw_dir, reference, _ = seed_run
    path = tmp_path / "w.duckdb"
    monkeypatch.setenv("NEWSDAG_CLEAN_DISABLE", "captions")
    run_flow(raw_dir, path)
    monkeypatch.delenv("NEWSDAG_CLEAN_DISABLE")
    with duckdb.connect(str(path)) as con:
        con.execute("update warehouse_meta set value = '[]' where key = 'setting.clean_disable'")
        con.execute("update warehouse_meta set value = 'an older cleaner' where key = 'setting.cleaning_code'")
        loaded_at = dict(con.execute("select source_path, ingested_at from articles").fetchall())
    assert comparable_state(path) != comparable_state(reference)

    summary = run_flow(raw_dir, path)
    assert summary["redone"] >= 1 and summary["unchanged"] >= 1
    assert summary["redone"] + summary["unchanged"] == 5
    assert comparable_state(path) == comparable_state(reference)
    with duckdb.connect(str(path), read_only=True) as con:
        kept = [p for p, at in con.execute("select source_path, ingested_at from articles").fetchall() if at == loaded_at[p]]
    assert len(kept) == summary["unchanged"]  # the others were not rewritten
    again = run_flow(raw_dir, path)  # the new code is recorded: nothing is cleaned again
    assert again["unchanged"] == 5 and "recheck" not in again["seconds_per_step"]

# --- 6, 7. incremental equals from scratch; renames; an empty folder --------------------------------

def story_state(con: duckdb.DuckDBPyConnection) -> object:
    """Stories as sets of member files with their headline, and topics as sets of files (ids and times
    ignored: an id depends on which run founded the story)."""
    topics = con.execute(
        "select list(a.source_path order by a.source_path) from story_articles m join stories s using (story_id) "
        "join articles a using (article_id) group by s.topic_id").fetchall()
    rows = con.execute(
        "select s.headline, s.n_articles, list(a.source_path order by a.source_path) from stories s "
        "join story_articles m using (story_id) join articles a using (article_id) group by all").fetchall()
    return sorted((headline, n, tuple(paths)) for headline, n, paths in rows), sorted(tuple(paths) for (paths,) in topics)


def entity_state(con: duckdb.DuckDBPyConnection) -> object:
    """Entities by name, label and count (ids derive from them), and every mention's entity."""
    return {
        "entities": sorted(con.execute("select canonical_name, label, mention_count, aliases from entities").fetchall()),
        "mentions": sorted(con.execute(
            "select a.source_path, p.position, m.start_char, e.canonical_name, e.label from entity_mentions m "
            "join entities e using (entity_id) join paragraphs p using (paragraph_id) "
            "join articles a on a.article_id = p.article_id").fetchall()),
    }


def quote_state(con: duckdb.DuckDBPyConnection) -> object:
    """Quotes with their speakers' names, and quote links, keyed by file path and position."""
    where = "select q.quote_id, a.source_path, p.position, q.start_char from quotes q join paragraphs p using (paragraph_id) join articles a on a.article_id = q.article_id"
    return {
        "quotes": sorted(con.execute(
            "select a.source_path, p.position, q.start_char, q.text, e.canonical_name, q.speaker_surface, q.attribution "
            "from quotes q join paragraphs p using (paragraph_id) join articles a on a.article_id = q.article_id "
            "left join entities e on e.entity_id = q.speaker_entity_id").fetchall(), key=repr),
        "links": sorted(con.execute(
            f"with q as ({where}) select qa.source_path, qa.position, qa.start_char, qb.source_path, qb.position, "
            "qb.start_char, l.same_speaker from quote_links l join q qa on qa.quote_id = l.quote_id_a "
            "join q qb on qb.quote_id = l.quote_id_b").fetchall()),
    }


def comparable_state(path: Path) -> dict[str, object]:
    """Articles, paragraphs, mentions, entities and links keyed by file path and position (ids derive
    from paths; run ids and times are left out); cosines to 4 decimals."""
    with duckdb.connect(str(path), read_only=True) as con:
        where = "select paragraph_id, a.source_path, p.position from paragraphs p join articles a using (article_id)"
        return {
            "articles": sorted(con.execute(
                "select source_path, content_sha256, title, body, n_paragraphs from articles").fetchall()),
            "paragraphs": sorted(con.execute(
                "select a.source_path, p.position, p.text_sha256 from paragraphs p join articles a using (article_id)").fetchall()),
            "mentions": sorted(con.execute(
                "select a.source_path, p.position, m.start_char, m.end_char, m.surface, m.label "
                "from entity_mentions m join paragraphs p using (paragraph_id) join articles a on a.article_id = p.article_id").fetchall()),
            "entities": entity_state(con),
            "quotes": quote_state(con),
            "links": sorted(con.execute(
                f"with p as ({where}) select pa.source_path, pa.position, pb.source_path, pb.position, round(l.cosine, 4) "
                "from paragraph_similarity l join p pa on pa.paragraph_id = l.paragraph_id_a "
                "join p pb on pb.paragraph_id = l.paragraph_id_b").fetchall()),
            "files": sorted(con.execute(
                "select source_path, case when status in ('loaded', 'unchanged') then 'present' else status end "
                "from ingest_files where status <> 'deleted'").fetchall()),
            "stories": story_state(con),
            "similarity": sorted(con.execute(
                "select a.source_path, b.source_path, s.linked_paragraphs_a, s.linked_paragraphs_b, s.relation, "
                "round(s.mean_cosine, 4) from article_similarity s join articles a on a.article_id = s.article_id_a "
                "join articles b on b.article_id = s.article_id_b").fetchall()),
            "labels": sorted(con.execute(
                "select label, n_articles, n_stories from topics union all select label, n_articles, -1 from stories").fetchall()),
            "orphans": run_checks(con, SQL_DIR).rows(),
        }


# Tiny articles sharing sentences (so that they link), and two samples.
TINY = {
    "tiny_a": "Storm hits the coast\n\nA powerful storm hit the northern coast on Monday, cutting power to thousands of homes.\n\n"
              "The mayor said emergency crews were working through the night to restore electricity.\n",
    "tiny_b": "Coast recovers after storm\n\nA powerful storm hit the northern coast on Monday, cutting power to thousands of homes.\n\n"
              "Schools will stay closed until Wednesday, the education office said.\n",
    "tiny_c": "Power back for most\n\nCrews restored electricity to most homes on the northern coast after Monday's storm.\n\n"
              "The mayor thanked the emergency crews who worked through the night.\n",
    "tiny_d": "Election date set\n\nThe electoral commission set the general election for the first week of May.\n\n"
              "Opposition parties said the date gave them too little time to campaign.\n",
}
POOL = {**TINY, "seed_0": SEEDS[0].read_text(), "seed_4": SEEDS[4].read_text()}
EDITED = "\n\nOfficials said on Tuesday that the storm was the worst in a decade.\n"

operations = st.lists(
    st.one_of(
        st.tuples(st.just("add"), st.sampled_from(sorted(POOL))),
        st.tuples(st.just("edit"), st.integers(0, 9)),
        st.tuples(st.just("rename"), st.integers(0, 9)),
        st.tuples(st.just("delete"), st.integers(0, 9)),
        st.tuples(st.just("prune"), st.just(0)),
    ),
    min_size=2, max_size=5,
)


def apply(operation: tuple[str, object], raw: Path, path: Path, run_flow) -> None:
    kind, arg = operation
    present = sorted(raw.iterdir())
    if kind == "add":
        target = raw / f"{arg}.txt"
        if not target.exists():
            target.write_text(POOL[arg])
    elif kind == "prune":
        if path.exists():
            result = newsdag("prune", "--warehouse", str(path))
            assert result.returncode == 0, result.stderr
        return
    elif present:
        target = present[int(arg) % len(present)]
        if kind == "edit":
            target.write_text(target.read_text() + EDITED)
        elif kind == "rename":
            target.rename(raw / f"renamed_{target.name}")
        elif kind == "delete":
            target.unlink()
    if any(raw.iterdir()):
        run_flow(raw, path)


@settings(max_examples=5, deadline=None, suppress_health_check=list(HealthCheck))
@given(operations)
def test_6_7_incremental_runs_equal_a_run_from_scratch(run_flow, tmp_path_factory, ops) -> None:
    base = tmp_path_factory.mktemp("incremental")
    raw, path = base / "raw", base / "w.duckdb"
    raw.mkdir()
    for name in ("tiny_a", "tiny_b", "seed_0"):
        (raw / f"{name}.txt").write_text(POOL[name])
    run_flow(raw, path)
    for operation in ops:
        apply(operation, raw, path, run_flow)
    if not any(raw.iterdir()):
        return
    run_flow(raw, path)
    result = newsdag("prune", "--warehouse", str(path))  # deleted files' articles go; renamed ones already went
    assert result.returncode == 0, result.stderr
    fresh_raw, fresh = base / "fresh_raw", base / "fresh.duckdb"
    shutil.copytree(raw, fresh_raw)
    run_flow(fresh_raw, fresh)
    got, expected = comparable_state(path), comparable_state(fresh)
    for key in expected:
        assert got[key] == expected[key], (key, ops)


def test_6_entities_after_adding_an_article_equal_a_fresh_run(run_flow, tmp_path: Path) -> None:
    """Hypothesis's counterexample: seed_4 added to a warehouse holding seed_0 and two tiny articles."""
    raw = tmp_path / "raw"
    raw.mkdir()
    for name in ("tiny_a", "tiny_b", "seed_0"):
        (raw / f"{name}.txt").write_text(POOL[name])
    path = tmp_path / "w.duckdb"
    run_flow(raw, path)
    (raw / "seed_4.txt").write_text(POOL["seed_4"])
    run_flow(raw, path)
    fresh = tmp_path / "fresh.duckdb"
    run_flow(raw, fresh)
    with duckdb.connect(str(path), read_only=True) as con, duckdb.connect(str(fresh), read_only=True) as fresh_con:
        assert entity_state(con) == entity_state(fresh_con)
        assert quote_state(con) == quote_state(fresh_con)


def test_6_entities_and_speakers_do_not_depend_on_the_batches(run_flow, tmp_path: Path, monkeypatch) -> None:
    """One article per batch (each resolving against the ones before it) ends as one batch of all."""
    raw = tmp_path / "raw"
    raw.mkdir()
    for name in ("seed_4", "tiny_a", "seed_0", "tiny_b"):
        (raw / f"{name}.txt").write_text(POOL[name])
    whole = tmp_path / "whole.duckdb"
    run_flow(raw, whole)
    monkeypatch.setenv("NEWSDAG_BATCH_SIZE", "1")
    one_by_one = tmp_path / "one_by_one.duckdb"
    summary = run_flow(raw, one_by_one)
    assert summary["new"] == 4
    with duckdb.connect(str(whole), read_only=True) as con, duckdb.connect(str(one_by_one), read_only=True) as other:
        assert entity_state(con) == entity_state(other)
        assert quote_state(con) == quote_state(other)
        assert sorted(con.execute("select entity_id from entities").fetchall()) == sorted(
            other.execute("select entity_id from entities").fetchall())


def test_6_links_after_an_edit_and_a_prune_equal_a_fresh_run(run_flow, tmp_path: Path) -> None:
    """The issue's numbers: after changing or pruning an article, links differed from a fresh run."""
    raw = tmp_path / "raw"
    shutil.copytree(SEEDS_DIR, raw)
    for name, text in TINY.items():
        (raw / f"{name}.txt").write_text(text)
    path = tmp_path / "w.duckdb"
    run_flow(raw, path)
    (raw / "tiny_a.txt").write_text(TINY["tiny_a"] + EDITED)
    (raw / SEEDS[2].name).unlink()
    run_flow(raw, path)
    assert newsdag("prune", "--warehouse", str(path)).returncode == 0
    fresh = tmp_path / "fresh.duckdb"
    run_flow(raw, fresh)
    assert comparable_state(path) == comparable_state(fresh)


def test_7_a_renamed_file_is_one_article_at_its_new_path(run_flow, tmp_path: Path) -> None:
    raw = tmp_path / "raw"
    raw.mkdir()
    shutil.copy(SEEDS[0], raw / "before.txt")
    shutil.copy(SEEDS[1], raw / "other.txt")
    path = tmp_path / "w.duckdb"
    run_flow(raw, path)
    (raw / "before.txt").rename(raw / "after.txt")
    summary = run_flow(raw, path)
    assert summary["renamed"] == 1
    with duckdb.connect(str(path), read_only=True) as con:
        assert sorted(r[0] for r in con.execute("select source_path from articles").fetchall()) == ["after.txt", "other.txt"]
        assert con.execute("select count(*) from ingest_files where source_path = 'before.txt'").fetchone()[0] == 0
        mentions = con.execute("select count(*) from entity_mentions").fetchone()[0]
    fresh = tmp_path / "fresh.duckdb"
    run_flow(raw, fresh)
    with duckdb.connect(str(fresh), read_only=True) as con:
        assert con.execute("select count(*) from entity_mentions").fetchone()[0] == mentions  # not counted twice
    assert comparable_state(path) == comparable_state(fresh)


def test_7_an_empty_raw_folder_deletes_nothing_unless_asked(prefect_server, run_flow, tmp_path: Path, monkeypatch) -> None:
    from flows.ingest import ingest_flow

    raw = tmp_path / "raw"
    raw.mkdir()
    shutil.copy(SEEDS[0], raw / "a.txt")
    path = tmp_path / "w.duckdb"
    run_flow(raw, path)
    (raw / "a.txt").unlink()  # the folder is empty (an unmounted drive looks the same)
    state = ingest_flow(raw_dir=str(raw), warehouse_path=str(path), return_state=True)
    assert state.is_failed() and "--allow-empty" in state.message and "nothing was changed" in state.message
    with duckdb.connect(str(path), read_only=True) as con:
        assert con.execute("select status from ingest_files").fetchall() == [("loaded",)]
    summary = ingest_flow(raw_dir=str(raw), warehouse_path=str(path), allow_empty=True)
    assert summary["deleted"] == 1


# --- 8. honest run states --------------------------------------------------------------------------

def test_8_a_killed_run_is_marked_crashed_in_runs_and_in_prefect(prefect_server, run_flow, tmp_path: Path) -> None:
    import signal
    import time

    from prefect.client.orchestration import get_client
    from prefect.settings import PREFECT_API_URL

    raw = tmp_path / "raw"
    shutil.copytree(SEEDS_DIR, raw)
    path = tmp_path / "w.duckdb"
    env = {**os.environ, "PREFECT_API_URL": PREFECT_API_URL.value(), "NEWSDAG_BATCH_SIZE": "1"}
    process = subprocess.Popen([sys.executable, "-m", "flows", "run", "--raw-dir", str(raw), "--warehouse", str(path)],
                               env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True,
                               cwd=PROJECT_ROOT)
    assert process.stdout is not None
    for line in process.stdout:  # kill it in the middle of its batches
        if "Finished in state" in line and "load-warehouse" in line:
            break
    time.sleep(0.5)
    os.killpg(process.pid, signal.SIGKILL)
    process.wait()
    with duckdb.connect(str(path), read_only=True) as con:
        (killed_id, status), = con.execute("select run_id, status from runs").fetchall()
    assert status == "running"
    import uuid

    with get_client(sync_client=True) as client:
        assert client.read_flow_run(uuid.UUID(killed_id)).state.is_running()
    run_flow(raw, path)
    with duckdb.connect(str(path), read_only=True) as con:
        assert con.execute("select status from runs where run_id = ?", [killed_id]).fetchone() == ("crashed",)
    with get_client(sync_client=True) as client:
        assert client.read_flow_run(uuid.UUID(killed_id)).state.is_crashed()


@contextmanager
def tiny_disk(tmp_path: Path, size: str) -> Iterator[Path]:
    """A tmpfs of `size` mounted for the test (a skip where it cannot be: mounting needs root)."""
    disk = tmp_path / "tiny"
    disk.mkdir()
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(disk)], capture_output=True)
    if mounted.returncode != 0:
        pytest.skip("a small tmpfs cannot be mounted here (needs root)")
    try:
        yield disk
    finally:
        subprocess.run(["umount", str(disk)], capture_output=True)


def test_8_a_full_disk_says_so(prefect_server, tmp_path: Path) -> None:
    from flows.ingest import ingest_flow

    with tiny_disk(tmp_path, "400k") as disk:
        state = ingest_flow(raw_dir=str(SEEDS_DIR), warehouse_path=str(disk / "w.duckdb"), return_state=True)
        assert state.is_failed()
        assert f"no space left on {disk}" in state.message, state.message


def test_8_a_disk_too_full_to_spill_says_no_space_not_out_of_memory(tmp_path: Path) -> None:
    """DuckDB reports a spill that a full disk refuses as "Out of Memory Error: failed to offload data
    block"; raising the memory limit (what that suggests) would not help: the run must say no space."""
    from flows.lifecycle import disk_full_error

    with tiny_disk(tmp_path, "2m") as disk:
        path = disk / "w.duckdb"
        with duckdb.connect(str(path)) as con:
            con.execute("set memory_limit = '20MB'")
            with pytest.raises(duckdb.OutOfMemoryException, match="failed to offload") as raised:
                con.execute("create table t as select range as i, md5(range::varchar) as s from range(3000000) order by s")
        message = disk_full_error(raised.value, path)
        assert message is not None and message.strerror.startswith(f"no space left on {disk}"), message
        assert "memory" not in str(message).lower()


def test_8_the_prefect_server_marks_a_killed_run_crashed_without_a_next_run(live_server, tmp_path: Path) -> None:
    """With `newsdag`'s server, flow runs send heartbeats and an automation marks a run Crashed when they
    stop: a SIGKILLed run does not stay Running in the UI even if no other run follows."""
    import json
    import signal
    import time
    import urllib.request

    raw = tmp_path / "raw"
    raw.mkdir()
    for copy in range(24):  # a run that is still going when its first heartbeat arrives
        for seed in SEEDS:
            (raw / f"{copy}_{seed.name}").write_text(seed.read_text() + f"\n\nEditor's note number {copy}.\n")
    path = tmp_path / "w.duckdb"
    env = {**live_server["env"], "NEWSDAG_BATCH_SIZE": "1"}
    process = subprocess.Popen([sys.executable, "-m", "flows", "run", "--raw-dir", str(raw), "--warehouse", str(path)],
                               env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True,
                               cwd=PROJECT_ROOT)
    assert process.stdout is not None
    def post(route: str, body: dict) -> object:
        request = urllib.request.Request(f"{live_server['api']}/{route}", data=json.dumps(body).encode(),
                                         method="POST", headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310 - loopback
            return json.load(response)

    def flow_run_states() -> list[str]:
        return [run["state_type"] for run in post("flow_runs/filter", {})]  # type: ignore[union-attr]

    flow_run_id = ""

    def heartbeats() -> int:
        found = post("events/filter", {"filter": {"event": {"name": ["prefect.flow-run.heartbeat"]},
                                                  "resource": {"id": [f"prefect.flow-run.{flow_run_id}"]},
                                                  "occurred": {"since": "2000-01-01T00:00:00Z"}}, "limit": 10})
        return len(found["events"])  # type: ignore[index]

    for line in process.stdout:
        if "/runs/flow-run/" in line:
            flow_run_id = line.strip().rsplit("/", 1)[-1]
        if "Finished in state" in line and "plan-ingest" in line:
            break
    assert flow_run_id, "the run printed no flow-run URL"
    # Kill as soon as the server holds a heartbeat (the first is sent when the run starts), not after a
    # fixed sleep that a fast machine outruns.
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and process.poll() is None and not heartbeats():
        time.sleep(1)
    assert heartbeats(), "the server received no heartbeat from the run"
    assert process.poll() is None, "the run ended before it could be killed"
    os.killpg(process.pid, signal.SIGKILL)
    process.wait()

    deadline = time.monotonic() + 240
    while time.monotonic() < deadline and "CRASHED" not in flow_run_states():
        time.sleep(5)
    assert "CRASHED" in flow_run_states() and "RUNNING" not in flow_run_states()


def test_6_neighbour_lists_are_exact_and_do_not_depend_on_blocks_or_order() -> None:
    """exact_neighbour_lists against a brute-force reference, with ties (copied paragraphs), read in
    blocks of different sizes and in another order."""
    import numpy as np
    import polars as pl

    from tasks import similarity

    rng = np.random.default_rng(3)
    vectors = rng.normal(size=(60, 16)).astype(np.float32)
    vectors[10:15] = vectors[3]  # one paragraph copied in five other articles: exact ties
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    ids = [f"p{i:03d}" for i in range(60)]
    articles = [f"a{i // 3:02d}" for i in range(60)]
    corpus = pl.DataFrame({"paragraph_id": ids, "article_id": articles,
                           "embedding": pl.Series(vectors.tolist(), dtype=pl.Array(pl.Float32, 16))})
    threshold, top_k = 0.1, 3
    expected = set()
    for q in range(60):
        scores = sorted(((round(float(vectors[q] @ vectors[c]), 6), ids[c]) for c in range(60)
                         if articles[c] != articles[q]), key=lambda hit: (-hit[0], hit[1]))
        expected |= {(ids[q], other) for score, other in scores[:top_k] if score >= threshold}

    def lists(frame_blocks) -> set[tuple[str, str]]:
        found = similarity.exact_neighbour_lists(ids, articles, vectors, frame_blocks, threshold, top_k)
        return set(found.select("paragraph_id", "neighbour_id").iter_rows())

    assert lists([corpus]) == expected
    assert lists(corpus.iter_slices(7)) == expected
    assert lists([corpus.reverse()]) == expected


def test_6_links_through_the_hnsw_index_match_the_exact_ones_on_a_small_warehouse(
    seed_run, run_flow, tmp_path: Path, monkeypatch
) -> None:
    raw_dir, exact, _ = seed_run
    monkeypatch.setenv("NEWSDAG_SIMILARITY_EXACT_MAX", "0")  # every batch through the index
    path = tmp_path / "w.duckdb"
    run_flow(raw_dir, path)
    got, expected = comparable_state(path)["links"], comparable_state(exact)["links"]
    # HNSW is approximate; on 94 paragraphs its search is (nearly) exhaustive. The index computes cosines
    # with its own float32 kernel, so the 4th decimal may differ from the exact path's: pairs are compared,
    # and each cosine to within 1e-3.
    got_pairs, expected_pairs = {link[:4]: link[4] for link in got}, {link[:4]: link[4] for link in expected}
    assert len(set(got_pairs) ^ set(expected_pairs)) <= 0.02 * len(expected), (len(got), len(expected))
    assert all(abs(got_pairs[pair] - expected_pairs[pair]) <= 1e-3 for pair in set(got_pairs) & set(expected_pairs))
    again = tmp_path / "again.duckdb"
    run_flow(raw_dir, again)
    assert comparable_state(again)["links"] == got  # the same links each run (the graph is built on one thread)
