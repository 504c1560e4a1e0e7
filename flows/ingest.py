"""The ingest flow: raw files -> cleaned, embedded, linked articles in DuckDB.

The flow composes the steps: discover and plan the files, process them batch by batch
(flows/batching.py, where the batch's steps are), record every file's outcome, settle entities and
group stories over the whole warehouse, check it and report. Each step is a Prefect task over many
articles, made from a plain function in `tasks/`; the warehouse held for the run, its record in `runs`
and its full-disk error are flows/lifecycle.py's, its timings, summary and artifacts flows/reporting.py's.
"""

from __future__ import annotations

import time
import uuid
from collections import defaultdict
from typing import Any

import polars as pl
from prefect import flow, get_run_logger
from prefect.runtime import flow_run
from prefect.states import Completed, State

from flows.batching import BatchesDone, relinker, run_batches, step
from flows.derived import (
    CHECKS, ENTITIES, STORIES, content_changed_since, derived_current, derived_inputs, rebuild_derived,
    record_current, refresh_quotes, settle_entities,
)
from flows.lake import finish_lake_run
from flows.lifecycle import lake_held, recorded_run, refuse_empty_raw_folder, warehouse_file_held
from flows.progress import published_run
from flows.reporting import file_outcomes, publish_artifacts, run_summary, timed
from storage import loads
from storage.backend import backend_for, backend_of
from storage.connection import in_transaction, WarehouseCheckFailed
from storage.derived import run_checks, run_report
from storage.links import needs_full_relink, queue_all_paragraphs
from storage.loads import delete_articles, drop_renamed, finish_run, mark_deleted, record_settings
from storage.state import derived_stamp, known_files, recorded_file_stats, stored_settings, table_counts
from tasks import ingest
from tasks.settings import CLEANING_CODE, RESHAPE_LINKS, Settings, get_settings, reshapes_articles, shaping_settings


@flow(name="newsdag-ingest", log_prints=True)
def ingest_flow(
    raw_dir: str | None = None, warehouse_path: str | None = None, allow_empty: bool | None = None,
    shard: str | None = None, dask: str | None = None,
) -> dict[str, Any]:
    """Ingest every new or changed file in the raw folder into the warehouse (this run's shard of it)."""
    settings = get_settings(raw_dir=raw_dir, warehouse=warehouse_path, allow_empty=allow_empty, shard=shard, dask=dask)
    return run_ingest(settings)


def run_ingest(settings: Settings) -> dict[str, Any]:
    """The flow's body: the run inside the warehouse held for it; returns the run's summary."""
    logger = get_run_logger()
    run_id = str(flow_run.get_id() or uuid.uuid4())
    timings: dict[str, float] = defaultdict(float)
    started = time.perf_counter()

    if backend_for(settings.warehouse).many_writers:
        with lake_held(settings) as lake_settings:
            summary, outcomes, report = _run(lake_settings, run_id, timings, started, logger)
    else:
        with warehouse_file_held(settings), published_run(settings.warehouse, run_id):
            summary, outcomes, report = _run(settings, run_id, timings, started, logger)
    publish_artifacts(outcomes, summary, report["top_statements"])
    return summary


def _run(
    settings: Settings, run_id: str, timings: dict[str, float], started: float, logger: Any
) -> tuple[dict[str, Any], pl.DataFrame, dict[str, Any]]:
    with timed(timings, "discover"):
        files = discover_files(settings)
    refuse_empty_raw_folder(settings, files)
    with timed(timings, "plan"):
        # A shard's run plans over the whole folder (a copy in another shard is still a duplicate), then
        # keeps its own files.
        plan = ingest.select_shard(plan_ingest(settings, files), settings.shard)
    with recorded_run(settings, run_id, logger):
        batches = run_batches(settings, plan, run_id, timings, started, logger)
        return _finish_run(settings, plan, batches, run_id, timings, started, logger)


