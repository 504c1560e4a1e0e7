"""Safe to leave running: crashes, a second writer, transient read failures, bad input at scale,
deleted files and failing data checks — with the real flow, real models and real DuckDB files."""

from __future__ import annotations

import os
import random
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import duckdb
import numpy as np
import pytest

from storage.backend import backend_for
from storage.connection import WarehouseBusy
from storage.derived import run_checks
from tasks import ingest
from tasks.ingest import UnreadableFile, _read_bytes
from tests.conftest import PROJECT_ROOT, SEEDS_DIR

SQL_DIR = PROJECT_ROOT / "sql"
# Columns that differ between any two runs (when, and by which run).
# mtime_ns: when a file was written (each test's copy of the corpus has its own), not what it holds.
VOLATILE_COLUMNS = {"ingested_at", "run_id", "first_seen_at", "last_seen_at", "mtime_ns",
                    # digests of what an article's grouping read, times included (article_signatures)
                    "grouping_signature", "similarity_signature"}


def write_corpus(raw: Path) -> None:
    """The five samples plus two shorter retellings: seven articles, four batches of two."""
    raw.mkdir(parents=True, exist_ok=True)
    seeds = sorted(SEEDS_DIR.glob("*.txt"))
    for path in seeds:
        shutil.copy(path, raw / path.name)
    for number, seed in enumerate(seeds[:2]):
        paragraphs = [p for p in seed.read_text().split("\n\n") if len(p.split()) > 12]
        (raw / f"retold_{number}.txt").write_text(f"Retold headline {number}\n\n" + "\n\n".join(paragraphs[1:5]) + "\n")


def _is_float(data_type: str) -> bool:
    return data_type.startswith(("FLOAT", "DOUBLE", "REAL"))


def warehouse_state(path: Path) -> dict[str, tuple[list, list]]:
    """Every table except `runs`, without the columns that name a run or a time; per table the exact
    columns' rows and, aligned with them, the float columns (compared with a tolerance).
    A file's status `loaded` (by this run) and `unchanged` (loaded earlier) both mean: its article is here."""
    state: dict[str, tuple[list, list]] = {}
    with duckdb.connect(str(path), read_only=True) as con:
        tables = [row[0] for row in con.execute(
            "select table_name from information_schema.tables where table_schema = 'main' and table_type = 'BASE TABLE' "
            "and table_name <> 'runs' order by 1").fetchall()]
        for table in tables:
            columns = con.execute(
                "select column_name, data_type from information_schema.columns where table_schema = 'main' "
                "and table_name = ? order by ordinal_position", [table]).fetchall()
            exact = [f'"{name}"' for name, kind in columns if name not in VOLATILE_COLUMNS and not _is_float(kind)]
            floats = [f'"{name}"' for name, kind in columns if name not in VOLATILE_COLUMNS and _is_float(kind)]
            if table == "ingest_files":
                exact = [c for c in exact if c != '"change"']
                exact = [("case when status in ('loaded', 'unchanged') then 'present' else status end" if c == '"status"'
                          else c) for c in exact]
            # The content version counts the writes that led to the content (one run's or several), and the
            # derived steps' records carry it: not a result.
            where = (" where key <> 'content_version' and not starts_with(key, 'derived.')"
                     if table == "warehouse_meta" else "")
            rows = con.execute(f"select {', '.join(exact + floats)} from main.{table}{where} order by all").fetchall()
            state[table] = ([row[:len(exact)] for row in rows], [row[len(exact):] for row in rows])
    return state


def assert_same_state(got: dict, expected: dict) -> None:
    assert got.keys() == expected.keys()
    for table in expected:
        assert got[table][0] == expected[table][0], f"{table} differs"
        for got_floats, expected_floats in zip(got[table][1], expected[table][1]):
            for a, b in zip(got_floats, expected_floats):
                assert (a is None and b is None) or np.allclose(np.asarray(a, dtype=float), np.asarray(b, dtype=float),
                                                                atol=1e-5), f"{table} floats differ"


