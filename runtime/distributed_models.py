"""The model steps (paragraph and quote embedding, NER) on a Dask cluster.

`--dask ADDRESS` (a running scheduler) or `--dask local:N` (a LocalCluster of N worker processes on
this machine, loopback only). Each worker process loads each model once (the per-process caches
`embed.load_model` and `entities.load_nlp`), and a batch is split into at most one coarse task per
worker (a Dask task costs ~0.2 s here). A worker that dies mid-task has its task rerun on another
worker by the scheduler; after `distributed.scheduler.allowed-failures` deaths the batch fails with
KilledWorker, before anything of it is loaded.
"""

from __future__ import annotations

import os
import threading
from typing import TYPE_CHECKING

import numpy as np
import polars as pl

from tasks import embed, entities

if TYPE_CHECKING:
    from distributed import Client

_clients: dict[str, "Client"] = {}
# Seconds to wait for a scheduler to answer: a reachable one answers in milliseconds, and a wrong address
# should fail a run in seconds (with distributed's default and the flow's retries it took 155 s).
CONNECT_TIMEOUT_S = 5


class SchedulerUnreachable(RuntimeError):
    """No Dask scheduler answers at the address given."""

_lock = threading.Lock()


def dask_client(address: str) -> "Client":
    """A client of the cluster at `address`, or of a LocalCluster started for "local:N" (once per process)."""
    import dask
    from distributed import Client, LocalCluster

    with _lock:
        if address not in _clients:
            if address.startswith("local:"):
                workers = int(address.split(":", 1)[1])
                if workers < 1:
                    raise ValueError(f"--dask local:N needs N >= 1, not {address!r}")
                # Each worker's torch gets its share of the cores (Dask's nanny would set 1 thread).
                threads = str(max(1, (os.cpu_count() or 1) // workers))
                # Two task threads per worker: a batch's embedding (torch, outside the interpreter lock)
                # and its NER (spaCy) overlap, as the in-process flow overlaps them; with one thread
                # they ran one after the other (bench/scaleout.py: 1.45x the in-process run at local:1).
                # Dask's nanny sets MALLOC_TRIM_THRESHOLD_=65536 and OPENBLAS_NUM_THREADS=1 in its workers,
                # which made spaCy's NER there 1.3x slower than in the flow's process.
                dask.config.set({"distributed.nanny.pre-spawn-environ.MALLOC_TRIM_THRESHOLD_": None})
                cluster = LocalCluster(
                    n_workers=workers, threads_per_worker=2, processes=True, dashboard_address=None,
                    host="127.0.0.1", env={"OMP_NUM_THREADS": threads, "MKL_NUM_THREADS": threads, "OPENBLAS_NUM_THREADS": threads,
                                           "NEWSDAG_WORKER_THREADS": threads, "TOKENIZERS_PARALLELISM": "false",
                                           # torch's idle OpenMP threads sleep instead of spinning on the
                                           # cores the NER thread needs (as in the embedding worker process).
                                           "OMP_WAIT_POLICY": "PASSIVE",
                                           "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"},
                )
                _clients[address] = Client(cluster)
            else:
                try:
                    _clients[address] = Client(address, timeout=f"{CONNECT_TIMEOUT_S}s")
                except (OSError, TimeoutError, ValueError) as error:  # nothing listening, a bad address
                    reason = (str(error).strip().splitlines() or [type(error).__name__])[0]
                    raise SchedulerUnreachable(
                        f"cannot reach the Dask scheduler at {address}: {reason}; start it, or fix --dask (NEWSDAG_DASK)"
                    ) from None
        return _clients[address]


def check_scheduler(address: str) -> None:
    """Connect to a scheduler now (seconds), so that an unreachable one stops `newsdag run` with one line
    before a flow run starts; the client is kept for the run. (A local:N cluster starts with the run.)"""
    if not address.startswith("local:"):
        dask_client(address)


def cluster_errors() -> tuple[type[BaseException], ...]:
    """Failures of the cluster rather than of a text (a worker lost too often, the scheduler gone): they
    fail the batch, instead of being retried one article at a time as a text's own failure is."""
    from distributed import KilledWorker
    from distributed.comm.core import CommClosedError

    return (KilledWorker, CommClosedError, TimeoutError, ConnectionError, SchedulerUnreachable)


def close_clients() -> None:
    with _lock:
        for address in list(_clients):
            client = _clients.pop(address)
            cluster = client.cluster
            client.close()
            if cluster is not None:
                cluster.close()


def _worker_threads() -> None:
    wanted = os.environ.get("NEWSDAG_WORKER_THREADS")
    if wanted:
        import torch

        if torch.get_num_threads() != int(wanted):
            torch.set_num_threads(int(wanted))


def _encode_on_worker(texts: list[str], model: str, device: str, batch_size: int) -> np.ndarray:
    _worker_threads()
    return embed.encode_texts(texts, model, device, batch_size)


def _mentions_on_worker(paragraphs: pl.DataFrame, model: str, batch_size: int) -> pl.DataFrame:
    _worker_threads()
    # Long paragraphs in pieces, as in-process (spaCy's length limit is per call).
    return entities.extract_mentions_in_chunks(paragraphs, model, batch_size)


def _warm_worker(embedding_model: str, device: str, spacy_model: str) -> int:
    _worker_threads()
    embed.load_model(embedding_model, device)
    entities.load_nlp(spacy_model)
    return os.getpid()


def warm_up(address: str, embedding_model: str, device: str, spacy_model: str) -> list[int]:
    """Load both models on every worker now (while the first batch is read and cleaned)."""
    client = dask_client(address)
    return sorted(client.run(_warm_worker, embedding_model, device, spacy_model).values())


def chunk_bounds(count: int, workers: int, min_size: int) -> list[tuple[int, int]]:
    """Contiguous (start, end) pieces: one per worker at most, none smaller than `min_size` (but one)."""
    pieces = max(1, min(workers, count // max(1, min_size)))
    size, extra = divmod(count, pieces)
    bounds, start = [], 0
    for piece in range(pieces):
        end = start + size + (piece < extra)
        bounds.append((start, end))
        start = end
    return bounds


# A batch waits this long for a worker to be there before it fails (tasks would otherwise queue forever).
WORKER_WAIT_S = 180


def _workers(client: "Client") -> int:
    """Workers ready now (waiting for one, then failing with a clear message, when there are none)."""
    try:
        client.wait_for_workers(1, timeout=WORKER_WAIT_S)
    except TimeoutError as error:
        raise RuntimeError(f"no Dask worker at {client.scheduler.address} for {WORKER_WAIT_S} s") from error
    return max(1, len(client.scheduler_info(n_workers=-1).get("workers", {})))


class DaskEncoder:
    """An `embed.Encoder` whose work runs on the cluster: same inputs and outputs as encode_texts."""

    def __init__(self, address: str, min_texts: int) -> None:
        self.address, self.min_texts = address, min_texts

    def __call__(self, texts: list[str], model: str, device: str = "cpu", batch_size: int = 256) -> np.ndarray:
        client = dask_client(self.address)
        bounds = chunk_bounds(len(texts), _workers(client), self.min_texts)
        futures = [client.submit(_encode_on_worker, texts[start:end], model, device, batch_size, pure=False)
                   for start, end in bounds]
        return np.concatenate(client.gather(futures)) if futures else np.zeros((0, 0), dtype=np.float32)


def extract_mentions(address: str, paragraphs: pl.DataFrame, model: str, batch_size: int, min_texts: int) -> pl.DataFrame:
    """entities.extract_mentions on the cluster (mentions are per paragraph: the split changes nothing)."""
    client = dask_client(address)
    bounds = chunk_bounds(paragraphs.height, _workers(client), min_texts)
    futures = [client.submit(_mentions_on_worker, paragraphs.slice(start, end - start), model, batch_size, pure=False)
               for start, end in bounds]
    mentions = pl.concat(client.gather(futures))
    if paragraphs.height and paragraphs["text"].str.len_chars().max() > entities.SPACY_CHUNK_CHARS:  # type: ignore[operator]
        # In-process, a batch with a paragraph tagged in pieces comes back in this order: the same here.
        mentions = mentions.sort("paragraph_id", "start_char")
    return mentions
