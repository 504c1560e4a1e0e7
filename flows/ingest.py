"""The ingest flow: raw files -> cleaned, embedded, linked articles in DuckDB.

This module only composes the plain functions in `tasks/` into Prefect tasks (one per pipeline step,
each over a batch of articles) and adds retries, logging, timing and artifacts.
"""

from __future__ import annotations

import time
import uuid
from collections import defaultdict
from collections.abc import Iterator
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

from tasks import clean, distributed_models, embed, entities, heap, ingest, paragraphs, quotes, similarity, stories, warehouse
from tasks.settings import Settings, get_settings
from flows.lake import finish_lake_run

# Frames are passed in-process; nothing here is worth persisting or caching by Prefect (the
# embedding cache lives in the warehouse, keyed by text hash, and survives runs).
step = task(cache_policy=NO_CACHE, persist_result=False)


@step(name="discover-files", retries=2, retry_delay_seconds=1)
def discover_files(settings: Settings) -> pl.DataFrame:
    """List and hash every file in the raw folder."""
    return ingest.discover_files(settings.raw_dir, settings.max_file_bytes)


@step(name="plan-ingest")
def plan_ingest(settings: Settings, files: pl.DataFrame) -> pl.DataFrame:
    """Compare files with the warehouse: new, changed, unchanged, duplicate or failed."""
    with warehouse.connect(settings.warehouse) as con:
        warehouse.apply_schema(con, settings.sql_dir, settings.embedding_dim, settings.embedding_model)
        return ingest.plan_ingest(files, warehouse.known_files(con))


@step(name="read-documents", retries=2, retry_delay_seconds=1)
def read_documents(settings: Settings, files: pl.DataFrame) -> pl.DataFrame:
    """Read and decode a batch of files (UTF-8, BOM, cp1252, Latin-1; mojibake repaired)."""
    return ingest.read_documents(files, settings.raw_dir)


@step(name="clean-articles")
def clean_articles(documents: pl.DataFrame) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Remove boilerplate, record what was removed and why, and extract metadata."""
    return clean.clean_articles(documents)


@step(name="split-paragraphs")
def split_paragraphs(articles: pl.DataFrame) -> pl.DataFrame:
    """Split cleaned bodies into paragraphs."""
    return paragraphs.split_paragraphs(articles)


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
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Find named entities and resolve them to canonical entities (those stored, updated by the
    entities of a batch extracted but not loaded yet)."""
    if settings.dask:
        mentions = distributed_models.extract_mentions(
            settings.dask, paras, settings.spacy_model, settings.ner_batch_size, settings.dask_min_texts)
    else:
        mentions = entities.extract_mentions(paras, settings.spacy_model, settings.ner_batch_size)
    with warehouse.connect(settings.warehouse) as con:
        known = warehouse.known_entities(con)
    if pending_entities is not None and pending_entities.height:
        newer = pending_entities.select(known.columns)
        known = pl.concat([known.join(newer, on="entity_id", how="anti"), newer.cast(known.schema)])
    return entities.canonicalise_entities(mentions, known)


@step(name="extract-quotes")
def extract_quotes(paras: pl.DataFrame, entity_frame: pl.DataFrame, mentions: pl.DataFrame) -> pl.DataFrame:
    """Find direct quotations and their speakers."""
    return quotes.extract_quotes(paras, mentions, entity_frame)


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
    return settings.warehouse.with_name(settings.warehouse.name + ".hnsw")


def _sync_paragraph_index(settings: Settings, con: Any, stored: pl.DataFrame) -> similarity.ParagraphIndex:
    index, _, _ = similarity.sync_paragraph_index(
        paragraph_index_path(settings), stored, lambda ids: warehouse.paragraph_vectors(con, ids), settings.embedding_dim
    )
    return index


