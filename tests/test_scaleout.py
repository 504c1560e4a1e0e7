"""Past one machine: several `newsdag run` processes on shards of one raw folder, writing at the same time
into one DuckLake warehouse (catalog in a real PostgreSQL server started here, on loopback), with the
models in-process or on a real Dask cluster. Compared, row for row, with one single-process run into
the single DuckDB file."""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from storage import loads
from storage.backend import backend_for, backend_of
from storage.derived import run_checks
from storage.lake import close_lakes, open_lake
from storage.readonly import QueryRefused, read_query
from tasks.ingest import select_shard, shard_of
from tasks.settings import get_settings
from tests.conftest import PROJECT_ROOT, SEEDS_DIR
from tests.pgserver import PostgresServer, create_database, postgres_bin_dir, postgres_server
from tests.test_reliability import write_corpus

SQL_DIR = PROJECT_ROOT / "sql"
# (mtime_ns: a file's modification time as discovery saw it; unset while too recent to trust.)
VOLATILE_COLUMNS = {"ingested_at", "run_id", "first_seen_at", "last_seen_at", "change", "mtime_ns",
                    # digests of what an article's grouping read, times included (article_signatures)
                    "grouping_signature", "similarity_signature"}
# What a run leaves about itself (which run, when), not data.
NOT_COMPARED = {"runs", "warehouse_meta"}
# What depends on the order articles are met in, by design: a story's id and headline (its first-seen
# article). Two shards meet the articles in another order than one run does, as one run with another batch
# size does: stories are compared by membership. (Entities, mentions and speakers are resolved over the
# whole warehouse by the run that finishes last, so they are compared whole.)
ORDER_DEPENDENT = {"stories": None, "story_articles": None,
                   # A topic's id is its earliest article when founded (tasks/topics.py), and which run
                   # founded it depends on which finished first: compared without it, and by members.
                   "topics": {"topic_id"}, "cluster_merges": None}
# Each paragraph keeps its top-k links; with k larger than any paragraph's neighbours the links are every
# pair above the threshold, whatever the order (with the default k=5 the first-loaded keep theirs).
ORDER_FREE_SETTINGS = {"NEWSDAG_SIMILARITY_TOP_K": "100"}

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def pg() -> Iterator[PostgresServer]:
    if postgres_bin_dir() is None:
        if os.environ.get("CI"):  # CI installs it (.ci/run): missing there is a failure, not a skip
            pytest.fail("PostgreSQL is not installed in CI")
        pytest.skip("PostgreSQL is not installed (.ci/run installs Debian's postgresql)")
    with postgres_server() as server:
        yield server


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Seven articles (the samples and two retellings that share paragraphs with them) and a byte-identical
    copy of one sample, which lands in the other shard from its original."""
    raw = tmp_path_factory.mktemp("corpus") / "raw"
    write_corpus(raw)
    seed = sorted(SEEDS_DIR.glob("*.txt"))[0]
    for number in range(10):  # a name for the copy whose shard differs from the original's
        name = f"copy_{number}.txt"
        if shard_of(name, 2) != shard_of(seed.name, 2):
            shutil.copy(seed, raw / name)
            break
    return raw


@pytest.fixture(scope="module")
def reference(run_flow, corpus: Path, tmp_path_factory: pytest.TempPathFactory) -> dict:
    """One single-process run over the whole corpus into the single DuckDB file."""
    path = tmp_path_factory.mktemp("reference") / "w.duckdb"
    saved = {key: os.environ.get(key) for key in ORDER_FREE_SETTINGS}
    os.environ.update(ORDER_FREE_SETTINGS)
    try:
        run_flow(corpus, path)
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key)
            else:
                os.environ[key] = value
    with backend_for(path).connect_read_only() as con:
        return state_of(con)


def state_of(con) -> dict[str, tuple[list, list]]:  # type: ignore[no-untyped-def]
    """Every table but `runs`/`warehouse_meta`, as sorted rows without run ids and times; float columns
    (vectors, cosines) apart, to be compared with a tolerance. File statuses `loaded` and `unchanged`
    both mean: its article is here."""
    state: dict[str, tuple[list, list]] = {}
    tables = [row[0] for row in con.execute(
        "select table_name from duckdb_tables() where database_name = current_database() and schema_name = 'main' order by 1").fetchall()]
    for table in tables:
        if table in NOT_COMPARED or (table in ORDER_DEPENDENT and ORDER_DEPENDENT[table] is None):
            continue
        columns = con.execute("select column_name, data_type from duckdb_columns() where database_name = current_database() and schema_name = 'main' "
                              "and table_name = ? order by column_index", [table]).fetchall()
        columns = [(name, kind) for name, kind in columns if name not in (ORDER_DEPENDENT.get(table) or ())]
        exact = [f'"{name}"' for name, kind in columns if name not in VOLATILE_COLUMNS and not kind.startswith("FLOAT")]
        floats = [f'"{name}"' for name, kind in columns if name not in VOLATILE_COLUMNS and kind.startswith("FLOAT")]
        if table == "ingest_files":
            exact = [("case when status in ('loaded', 'unchanged') then 'present' else status end" if c == '"status"'
                      else c) for c in exact]
        rows = con.execute(f"select {', '.join(exact + floats)} from {table} order by all").fetchall()
        state[table] = ([row[:len(exact)] for row in rows], [row[len(exact):] for row in rows])
    members = con.execute("select list_sort(list(article_id)) as m from story_articles group by story_id order by m").fetchall()
    state["story members"] = (members, [() for _ in members])
    topic_members = con.execute("select list_sort(list(article_id)) as m from story_articles join stories using (story_id) "
                                "group by topic_id order by m").fetchall()
    state["topic members"] = (topic_members, [() for _ in topic_members])
    return state


def assert_same_rows(got: dict, expected: dict) -> None:
    """Every table's rows equal (floats within 1e-4); the message names every table that differs."""
    assert got.keys() == expected.keys()
    differences = []
    for table in expected:
        if got[table][0] != expected[table][0]:
            expected_rows, got_rows = set(map(repr, expected[table][0])), set(map(repr, got[table][0]))
            differences.append(f"{table}: {len(got[table][0])} rows against {len(expected[table][0])}, "
                               f"missing {sorted(expected_rows - got_rows)[:2]}, extra {sorted(got_rows - expected_rows)[:2]}")
            continue
        for got_floats, expected_floats in zip(got[table][1], expected[table][1]):
            if not all((a is None and b is None) or np.allclose(np.asarray(a, dtype=float), np.asarray(b, dtype=float), atol=1e-4)
                       for a, b in zip(got_floats, expected_floats)):
                differences.append(f"{table}: floats differ")
                break
    assert not differences, "\n".join(differences)


