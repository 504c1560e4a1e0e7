"""The embedding worker process: the vectors of this process, a fresh worker after one died, none left behind."""

from __future__ import annotations

import os
import signal

import numpy as np
import pytest

from runtime.embedding_worker import embedding_worker, encode_in_worker
from tasks.embed import encode_texts
from tasks.settings import get_settings

pytestmark = pytest.mark.slow  # starts a process that loads the real model

SETTINGS = get_settings()

WORKER_TEXTS = ["The minister said the talks had been useful.", "Rain is expected across the north tomorrow.",
                "Shares in the carmaker fell 4% after it cut its forecast for the year."]


def test_the_worker_process_gives_the_vectors_of_this_process() -> None:
    in_worker = encode_in_worker(WORKER_TEXTS, SETTINGS.embedding_model)
    here = encode_texts(WORKER_TEXTS, SETTINGS.embedding_model)
    worker = embedding_worker(SETTINGS.embedding_model)
    assert worker.pid is not None and worker.pid != os.getpid()
    assert worker.peak_rss_mb() > 0 and worker.resident_bytes() > 0
    np.testing.assert_allclose(in_worker, here, atol=1e-5)


def test_a_worker_that_died_fails_the_call_and_the_next_call_starts_a_new_one() -> None:
    dead = embedding_worker(SETTINGS.embedding_model)
    os.kill(dead.pid, signal.SIGKILL)  # as the kernel's out-of-memory killer would
    with pytest.raises(RuntimeError, match="embedding worker process .* died"):
        encode_in_worker(WORKER_TEXTS, SETTINGS.embedding_model)
    vectors = encode_in_worker(WORKER_TEXTS, SETTINGS.embedding_model)
    assert embedding_worker(SETTINGS.embedding_model).pid not in (None, dead.pid)
    assert vectors.shape == (3, SETTINGS.embedding_dim)


def test_a_model_the_worker_cannot_load_raises_its_error_here() -> None:
    with pytest.raises(Exception, match="no-such-model"):
        embedding_worker("/no-such-model")
    with pytest.raises(Exception, match="no-such-model"):  # not a cached broken worker: the load is tried again
        embedding_worker("/no-such-model")


def test_a_worker_whose_run_was_killed_exits_instead_of_holding_the_model() -> None:
    """`kill -9` of a run (or the out-of-memory killer) takes only its own process: the embedding worker
    it started must not stay behind, orphaned, with the model in memory."""
    import subprocess
    import sys
    import time
    from pathlib import Path

    script = ("from runtime.embedding_worker import embedding_worker; import sys, time\n"
              "if __name__ == '__main__':\n"
              f"    print(embedding_worker({SETTINGS.embedding_model!r}).pid, flush=True); time.sleep(600)\n")
    run = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True,
                           cwd=Path(__file__).resolve().parents[1])
    assert run.stdout is not None
    child = int(run.stdout.readline())
    os.kill(run.pid, signal.SIGKILL)
    run.wait()

    def alive() -> bool:
        stat = Path(f"/proc/{child}/stat")
        return stat.exists() and stat.read_text().rsplit(")", 1)[1].split()[0] != "Z"

    deadline = time.monotonic() + 30
    while alive() and time.monotonic() < deadline:
        time.sleep(0.5)
    assert not alive(), "the embedding worker outlived its run"