def article_parts(path: Path) -> tuple[dict[str, tuple], set[tuple[str, str]]]:
    """Per article: its content, paragraphs, mentions, removed spans and source; and the links."""
    with duckdb.connect(str(path), read_only=True) as con:
        parts = {
            row[0]: row[1:] for row in con.execute("""
                select a.article_id, a.content_sha256, a.n_paragraphs,
                       (select list(text_sha256 order by position) from paragraphs p where p.article_id = a.article_id),
                       (select count(*) from entity_mentions m where m.article_id = a.article_id),
                       (select count(*) from removed_spans r where r.article_id = a.article_id),
                       (select count(*) from article_sources s where s.article_id = a.article_id)
                from articles a""").fetchall()
        }
        links = set(con.execute("select paragraph_id_a, paragraph_id_b from paragraph_similarity").fetchall())
    return parts, links


def assert_whole_or_absent(path: Path, reference: Path) -> int:
    """After a crash: the warehouse opens (read-write, as the next run opens it), its checks pass, and
    every article in it has exactly the rows it has after an uninterrupted run. Returns the articles present."""
    with backend_for(path).connect() as con:
        problems = run_checks(con, SQL_DIR)
    # Stories are regrouped once per run, after the batches: a run killed in between leaves its
    # articles (whole) outside any story until the next run.
    problems = problems.filter(problems["problem"] != "article in no story")
    assert problems.height == 0, problems.rows()
    parts, links = article_parts(path)
    expected_parts, _ = article_parts(reference)
    assert parts == {article: expected_parts[article] for article in parts}
    # Links are those of the present articles' neighbour lists (they depend on which articles are
    # present, not on the order they came in): every linked paragraph is present, and nothing is left
    # queued, since each batch's relink commits with it. The re-run's end state is compared whole below.
    with duckdb.connect(str(path), read_only=True) as con:
        present = {row[0] for row in con.execute("select paragraph_id from paragraphs").fetchall()}
        queued = con.execute("select count(*) from relink_queue").fetchone()[0]
    assert all(a in present and b in present for a, b in links)
    assert queued == 0
    return len(parts)


@pytest.fixture()
def api_env(prefect_server) -> dict[str, str]:
    """Environment for `newsdag` subprocesses: the session's test server (no ephemeral start-up)."""
    from prefect.settings import PREFECT_API_URL

    return {**os.environ, "PREFECT_API_URL": PREFECT_API_URL.value()}


def run_and_kill(command: list[str], env: dict[str, str], after_tasks: int, delay_s: float) -> bool:
    """Start a run; SIGKILL it `delay_s` after its `after_tasks`-th task run finished. False if it ended first."""
    process = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                               start_new_session=True)
    finished = 0
    assert process.stdout is not None
    for line in process.stdout:
        finished += "Finished in state" in line and "Task run" in line
        if finished >= after_tasks:
            time.sleep(delay_s)
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
            return True
    process.wait()
    return False


def test_sigkill_at_random_points_leaves_whole_articles_and_the_next_run_reaches_the_same_state(
    api_env, run_flow, tmp_path: Path, monkeypatch
) -> None:
    monkeypatch.setenv("NEWSDAG_BATCH_SIZE", "2")
    reference_raw, crashed_raw = tmp_path / "ref" / "raw", tmp_path / "crash" / "raw"
    write_corpus(reference_raw)
    write_corpus(crashed_raw)
    reference = tmp_path / "ref" / "w.duckdb"
    run_flow(reference_raw, reference)

    crashed = tmp_path / "crash" / "w.duckdb"
    env = {**api_env, "NEWSDAG_BATCH_SIZE": "2"}
    command = [sys.executable, "-m", "flows", "run", "--raw-dir", str(crashed_raw), "--warehouse", str(crashed)]
    seed = int(os.environ.get("NEWSDAG_CRASH_SEED", random.randrange(1_000_000)))
    rng = random.Random(seed)
    # A full run has 40-odd task runs (8+ per batch); each kill lands after a random one plus up to 1 s.
    kills = [(rng.randint(1, 14), rng.uniform(0.0, 1.0)) for _ in range(2)]
    present = []
    for after_tasks, delay_s in kills:
        killed = run_and_kill(command, env, after_tasks, delay_s)
        if killed and crashed.exists():
            try:
                present.append(assert_whole_or_absent(crashed, reference))
            except AssertionError as error:  # say how to replay this crash
                raise AssertionError(f"killed after task {after_tasks} + {delay_s:.2f} s, NEWSDAG_CRASH_SEED={seed}: {error}") from error
    assert present, f"no run was killed (seed {seed})"
    finished = subprocess.run(command, env=env, capture_output=True, text=True, timeout=600)
    assert finished.returncode == 0, (seed, finished.stderr[-2000:])
    try:
        assert_same_state(warehouse_state(crashed), warehouse_state(reference))
    except AssertionError as error:
        raise AssertionError(f"after kills {kills}, NEWSDAG_CRASH_SEED={seed}: {error}") from error
    print(f"crash seed {seed}: kills {kills}, articles present after each kill {present}")