@step(name="link-paragraphs")
def link_paragraphs(settings: Settings, embedded: pl.DataFrame) -> pl.DataFrame:
    """Link each new paragraph to its most similar paragraphs in other articles (exact search in a small
    warehouse, the HNSW index beyond), with the lexical overlap that tells copy from paraphrase."""
    replaced = embedded["article_id"].unique().to_list()
    with warehouse.connect(settings.warehouse) as con:
        stored = warehouse.paragraph_ids(con)
        if stored.height <= settings.similarity_exact_max:
            links = similarity.link_similar_paragraphs(
                embedded, warehouse.paragraph_embedding_blocks(con, replaced), settings.similarity_threshold,
                settings.similarity_top_k,
            )
        else:
            links = similarity.link_similar_paragraphs(
                embedded, embedded.head(0), settings.similarity_threshold, settings.similarity_top_k,
                _sync_paragraph_index(settings, con, stored), replaced,
            )
        missing = similarity.paragraph_ids_missing_text(links, set(embedded["paragraph_id"].to_list()))
        texts = dict(warehouse.paragraph_texts(con, missing).iter_rows())
    texts.update(zip(embedded["paragraph_id"].to_list(), embedded["text"].to_list()))
    return similarity.add_lexical_overlap(links, texts)


@step(name="index-paragraphs")
def index_paragraphs(settings: Settings) -> int:
    """Add the batch's paragraphs to the HNSW index (and drop replaced ones) once the warehouse is large."""
    with warehouse.connect(settings.warehouse) as con:
        stored = warehouse.paragraph_ids(con)
        if stored.height <= settings.similarity_exact_max:
            return 0
        _sync_paragraph_index(settings, con, stored)
        return stored.height


@step(name="group-stories")
def group_stories(settings: Settings, rebuild_search_index: bool) -> int:
    """Article similarity, duplicate flags and stories from the paragraph links (derived tables, rebuilt
    in one transaction); the full-text index for `newsdag search`."""
    with warehouse.connect(settings.warehouse) as con:
        inputs = warehouse.story_inputs(con)
        identical = stories.identical_paragraph_links(inputs["paragraph_hashes"])
        similar = stories.article_similarity(inputs["links"], inputs["articles"], identical)
        story_frame, members = stories.group_stories(similar, inputs["articles"], inputs["entities"])
        warehouse.replace_stories(con, similar, story_frame, members)
        if rebuild_search_index or not warehouse.has_search_index(con):
            warehouse.rebuild_search_index(con)
        return story_frame.height


@step(name="load-warehouse", retries=1, retry_delay_seconds=2)
def load_warehouse(settings: Settings, batch: warehouse.ArticleBatch) -> int:
    """Write the batch's articles whole, in one transaction."""
    with warehouse.connect(settings.warehouse) as con:
        warehouse.load_batch(con, batch, settings.embedding_model)
    return batch.articles.height


@step(name="record-files")
def record_files(settings: Settings, outcomes: pl.DataFrame, run_id: str) -> int:
    """Record every file's outcome; drop articles of files that became duplicates; mark deleted files."""
    with warehouse.connect(settings.warehouse) as con:
        became_duplicates = outcomes.filter(pl.col("status") == "duplicate")["source_path"].to_list()
        con.execute("begin transaction")
        warehouse.delete_articles(con, [ingest.article_id_for(p) for p in became_duplicates])
        con.execute("commit")
        warehouse.record_files(con, outcomes, run_id)
        return warehouse.mark_deleted(con, outcomes["source_path"].to_list(), run_id, settings.shard)


@step(name="report-run")
def report_run(settings: Settings, run_id: str) -> dict[str, Any]:
    """Share of text removed as boilerplate, missing-date and missing-author rates, top statements."""
    with warehouse.connect(settings.warehouse) as con:
        return warehouse.run_report(con, settings.sql_dir, run_id)


@step(name="check-warehouse")
def check_warehouse(settings: Settings) -> dict[str, int]:
    """Data checks (unique ids, no orphans, embeddings present, links across articles only)."""
    with warehouse.connect(settings.warehouse) as con:
        problems = warehouse.run_checks(con, settings.sql_dir)
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


def _outcomes(plan: pl.DataFrame, processed: list[pl.DataFrame]) -> pl.DataFrame:
    """One row per discovered file: its final status, encoding and error."""
    read_results = (
        pl.concat(processed) if processed
        else pl.DataFrame(schema={"source_path": pl.String, "encoding": pl.String, "read_error": pl.String})
    )
    # A copy of a file that could not be read fails for the same reason.
    owner_errors = read_results.select(pl.col("source_path").alias("duplicate_of"), pl.col("read_error").alias("owner_error"))
    return (
        plan.join(read_results, on="source_path", how="left")
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
            status=pl.when(pl.col("action") == "skip").then(pl.lit("unchanged"))
            .when((pl.col("action") == "fail") | pl.col("read_error").is_not_null()).then(pl.lit("failed"))
            .when(pl.col("action") == "duplicate").then(pl.lit("duplicate"))
            .otherwise(pl.lit("loaded")),
            article_id=pl.col("source_path").map_elements(ingest.article_id_for, return_dtype=pl.String),
        )
        .drop("owner_error")
    )