@pytest.fixture()
def lake(pg: PostgresServer, tmp_path: Path, request: pytest.FixtureRequest) -> dict[str, str]:
    """A new DuckLake: its catalog a fresh PostgreSQL database, its Parquet files in a temp folder."""
    # PostgreSQL names stop at 63 bytes: the test's name cut short, and a digest of it (parametrized tests).
    node = request.node.name.lower()
    name = "lake_" + re.sub(r"[^a-z0-9_]", "_", node)[:40] + "_" + hashlib.sha1(node.encode()).hexdigest()[:8]
    return {"NEWSDAG_WAREHOUSE": "ducklake:postgres:" + create_database(pg, name),
            "NEWSDAG_LAKE_DATA": str(tmp_path / "lake-data")}


@pytest.fixture()
def run_env(prefect_server, lake: dict[str, str]) -> dict[str, str]:
    from prefect.settings import PREFECT_API_URL

    # Two batches of two per shard: the runs interleave their commits.
    return {**os.environ, "PREFECT_API_URL": PREFECT_API_URL.value(), "NEWSDAG_BATCH_SIZE": "2", **lake,
            **ORDER_FREE_SETTINGS}


def start_run(raw: Path, env: dict[str, str], shard: str, *extra: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "flows", "run", "--raw-dir", str(raw), "--shard", shard, *extra],
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True)


def finish(process: subprocess.Popen, timeout: float = 900) -> str:
    output, _ = process.communicate(timeout=timeout)
    assert process.returncode == 0, output[-3000:]
    return output


def lake_state(lake: dict[str, str]) -> dict:
    with backend_for(Path(lake["NEWSDAG_WAREHOUSE"])).connect_read_only() as con:
        problems = run_checks(con, SQL_DIR)
        assert problems.height == 0, problems.rows()
        return state_of(con)


