"""The ingest flow: raw files -> cleaned, embedded, linked articles in DuckDB.

This module only composes the plain functions in `tasks/` into Prefect tasks (one per pipeline step,
each over a batch of articles) and adds retries, logging, timing and artifacts.
"""

from __future__ import annotations

import time
import uuid
from collections import defaultdict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import polars as pl
from prefect import flow, get_run_logger, task
from prefect.artifacts import create_markdown_artifact, create_table_artifact
from prefect.cache_policies import NO_CACHE
from prefect.futures import PrefectFuture
from prefect.runtime import flow_run

from flows.lake import finish_lake_run
from flows.derived import derive_stories, settle_entities
from flows.progress import RunProgress, published_run
from tasks import clean, distributed_models, embed, entities, heap, ingest, paragraphs, quotes, similarity, warehouse
from tasks.settings import CLEANING_CODE, RESHAPE_LINKS, Settings, get_settings, reshapes_articles, shaping_settings

# Frames are passed in-process; nothing here is worth persisting or caching by Prefect (the
# embedding cache lives in the warehouse, keyed by text hash, and survives runs).
step = task(cache_policy=NO_CACHE, persist_result=False)


@step(name="discover-files", retries=2, retry_delay_seconds=1)
def discover_files(settings: Settings) -> pl.DataFrame:
    """List and hash every file in the raw folder."""
    return ingest.discover_files(settings.raw_dir, settings.max_file_bytes)


@step(name="plan-ingest")
def plan_ingest(settings: Settings, files: pl.DataFrame) -> pl.DataFrame:
    """Compare files with the warehouse: new, changed, unchanged, duplicate or failed. Settings that
    shape stored results and differ from those the warehouse was built with: every article is redone
    (models, cleaning), or every link (similarity threshold, top-k). Cleaning code other than the one
    that cleaned the stored articles: every unchanged file is rechecked (cleaned again, redone if it differs)."""
    logger = get_run_logger()
    with warehouse.connect(settings.warehouse) as con:
        warehouse.apply_schema(con, settings.sql_dir, settings.embedding_dim, settings.embedding_model)
        plan = ingest.plan_ingest(files, warehouse.known_files(con))
        stored = warehouse.stored_settings(con)
        changed = {name: (stored[name], value) for name, value in shaping_settings(settings).items()
                   if name in stored and stored[name] != value}
        if any(reshapes_articles(name) for name in changed):
            logger.warning("settings changed since the warehouse was built (%s): every article is redone",
                           ", ".join(f"{n} {old} -> {new}" for n, (old, new) in changed.items()))
            plan = plan.with_columns(action=pl.when(pl.col("action") == "skip").then(pl.lit("process"))
                                     .otherwise(pl.col("action")))
        elif CLEANING_CODE in changed or (stored and CLEANING_CODE not in stored):
            # An upgrade changed the cleaning rules (or the warehouse predates their fingerprint).
            plan = plan.with_columns(action=pl.when(pl.col("action") == "skip").then(pl.lit("recheck"))
                                     .otherwise(pl.col("action")))
            logger.warning("the cleaning code changed since the warehouse was built: %d stored article(s) are "
                           "cleaned again, and redone where the result differs", (plan["action"] == "recheck").sum())
        if set(changed) & set(RESHAPE_LINKS) or warehouse.needs_full_relink(con):
            logger.warning("similarity settings changed (or links from before neighbour lists): every link is redone")
            warehouse.in_transaction(con, warehouse.queue_all_paragraphs)
        return plan


@step(name="read-documents", retries=2, retry_delay_seconds=1)
def read_documents(settings: Settings, files: pl.DataFrame) -> pl.DataFrame:
    """Read and decode a batch of files (UTF-8, BOM, cp1252, Latin-1; mojibake repaired)."""
    return ingest.read_documents(files, settings.raw_dir, settings.max_file_bytes)


def _first_line(error: BaseException) -> str:
    text = str(error).strip()
    return f"{type(error).__name__}: {text.splitlines()[0] if text else ''}".rstrip(": ")


def _isolated(
    function: Any, frame: pl.DataFrame, step_name: str, key: str = "article_id",
    fatal: tuple[type[BaseException], ...] = (),
) -> tuple[Any, dict[str, str]]:
    """`function(frame)`; if it raises, again one article at a time, so that one file's failure (a
    model error, a text the step cannot take) costs that file alone. Returns the result over the
    articles that passed and {article_id: reason} for those that did not. Errors of the `fatal` kinds
    (not a file's doing: a Dask cluster's failure) are raised as they are."""
    try:
        return function(frame), {}
    except fatal:
        raise
    except Exception:  # noqa: BLE001 - retried per article below, each failure recorded
        pass
    results: list[Any] = []
    failures: dict[str, str] = {}
    for article_id in frame[key].unique(maintain_order=True).to_list():
        try:
            results.append(function(frame.filter(pl.col(key) == article_id)))
        except fatal:
            raise
        except Exception as error:  # noqa: BLE001 - recorded as the file's failure
            failures[article_id] = f"{step_name} failed: {_first_line(error)}"
    if not results:
        results.append(function(frame.head(0)))
    if isinstance(results[0], tuple):
        return tuple(pl.concat([r[i] for r in results], how="vertical_relaxed") for i in range(len(results[0]))), failures
    return pl.concat(results, how="vertical_relaxed"), failures