def test_articles_loaded_by_a_run_that_died_before_recording_files_are_not_redone(seed_run, run_flow, tmp_path) -> None:
    raw_dir, loaded, _ = seed_run
    path = tmp_path / "w.duckdb"
    shutil.copy(loaded, path)
    with duckdb.connect(str(path)) as con:  # the state a kill between load-warehouse and record-files leaves
        con.execute("delete from ingest_files")
    before = warehouse_state(path)
    summary = run_flow(raw_dir, path)
    assert (summary["unchanged"], summary["new"]) == (5, 0)
    assert "embed" not in summary["seconds_per_step"]
    after = warehouse_state(path)
    assert_same_state({t: v for t, v in after.items() if t != "ingest_files"},
                      {t: v for t, v in before.items() if t != "ingest_files"})
    assert len(after["ingest_files"][0]) == 5


def test_a_second_writer_exits_with_a_clear_message(prefect_server, tmp_path: Path, monkeypatch, capsys) -> None:
    from flows import cli

    raw = tmp_path / "raw"
    raw.mkdir()
    (raw / "a.txt").write_text("Headline\n\nA short article that nobody will read today.\n")
    path = tmp_path / "w.duckdb"
    monkeypatch.setattr(sys, "argv", ["newsdag", "run", "--ephemeral", "--raw-dir", str(raw), "--warehouse", str(path)])
    with backend_for(path).writer_lock():  # another run is writing
        with pytest.raises(SystemExit) as exit_:
            cli.main()
    assert exit_.value.code == 1
    error = capsys.readouterr().err.strip().splitlines()[-1]
    assert error.startswith("newsdag: error:") and "another newsdag run is writing to" in error
    assert not path.exists()  # the waiting run touched nothing
    with pytest.raises(WarehouseBusy):
        with backend_for(path).writer_lock(), backend_for(path).writer_lock():
            pass


def test_transient_read_failures_are_retried(tmp_path: Path, monkeypatch) -> None:
    path = tmp_path / "a.txt"
    path.write_text("Title\n\nText.")
    real_read = ingest._read_once
    failures = iter([OSError(11, "Resource temporarily unavailable")] * 2)

    def flaky_read(self: Path, *args: object) -> bytes:  # fault injection: the first reads fail
        error = next(failures, None)
        if error:
            raise error
        return real_read(self, *args)

    monkeypatch.setattr(ingest, "_read_once", flaky_read)
    assert _read_bytes(path, delay_s=0.01) == b"Title\n\nText."
    failures = iter([OSError(11, "Resource temporarily unavailable")] * 3)
    with pytest.raises(UnreadableFile, match="temporarily unavailable"):
        _read_bytes(path, delay_s=0.01)
    with pytest.raises(UnreadableFile, match="vanished"):
        _read_bytes(tmp_path / "gone.txt")


def test_files_locked_or_vanishing_mid_run_are_retried_then_recorded(run_flow, tmp_path: Path, monkeypatch) -> None:
    raw = tmp_path / "raw"
    raw.mkdir()
    seeds = sorted(SEEDS_DIR.glob("*.txt"))
    shutil.copy(seeds[2], raw / "flaky.txt")  # fails once while being read, then reads
    (raw / "locked.txt").write_text("Locked\n\nThis file stays locked for the whole run.\n")
    (raw / "vanishing.txt").write_text("Vanishing\n\nThis file is deleted after discovery.\n")
    real_read = ingest._read_once
    reads: dict[str, int] = {}

    def faulty_read(self: Path, *args: object) -> bytes:  # the first read of each file is discovery's (hashing)
        reads[self.name] = reads.get(self.name, 0) + 1
        if reads[self.name] > 1:
            if self.name == "flaky.txt" and reads[self.name] == 2:
                raise OSError(11, "Resource temporarily unavailable")
            if self.name == "locked.txt":
                raise PermissionError(13, "Permission denied")
            if self.name == "vanishing.txt":
                self.unlink(missing_ok=True)
        return real_read(self, *args)

    monkeypatch.setattr(ingest, "_read_once", faulty_read)
    path = tmp_path / "w.duckdb"
    summary = run_flow(raw, path)
    assert (summary["new"], summary["failed"]) == (1, 2)
    assert reads["locked.txt"] == 1 + 3  # discovery, then three attempts
    with duckdb.connect(str(path), read_only=True) as con:
        outcomes = dict(con.execute("select source_path, status || ': ' || coalesce(error, '') from ingest_files").fetchall())
        assert con.execute("select source_path from articles").fetchall() == [("flaky.txt",)]
    assert outcomes == {"flaky.txt": "loaded: ", "locked.txt": "failed: cannot read file: Permission denied",
                        "vanishing.txt": "failed: file vanished before it could be read"}