def test_ducklake_schema_has_the_single_files_tables_and_columns(tmp_path: Path) -> None:
    """A DuckLake takes sql/schema.sql less keys and fixed-size arrays (lake_schema): same tables, columns, types."""
    def columns(target: Path) -> set[tuple[str, str, str]]:
        with backend_for(target).connect() as con:
            backend_of(con).apply_schema(con, SQL_DIR, 384, "model")
            return {(t, c, k.replace("[384]", "[]")) for t, c, k in con.execute(
                "select table_name, column_name, data_type from duckdb_columns() where database_name = current_database()"
            ).fetchall()}

    single = columns(tmp_path / "w.duckdb")
    lake = columns(Path(f"ducklake:{tmp_path / 'meta.ducklake'}"))
    assert single == lake
    with backend_for(Path(f"ducklake:{tmp_path / 'meta.ducklake'}")).connect_read_only() as con:
        assert con.execute("select count(*) from entity_summary").fetchone() == (0,)  # the views are there


def test_shards_split_the_files_stably_and_disjointly(corpus: Path) -> None:
    import polars as pl

    plan = pl.DataFrame({"source_path": sorted(p.name for p in corpus.iterdir())})
    shards = [set(select_shard(plan, f"{i}/3")["source_path"]) for i in range(3)]
    assert set().union(*shards) == set(plan["source_path"]) and sum(map(len, shards)) == plan.height
    assert select_shard(plan, "1/3")["source_path"].to_list() == select_shard(plan.reverse(), "1/3")["source_path"].sort().to_list()
    with pytest.raises(ValueError):
        select_shard(plan, "3/3")


def test_two_shards_at_once_on_one_ducklake_give_the_rows_of_one_run(corpus: Path, reference: dict, run_env: dict, lake: dict) -> None:
    runs = [start_run(corpus, run_env, f"{i}/2") for i in range(2)]
    outputs = [finish(run) for run in runs]
    assert all("newsdag run" in output for output in outputs)
    # How many links each run's last step made to the other's articles (they overlap: usually some).
    print([line.split(" - ")[-1] for output in outputs for line in output.splitlines() if "concurrent runs" in line])
    assert_same_rows(lake_state(lake), reference)
    # The same SQL works on the lake: the example queries, and search (its fts index built in memory).
    from tasks import search

    with backend_for(Path(lake["NEWSDAG_WAREHOUSE"])).connect_read_only() as con:
        for query in sorted((SQL_DIR / "queries").glob("*.sql")):
            con.execute(query.read_text()).fetchall()
        vector = np.zeros(384, dtype=np.float32)
        vector[0] = 1.0
        found = backend_of(con).search_paragraphs(con, search.search_sql(SQL_DIR, 384), search.search_params("Kerry Lavrov", vector, 3))
    assert found.height == 3 and found["bm25"].is_not_null().any()


@pytest.mark.parametrize("made_by", ["the later shard", "a later run that loads nothing"])
def test_links_between_concurrent_runs_missed_by_their_batches_are_made_at_the_end(
    corpus: Path, reference: dict, run_env: dict, lake: dict, monkeypatch, made_by: str
) -> None:
    """Two batches that relink at the same moment miss each other's paragraphs and quotes (rare: the
    window is the linking and load of a batch, and DuckLake may make one of them redo it). Made certain
    here: the shards run, the neighbour lists and links between their articles are deleted, and the
    end-of-run step (flows/lake.py) of the later shard, or of a run started after both with nothing of
    its own to load (as after a shard killed mid-way: the pair is then of two other runs), makes exactly
    those again."""
    from flows.lake import rebuild_lake_derived

    for run in [start_run(corpus, run_env, f"{i}/2") for i in range(2)]:
        finish(run)
    target = Path(lake["NEWSDAG_WAREHOUSE"])
    run_of = "(select r.run_id from articles r where r.article_id = t.{column})"
    crossing = {table: f"{run_of.format(column=a)} <> {run_of.format(column=b)}" for table, a, b in (
        ("paragraph_similarity", "article_id_a", "article_id_b"), ("quote_links", "article_id_a", "article_id_b"),
        ("paragraph_neighbours", "article_id", "neighbour_article_id"))}
    with backend_for(target).connect() as con:
        removed = con.execute(f"select count(*) from paragraph_similarity t where {crossing['paragraph_similarity']}").fetchone()[0]
        assert removed > 0  # the shards' articles share paragraphs
        con.execute("begin transaction")
        for table, condition in crossing.items():
            con.execute(f"delete from {table} t where {condition}")
        con.execute("commit")
        last_run = con.execute("select run_id from runs order by finished_at desc limit 1").fetchone()[0]
        if made_by == "a later run that loads nothing":
            last_run = "run-with-nothing-to-load"
            loads.start_run(con, last_run, str(corpus))
        for key, value in ORDER_FREE_SETTINGS.items():
            monkeypatch.setenv(key, value)
        con.execute("begin transaction")
        relinked, _ = rebuild_lake_derived(get_settings(warehouse=str(target)), con, last_run)
        con.execute("commit")
    assert relinked > 0
    assert_same_rows(lake_state(lake), reference)