@step(name="clean-articles")
def clean_articles(
    documents: pl.DataFrame, disabled: tuple[str, ...] = ()
) -> tuple[tuple[pl.DataFrame, pl.DataFrame], dict[str, str]]:
    """Remove boilerplate, record what was removed and why, and extract metadata (without the rules
    switched off by `NEWSDAG_CLEAN_DISABLE`)."""
    from tasks.cleaning import resolve_disabled

    rules_off = resolve_disabled(disabled)
    return _isolated(lambda frame: clean.clean_articles(frame, rules_off), documents, "cleaning")


@step(name="split-paragraphs")
def split_paragraphs(articles: pl.DataFrame) -> tuple[pl.DataFrame, dict[str, str]]:
    """Split cleaned bodies into paragraphs."""
    return _isolated(paragraphs.split_paragraphs, articles, "splitting")


@step(name="load-embedding-model")
def load_embedding_model(settings: Settings) -> str:
    """Start the embedding model (in its worker process, or in this one) while the first batch is read
    and cleaned (importing sentence-transformers and torch takes seconds)."""
    if settings.dask:  # scale-out: the models load on every Dask worker instead
        distributed_models.warm_up(settings.dask, settings.embedding_model, settings.embedding_device, settings.spacy_model)
    elif settings.embedding_in_worker:
        embed.embedding_worker(settings.embedding_model, settings.embedding_device)
    else:
        embed.load_model(settings.embedding_model, settings.embedding_device)
    return settings.embedding_model


def _encoder(settings: Settings) -> embed.Encoder:
    if settings.dask:
        return distributed_models.DaskEncoder(settings.dask, settings.dask_min_texts)
    return embed.encode_in_worker if settings.embedding_in_worker else embed.encode_texts


@step(name="embed-texts")
def embed_texts(
    settings: Settings, texts: pl.DataFrame, cache: pl.DataFrame, previous: tuple[pl.DataFrame, float] | None
) -> tuple[pl.DataFrame, float]:
    """Embed each distinct paragraph and quote text once; cached embeddings (and the previous batch's,
    not yet loaded) are reused. Runs in a worker thread beside entity extraction: the two models share
    the CPU better than either uses it alone. Returns (vectors, seconds spent)."""
    started = time.perf_counter()
    if previous is not None:
        array_type = pl.Array(pl.Float32, settings.embedding_dim)
        cache = pl.concat([frame.select("text_sha256", pl.col("embedding").cast(array_type)) for frame in (cache, previous[0])])
    vectors = embed.embed_texts(
        texts, cache, settings.embedding_model, settings.embedding_dim, settings.embedding_device,
        settings.embedding_batch_size, _encoder(settings),
    )
    return vectors, time.perf_counter() - started


@step(name="extract-entities")
def extract_entities(
    settings: Settings, paras: pl.DataFrame, pending_entities: pl.DataFrame | None = None
) -> tuple[pl.DataFrame, pl.DataFrame, pl.DataFrame, dict[str, str]]:
    """Find named entities and resolve them to canonical entities (those stored, updated by the
    entities of a batch extracted but not loaded yet): provisional, until the run's end resolves every
    stored mention at once (settle_entities). Returns (entities, resolved mentions, spaCy's mentions as
    found, failures). Long paragraphs are tagged in pieces; if the
    batch fails, one article at a time, and the articles that still fail are returned with their reason.
    With `settings.dask`, the tagging runs on the cluster's workers (in the same pieces); a cluster
    failure (a worker lost too often, the scheduler gone) fails the batch instead of its articles."""
    if settings.dask:
        mentions, failures = _isolated(
            lambda part: distributed_models.extract_mentions(
                settings.dask, part, settings.spacy_model, settings.ner_batch_size, settings.dask_min_texts),
            paras, "entity extraction", fatal=distributed_models.cluster_errors(),
        )
    else:
        mentions, failures = _isolated(
            lambda part: entities.extract_mentions_in_chunks(part, settings.spacy_model, settings.ner_batch_size),
            paras, "entity extraction",
        )
    with warehouse.connect(settings.warehouse) as con:
        known = warehouse.known_entities(con)
    if pending_entities is not None and pending_entities.height:
        newer = pending_entities.select(known.columns)
        known = pl.concat([known.join(newer, on="entity_id", how="anti"), newer.cast(known.schema)])
    entity_frame, resolved = entities.canonicalise_entities(mentions, known)
    return entity_frame, resolved, mentions.select(list(entities.RAW_MENTION_SCHEMA)), failures


@step(name="extract-quotes")
def extract_quotes(
    paras: pl.DataFrame, entity_frame: pl.DataFrame, mentions: pl.DataFrame
) -> tuple[pl.DataFrame, dict[str, str]]:
    """Find direct quotations and their speakers (one article at a time if the batch fails)."""
    return _isolated(
        lambda part: quotes.extract_quotes(part, mentions.filter(pl.col("article_id").is_in(part["article_id"].unique().implode())),
                                           entity_frame),
        paras, "quote extraction",
    )


