"""What a run says about itself: step timings, memory after each batch, every file's outcome, the
summary it returns and records, and the artifacts it shows in Prefect's UI."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import polars as pl
from prefect.artifacts import create_markdown_artifact, create_table_artifact

from storage.backend import backend_for
from storage.connection import memory_in_use
from runtime import embedding_worker, heap
from tasks import ingest

# The order in which the summary lists the memory measured after each batch (`<key>_by_batch`).
MEMORY_KEYS = ("peak_rss_mb", "resident_mb", "duckdb_mb", "free_heap_mb", "embedding_worker_peak_mb")


@contextmanager
def timed(timings: dict[str, float], name: str) -> Iterator[None]:
    """Add the seconds spent in the block to `timings[name]`."""
    started = time.perf_counter()
    try:
        yield
    finally:
        timings[name] += time.perf_counter() - started


def first_line(error: BaseException) -> str:
    """An error in one line, as a file's failure records it and a warning logs it."""
    text = str(error).strip()
    return f"{type(error).__name__}: {text.splitlines()[0] if text else ''}".rstrip(": ")


def memory_now(warehouse_path: Path) -> dict[str, int]:
    """The process's peak and current memory, and DuckDB's share, in MB: measured after each batch, flat
    when nothing held grows with the warehouse."""
    with backend_for(warehouse_path).connect() as con:
        duckdb_bytes = memory_in_use(con)
    # With the model in its worker process, its memory counts too: the sum of the two peaks (an upper
    # bound of their peak together) and of what each holds now.
    worker_peak_mb = embedding_worker.workers_peak_rss_mb()
    resident = heap.resident_bytes() + embedding_worker.workers_resident_bytes()
    return {"peak_rss_mb": heap.peak_rss_mb() + worker_peak_mb, "resident_mb": resident >> 20,
            "embedding_worker_peak_mb": worker_peak_mb,
            "duckdb_mb": duckdb_bytes >> 20, "free_heap_mb": (heap.free_heap_bytes() or 0) >> 20}


def file_outcomes(plan: pl.DataFrame, processed: list[pl.DataFrame], problems: list[pl.DataFrame] | None = None) -> pl.DataFrame:
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


def run_summary(
    outcomes: pl.DataFrame, counts: dict[str, int], timings: dict[str, float], deleted: int, wall: float, run_id: str
) -> dict[str, Any]:
    """The run's counts of files by outcome, the warehouse's table counts and the seconds per step."""
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


def publish_artifacts(outcomes: pl.DataFrame, summary: dict[str, Any], top_statements: list[dict[str, Any]]) -> None:
    """The files seen, the top statements and the summary, as Prefect artifacts of the flow run."""
    table = outcomes.select("source_path", "status", "change", "duplicate_of", "error").with_columns(
        pl.all().fill_null("")
    )
    create_table_artifact(key="ingest-files", table=table.to_dicts(), description="Files seen by this run")
    if top_statements:
        create_table_artifact(
            key="top-statements", table=top_statements,
            description="This run's paragraphs linked to the most other articles (statements carried by several outlets)",
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
