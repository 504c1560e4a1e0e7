"""A run's life around its steps: the warehouse held for it (the single file under the writer lock and
created safely, or a DuckLake opened), the files that live beside a warehouse, the run's row in
`runs` (earlier runs found dead marked crashed, here and in Prefect), an empty raw folder refused and
a full disk said plainly."""

from __future__ import annotations

import errno
import shutil
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import polars as pl

from flows.progress import RUN_STATE_SUFFIX
from flows.reporting import first_line
from storage.backend import backend_for
from storage.loads import finish_run, start_run
from storage.paragraph_index import legacy_index_files, remove_index_folder as remove_paragraph_index
from storage.schema import claim_warehouse
from storage.search_index import remove_index_folder, search_index_path
from storage.state import article_count, never_held_data, stored_embedding_dim_or_none
from tasks import similarity
from tasks.settings import Settings


class EmptyRawFolder(RuntimeError):
    """The raw folder has no files while the warehouse holds articles (an unmounted drive?)."""


class DiskFull(OSError):
    """The warehouse's disk filled up during the run."""


def warehouse_files(path: Path, data_only: bool = False) -> list[Path]:
    """The files that live beside a single-file warehouse: its data (the DuckDB file, its write-ahead
    log, the HNSW index of paragraph vectors and its digest, the full-text index's folder) and, unless `data_only`, the
    writer's lock and the state a running run publishes for `newsdag status`."""
    index = similarity.paragraph_index_path(path)
    data = [path, path.with_name(path.name + ".wal"), index, *legacy_index_files(index), search_index_path(path)]
    if data_only:
        return data
    return data + [path.with_name(path.name + suffix) for suffix in (".lock", RUN_STATE_SUFFIX)]


def claim(settings: Settings) -> bool:
    """The warehouse file is newsdag's, created now if absent (True), or the run is refused."""
    return claim_warehouse(settings.warehouse, settings.sql_dir, settings.embedding_dim,
                                     settings.embedding_model)


@contextmanager
def warehouse_file_held(settings: Settings) -> Iterator[None]:
    """The single-file warehouse held open for this run, under the writer lock.

    Nothing is written to a file newsdag did not create (refused, untouched). A warehouse is created by
    a run that completes, or not at all: a first run that fails before committing an article leaves no
    half-configured file (e.g. one fixed at a wrong embedding size), and a warehouse of ours that a
    killed first run left without data is made anew. A full disk fails the run as DiskFull."""
    with backend_for(settings.warehouse).writer_lock():
        try:
            created = claim(settings)
            if not created:
                with backend_for(settings.warehouse).connect() as con:
                    discard = never_held_data(con)
                if discard:
                    for path in warehouse_files(settings.warehouse, data_only=True):
                        remove_file(path)
                    created = claim(settings)
        except Exception as error:  # a disk too full to create the warehouse on says so
            full = disk_full_error(error, settings.warehouse)
            if full is not None:
                raise full from error
            raise
        try:
            with backend_for(settings.warehouse).held_open(settings.duckdb_memory_limit):
                yield
        except BaseException as error:
            if created:
                remove_if_empty(settings.warehouse)
            full = disk_full_error(error, settings.warehouse) if isinstance(error, Exception) else None
            if full is not None:
                raise full from error
            raise


@contextmanager
def lake_held(settings: Settings) -> Iterator[Settings]:
    """A DuckLake warehouse held open for this run (docs/scale-out.md), with the settings a run on a lake
    uses: no writer lock (many runs commit at once, retried on conflict) and no atomic creation (the
    catalog is a database, created once, shared by every run)."""
    # The lake is attached to an in-memory DuckDB, whose scans of Parquet files pin what they read: with
    # the single file's 128 MB cap its data checks ran out of memory on a 550-article lake. So DuckDB's
    # own limit (80% of memory) applies unless NEWSDAG_DUCKDB_MEMORY_LIMIT is set.
    memory_limit = settings.duckdb_memory_limit if "duckdb_memory_limit" in settings.model_fields_set else None
    # The HNSW index file is one host's, beside a single file: on a lake, similarity search is exact.
    settings = settings.model_copy(update={"similarity_exact_max": 2**62})
    with backend_for(settings.warehouse).held_open(memory_limit, data_path=settings.lake_data):  # created when new
        yield settings


def remove_if_empty(path: Path) -> None:
    """Remove a warehouse this run created if no article was committed to it."""
    try:
        with backend_for(path).connect() as con:
            empty = article_count(con) == 0
    except Exception:  # noqa: BLE001 - unreadable: keep it for the user to look at
        return
    if empty:
        for file in warehouse_files(path, data_only=True):
            remove_file(file)


def remove_file(path: Path) -> None:
    """Remove one of a warehouse's files, or the full-text index's folder (if newsdag made it)."""
    if path.is_dir() and not path.is_symlink():
        remove_index_folder(path)  # (each removes only a folder of its own kind)
        remove_paragraph_index(path)
    else:
        path.unlink(missing_ok=True)


def refuse_empty_raw_folder(settings: Settings, files: pl.DataFrame) -> None:
    """An empty raw folder over a warehouse that holds articles changes nothing, unless allowed."""
    if files.height or settings.allow_empty:
        return
    with backend_for(settings.warehouse).connect() as con:
        stored = article_count(con) if stored_embedding_dim_or_none(con) is not None else 0
    if stored:
        raise EmptyRawFolder(
            f"the raw folder {settings.raw_dir} is empty but the warehouse holds {stored} articles: nothing "
            f"was changed (an unmounted drive?). If every file was removed on purpose, run again with "
            f"--allow-empty (NEWSDAG_ALLOW_EMPTY=true) to mark them deleted"
        )


@contextmanager
def recorded_run(settings: Settings, run_id: str, logger: Any) -> Iterator[None]:
    """The run's row in `runs`: started now (earlier runs a dead process left `running` are marked
    crashed), and failed or interrupted if the block raises."""
    with backend_for(settings.warehouse).connect() as con:
        crashed = start_run(con, run_id, str(settings.raw_dir))
    if crashed:
        logger.warning("%d earlier run(s) left `running` by a process that died: marked crashed", len(crashed))
        mark_crashed_in_prefect(crashed, logger)
    try:
        yield
    except BaseException as error:
        # The run's row says why it failed; the data already committed stays consistent. (After a
        # fatal DuckDB error, e.g. a full disk, even this may fail: the next run marks it crashed.)
        status = "failed" if isinstance(error, Exception) else "interrupted"
        try:
            with backend_for(settings.warehouse).connect() as con:
                finish_run(con, run_id, status, {"error": f"{type(error).__name__}: {error}"})
        except Exception:  # noqa: BLE001
            pass
        raise


def disk_full_error(error: BaseException, path: Path) -> DiskFull | None:
    """A clear error for a full disk. DuckDB reports "No space left on device" once; every later
    statement (a task's retry, the failure record) says only that the database "has been invalidated"."""
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


def mark_crashed_in_prefect(run_ids: list[str], logger: Any) -> None:
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
        logger.warning("could not mark dead flow runs as crashed in Prefect: %s", first_line(error))