def test_two_shards_with_the_models_on_a_dask_cluster(corpus: Path, reference: dict, run_env: dict, lake: dict) -> None:
    """Both runs send their model work to one LocalCluster of two worker processes (a team's scheduler)."""
    from distributed import Client, LocalCluster

    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None, host="127.0.0.1",
                      env={"OMP_NUM_THREADS": "1", "NEWSDAG_WORKER_THREADS": "1"}) as cluster, Client(cluster) as client:
        runs = [start_run(corpus, run_env, f"{i}/2", "--dask", cluster.scheduler_address) for i in range(2)]
        for run in runs:
            finish(run)
        # Each worker loaded each model once, whatever the number of batches it ran.
        loads = client.run(lambda: (__import__("tasks.embed").embed._load_model.cache_info().misses,
                                    __import__("tasks.entities").entities.load_nlp.cache_info().misses))
        assert set(loads.values()) == {(1, 1)}, loads
    assert_same_rows(lake_state(lake), reference)


def test_sigkill_of_one_shard_leaves_the_lake_consistent_and_a_rerun_completes_it(
    corpus: Path, reference: dict, run_env: dict, lake: dict
) -> None:
    survivor = start_run(corpus, run_env, "0/2")
    victim = start_run(corpus, run_env, "1/2")
    assert victim.stdout is not None
    for line in victim.stdout:  # killed after its first batch is committed
        if "batch 1/" in line and "done" in line:
            os.killpg(victim.pid, signal.SIGKILL)
            break
    victim.wait()
    assert victim.returncode == -signal.SIGKILL, "the run finished before it could be killed"
    finish(survivor)
    with backend_for(Path(lake["NEWSDAG_WAREHOUSE"])).connect_read_only() as con:
        problems = run_checks(con, SQL_DIR)
        assert problems.filter(problems["problem"] != "article in no story").height == 0, problems.rows()
        present = {row[0] for row in con.execute("select article_id from articles").fetchall()}
        partial = state_of(con)
    # Every article present is whole: exactly its rows in the reference, but for the entity ids, which
    # name what the articles present resolve to (a surname joins the one full name among them).
    # (table, position of article_id among its compared columns, positions of entity ids)
    for table, article_column, entity_columns in (
            ("articles", 0, ()), ("article_sources", 0, ()), ("entity_mentions", 1, (0,)), ("removed_spans", 0, ()),
            ("paragraphs", 1, ()), ("quotes", 1, (7,))):
        def without_ids(rows: list[tuple]) -> list[tuple]:
            return sorted(tuple(v for i, v in enumerate(row) if i not in entity_columns) for row in rows)

        expected = [row for row in reference[table][0] if row[article_column] in present]
        assert without_ids(partial[table][0]) == without_ids(expected), table
    finish(start_run(corpus, run_env, "1/2"))
    assert_same_rows(lake_state(lake), reference)


def test_a_dask_worker_killed_mid_batch_is_retried_and_nothing_is_half_loaded(
    corpus: Path, reference: dict, run_env: dict, lake: dict
) -> None:
    from distributed import Client, LocalCluster

    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None, host="127.0.0.1",
                      env={"OMP_NUM_THREADS": "1", "NEWSDAG_WORKER_THREADS": "1"}) as cluster, Client(cluster) as client:
        env = {**run_env, "NEWSDAG_BATCH_SIZE": "256", "NEWSDAG_DASK_MIN_TEXTS": "1"}
        run = subprocess.Popen([sys.executable, "-m", "flows", "run", "--raw-dir", str(corpus), "--dask",
                                cluster.scheduler_address], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                               text=True, start_new_session=True)
        killed = None
        deadline = time.monotonic() + 600
        while killed is None and time.monotonic() < deadline and run.poll() is None:
            processing = client.processing()  # worker address -> task keys running there
            busy = [address for address, keys in processing.items() if any("_encode_on_worker" in str(k) for k in keys)]
            if busy:
                pid = client.run(os.getpid, workers=[busy[0]])[busy[0]]
                os.kill(pid, signal.SIGKILL)
                killed = busy[0]
            time.sleep(0.05)
        output = finish(run)
        assert killed is not None, "no embedding task was seen running: " + output[-2000:]
    assert_same_rows(lake_state(lake), reference)


