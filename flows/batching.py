"""A run's articles, batch by batch, two batches in flight: while batch k's texts are embedded in a worker
thread, this thread reads and cleans batch k+1 and finds its entities and quotes, then links and loads
batch k. Each batch is loaded whole, in order, in its own transaction. A file that fails in a step
costs that file alone (recorded as its failure); the batch goes on without it.

The Prefect tasks of a batch's steps are here, beside the code that runs them; the flow's own steps
are in flows/ingest.py."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import polars as pl
from prefect import task
from prefect.cache_policies import NO_CACHE
from prefect.futures import PrefectFuture

from flows.progress import RunProgress
from flows.reporting import MEMORY_KEYS, first_line, memory_now, timed
from storage.backend import backend_for
from storage.connection import utc_now
from storage.loads import ArticleBatch, load_batch
from storage.state import cached_embeddings, known_entities, stored_cleaning, stored_quote_blocks
from flows.relink import relink
from runtime import distributed_models, embedding_worker
from tasks import cleaning, embed, entities, ingest, paragraphs, quotes, similarity
from tasks.settings import Settings

# Frames are passed in-process; nothing here is worth persisting or caching by Prefect (the
# embedding cache lives in the warehouse, keyed by text hash, and survives runs).
step = task(cache_policy=NO_CACHE, persist_result=False)


@step(name="read-documents", retries=2, retry_delay_seconds=1)
def read_documents(settings: Settings, files: pl.DataFrame) -> pl.DataFrame:
    """Read and decode a batch of files (UTF-8, BOM, cp1252, Latin-1; mojibake repaired)."""
    return ingest.read_documents(files, settings.raw_dir, settings.max_file_bytes)


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
            failures[article_id] = f"{step_name} failed: {first_line(error)}"
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
    return _isolated(lambda frame: cleaning.clean_articles(frame, rules_off), documents, "cleaning")


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
        embedding_worker.embedding_worker(settings.embedding_model, settings.embedding_device)
    else:
        embed.load_model(settings.embedding_model, settings.embedding_device)
    return settings.embedding_model


def _encoder(settings: Settings) -> embed.Encoder:
    if settings.dask:
        return distributed_models.DaskEncoder(settings.dask, settings.dask_min_texts)
    return embedding_worker.encode_in_worker if settings.embedding_in_worker else embed.encode_texts


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
    with backend_for(settings.warehouse).connect() as con:
        known = known_entities(con)
    if pending_entities is not None and pending_entities.height:
        newer = pending_entities.select(known.columns)
        known = pl.concat([known.join(newer, on="entity_id", how="anti"), newer.cast(known.schema)])
    entity_frame, resolved = entities.canonicalise_entities(mentions, known)
    return entity_frame, resolved, mentions.select(list(entities.RAW_MENTION_SCHEMA)), failures


@step(name="extract-quotes")
def extract_quotes(
    settings: Settings, paras: pl.DataFrame, entity_frame: pl.DataFrame, mentions: pl.DataFrame
) -> tuple[tuple[pl.DataFrame, pl.DataFrame], dict[str, str]]:
    """Parse the paragraphs for reported speech (spaCy's parser, in this process) and find quotations,
    direct and reported, with their speakers (one article at a time if the batch fails). Returns
    ((quotes, speech clauses), failures)."""

    def found(part: pl.DataFrame) -> tuple[pl.DataFrame, pl.DataFrame]:
        clauses = quotes.parse_clauses(part, entities.load_nlp(settings.spacy_model), settings.ner_batch_size)
        in_part = mentions.filter(pl.col("article_id").is_in(part["article_id"].unique().implode()))
        return quotes.extract_quotes(part, in_part, entity_frame, clauses), clauses

    return _isolated(found, paras, "quote extraction")


@step(name="link-quotes")
def link_quotes(
    settings: Settings, found: pl.DataFrame, vectors: pl.DataFrame, article_ids: list[str]
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Link quotes of one statement across outlets (this batch's and the stored ones)."""
    with backend_for(settings.warehouse).connect() as con:
        return quotes.embed_and_link(
            found, vectors, stored_quote_blocks(con, article_ids), settings.embedding_model,
            settings.embedding_dim, settings.embedding_device, settings.embedding_batch_size, _encoder(settings),
        )


def relinker(settings: Settings) -> Any:
    """The relink run inside each transaction that changes stored paragraphs (tasks/similarity.py)."""
    return lambda con: relink(
        con, settings.similarity_threshold, settings.similarity_top_k, settings.similarity_exact_max,
        similarity.paragraph_index_path(settings.warehouse), settings.embedding_dim,
    )


@step(name="load-warehouse", retries=1, retry_delay_seconds=2)
def load_warehouse(settings: Settings, batch: ArticleBatch) -> int:
    """Write the batch's articles whole, in one transaction."""
    with backend_for(settings.warehouse).connect() as con:
        load_batch(con, batch, settings.embedding_model, before_commit=relinker(settings))
    return batch.articles.height


@dataclass
class BatchesDone:
    """What a run's batches leave for its end."""

    read_results: list[pl.DataFrame]  # every file read: its encoding and read error
    problems: list[pl.DataFrame]  # files left out of their batch: failed in a step, empty after cleaning, rechecked unchanged
    loaded: int  # articles loaded
    memory_by_batch: dict[str, list[int]]  # memory after each batch (flows/reporting.memory_now)


def run_batches(
    settings: Settings, plan: pl.DataFrame, run_id: str, timings: dict[str, float], started: float, logger: Any
) -> BatchesDone:
    """Process the planned files (those to process or recheck) batch by batch, two batches in flight,
    showing progress and logging each batch's rate, ETA and memory."""
    to_process = plan.filter(pl.col("action").is_in(["process", "recheck"]))
    logger.info(
        "%d files: %d to process (%d of them to recheck), %d unchanged, %d duplicate, %d unreadable",
        plan.height, to_process.height, (plan["action"] == "recheck").sum(), (plan["action"] == "skip").sum(),
        (plan["action"] == "duplicate").sum(), (plan["action"] == "fail").sum(),
    )
    done = BatchesDone(read_results=[], problems=[], loaded=0, memory_by_batch={key: [] for key in MEMORY_KEYS})
    n_batches = (to_process.height + settings.batch_size - 1) // settings.batch_size
    # (Rechecks alone do not warm it: most come out unchanged, and the few that do not load it then.)
    warm_up = load_embedding_model.submit(settings) if (to_process["action"] == "process").any() else None

    def finish(prepared: _PreparedBatch) -> None:
        done.loaded += finish_batch(settings, prepared, run_id, timings)
        progress.advance(prepared.documents.height, prepared.number)
        elapsed = time.perf_counter() - started
        memory = done.memory_by_batch
        for key, value in memory_now(settings.warehouse).items():
            memory[key].append(value)
        eta = progress.eta_seconds()
        logger.info("batch %d/%d done: %d/%d articles loaded (%.1f articles/s, ETA %s), memory %d MB (peak %d MB, DuckDB %d MB)",
                    prepared.number, n_batches, done.loaded, to_process.height, done.loaded / elapsed if elapsed else 0.0,
                    f"{eta:.0f} s" if eta is not None else "?",
                    memory["resident_mb"][-1], memory["peak_rss_mb"][-1], memory["duckdb_mb"][-1])

    with RunProgress(to_process.height, n_batches) as progress:
        _process_batches(settings, to_process, timings, done.read_results, done.problems, finish,
                         left_out=lambda number, count: progress.advance(count, number))
    if warm_up is not None:
        warm_up.wait()  # a failure here already failed the batches' embedding
    return done


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
    speech_clauses: pl.DataFrame
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
    with backend_for(settings.warehouse).connect() as con:
        stored = stored_cleaning(con, ids, cleaned.columns)
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
    with timed(timings, "read"):
        documents = read_documents(settings, batch_files)
    read_results.append(documents.select("source_path", "encoding", pl.col("error").alias("read_error")))
    good = documents.filter(pl.col("error").is_null())
    if good.height == 0:
        return None
    failed: dict[str, str] = {}
    with timed(timings, "clean"):
        (cleaned, removed), failures = clean_articles(good, tuple(settings.clean_disable))
        failed |= failures
    with timed(timings, "split"):
        paras, failures = split_paragraphs(cleaned)
        failed |= failures
    # Nothing left after cleaning (a page of boilerplate): recorded as `empty`, not stored as an article.
    empty = set(cleaned["article_id"].to_list()) - set(paras["article_id"].to_list()) - set(failed)
    if empty:
        problems.append(_problems_frame(good, {a: "no text left after cleaning" for a in empty}, "empty"))
    frames = _drop_articles({"good": good, "cleaned": cleaned, "removed": removed, "paras": paras}, empty | set(failed))
    same: set[str] = set()
    if (batch_files["action"] == "recheck").any():
        with timed(timings, "recheck"):
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
    with timed(timings, "embed-start"):
        texts = pl.concat([paras.select("text_sha256", "text"), quotes.quote_texts(paras)])
        with backend_for(settings.warehouse).connect() as con:
            cache = cached_embeddings(con, texts["text_sha256"].unique().to_list(), settings.embedding_model)
        embedding = embed_texts.submit(settings, texts, cache, previous.embedding if previous else None)
    with timed(timings, "entities"):
        entity_frame, mentions, raw_mentions, failures = extract_entities(
            settings, frames["paras"], previous.entity_frame if previous else None)
        failed |= failures
    with timed(timings, "quotes"):
        (found_quotes, speech_clauses), failures = extract_quotes(settings, frames["paras"], entity_frame, mentions)
        failed |= failures
    problems.append(_problems_frame(good, failed, "failed"))
    frames = _drop_articles({**frames, "mentions": mentions, "raw_mentions": raw_mentions, "found_quotes": found_quotes,
                             "speech_clauses": speech_clauses}, set(failed))
    if not frames["paras"].height:
        embedding.wait()
        return None
    return _PreparedBatch(number, frames["good"], frames["cleaned"], frames["removed"], frames["paras"], entity_frame,
                          frames["mentions"], frames["raw_mentions"], frames["found_quotes"], frames["speech_clauses"],
                          embedding)


def finish_batch(settings: Settings, prepared: _PreparedBatch, run_id: str, timings: dict[str, float]) -> int:
    """Wait for the batch's embeddings, link its paragraphs and quotes, and load it."""
    with timed(timings, "embed-wait"):
        vectors, embed_seconds = prepared.embedding.result()
    timings["embed"] += embed_seconds
    embedded = embed.attach_embeddings(prepared.paras, vectors, settings.embedding_model)
    with timed(timings, "quotes"):
        quote_frame, quote_links = link_quotes(
            settings, prepared.found_quotes, vectors, prepared.paras["article_id"].unique().to_list()
        )
    # Links are computed inside the load's transaction, from the stored paragraphs (relink).
    links = pl.DataFrame(schema=similarity.LINK_SCHEMA)
    good = prepared.documents
    now = utc_now()
    # (`paragraph_kinds` told the split how to read the body; the paragraphs table keeps each one's kind.)
    cleaned = prepared.cleaned.drop("paragraph_kinds", strict=False)
    articles = good.select("article_id", "source_path", "content_sha256").join(cleaned, on="article_id").with_columns(
        ingested_at=pl.lit(now), run_id=pl.lit(run_id)
    )
    batch = ArticleBatch(
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
        extra={"quotes": quote_frame, "quote_links": quote_links, "raw_mentions": prepared.raw_mentions,
               "speech_clauses": prepared.speech_clauses},
        vectors=vectors,
    )
    with timed(timings, "load"):
        loaded = load_warehouse(settings, batch)
    return loaded


def _batches(frame: pl.DataFrame, size: int) -> Iterator[pl.DataFrame]:
    for offset in range(0, frame.height, size):
        yield frame.slice(offset, size)