@flow(name="newsdag-ingest", log_prints=True)
def ingest_flow(
    raw_dir: str | None = None, warehouse_path: str | None = None, shard: str | None = None, dask: str | None = None
) -> dict[str, Any]:
    """Ingest every new or changed file in the raw folder into the DuckDB warehouse."""
    settings = get_settings(raw_dir=raw_dir, warehouse=warehouse_path, shard=shard, dask=dask)
    return run_ingest(settings)


def run_ingest(settings: Settings) -> dict[str, Any]:
    logger = get_run_logger()
    run_id = str(flow_run.get_id() or uuid.uuid4())
    timings: dict[str, float] = defaultdict(float)
    started = time.perf_counter()

    if warehouse.is_lake(settings.warehouse):  # scale-out: created with its data folder when new
        warehouse.open_lake(settings.warehouse, settings.lake_data, settings.duckdb_memory_limit)
        # The HNSW index file is one host's, beside a single file: on a lake, similarity search is exact.
        settings = settings.model_copy(update={"similarity_exact_max": 2**62})
    with warehouse.writer_lock(settings.warehouse), warehouse.held_open(settings.warehouse, settings.duckdb_memory_limit):
        with _timed(timings, "discover"):
            files = discover_files(settings)
        with _timed(timings, "plan"):
            plan = ingest.select_shard(plan_ingest(settings, files), settings.shard)
        with warehouse.connect(settings.warehouse) as con:
            warehouse.start_run(con, run_id, str(settings.raw_dir))
        try:
            summary, outcomes, report = _run_batches(settings, plan, run_id, timings, started, logger)
        except Exception as error:
            # The run's row says why it failed; the data already committed stays consistent.
            with warehouse.connect(settings.warehouse) as con:
                warehouse.finish_run(con, run_id, "failed", {"error": f"{type(error).__name__}: {error}"})
            raise
    _publish_artifacts(outcomes, summary, report["top_statements"])
    return summary


def _run_batches(
    settings: Settings, plan: pl.DataFrame, run_id: str, timings: dict[str, float], started: float, logger: Any
) -> tuple[dict[str, Any], pl.DataFrame, dict[str, Any]]:
    """Process the planned files batch by batch, then record outcomes, group stories and check.

    Two batches are in flight: while batch k's texts are embedded in a worker thread, this thread
    cleans batch k+1 and finds its entities and quotes, then loads batch k. Each batch is still
    loaded whole, in order, in its own transaction."""
    to_process = plan.filter(pl.col("action") == "process")
    logger.info(
        "%d files: %d to process, %d unchanged, %d duplicate, %d unreadable",
        plan.height, to_process.height, (plan["action"] == "skip").sum(),
        (plan["action"] == "duplicate").sum(), (plan["action"] == "fail").sum(),
    )

    read_results: list[pl.DataFrame] = []
    # The process's peak and current memory, and DuckDB's share, after each batch: flat when nothing
    # held grows with the warehouse.
    memory_by_batch: dict[str, list[int]] = {
        "peak_rss_mb": [], "resident_mb": [], "duckdb_mb": [], "free_heap_mb": [], "embedding_worker_peak_mb": []}
    loaded = 0
    n_batches = (to_process.height + settings.batch_size - 1) // settings.batch_size
    pending: _PreparedBatch | None = None
    warm_up = load_embedding_model.submit(settings) if to_process.height else None

    def finish(prepared: _PreparedBatch) -> None:
        nonlocal loaded
        loaded += _finish_batch(settings, prepared, run_id, timings)
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
        logger.info("batch %d/%d done: %d articles loaded (%.1f articles/s), memory %d MB (peak %d MB, DuckDB %d MB)",
                    prepared.number, n_batches, loaded, loaded / elapsed if elapsed else 0.0,
                    memory_by_batch["resident_mb"][-1], memory_by_batch["peak_rss_mb"][-1], memory_by_batch["duckdb_mb"][-1])

    for number, batch_files in enumerate(_batches(to_process, settings.batch_size), start=1):
        try:
            prepared = _prepare_batch(settings, number, batch_files, timings, read_results, pending)
        except Exception:
            if pending is not None:
                finish(pending)  # keep the batch already embedded; this run still fails
            raise
        if pending is not None:
            finish(pending)
        pending = prepared
    if pending is not None:
        finish(pending)
    if warm_up is not None:
        warm_up.wait()  # a failure here already failed the batches' embedding

    with _timed(timings, "record"):
        outcomes = _outcomes(plan, read_results)
        deleted = record_files(settings, outcomes, run_id)
    with _timed(timings, "stories"):
        if warehouse.is_lake(settings.warehouse):  # other runs may be writing: see flows/lake.py
            finish_lake_run(settings, run_id)
        else:
            group_stories(settings, rebuild_search_index=loaded > 0 or deleted > 0)
    with _timed(timings, "check"):
        counts = check_warehouse(settings)
    with _timed(timings, "report"):
        report = report_run(settings, run_id)

    summary = _summary(outcomes, counts, timings, deleted, time.perf_counter() - started, run_id)
    summary.update({f"{key}_by_batch": values for key, values in memory_by_batch.items()})
    summary["quality"] = {k: v for k, v in report.items() if k != "top_statements"}
    with warehouse.connect(settings.warehouse) as con:
        warehouse.finish_run(con, run_id, "completed", summary)
    return summary, outcomes, report


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
    found_quotes: pl.DataFrame
    embedding: PrefectFuture[tuple[pl.DataFrame, float]]