def test_bad_input_at_scale_loads_every_good_file_and_records_every_bad_one(run_flow, tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("NEWSDAG_MAX_FILE_BYTES", "50000")
    raw = tmp_path / "raw"
    (raw / "nested").mkdir(parents=True)
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.txt").write_text("Secret\n\nSECRET-OUTSIDE-TEXT must never be read into the warehouse.\n")
    seeds = sorted(SEEDS_DIR.glob("*.txt"))
    good_0 = "good_0 it's \"quoted\"; drop table articles; --.txt"  # values reach SQL only as parameters
    shutil.copy(seeds[0], raw / good_0)
    shutil.copy(seeds[3], raw / "nested" / "good_1.txt")
    expected: dict[str, str] = {}  # bad file -> a word its recorded reason must contain
    rng = random.Random(7)
    for number in range(25):
        (raw / f"empty_{number}.txt").write_bytes(b"" if number % 2 else b" \n\n ")
        expected[f"empty_{number}.txt"] = "empty"
        (raw / f"binary_{number}.bin").write_bytes(bytes(rng.randrange(256) for _ in range(2000)) + b"\x00")
        expected[f"binary_{number}.bin"] = "binary"
        (raw / f"controls_{number}.txt").write_bytes(bytes(rng.randrange(1, 9) for _ in range(500)))
        expected[f"controls_{number}.txt"] = "binary"
        (raw / f"no_letters_{number}.txt").write_bytes(b"1234 5678 -- 90 %\n" * 10)
        expected[f"no_letters_{number}.txt"] = "no text"
        (raw / f"outside_{number}.txt").symlink_to(outside / "secret.txt")
        expected[f"outside_{number}.txt"] = "outside the raw folder"
    for number in range(5):
        (raw / f"huge_{number}.txt").write_bytes(b"Word " * 20000)
        expected[f"huge_{number}.txt"] = "too large"
        (raw / f"dangling_{number}.txt").symlink_to(raw / "missing.txt")
        expected[f"dangling_{number}.txt"] = "symlink"
    (raw / "outside_folder").symlink_to(outside, target_is_directory=True)
    expected["outside_folder"] = "symlinked folder"
    (raw / "zz_inside_link.txt").symlink_to(raw / good_0)  # inside the folder: a copy of good_0
    os.mkfifo(raw / "pipe.txt")  # would block a reader forever
    expected["pipe.txt"] = "not a regular file"
    (raw / ".hidden.txt").write_text("Hidden\n\nEditors' scratch files are ignored.\n")

    path = tmp_path / "w.duckdb"
    summary = run_flow(raw, path)
    assert (summary["new"], summary["duplicate"], summary["failed"]) == (2, 1, len(expected))
    with duckdb.connect(str(path), read_only=True) as con:
        loaded = {row[0] for row in con.execute("select source_path from articles").fetchall()}
        failed = dict(con.execute("select source_path, error from ingest_files where status = 'failed'").fetchall())
        duplicate = con.execute("select source_path, duplicate_of from ingest_files where status = 'duplicate'").fetchall()
        leaked = con.execute("select count(*) from article_sources where raw_text like '%SECRET-OUTSIDE-TEXT%'").fetchone()[0]
    assert loaded == {good_0, "nested/good_1.txt"}
    assert duplicate == [("zz_inside_link.txt", good_0)]
    assert failed.keys() == expected.keys()
    assert all(expected[name] in failed[name] for name in expected), {n: failed[n] for n in expected if expected[n] not in failed[n]}
    assert leaked == 0


def test_read_never_follows_a_path_out_of_the_raw_folder(tmp_path: Path) -> None:
    import polars as pl

    from tasks.ingest import read_documents

    raw = tmp_path / "raw"
    raw.mkdir()
    (tmp_path / "secret.txt").write_text("Secret\n\nNot for the warehouse.\n")
    (raw / "swapped.txt").symlink_to(tmp_path / "secret.txt")  # replaced by a link after discovery
    files = pl.DataFrame({"source_path": ["swapped.txt", "../secret.txt"], "content_sha256": ["x", "y"]})
    documents = read_documents(files, raw)
    assert documents["text"].to_list() == [None, None]
    assert all("outside the raw folder" in error for error in documents["error"].to_list())


def test_deleted_files_are_kept_marked_until_pruned(run_flow, tmp_path: Path) -> None:
    raw = tmp_path / "raw"
    raw.mkdir()
    seeds = sorted(SEEDS_DIR.glob("*.txt"))
    shutil.copy(seeds[1], raw / "kept.txt")
    shutil.copy(seeds[4], raw / "removed.txt")
    path = tmp_path / "w.duckdb"
    run_flow(raw, path)
    (raw / "removed.txt").unlink()
    summary = run_flow(raw, path)
    assert summary["deleted"] == 1

    def rows() -> dict[str, object]:
        with duckdb.connect(str(path), read_only=True) as con:
            return {
                "articles": sorted(r[0] for r in con.execute("select source_path from articles").fetchall()),
                "files": dict(con.execute("select source_path, status from ingest_files").fetchall()),
                "orphans": run_checks(con, SQL_DIR).height,
                "links": con.execute("select count(*) from paragraph_similarity").fetchone()[0],
            }

    assert rows()["articles"] == ["kept.txt", "removed.txt"]  # kept, never silently dropped
    assert rows()["files"] == {"kept.txt": "unchanged", "removed.txt": "deleted"}
    result = subprocess.run([sys.executable, "-m", "flows", "prune", "--warehouse", str(path)],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert "pruned 1 article" in result.stdout
    after = rows()
    assert after["articles"] == ["kept.txt"] and after["files"] == {"kept.txt": "unchanged"}
    assert after["orphans"] == 0 and after["links"] == 0  # its links went with it
    assert run_flow(raw, path)["unchanged"] == 1


def test_a_failed_data_check_fails_the_run_visibly(prefect_server, tmp_path: Path, monkeypatch, capsys) -> None:
    from flows import cli
    from flows.ingest import ingest_flow

    sql_dir = tmp_path / "sql"
    shutil.copytree(SQL_DIR, sql_dir)
    (sql_dir / "checks" / "planted.sql").write_text("select 'planted problem' as problem, 'row 1' as detail")
    raw = tmp_path / "raw"
    raw.mkdir()
    path = tmp_path / "w.duckdb"
    # A warehouse with a completed run (a first run that fails leaves no file at all: tests/test_safety.py).
    assert ingest_flow(raw_dir=str(raw), warehouse_path=str(path), return_state=True).is_completed()
    monkeypatch.setenv("NEWSDAG_SQL_DIR", str(sql_dir))

    state = ingest_flow(raw_dir=str(raw), warehouse_path=str(path), return_state=True)
    assert state.is_failed()
    assert "warehouse check failures" in state.message and "planted problem" in state.message
    with duckdb.connect(str(path), read_only=True) as con:
        statuses = con.execute("select status, summary from runs order by started_at").fetchall()
    assert [status for status, _ in statuses] == ["completed", "failed"]  # the run's row says it failed, and why
    assert "planted problem" in statuses[1][1]

    monkeypatch.setattr(sys, "argv", ["newsdag", "run", "--ephemeral", "--raw-dir", str(raw), "--warehouse", str(path)])
    with pytest.raises(SystemExit) as exit_:
        cli.main()
    assert exit_.value.code == 1
    error = capsys.readouterr().err.strip().splitlines()[-1]
    assert error.startswith("newsdag: error: run failed") and "planted problem" in error


def test_batches_in_flight_give_the_same_warehouse_as_one_run_per_article(
    seed_run, run_flow, tmp_path, monkeypatch
) -> None:
    """With one article per batch, batch k is embedded while batch k+1 is cleaned and tagged: k+1's
    entities must resolve against batch k before it is loaded, and its texts reuse k's embeddings. The
    result must be what loading the articles one run at a time gives."""
    raw_dir, _, _ = seed_run
    monkeypatch.setenv("NEWSDAG_BATCH_SIZE", "1")
    in_flight = tmp_path / "in-flight.duckdb"
    summary = run_flow(raw_dir, in_flight)
    assert summary["new"] == 5

    one_by_one, raw = tmp_path / "one-by-one.duckdb", tmp_path / "raw"
    raw.mkdir()
    for path in sorted(raw_dir.glob("*.txt")):
        shutil.copy(path, raw / path.name)
        assert run_flow(raw, one_by_one)["new"] == 1
    # A topic or story is named after its earliest article when it was founded, and one run sees all
    # five at the same moment: ids may differ, members and summaries may not.
    derived_from_time = {"topics", "stories", "story_articles"}
    got, expected = warehouse_state(in_flight), warehouse_state(one_by_one)
    assert_same_state({t: v for t, v in got.items() if t not in derived_from_time},
                      {t: v for t, v in expected.items() if t not in derived_from_time})
    assert story_members(in_flight) == story_members(one_by_one)
    assert topic_summaries(in_flight) == topic_summaries(one_by_one)


def story_members(path: Path) -> set[frozenset[str]]:
    """Each story as the set of its articles, with the set of its topic's articles."""
    with duckdb.connect(str(path), read_only=True) as con:
        rows = con.execute(
            "select list(sa.article_id), any_value(t.members) from story_articles sa join stories s using (story_id) "
            "join (select s2.topic_id, list(sa2.article_id order by sa2.article_id) as members "
            "      from story_articles sa2 join stories s2 using (story_id) group by s2.topic_id) t using (topic_id) "
            "group by sa.story_id").fetchall()
    return {(frozenset(row[0]), tuple(row[1])) for row in rows}


def topic_summaries(path: Path) -> list[tuple]:
    """The topics' rows without their ids, which name the article each was founded on."""
    with duckdb.connect(str(path), read_only=True) as con:
        columns = [name for (name,) in con.execute(
            "select column_name from information_schema.columns where table_name = 'topics' "
            "and column_name not in ('topic_id', 'first_seen_at', 'last_seen_at', 'updated_at', 'run_id') "
            "order by ordinal_position").fetchall()]
        return con.execute(f"select {', '.join(columns)} from topics order by all").fetchall()


def test_articles_of_another_run_still_writing_need_no_story_nor_recount_yet(seed_run, tmp_path: Path) -> None:
    """On a DuckLake several runs write at once, and each groups its articles when it ends: a run's checks
    must not fail on another running run's articles, yet must on its own and on those of ended runs."""
    _, path, _ = seed_run
    copy = tmp_path / "copy.duckdb"
    shutil.copy(path, copy)
    with backend_for(copy).connect() as con:
        article_id = con.execute("select min(article_id) from articles").fetchone()[0]
        con.execute("insert into runs (run_id, started_at, status) values ('other', now(), 'running')")
        con.execute("update articles set run_id = 'other' where article_id = ?", [article_id])
        con.execute("delete from story_articles where article_id = ?", [article_id])

        def unstoried(run_id: str | None) -> list[str]:
            problems = run_checks(con, SQL_DIR, run_id)
            return problems.filter(problems["problem"] == "article in no story")["detail"].to_list()

        # ... nor on the mention counts of the entities it shares, which it recounts when it ends.
        entity_id = con.execute("select entity_id from entity_mentions where article_id = ? limit 1", [article_id]).fetchone()[0]
        con.execute("update entities set mention_count = mention_count + 1 where entity_id = ?", [entity_id])

        def stale(run_id: str | None) -> list[str]:
            problems = run_checks(con, SQL_DIR, run_id)
            return problems.filter(problems["problem"] == "entity mention_count out of date")["detail"].to_list()

        assert unstoried("this-run") == [] and stale("this-run") == []
        assert unstoried(None) == [] and stale(None) == []
        assert unstoried("other") == [article_id] and stale("other") == [entity_id]
        con.execute("update runs set status = 'crashed' where run_id = 'other'")
        assert unstoried("this-run") == [article_id] and stale("this-run") == [entity_id]