def _finish_run(
    settings: Settings, plan: pl.DataFrame, batches: BatchesDone, run_id: str, timings: dict[str, float],
    started: float, logger: Any,
) -> tuple[dict[str, Any], pl.DataFrame, dict[str, Any]]:
    """After the batches: record every file's outcome, settle entities and group stories, check the
    warehouse, report, and record the run as completed with its summary."""
    with timed(timings, "record"):
        outcomes = file_outcomes(plan, batches.read_results, batches.problems)
        deleted, renamed = record_files(settings, outcomes, run_id)
    skipped: list[str] = []  # derived steps already computed for what is stored (flows/derived.py)
    with timed(timings, "stories"):
        if backend_for(settings.warehouse).many_writers:  # other runs may be writing: see flows/lake.py
            finish_lake_run(settings, run_id)
        else:
            # Each asked just before it runs: settling entities may change content, which the next reads.
            if _is_current(settings, ENTITIES):
                resolve_entities(settings, current=True)
                skipped.append("resolve-entities")
            else:
                resettled = resolve_entities(settings)
                if resettled:
                    logger.info("entities settled (the name partitions this run touched): mentions of %d article(s) changed", resettled)
            if _is_current(settings, STORIES):
                group_stories(settings, rebuild_search_index=False, run_id=run_id, current=True)
                skipped.append("group-stories")
            else:
                group_stories(settings, rebuild_search_index=batches.loaded > 0 or deleted > 0 or renamed > 0, run_id=run_id)
    with timed(timings, "check"):
        checks_current = _is_current(settings, CHECKS)
        if checks_current:
            skipped.append("check-warehouse")
        counts = check_warehouse(settings, run_id, current=checks_current)
    if len(skipped) == 3:
        logger.info("nothing changed since the last run: derived tables and checks are current")
    with timed(timings, "report"):
        report = report_run(settings, run_id)

    summary = run_summary(outcomes, counts, timings, deleted, time.perf_counter() - started, run_id)
    summary["renamed"] = renamed
    # "current": every derived step skipped, nothing having changed since they last ran.
    summary["derived"] = "current" if len(skipped) == 3 else "recomputed"
    summary["derived_steps_skipped"] = skipped
    summary.update({f"{key}_by_batch": values for key, values in batches.memory_by_batch.items()})
    summary["quality"] = {k: v for k, v in report.items() if k != "top_statements"}
    with backend_for(settings.warehouse).connect() as con:
        values = shaping_settings(settings)
        in_transaction(con, lambda con: (record_settings(con, values),
                                                   finish_run(con, run_id, "completed", summary)))
    return summary, outcomes, report


@step(name="discover-files", retries=2, retry_delay_seconds=1)
def discover_files(settings: Settings) -> pl.DataFrame:
    """List and hash every file in the raw folder (a file unchanged in size and mtime since a run hashed
    it keeps that hash, unread)."""
    with backend_for(settings.warehouse).connect() as con:
        recorded = recorded_file_stats(con)
    return ingest.discover_files(settings.raw_dir, settings.max_file_bytes, recorded=recorded)


@step(name="plan-ingest")
def plan_ingest(settings: Settings, files: pl.DataFrame) -> pl.DataFrame:
    """Compare files with the warehouse: new, changed, unchanged, duplicate or failed. Settings that
    shape stored results and differ from those the warehouse was built with: every article is redone
    (models, cleaning), or every link (similarity threshold, top-k). Cleaning code other than the one
    that cleaned the stored articles: every unchanged file is rechecked (cleaned again, redone if it differs)."""
    logger = get_run_logger()
    with backend_for(settings.warehouse).connect() as con:
        backend_of(con).apply_schema(con, settings.sql_dir, settings.embedding_dim, settings.embedding_model)
        plan = ingest.plan_ingest(files, known_files(con))
        stored = stored_settings(con)
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
        if set(changed) & set(RESHAPE_LINKS) or needs_full_relink(con):
            logger.warning("similarity settings changed (or links from before neighbour lists): every link is redone")
            in_transaction(con, queue_all_paragraphs)
        return plan


@step(name="record-files")
def record_files(settings: Settings, outcomes: pl.DataFrame, run_id: str) -> tuple[int, int]:
    """Record every file's outcome; drop articles of files that became duplicates; mark deleted files;
    drop the old articles of renamed files; relink what any of this (or an earlier crash) left queued.
    Returns (files deleted, files renamed)."""
    with backend_for(settings.warehouse).connect() as con:
        became_duplicates = outcomes.filter(pl.col("status") == "duplicate")["source_path"].to_list()
        # Files empty after cleaning now, after holding an article: the old article goes (a fresh run
        # over the folder would not have it). A file that fails keeps its last good article (a read
        # failure may be passing), with the failure recorded.
        not_loaded = outcomes.filter(pl.col("status") == "empty")["source_path"].to_list()
        doomed = [ingest.article_id_for(p) for p in became_duplicates + not_loaded]
        relink = relinker(settings)
        # (one transaction, redone whole if a concurrent DuckLake commit conflicts with it)
        in_transaction(con, lambda con: (delete_articles(con, doomed), relink(con)))
        loads.record_files(con, outcomes, run_id)
        deleted = mark_deleted(con, outcomes["source_path"].to_list(), run_id, settings.shard)
        renamed = drop_renamed(con, before_commit=relinker(settings))
        return deleted - len(renamed), len(renamed)