def _prepare_batch(
    settings: Settings,
    number: int,
    batch_files: pl.DataFrame,
    timings: dict[str, float],
    read_results: list[pl.DataFrame],
    previous: _PreparedBatch | None,
) -> _PreparedBatch | None:
    """Read, clean and split a batch, start embedding it, and find its entities and quotes meanwhile."""
    with _timed(timings, "read"):
        documents = read_documents(settings, batch_files)
    read_results.append(documents.select("source_path", "encoding", pl.col("error").alias("read_error")))
    good = documents.filter(pl.col("error").is_null())
    if good.height == 0:
        return None
    with _timed(timings, "clean"):
        cleaned, removed = clean_articles(good)
    with _timed(timings, "split"):
        paras = split_paragraphs(cleaned)
    with _timed(timings, "embed-start"):
        texts = pl.concat([paras.select("text_sha256", "text"), quotes.quote_texts(paras)])
        with warehouse.connect(settings.warehouse) as con:
            cache = warehouse.cached_embeddings(con, texts["text_sha256"].unique().to_list(), settings.embedding_model)
        embedding = embed_texts.submit(settings, texts, cache, previous.embedding if previous else None)
    with _timed(timings, "entities"):
        entity_frame, mentions = extract_entities(settings, paras, previous.entity_frame if previous else None)
    with _timed(timings, "quotes"):
        found_quotes = extract_quotes(paras, entity_frame, mentions)
    return _PreparedBatch(number, good, cleaned, removed, paras, entity_frame, mentions, found_quotes, embedding)


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
    with _timed(timings, "link"):
        links = link_paragraphs(settings, embedded)
    good = prepared.documents
    now = warehouse.utc_now()
    articles = good.select("article_id", "source_path", "content_sha256").join(prepared.cleaned, on="article_id").with_columns(
        ingested_at=pl.lit(now), run_id=pl.lit(run_id)
    )
    batch = warehouse.ArticleBatch(
        articles=articles,
        sources=good.select("article_id", "encoding", pl.col("text").alias("raw_text")),
        removed_spans=prepared.removed,
        paragraphs=embedded.select(
            "paragraph_id", "article_id", "position", "text", "section_heading", "text_sha256", "n_words", "embedding",
            "model",
        ),
        entities=prepared.entity_frame,
        mentions=prepared.mentions.select(
            "entity_id", "article_id", "paragraph_id", "start_char", "end_char", "surface", "label"
        ),
        links=links,
        extra={"quotes": quote_frame, "quote_links": quote_links},
        vectors=vectors,
    )
    with _timed(timings, "load"):
        loaded = load_warehouse(settings, batch)
    with _timed(timings, "link"):
        index_paragraphs(settings)
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
        "duplicate": count(pl.col("status") == "duplicate"),
        "failed": count(pl.col("status") == "failed"),
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

