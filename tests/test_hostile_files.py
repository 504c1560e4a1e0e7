"""Hostile files (issue 29): a FIFO, a device, a socket, a symlink loop, a name that is not UTF-8 or a file
over the size limit is that file's recorded failure, quickly, and never blocks the run or `newsdag clean`."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import duckdb
import polars as pl
import pytest

from tasks.ingest import UnreadableFile, _within, discover_files, read_documents, read_regular_file
from tests.conftest import SEEDS_DIR

BAD_NAME = b"caf\xe9.txt"  # Latin-1 bytes: not valid UTF-8
BAD_NAME_STORED = "caf\\xe9.txt"  # as stored: the odd byte written as a backslash escape


class Blocked(Exception):
    """Not an OSError: code that retries failed reads must not swallow it."""


@contextmanager
def deadline(seconds: float) -> Iterator[None]:
    """Fail (instead of hanging the suite) if the body blocks: SIGALRM interrupts a blocking open() or read()."""
    def expired(*_: object) -> None:
        raise Blocked(f"blocked for more than {seconds} s")

    previous = signal.signal(signal.SIGALRM, expired)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def hostile_folder(raw: Path) -> dict[str, str]:
    """A good article beside a FIFO, a name that is not UTF-8, two-link and one-link symlink loops and a
    socket; returns {stored source_path: a word its recorded reason must contain}."""
    raw.mkdir(parents=True)
    shutil.copy(sorted(SEEDS_DIR.glob("*.txt"))[0], raw / "good.txt")
    os.mkfifo(raw / "pipe.txt")  # a reader that opens it blocking waits forever for a writer
    fd = os.open(os.fsencode(raw) + b"/" + BAD_NAME, os.O_WRONLY | os.O_CREAT, 0o644)  # a real non-UTF-8 name
    os.write(fd, b"Cafe\n\nA perfectly good article whose file name is Latin-1.\n")
    os.close(fd)
    (raw / "a.txt").symlink_to("b.txt")
    (raw / "b.txt").symlink_to("a.txt")
    (raw / "self.txt").symlink_to("self.txt")
    return {"pipe.txt": "not a regular file (a FIFO)", BAD_NAME_STORED: "not valid UTF-8",
            "a.txt": "symlink loop", "b.txt": "symlink loop", "self.txt": "symlink loop"}


def test_discovery_records_each_hostile_file_and_hashes_the_rest(tmp_path: Path) -> None:
    raw = tmp_path / "raw"
    expected = hostile_folder(raw)
    with socket.socket(socket.AF_UNIX) as server:
        server.bind(str(raw / "socket.txt"))
        expected["socket.txt"] = "not a regular file (a socket)"
        with deadline(10):
            files = discover_files(raw, max_file_bytes=1_000_000)
    errors = dict(files.select("source_path", "error").iter_rows())
    assert errors.keys() == {"good.txt", *expected}
    assert errors["good.txt"] is None and files.filter(pl.col("source_path") == "good.txt")["content_sha256"][0]
    assert {name: errors[name] for name in expected if expected[name] not in (errors[name] or "")} == {}
    # Every stored path is valid UTF-8 (the warehouse's VARCHAR, Prefect's artifacts), and names the file.
    assert all(path.encode("utf-8") for path in errors)


def test_a_file_replaced_by_a_fifo_after_discovery_fails_instead_of_blocking(tmp_path: Path) -> None:
    raw = tmp_path / "raw"
    raw.mkdir()
    shutil.copy(sorted(SEEDS_DIR.glob("*.txt"))[1], raw / "good.txt")
    (raw / "swapped.txt").write_text("Swapped\n\nThis file becomes a FIFO between discovery and reading.\n")
    files = discover_files(raw, max_file_bytes=1_000_000)
    assert files["error"].to_list() == [None, None]
    (raw / "swapped.txt").unlink()
    os.mkfifo(raw / "swapped.txt")
    started = time.monotonic()
    with deadline(10):
        documents = read_documents(files, raw, max_file_bytes=1_000_000)
    assert time.monotonic() - started < 5
    outcome = dict(documents.select("source_path", "error").iter_rows())
    assert outcome == {"good.txt": None, "swapped.txt": "not a regular file (a FIFO)"}
    assert documents.filter(pl.col("source_path") == "good.txt")["text"][0]


def test_a_file_replaced_by_a_symlink_after_its_check_is_not_followed(tmp_path: Path) -> None:
    (tmp_path / "secret.txt").write_text("Secret\n\nNot for the warehouse.\n")
    link = tmp_path / "article.txt"
    link.symlink_to(tmp_path / "secret.txt")  # was a regular file when checked; a link when opened
    with pytest.raises(UnreadableFile, match="became a symlink"):
        read_regular_file(link, 1000)
    assert read_regular_file(link, 1000, follow_symlinks=True).startswith(b"Secret")  # `newsdag clean`'s reading


def test_reading_refuses_devices_fifos_and_oversized_files_without_blocking(tmp_path: Path) -> None:
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    with deadline(10):
        for path, reason in ((fifo, "a FIFO"), (Path("/dev/zero"), "a character device"), (tmp_path, "a folder")):
            with pytest.raises(UnreadableFile, match=f"not a regular file \\({reason}\\)"):
                read_regular_file(path, 1000)
    article = tmp_path / "article.txt"
    article.write_bytes(b"x" * 100)
    assert read_regular_file(article, 100) == b"x" * 100  # the limit itself is allowed
    with pytest.raises(UnreadableFile, match="too large: 100 bytes .*NEWSDAG_MAX_FILE_BYTES"):
        read_regular_file(article, 99)
    # A file whose size says nothing (procfs reports 0): what is read is still bounded by the limit.
    status = Path("/proc/self/status")
    assert os.stat(status).st_size == 0 and len(status.read_bytes()) > 100
    with pytest.raises(UnreadableFile, match="too large: over 100 bytes"):
        read_regular_file(status, 100)


def test_a_read_that_does_not_finish_is_a_failure_after_the_timeout(tmp_path: Path) -> None:
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    blocked = threading.Event()

    def blocking_read() -> bytes:  # a real blocking open(), as a hung network drive's read would be
        blocked.set()
        return fifo.read_bytes()

    started = time.monotonic()
    with pytest.raises(UnreadableFile, match="did not finish within 0.5 s"):
        _within(0.5, blocking_read)
    assert blocked.is_set() and 0.5 <= time.monotonic() - started < 3
    os.close(os.open(fifo, os.O_WRONLY))  # release the abandoned reader (it reads an empty FIFO and ends)


def newsdag_clean(path: Path | str, **env: str) -> tuple[subprocess.CompletedProcess[str], float]:
    started = time.monotonic()
    result = subprocess.run([sys.executable, "-m", "flows", "clean", str(path)], capture_output=True, text=True,
                            timeout=60, env={**os.environ, **env},
                            # Without the guard /dev/zero grew to GBs in seconds: cap it so a regression fails, not the machine.
                            preexec_fn=lambda: __import__("resource").setrlimit(
                                __import__("resource").RLIMIT_AS, (4 << 30, 4 << 30)))
    return result, time.monotonic() - started


def test_clean_refuses_a_fifo_a_device_and_a_file_over_the_limit_in_one_line(tmp_path: Path) -> None:
    fifo = tmp_path / "pipe.txt"
    os.mkfifo(fifo)
    article = tmp_path / "article.txt"
    shutil.copy(sorted(SEEDS_DIR.glob("*.txt"))[0], article)
    for path, env, reason in ((fifo, {}, "not a regular file (a FIFO)"),
                              ("/dev/zero", {}, "not a regular file (a character device)"),
                              (article, {"NEWSDAG_MAX_FILE_BYTES": "100"}, "NEWSDAG_MAX_FILE_BYTES")):
        result, seconds = newsdag_clean(path, **env)
        assert result.returncode == 1, (path, result.stderr[-500:])
        lines = result.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith(f"newsdag: error: cannot clean {path}: ") and reason in lines[0], lines
        assert seconds < 30
    result, _ = newsdag_clean(article)  # the same file within the limit is cleaned
    assert result.returncode == 0 and "metadata" in result.stdout


@pytest.mark.slow
def test_the_run_completes_with_hostile_files_and_records_each(run_flow, tmp_path: Path) -> None:
    raw = tmp_path / "raw"
    expected = hostile_folder(raw)
    path = tmp_path / "w.duckdb"
    summary = run_flow(raw, path)
    assert (summary["new"], summary["failed"]) == (1, len(expected))
    with duckdb.connect(str(path), read_only=True) as con:
        assert con.execute("select source_path from articles").fetchall() == [("good.txt",)]
        failed = dict(con.execute("select source_path, error from ingest_files where status = 'failed'").fetchall())
    assert failed.keys() == expected.keys()
    assert {name: failed[name] for name in expected if expected[name] not in failed[name]} == {}