def _is_current(settings: Settings, step_name: str) -> bool:
    with backend_for(settings.warehouse).connect() as con:
        return derived_current(con, settings, step_name)


def _skipped() -> State:
    """A skipped step's state: shown as Skipped in Prefect's task list (its caller ignores the result)."""
    return Completed(name="Skipped", message="nothing changed since the last run: current")


@step(name="resolve-entities")
def resolve_entities(settings: Settings, current: bool = False) -> int | State:
    """Entities, mentions and quote speakers resolved over every stored article at once, equal to a fresh
    run's whatever order the articles arrived in (rewritten only where they changed). Returns the
    number of articles whose mentions changed. `current`: settled for what is stored, skipped."""
    if current:
        return _skipped()
    with backend_for(settings.warehouse).connect() as con:
        resettled = settle_entities(con, settings)
        refresh_quotes(con, settings)  # after an upgrade of quote extraction: every article's quotes found again
        record_current(con, settings, ENTITIES)
        return resettled


@step(name="group-stories")
def group_stories(settings: Settings, rebuild_search_index: bool, run_id: str = "", current: bool = False) -> int | State:
    """Article similarity and duplicate flags from the paragraph links; topics and stories recomputed from
    every article's vector and entities, keeping the previous run's ids (derived tables, replaced in
    one transaction, rewritten only where they changed); the full-text index for `newsdag search`.
    `current`: computed for what is stored, with today's settings and code, skipped."""
    if current:
        with backend_for(settings.warehouse).connect() as con:  # a missing full-text index is built all the same
            if not backend_of(con).has_search_index(con):
                backend_of(con).rebuild_search_index(con)
        return _skipped()
    with backend_for(settings.warehouse).connect() as con:
        # A run killed after loading and before this step left the search index behind the content.
        rebuild_search_index = rebuild_search_index or content_changed_since(con, STORIES)
        n_stories = rebuild_derived(con, settings, rebuild_search_index, run_id)
        record_current(con, settings, STORIES)
        return n_stories


# Checks over what runs and files are recorded, which every run writes (cheap: a row per run or file):
# run even when the stored content is current.
BOOKKEEPING_CHECKS = ("accepted_values",)


@step(name="check-warehouse")
def check_warehouse(settings: Settings, run_id: str, current: bool = False) -> dict[str, int]:
    """Data checks (unique ids, no orphans, embeddings present, links across articles only). `current`:
    the content checks passed for what is stored, with today's checks: only the bookkeeping ones run."""
    with backend_for(settings.warehouse).connect() as con:
        problems = run_checks(con, settings.sql_dir, run_id, only=BOOKKEEPING_CHECKS if current else None,
                              scoped=not current and _checks_unchanged(con, settings))
        if problems.height:
            raise WarehouseCheckFailed(
                f"{problems.height} warehouse check failures, e.g. {problems.head(5).rows()}"
            )
        if not current:
            record_current(con, settings, CHECKS)
        return table_counts(con)


def _checks_unchanged(con: Any, settings: Settings) -> bool:
    """Whether the content checks last passed with today's checks (the rows checked then stay checked):
    this run's checks need only examine what changed since. A new or changed check, or no record (a
    DuckLake keeps none), examines every stored row."""
    recorded = derived_stamp(con, CHECKS)
    return recorded is not None and recorded.split("|", 1)[-1] == derived_inputs(settings, CHECKS)


@step(name="report-run")
def report_run(settings: Settings, run_id: str) -> dict[str, Any]:
    """Share of text removed as boilerplate, missing-date and missing-author rates, top statements."""
    with backend_for(settings.warehouse).connect() as con:
        return run_report(con, settings.sql_dir, run_id)