@step(name="link-quotes")
def link_quotes(
    settings: Settings, found: pl.DataFrame, vectors: pl.DataFrame, article_ids: list[str]
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Link quotes of one statement across outlets (this batch's and the stored ones)."""
    with warehouse.connect(settings.warehouse) as con:
        return quotes.embed_and_link(
            found, vectors, warehouse.stored_quote_blocks(con, article_ids), settings.embedding_model,
            settings.embedding_dim, settings.embedding_device, settings.embedding_batch_size, _encoder(settings),
        )


def paragraph_index_path(settings: Settings) -> Path:
    return similarity.paragraph_index_path(settings.warehouse)


def relinker(settings: Settings) -> Any:
    """The relink run inside each transaction that changes stored paragraphs (tasks/similarity.py)."""
    return lambda con: similarity.relink(
        con, settings.similarity_threshold, settings.similarity_top_k, settings.similarity_exact_max,
        paragraph_index_path(settings), settings.embedding_dim,
    )


@step(name="group-stories")
def group_stories(settings: Settings, rebuild_search_index: bool, run_id: str = "") -> int:
    """Article similarity and duplicate flags from the paragraph links; topics and stories recomputed from
    every article's vector and entities, keeping the previous run's ids (derived tables, replaced in
    one transaction, rewritten only where they changed); the full-text index for `newsdag search`."""
    with warehouse.connect(settings.warehouse) as con:
        return rebuild_derived(con, settings, rebuild_search_index, run_id)


@step(name="resolve-entities")
def resolve_entities(settings: Settings) -> int:
    """Entities, mentions and quote speakers resolved over every stored article at once, equal to a fresh
    run's whatever order the articles arrived in (rewritten only where they changed). Returns the
    number of articles whose mentions changed."""
    with warehouse.connect(settings.warehouse) as con:
        return settle_entities(con, settings)


def rebuild_derived(con: Any, settings: Settings, rebuild_search_index: bool = True, run_id: str = "") -> int:
    """Article similarity, topics and stories and the search index from what is stored (also after
    `newsdag prune`, which settles entities first, as a run's resolve-entities step does)."""
    n_stories = derive_stories(con, settings, run_id)
    if rebuild_search_index or not warehouse.has_search_index(con):
        warehouse.rebuild_search_index(con)
    return n_stories


@step(name="load-warehouse", retries=1, retry_delay_seconds=2)
def load_warehouse(settings: Settings, batch: warehouse.ArticleBatch) -> int:
    """Write the batch's articles whole, in one transaction."""
    with warehouse.connect(settings.warehouse) as con:
        warehouse.load_batch(con, batch, settings.embedding_model, before_commit=relinker(settings))
    return batch.articles.height


@step(name="record-files")
def record_files(settings: Settings, outcomes: pl.DataFrame, run_id: str) -> tuple[int, int]:
    """Record every file's outcome; drop articles of files that became duplicates; mark deleted files;
    drop the old articles of renamed files; relink what any of this (or an earlier crash) left queued.
    Returns (files deleted, files renamed)."""
    with warehouse.connect(settings.warehouse) as con:
        became_duplicates = outcomes.filter(pl.col("status") == "duplicate")["source_path"].to_list()
        # Files empty after cleaning now, after holding an article: the old article goes (a fresh run
        # over the folder would not have it). A file that fails keeps its last good article (a read
        # failure may be passing), with the failure recorded.
        not_loaded = outcomes.filter(pl.col("status") == "empty")["source_path"].to_list()
        doomed = [ingest.article_id_for(p) for p in became_duplicates + not_loaded]
        relink = relinker(settings)
        # (one transaction, redone whole if a concurrent DuckLake commit conflicts with it)
        warehouse.in_transaction(con, lambda con: (warehouse.delete_articles(con, doomed), relink(con)))
        warehouse.record_files(con, outcomes, run_id)
        deleted = warehouse.mark_deleted(con, outcomes["source_path"].to_list(), run_id, settings.shard)
        renamed = warehouse.drop_renamed(con, before_commit=relinker(settings))
        return deleted - len(renamed), len(renamed)


@step(name="report-run")
def report_run(settings: Settings, run_id: str) -> dict[str, Any]:
    """Share of text removed as boilerplate, missing-date and missing-author rates, top statements."""
    with warehouse.connect(settings.warehouse) as con:
        return warehouse.run_report(con, settings.sql_dir, run_id)


@step(name="check-warehouse")
def check_warehouse(settings: Settings, run_id: str) -> dict[str, int]:
    """Data checks (unique ids, no orphans, embeddings present, links across articles only)."""
    with warehouse.connect(settings.warehouse) as con:
        problems = warehouse.run_checks(con, settings.sql_dir, run_id)
        if problems.height:
            raise warehouse.WarehouseCheckFailed(
                f"{problems.height} warehouse check failures, e.g. {problems.head(5).rows()}"
            )
        return warehouse.table_counts(con)


def _batches(frame: pl.DataFrame, size: int) -> Iterator[pl.DataFrame]:
    for offset in range(0, frame.height, size):
        yield frame.slice(offset, size)


@contextmanager
def _timed(timings: dict[str, float], name: str) -> Iterator[None]:
    started = time.perf_counter()
    try:
        yield
    finally:
        timings[name] += time.perf_counter() - started


def _outcomes(plan: pl.DataFrame, processed: list[pl.DataFrame], problems: list[pl.DataFrame] | None = None) -> pl.DataFrame:
    """One row per discovered file: its final status, encoding and error."""
    problem_frame = pl.concat(problems or [], how="vertical_relaxed") if problems else pl.DataFrame(
        schema={"source_path": pl.String, "problem_status": pl.String, "problem": pl.String})
    read_results = (
        pl.concat(processed) if processed
        else pl.DataFrame(schema={"source_path": pl.String, "encoding": pl.String, "read_error": pl.String})
    )
    # A copy of a file that could not be read fails for the same reason.
    owner_errors = read_results.select(pl.col("source_path").alias("duplicate_of"), pl.col("read_error").alias("owner_error"))
    return (
        plan.join(read_results, on="source_path", how="left")
        .join(problem_frame.unique("source_path", keep="last"), on="source_path", how="left")
        .with_columns(read_error=pl.coalesce("read_error", "problem"))
        .join(owner_errors, on="duplicate_of", how="left")
        .with_columns(
            read_error=pl.coalesce(
                "read_error",
                pl.when(pl.col("owner_error").is_not_null())
                .then(pl.format("copy of {}, which failed: {}", "duplicate_of", "owner_error")),
            )
        )
        .with_columns(
            error=pl.coalesce("error", "read_error"),
            status=pl.when((pl.col("action") == "skip") | (pl.col("problem_status") == "unchanged")).then(pl.lit("unchanged"))
            .when(pl.col("problem_status") == "empty").then(pl.lit("empty"))
            .when((pl.col("action") == "fail") | pl.col("read_error").is_not_null()).then(pl.lit("failed"))
            .when(pl.col("action") == "duplicate").then(pl.lit("duplicate"))
            .otherwise(pl.lit("loaded")),
            article_id=pl.col("source_path").map_elements(ingest.article_id_for, return_dtype=pl.String),
        )
        .drop("owner_error", "problem_status", "problem")
    )


class EmptyRawFolder(RuntimeError):
    """The raw folder has no files while the warehouse holds articles (an unmounted drive?)."""


class DiskFull(OSError):
    """The warehouse's disk filled up during the run."""


def _warehouse_files(path: Path) -> list[Path]:
    return [path, path.with_name(path.name + ".wal"), similarity.paragraph_index_path(path)]


def _disk_full_error(error: BaseException, path: Path) -> DiskFull | None:
    """A clear error for a full disk. DuckDB reports "No space left on device" once; every later
    statement (a task's retry, the failure record) says only that the database "has been invalidated"."""
    import errno
    import shutil

    chain, seen = [], error
    while seen is not None and len(chain) < 10:
        chain.append(seen)
        seen = seen.__cause__ or seen.__context__
    text = " ".join(str(e) for e in chain)
    no_space = any(getattr(e, "errno", None) == errno.ENOSPC for e in chain) or "No space left" in text
    # DuckDB spills to `<warehouse>.tmp` beside the file, capped by default at the disk's free space: on
    # a full disk a spill fails as "Out of Memory Error: failed to offload data block ... set by the
    # 'max_temp_directory_size' setting", and raising the memory limit is then the wrong fix.
    no_space = no_space or ("failed to offload" in text and "max_temp_directory_size" in text)
    folder = path.resolve().parent
    try:
        free = shutil.disk_usage(folder).free
    except OSError:
        free = None
    if not no_space and not ("invalidated" in text and free is not None and free < 64 << 20):
        return None
    free_text = f"{free >> 20} MB free" if free is not None else "free space unknown"
    return DiskFull(
        errno.ENOSPC,
        f"no space left on {folder} ({free_text}): free some space there, or point NEWSDAG_WAREHOUSE / "
        f"--warehouse at a disk with room, and run again. Batches committed before this one are kept; "
        f"the next run goes on from there",
    )


def _mark_crashed_in_prefect(run_ids: list[str], logger: Any) -> None:
    """Flow runs our `runs` table found dead: Crashed in Prefect too, so the UI shows no ghost Running
    (a SIGKILLed process cannot report its own end; Prefect's server only notices runs it started
    through a worker or runner with heartbeats)."""
    if not run_ids:
        return
    from prefect.client.orchestration import get_client
    from prefect.states import Crashed

    try:
        with get_client(sync_client=True) as client:
            for run_id in run_ids:
                try:
                    flow_run_ = client.read_flow_run(uuid.UUID(run_id))
                except Exception:  # noqa: BLE001 - not a Prefect run id, or another server's run
                    continue
                if flow_run_.state is not None and not flow_run_.state.is_final():
                    client.set_flow_run_state(
                        flow_run_.id, Crashed(message="the run's process ended without finishing it; found by the next run"),
                        force=True,
                    )
                    logger.warning("flow run %s was left %s by a process that died: marked Crashed", run_id,
                                   flow_run_.state.name)
    except Exception as error:  # noqa: BLE001 - the warehouse's own record is what matters; say so and go on
        logger.warning("could not mark dead flow runs as crashed in Prefect: %s", _first_line(error))


@flow(name="newsdag-ingest", log_prints=True)
def ingest_flow(
    raw_dir: str | None = None, warehouse_path: str | None = None, allow_empty: bool | None = None,
    shard: str | None = None, dask: str | None = None,
) -> dict[str, Any]:
    """Ingest every new or changed file in the raw folder into the warehouse (this run's shard of it)."""
    settings = get_settings(raw_dir=raw_dir, warehouse=warehouse_path, allow_empty=allow_empty, shard=shard, dask=dask)
    return run_ingest(settings)


def run_ingest(settings: Settings) -> dict[str, Any]:
    logger = get_run_logger()
    run_id = str(flow_run.get_id() or uuid.uuid4())
    timings: dict[str, float] = defaultdict(float)
    started = time.perf_counter()

    if warehouse.is_lake(settings.warehouse):
        return _run_ingest_lake(settings, run_id, timings, started, logger)
    with warehouse.writer_lock(settings.warehouse):
        # Nothing is written to a file newsdag did not create (refused, untouched). A warehouse is
        # created by a run that completes, or not at all: a first run that fails before committing an
        # article leaves no half-configured file (e.g. one fixed at a wrong embedding size), and a
        # warehouse of ours that a killed first run left without data is made anew.
        created = claim(settings)
        if not created:
            with warehouse.connect(settings.warehouse) as con:
                discard = warehouse.never_held_data(con)
            if discard:
                for path in _warehouse_files(settings.warehouse):
                    path.unlink(missing_ok=True)
                created = claim(settings)
        try:
            with warehouse.held_open(settings.warehouse, settings.duckdb_memory_limit), published_run(settings.warehouse, run_id):
                summary, outcomes, report = _run(settings, run_id, timings, started, logger)
        except BaseException as error:
            if created:
                _remove_if_empty(settings.warehouse)
            full = _disk_full_error(error, settings.warehouse) if isinstance(error, Exception) else None
            if full is not None:
                raise full from error
            raise
    _publish_artifacts(outcomes, summary, report["top_statements"])
    return summary


def claim(settings: Settings) -> bool:
    """The warehouse file is newsdag's, created now if absent (True), or the run is refused."""
    return warehouse.claim_warehouse(settings.warehouse, settings.sql_dir, settings.embedding_dim,
                                     settings.embedding_model)


def _remove_if_empty(path: Path) -> None:
    """Remove a warehouse this run created if no article was committed to it."""
    try:
        with warehouse.connect(path) as con:
            empty = warehouse.article_count(con) == 0
    except Exception:  # noqa: BLE001 - unreadable: keep it for the user to look at
        return
    if empty:
        for file in _warehouse_files(path):
            file.unlink(missing_ok=True)


def _run_ingest_lake(settings: Settings, run_id: str, timings: dict[str, float], started: float, logger: Any) -> dict[str, Any]:
    """run_ingest on a DuckLake (docs/scale-out.md): no writer lock (many runs commit at once, retried on
    conflict) and no atomic creation (the catalog is a database, created once, shared by every run)."""
    # The lake is attached to an in-memory DuckDB, whose scans of Parquet files pin what they read: with
    # the single file's 128 MB cap its data checks ran out of memory on a 550-article lake. So DuckDB's
    # own limit (80% of memory) applies unless NEWSDAG_DUCKDB_MEMORY_LIMIT is set.
    memory_limit = settings.duckdb_memory_limit if "duckdb_memory_limit" in settings.model_fields_set else None
    # Created with its data folder when new.
    warehouse.open_lake(settings.warehouse, settings.lake_data, memory_limit)
    # The HNSW index file is one host's, beside a single file: on a lake, similarity search is exact.
    settings = settings.model_copy(update={"similarity_exact_max": 2**62})
    with warehouse.held_open(settings.warehouse, memory_limit):
        summary, outcomes, report = _run(settings, run_id, timings, started, logger)
    _publish_artifacts(outcomes, summary, report["top_statements"])
    return summary


def _run(
    settings: Settings, run_id: str, timings: dict[str, float], started: float, logger: Any
) -> tuple[dict[str, Any], pl.DataFrame, dict[str, Any]]:
    with _timed(timings, "discover"):
        files = discover_files(settings)
    if files.height == 0 and not settings.allow_empty:
        with warehouse.connect(settings.warehouse) as con:
            stored = warehouse.article_count(con) if warehouse.stored_embedding_dim_or_none(con) is not None else 0
        if stored:
            raise EmptyRawFolder(
                f"the raw folder {settings.raw_dir} is empty but the warehouse holds {stored} articles: nothing "
                f"was changed (an unmounted drive?). If every file was removed on purpose, run again with "
                f"--allow-empty (NEWSDAG_ALLOW_EMPTY=true) to mark them deleted"
            )
    with _timed(timings, "plan"):
        # A shard's run plans over the whole folder (a copy in another shard is still a duplicate), then
        # keeps its own files.
        plan = ingest.select_shard(plan_ingest(settings, files), settings.shard)
    with warehouse.connect(settings.warehouse) as con:
        crashed = warehouse.start_run(con, run_id, str(settings.raw_dir))
    if crashed:
        logger.warning("%d earlier run(s) left `running` by a process that died: marked crashed", len(crashed))
        _mark_crashed_in_prefect(crashed, logger)
    try:
        return _run_batches(settings, plan, run_id, timings, started, logger)
    except BaseException as error:
        # The run's row says why it failed; the data already committed stays consistent. (After a
        # fatal DuckDB error, e.g. a full disk, even this may fail: the next run marks it crashed.)
        status = "failed" if isinstance(error, Exception) else "interrupted"
        try:
            with warehouse.connect(settings.warehouse) as con:
                warehouse.finish_run(con, run_id, status, {"error": f"{type(error).__name__}: {error}"})
        except Exception:  # noqa: BLE001
            pass
        raise


def _run_batches(
    settings: Settings, plan: pl.DataFrame, run_id: str, timings: dict[str, float], started: float, logger: Any
) -> tuple[dict[str, Any], pl.DataFrame, dict[str, Any]]:
    """Process the planned files batch by batch, then record outcomes, group stories and check.

    Two batches are in flight: while batch k's texts are embedded in a worker thread, this thread
    cleans batch k+1 and finds its entities and quotes, then loads batch k. Each batch is still
    loaded whole, in order, in its own transaction."""
    to_process = plan.filter(pl.col("action").is_in(["process", "recheck"]))
    logger.info(
        "%d files: %d to process (%d of them to recheck), %d unchanged, %d duplicate, %d unreadable",
        plan.height, to_process.height, (plan["action"] == "recheck").sum(), (plan["action"] == "skip").sum(),
        (plan["action"] == "duplicate").sum(), (plan["action"] == "fail").sum(),
    )

    read_results: list[pl.DataFrame] = []
    problems: list[pl.DataFrame] = []  # files left out of their batch: failed in a step, empty after cleaning, rechecked unchanged
    # The process's peak and current memory, and DuckDB's share, after each batch: flat when nothing
    # held grows with the warehouse.
    memory_by_batch: dict[str, list[int]] = {
        "peak_rss_mb": [], "resident_mb": [], "duckdb_mb": [], "free_heap_mb": [], "embedding_worker_peak_mb": []}
    loaded = 0
    n_batches = (to_process.height + settings.batch_size - 1) // settings.batch_size
    # (Rechecks alone do not warm it: most come out unchanged, and the few that do not load it then.)
    warm_up = load_embedding_model.submit(settings) if (to_process["action"] == "process").any() else None

    def finish(prepared: _PreparedBatch) -> None:
        nonlocal loaded
        loaded += _finish_batch(settings, prepared, run_id, timings)
        progress.advance(prepared.documents.height, prepared.number)
        elapsed = time.perf_counter() - started
        with warehouse.connect(settings.warehouse) as con:
            duckdb_bytes = warehouse.memory_in_use(con)
        # With the model in its worker process, its memory counts too: the sum of the two peaks (an upper
        # bound of their peak together) and of what each holds now.
        worker_peak_mb = embed.workers_peak_rss_mb()
        resident = heap.resident_bytes() + embed.workers_resident_bytes()
        for key, value in (("peak_rss_mb", heap.peak_rss_mb() + worker_peak_mb), ("resident_mb", resident >> 20),
                           ("embedding_worker_peak_mb", worker_peak_mb),
                           ("duckdb_mb", duckdb_bytes >> 20), ("free_heap_mb", (heap.free_heap_bytes() or 0) >> 20)):
            memory_by_batch[key].append(value)
        eta = progress.eta_seconds()
        logger.info("batch %d/%d done: %d/%d articles loaded (%.1f articles/s, ETA %s), memory %d MB (peak %d MB, DuckDB %d MB)",
                    prepared.number, n_batches, loaded, to_process.height, loaded / elapsed if elapsed else 0.0,
                    f"{eta:.0f} s" if eta is not None else "?",
                    memory_by_batch["resident_mb"][-1], memory_by_batch["peak_rss_mb"][-1], memory_by_batch["duckdb_mb"][-1])

    with RunProgress(to_process.height, n_batches) as progress:
        _process_batches(settings, to_process, timings, read_results, problems, finish,
                         left_out=lambda number, count: progress.advance(count, number))
    if warm_up is not None:
        warm_up.wait()  # a failure here already failed the batches' embedding

    with _timed(timings, "record"):
        outcomes = _outcomes(plan, read_results, problems)
        deleted, renamed = record_files(settings, outcomes, run_id)
    with _timed(timings, "stories"):
        if warehouse.is_lake(settings.warehouse):  # other runs may be writing: see flows/lake.py
            finish_lake_run(settings, run_id)
        else:
            resettled = resolve_entities(settings)
            if resettled:
                logger.info("entities resolved over the whole warehouse: mentions of %d article(s) changed", resettled)
            group_stories(settings, rebuild_search_index=loaded > 0 or deleted > 0 or renamed > 0, run_id=run_id)
    with _timed(timings, "check"):
        counts = check_warehouse(settings, run_id)
    with _timed(timings, "report"):
        report = report_run(settings, run_id)

    summary = _summary(outcomes, counts, timings, deleted, time.perf_counter() - started, run_id)
    summary["renamed"] = renamed
    summary.update({f"{key}_by_batch": values for key, values in memory_by_batch.items()})
    summary["quality"] = {k: v for k, v in report.items() if k != "top_statements"}
    with warehouse.connect(settings.warehouse) as con:
        values = shaping_settings(settings)
        warehouse.in_transaction(con, lambda con: (warehouse.record_settings(con, values),
                                                   warehouse.finish_run(con, run_id, "completed", summary)))
    return summary, outcomes, report


def _process_batches(
    settings: Settings,
    to_process: pl.DataFrame,
    timings: dict[str, float],
    read_results: list[pl.DataFrame],
    problems: list[pl.DataFrame],
    finish: Callable[[_PreparedBatch], None],
    left_out: Callable[[int, int], None] = lambda number, count: None,
) -> None:
    """Prepare batch k+1 while batch k is embedded, then finish (link and load) batch k. `left_out` hears
    of the files a batch leaves out (failed, empty, rechecked unchanged): done too, as far as progress goes."""
    pending: _PreparedBatch | None = None
    for number, batch_files in enumerate(_batches(to_process, settings.batch_size), start=1):
        try:
            prepared = _prepare_batch(settings, number, batch_files, timings, read_results, pending, problems)
        except Exception:
            if pending is not None:
                finish(pending)  # keep the batch already embedded; this run still fails
            raise
        left_out(number, batch_files.height - (prepared.documents.height if prepared is not None else 0))
        if pending is not None:
            finish(pending)
        pending = prepared
    if pending is not None:
        finish(pending)


@dataclass
class _PreparedBatch:
    """A batch cleaned, with its entities and quotes found and its embeddings on the way."""

    number: int
    documents: pl.DataFrame
    cleaned: pl.DataFrame
    removed: pl.DataFrame
    paras: pl.DataFrame
    entity_frame: pl.DataFrame
    mentions: pl.DataFrame
    raw_mentions: pl.DataFrame
    found_quotes: pl.DataFrame
    embedding: PrefectFuture[tuple[pl.DataFrame, float]]


def _drop_articles(prepared: dict[str, pl.DataFrame], article_ids: set[str]) -> dict[str, pl.DataFrame]:
    """The batch's frames without these articles' rows."""
    if not article_ids:
        return prepared
    ids = sorted(article_ids)
    return {name: frame.filter(~pl.col("article_id").is_in(ids)) if "article_id" in frame.columns else frame
            for name, frame in prepared.items()}


def _problems_frame(documents: pl.DataFrame, reasons: dict[str, str], status: str) -> pl.DataFrame:
    """`source_path`, `problem_status`, `problem` for articles that will not be loaded."""
    return documents.filter(pl.col("article_id").is_in(list(reasons))).select(
        "source_path",
        problem_status=pl.lit(status),
        problem=pl.col("article_id").replace_strict(reasons, return_dtype=pl.String),
    )


def _cleaned_as_stored(settings: Settings, batch_files: pl.DataFrame, frames: dict[str, pl.DataFrame]) -> set[str]:
    """The batch's `recheck` articles that today's cleaning made exactly what the warehouse holds."""
    rechecked = {ingest.article_id_for(path)
                 for path in batch_files.filter(pl.col("action") == "recheck")["source_path"].to_list()}
    rechecked &= set(frames["cleaned"]["article_id"].to_list())
    if not rechecked:
        return set()
    ids = sorted(rechecked)
    cleaned = frames["cleaned"].drop("paragraph_kinds", strict=False).filter(pl.col("article_id").is_in(ids))
    with warehouse.connect(settings.warehouse) as con:
        stored = warehouse.stored_cleaning(con, ids, cleaned.columns)
    now = ingest.cleaning_digests(cleaned, *(frames[name].filter(pl.col("article_id").is_in(ids))
                                             for name in ("removed", "paras")))
    before = ingest.cleaning_digests(*stored)
    return {article_id for article_id in ids if now.get(article_id) == before.get(article_id)}


def _prepare_batch(
    settings: Settings,
    number: int,
    batch_files: pl.DataFrame,
    timings: dict[str, float],
    read_results: list[pl.DataFrame],
    previous: _PreparedBatch | None,
    problems: list[pl.DataFrame] | None = None,
) -> _PreparedBatch | None:
    """Read, clean and split a batch, start embedding it, and find its entities and quotes meanwhile.
    A file that fails in any step, or has no text left after cleaning, is left out of the batch and
    recorded in `problems` (failed, or empty); the others go on. So is a rechecked file that cleans to
    what is stored (unchanged)."""
    problems = problems if problems is not None else []
    with _timed(timings, "read"):
        documents = read_documents(settings, batch_files)
    read_results.append(documents.select("source_path", "encoding", pl.col("error").alias("read_error")))
    good = documents.filter(pl.col("error").is_null())
    if good.height == 0:
        return None
    failed: dict[str, str] = {}
    with _timed(timings, "clean"):
        (cleaned, removed), failures = clean_articles(good, tuple(settings.clean_disable))
        failed |= failures
    with _timed(timings, "split"):
        paras, failures = split_paragraphs(cleaned)
        failed |= failures
    # Nothing left after cleaning (a page of boilerplate): recorded as `empty`, not stored as an article.
    empty = set(cleaned["article_id"].to_list()) - set(paras["article_id"].to_list()) - set(failed)
    if empty:
        problems.append(_problems_frame(good, {a: "no text left after cleaning" for a in empty}, "empty"))
    frames = _drop_articles({"good": good, "cleaned": cleaned, "removed": removed, "paras": paras}, empty | set(failed))
    same: set[str] = set()
    if (batch_files["action"] == "recheck").any():
        with _timed(timings, "recheck"):
            same = _cleaned_as_stored(settings, batch_files, frames)
    if same:
        problems.append(_problems_frame(good, dict.fromkeys(same), "unchanged"))
        frames = _drop_articles(frames, same)
    if not frames["paras"].height:
        problems.append(_problems_frame(good, failed, "failed"))
        return None
    paras = frames["paras"]
    # Embedding starts now, in its worker, while entities and quotes are found here (a file that fails
    # there leaves its vectors in the embedding cache only).
    with _timed(timings, "embed-start"):
        texts = pl.concat([paras.select("text_sha256", "text"), quotes.quote_texts(paras)])
        with warehouse.connect(settings.warehouse) as con:
            cache = warehouse.cached_embeddings(con, texts["text_sha256"].unique().to_list(), settings.embedding_model)
        embedding = embed_texts.submit(settings, texts, cache, previous.embedding if previous else None)
    with _timed(timings, "entities"):
        entity_frame, mentions, raw_mentions, failures = extract_entities(
            settings, frames["paras"], previous.entity_frame if previous else None)
        failed |= failures
    with _timed(timings, "quotes"):
        found_quotes, failures = extract_quotes(frames["paras"], entity_frame, mentions)
        failed |= failures
    problems.append(_problems_frame(good, failed, "failed"))
    frames = _drop_articles({**frames, "mentions": mentions, "raw_mentions": raw_mentions, "found_quotes": found_quotes},
                            set(failed))
    if not frames["paras"].height:
        embedding.wait()
        return None
    return _PreparedBatch(number, frames["good"], frames["cleaned"], frames["removed"], frames["paras"], entity_frame,
                          frames["mentions"], frames["raw_mentions"], frames["found_quotes"], embedding)


def _finish_batch(settings: Settings, prepared: _PreparedBatch, run_id: str, timings: dict[str, float]) -> int:
    """Wait for the batch's embeddings, link its paragraphs and quotes, and load it."""
    with _timed(timings, "embed-wait"):
        vectors, embed_seconds = prepared.embedding.result()
    timings["embed"] += embed_seconds
    embedded = embed.attach_embeddings(prepared.paras, vectors, settings.embedding_model)
    with _timed(timings, "quotes"):
        quote_frame, quote_links = link_quotes(
            settings, prepared.found_quotes, vectors, prepared.paras["article_id"].unique().to_list()
        )
    # Links are computed inside the load's transaction, from the stored paragraphs (relink).
    links = pl.DataFrame(schema=similarity.LINK_SCHEMA)
    good = prepared.documents
    now = warehouse.utc_now()
    # (`paragraph_kinds` told the split how to read the body; the paragraphs table keeps each one's kind.)
    cleaned = prepared.cleaned.drop("paragraph_kinds", strict=False)
    articles = good.select("article_id", "source_path", "content_sha256").join(cleaned, on="article_id").with_columns(
        ingested_at=pl.lit(now), run_id=pl.lit(run_id)
    )
    batch = warehouse.ArticleBatch(
        articles=articles,
        sources=good.select("article_id", "encoding", pl.col("text").alias("raw_text")),
        removed_spans=prepared.removed,
        paragraphs=embedded.select(
            "paragraph_id", "article_id", "position", "text", "section_heading", "text_sha256", "n_words", "embedding",
            "model", "kind",
        ),
        entities=prepared.entity_frame,
        mentions=prepared.mentions.select(
            "entity_id", "article_id", "paragraph_id", "start_char", "end_char", "surface", "label"
        ),
        links=links,
        extra={"quotes": quote_frame, "quote_links": quote_links, "raw_mentions": prepared.raw_mentions},
        vectors=vectors,
    )
    with _timed(timings, "load"):
        loaded = load_warehouse(settings, batch)
    return loaded


def _summary(
    outcomes: pl.DataFrame, counts: dict[str, int], timings: dict[str, float], deleted: int, wall: float, run_id: str
) -> dict[str, Any]:
    def count(expr: pl.Expr) -> int:
        return int(outcomes.filter(expr).height)

    return {
        "run_id": run_id,
        "files_seen": outcomes.height,
        "new": count((pl.col("change") == "new") & (pl.col("status") == "loaded")),
        "changed": count((pl.col("change") == "changed") & (pl.col("status") == "loaded")),
        "unchanged": count(pl.col("status") == "unchanged"),
        # Same file, redone: a setting that shapes articles, or the cleaning code, changed its result.
        "redone": count((pl.col("change") == "unchanged") & (pl.col("status") == "loaded")),
        "duplicate": count(pl.col("status") == "duplicate"),
        "failed": count(pl.col("status") == "failed"),
        "empty": count(pl.col("status") == "empty"),
        "deleted": deleted,
        "failures": outcomes.filter(pl.col("status") == "failed").select("source_path", "error").rows(),
        **counts,
        "seconds_per_step": {name: round(seconds, 3) for name, seconds in timings.items()},
        "wall_seconds": round(wall, 3),
    }


def _publish_artifacts(outcomes: pl.DataFrame, summary: dict[str, Any], top_statements: list[dict[str, Any]]) -> None:
    table = outcomes.select("source_path", "status", "change", "duplicate_of", "error").with_columns(
        pl.all().fill_null("")
    )
    create_table_artifact(key="ingest-files", table=table.to_dicts(), description="Files seen by this run")
    if top_statements:
        create_table_artifact(
            key="top-statements", table=top_statements,
            description="Paragraphs linked to the most other articles (statements carried by several outlets)",
        )
    quality = summary["quality"]
    steps = "\n".join(f"| {name} | {seconds:.2f} |" for name, seconds in summary["seconds_per_step"].items())
    create_markdown_artifact(
        key="ingest-summary",
        markdown=(
            f"## newsdag ingest\n\nfiles {summary['files_seen']}: new {summary['new']}, changed {summary['changed']}, "
            f"unchanged {summary['unchanged']}, duplicate {summary['duplicate']}, failed {summary['failed']}\n\n"
            f"articles {summary['articles']}, paragraphs {summary['paragraphs']}, entities {summary['entities']}, "
            f"similarity links {summary['paragraph_similarity']}\n\n"
            f"this run's articles: {quality['articles']}; text removed as boilerplate {quality['removed_share']:.1%}; "
            f"missing date {quality['missing_date_rate']:.1%}; missing author {quality['missing_author_rate']:.1%}\n\n"
            f"rows this run's articles produced: removed spans {quality.get('removed_spans', 0)}, paragraphs "
            f"{quality.get('paragraphs', 0)}, entity mentions {quality.get('entity_mentions', 0)}, similarity links "
            f"{quality.get('similarity_links', 0)}\n\n"
            f"| step | seconds |\n|---|---|\n{steps}\n"
        ),
        description="Counts and timings of this run",
    )

