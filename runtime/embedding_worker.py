"""The embedding model in a process of its own, started once per process and kept for later runs."""

from __future__ import annotations

import multiprocessing
import os
import threading
import time
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool

import numpy as np

from runtime import heap
from tasks.embed import encode_texts, load_model


class EmbeddingWorker:
    """The embedding model in a process of its own, for a run that embeds beside other work.

    In a thread, the model shares the interpreter lock with the flow's thread: torch takes the lock
    between operations, so Python work beside it (cleaning, quotes, spaCy's Python layers, Prefect)
    stalls it. In a process of its own, with its OpenMP threads sleeping rather than spinning while
    they wait, both sides get more done: `bench/embed_contention.py` on 1,000 BBC paragraphs measured
    embedding 19.7 s against 22.8 s beside cleaning (which cleaned 724 files/s against 670) and 19.6 s
    against 21.3 s beside NER (150 paragraphs/s tagged against 133); alone, 10.7 s against 10.4 s.
    """

    def __init__(self, model: str, device: str) -> None:
        self.model, self.device = model, device
        # spawn, not fork: the flow's process runs threads (Prefect's), which a fork would copy mid-step.
        self._pool = ProcessPoolExecutor(max_workers=1, mp_context=multiprocessing.get_context("spawn"))
        self.pid: int | None = None

    def start(self) -> None:
        """Start the process and load the model in it (importing torch takes seconds); a model that
        cannot be loaded raises its error here."""
        self.pid = self._pool.submit(_start_worker, self.model, self.device).result()

    def encode(self, texts: list[str], batch_size: int) -> np.ndarray:
        return self._pool.submit(encode_texts, texts, self.model, self.device, batch_size).result()

    def peak_rss_mb(self) -> int:
        return heap.peak_rss_mb(self.pid) if self.pid else 0

    def resident_bytes(self) -> int:
        return heap.resident_bytes(self.pid) if self.pid else 0

    def close(self) -> None:
        self._pool.shutdown(wait=True, cancel_futures=True)


def _start_worker(model: str, device: str) -> int:
    # Read by libgomp when torch loads: waiting OpenMP threads sleep instead of spinning on a core the
    # flow's process needs (in a throwaway test beside a pure-Python loop, 1,000 paragraphs took 24 s
    # with it and 38 s without).
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    _exit_with_parent(os.getppid())
    load_model(model, device)
    return os.getpid()


def _exit_with_parent(parent: int) -> None:
    """A worker whose parent was killed (SIGKILL, out of memory) would wait for work forever, holding
    the model's memory: it exits within a second of being orphaned."""

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(1)
        os._exit(0)

    threading.Thread(target=watch, name="exit-with-parent", daemon=True).start()


_WORKERS: dict[tuple[str, str], EmbeddingWorker] = {}
_WORKERS_LOCK = threading.Lock()


def embedding_worker(model: str, device: str = "cpu") -> EmbeddingWorker:
    """The process's embedding worker for this model, started (and the model loaded) on first use and
    kept for later runs in the same process, as an in-process model would be."""
    with _WORKERS_LOCK:
        worker = _WORKERS.get((model, device))
        if worker is None:
            worker = _WORKERS[(model, device)] = EmbeddingWorker(model, device)
        try:
            if worker.pid is None:
                worker.start()
        except BaseException:
            _WORKERS.pop((model, device), None)
            worker.close()
            raise
        return worker


def encode_in_worker(texts: list[str], model: str, device: str = "cpu", batch_size: int = 256) -> np.ndarray:
    """`encode_texts` in the embedding worker process. A worker that died (killed, out of memory) is
    dropped, so the next call starts a new one; this call fails with the reason."""
    worker = embedding_worker(model, device)
    try:
        return worker.encode(texts, batch_size)
    except BrokenProcessPool as error:
        with _WORKERS_LOCK:
            if _WORKERS.get((model, device)) is worker:
                del _WORKERS[(model, device)]
        raise RuntimeError(f"the embedding worker process for {model!r} died: {error}") from error


def _running_workers() -> list[EmbeddingWorker]:
    with _WORKERS_LOCK:
        return [worker for worker in _WORKERS.values() if worker.pid is not None]


def workers_resident_bytes() -> int:
    """What this process's embedding workers hold now (0 when none runs)."""
    return sum(worker.resident_bytes() for worker in _running_workers())


def workers_peak_rss_mb() -> int:
    """The sum of this process's embedding workers' peaks, in MB (0 when none runs)."""
    return sum(worker.peak_rss_mb() for worker in _running_workers())