def test_model_work_is_split_into_coarse_contiguous_pieces() -> None:
    from runtime.distributed_models import chunk_bounds

    assert chunk_bounds(1000, 4, 200) == [(0, 250), (250, 500), (500, 750), (750, 1000)]
    assert chunk_bounds(300, 4, 200) == [(0, 300)]  # never pieces smaller than the minimum (but one)
    assert chunk_bounds(0, 2, 200) == [(0, 0)]
    for count, workers in ((7, 3), (401, 2), (5, 8)):
        bounds = chunk_bounds(count, workers, 1)
        assert bounds[0][0] == 0 and bounds[-1][1] == count and len(bounds) <= workers
        assert all(a[1] == b[0] for a, b in zip(bounds, bounds[1:]))


def test_work_pool_route_runs_both_shard_deployments_into_one_lake(
    live_server, pg: PostgresServer, corpus: Path, reference: dict, tmp_path: Path
) -> None:
    """docs/scale-out.md's route: the shard deployments of deploy/scaleout.prefect.yaml on the `newsdag`
    process pool; one worker runs both flow runs at once (each its own process) into one DuckLake."""
    from tests.test_serve import api, flow_run_record

    lake = {"NEWSDAG_WAREHOUSE": "ducklake:postgres:" + create_database(pg, "lake_work_pool"),
            "NEWSDAG_LAKE_DATA": str(tmp_path / "lake-data")}
    env = {**live_server["env"], "PREFECT_API_URL": live_server["api"], "PWD": str(PROJECT_ROOT),
           "NEWSDAG_RAW_DIR": str(corpus), "NEWSDAG_BATCH_SIZE": "2", **ORDER_FREE_SETTINGS, **lake}

    def prefect_cli(*args: str, timeout: int = 120) -> None:
        result = subprocess.run([sys.executable, "-m", "prefect", *args], env=env, cwd=PROJECT_ROOT,
                                capture_output=True, text=True, timeout=timeout)
        assert result.returncode == 0, (args, result.stdout[-2000:], result.stderr[-2000:])

    subprocess.run([sys.executable, "-m", "prefect", "work-pool", "create", "newsdag", "--type", "process"],
                   env=env, cwd=PROJECT_ROOT, capture_output=True, timeout=120)  # may exist (test_serve)
    prefect_cli("--no-prompt", "deploy", "--prefect-file", "deploy/scaleout.prefect.yaml", "--all")

    async def pause_all(client):  # only the runs triggered below are picked up
        for name in ("ingest-shard-0", "ingest-shard-1"):
            deployment = await client.read_deployment_by_name(f"newsdag-ingest/{name}")
            await client.pause_deployment(deployment.id)

    api(pause_all, live_server["api"])
    from prefect.deployments import run_deployment
    from prefect.settings import PREFECT_API_URL, temporary_settings

    with temporary_settings({PREFECT_API_URL: live_server["api"]}):
        runs = [run_deployment(f"newsdag-ingest/ingest-shard-{i}", timeout=0) for i in range(2)]
    prefect_cli("worker", "start", "--pool", "newsdag", "--run-once", timeout=900)
    for flow_run in runs:
        state = flow_run_record(live_server["api"], str(flow_run.id))["run"].state
        assert state.is_completed(), state
    assert_same_rows(lake_state(lake), reference)


def test_readers_of_a_lake_are_guarded_like_the_single_files(tmp_path: Path) -> None:
    """`newsdag sql` / `status` on a DuckLake: reading statements run (the Parquet files are read), nothing
    can write a file or read one outside the lake's data folder, and the lake is unchanged after."""
    import duckdb

    url = Path(f"ducklake:{tmp_path / 'meta.ducklake'}")
    open_lake(url, str(tmp_path / "lake-data"))
    try:
        with backend_for(url).connect() as con:
            backend_of(con).apply_schema(con, SQL_DIR, 384, "model")
            con.execute("insert into runs select 'run-' || range, now(), now(), 'completed', 'raw', null from range(500)")
    finally:
        close_lakes()
    assert list((tmp_path / "lake-data").rglob("*.parquet")), "the rows are in Parquet files, not inlined"
    (tmp_path / "beside.txt").write_text("not the lake's")
    before = {path: path.read_bytes() for path in tmp_path.rglob("*") if path.is_file()}

    assert read_query(backend_for(url), "select count(distinct run_id) as n, max(run_id) as last from runs").row(0) == (500, "run-99")
    for query in (f"copy runs to '{tmp_path / 'out.csv'}'", f"attach '{tmp_path / 'x.duckdb'}' as x",
                  "insert into runs (run_id, started_at, status) values ('x', now(), 'x')", "drop table runs",
                  "set enable_external_access = true", "select 1; select 2"):
        with pytest.raises(QueryRefused):
            read_query(backend_for(url), query)
    for query in ("select * from read_text('/etc/hostname')", f"select * from read_text('{tmp_path / 'beside.txt'}')"):
        with pytest.raises(duckdb.PermissionException):
            read_query(backend_for(url), query)
    with backend_for(url).connect_read_only() as con:  # what `status` and the notebook get
        with pytest.raises(duckdb.Error):
            con.execute(f"copy (select 1) to '{tmp_path / 'out.csv'}'")
        with pytest.raises(duckdb.Error):
            con.execute("delete from runs")
    assert {path: path.read_bytes() for path in tmp_path.rglob("*") if path.is_file()} == before

    env = {**os.environ, "NEWSDAG_WAREHOUSE": str(url)}
    for args in (["sql", "select count(*) as n from runs", "--format", "csv"], ["status"]):
        result = subprocess.run([sys.executable, "-m", "flows", *args], env=env, capture_output=True, text=True, timeout=300)
        assert result.returncode == 0, result.stderr[-2000:]
        assert ("500" in result.stdout) if args[0] == "sql" else ("latest runs (5)" in result.stdout), result.stdout
    refused = subprocess.run([sys.executable, "-m", "flows", "sql", f"copy runs to '{tmp_path / 'out.csv'}'"], env=env,
                             capture_output=True, text=True, timeout=300)
    assert refused.returncode != 0 and not (tmp_path / "out.csv").exists()


def test_the_end_of_a_lake_run_replaces_stale_quote_links_among_concurrent_articles(seed_run, tmp_path: Path) -> None:
    """A batch links its quotes to those committed when it read them, outside its load's transaction: one
    that read a quote before another run's end settled its speaker, and committed after, stores a link
    computed with the old speaker (linked on `same_speaker`, or not). The end of a later run
    (flows/lake.link_concurrent_quotes) must leave the links among concurrent articles exactly as computed
    over their current quotes: a stale row, an extra one and a missing one are all put right. (Only
    adding the missing pairs, as it did, left the other two.)"""
    import duckdb

    from flows.lake import link_concurrent_quotes

    _, source, _ = seed_run
    path = tmp_path / "w.duckdb"
    shutil.copy(source, path)
    compared = "quote_id_a, quote_id_b, article_id_a, article_id_b, same_speaker"

    def links(con: duckdb.DuckDBPyConnection) -> list[tuple]:
        return con.execute(f"select {compared}, round(cosine, 4), round(word_similarity, 4) from quote_links order by all").fetchall()

    with duckdb.connect(str(path)) as con:
        articles = [row[0] for row in con.execute("select article_id from articles order by 1").fetchall()]
        expected = links(con)
        assert len(expected) >= 2, "the samples' quotes no longer link: the test needs other data"
        stale, dropped = expected[0], expected[1]
        unlinked = con.execute(
            "select a.quote_id, b.quote_id, a.article_id, b.article_id from quotes a join quotes b "
            "on a.article_id < b.article_id and a.quote_id < b.quote_id "
            "where (a.quote_id, b.quote_id) not in (select (quote_id_a, quote_id_b) from quote_links) limit 1").fetchone()
        assert unlinked is not None
        con.execute("begin transaction")
        con.execute("update quote_links set same_speaker = not same_speaker where quote_id_a = ? and quote_id_b = ?", list(stale[:2]))
        con.execute("delete from quote_links where quote_id_a = ? and quote_id_b = ?", list(dropped[:2]))
        con.execute(f"insert into quote_links ({compared}, cosine, word_similarity) values (?, ?, ?, ?, true, 0.5, 0.5)",
                    list(unlinked))
        changed = link_concurrent_quotes(con, articles)
        con.execute("commit")
        assert changed == 4  # the stale row out and in again, the missing one in, the extra one out
        got = links(con)
    assert [row[:5] for row in got] == [row[:5] for row in expected]
    assert np.allclose(np.array([row[5:] for row in got], dtype=float), np.array([row[5:] for row in expected], dtype=float),
                       atol=1e-4)
