"""What a long run shows while it works: a progress bar on a terminal, plain log lines elsewhere."""

from __future__ import annotations

import json
import logging
import os
import socket
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path
from types import TracebackType
from typing import Any


def _console_handlers() -> list[logging.Handler]:
    """Prefect's terminal handlers, wherever its logging config hangs them (the root logger, its own)."""
    loggers = [logging.getLogger(name) for name in list(logging.Logger.manager.loggerDict) if name.startswith("prefect")]
    found: dict[int, logging.Handler] = {}
    for logger in [logging.getLogger(), logging.getLogger("prefect"), *loggers]:  # Prefect puts it on the root
        for handler in logger.handlers:
            if type(handler).__name__ == "PrefectConsoleHandler":
                found[id(handler)] = handler
    return list(found.values())


class RunProgress:
    """Articles done out of the run's total, with rate and ETA.

    On a terminal: one bar (rich, which Prefect already ships), and Prefect's per-task console lines
    are held back to warnings while it shows (they still reach the Prefect server and its UI). Not on
    a terminal (a log file, a worker, CI): nothing is drawn; the flow's log line per batch says the same."""

    def __init__(self, total_articles: int, n_batches: int, enabled: bool | None = None) -> None:
        self.total = total_articles
        self.n_batches = n_batches
        self.done = 0
        self.started = time.perf_counter()
        self.enabled = sys.stdout.isatty() if enabled is None else enabled
        self._progress: Any = None
        self._task: Any = None
        self._quieted: list[tuple[logging.Handler, int]] = []

    def __enter__(self) -> RunProgress:
        _publish(phase="batches", articles_done=0, articles_total=self.total, batches=self.n_batches, batch=0)
        if not self.enabled or self.total == 0:
            return self
        from rich.progress import (
            BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn,
        )

        for handler in _console_handlers():
            self._quieted.append((handler, handler.level))
            handler.setLevel(logging.WARNING)
        self._progress = Progress(
            TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(), TextColumn("articles"),
            TextColumn("{task.fields[rate]}"), TimeElapsedColumn(), TextColumn("ETA"), TimeRemainingColumn(),
        )
        self._progress.start()
        self._task = self._progress.add_task(f"batch 1/{self.n_batches}", total=self.total, rate="")
        return self

    def advance(self, articles: int, batch_number: int) -> None:
        self.done += articles
        eta = self.eta_seconds()
        _publish(articles_done=self.done, batch=min(batch_number, self.n_batches), rate_per_s=round(self.rate(), 2),
                 eta_seconds=None if eta is None else round(eta))
        if self._progress is not None:
            self._progress.update(
                self._task, completed=self.done, rate=f"{self.rate():.1f}/s",
                description=f"batch {min(batch_number + 1, self.n_batches)}/{self.n_batches}",
            )

    def rate(self) -> float:
        elapsed = time.perf_counter() - self.started
        return self.done / elapsed if elapsed > 0 else 0.0

    def eta_seconds(self) -> float | None:
        """Seconds left at the rate so far; None before the first batch."""
        rate = self.rate()
        return (self.total - self.done) / rate if rate > 0 else None

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, traceback: TracebackType | None
    ) -> None:
        _publish(phase="finishing", eta_seconds=None)
        if self._progress is not None:
            self._progress.stop()
        for handler, level in self._quieted:
            handler.setLevel(level)


# --- the run's state, published beside the warehouse for `newsdag status` ---
# While a run writes, DuckDB lets no other process open the file, not even to read: so the run says where
# it is in `<warehouse>.run.json` (replaced whole at each change, removed when the run ends), which
# `newsdag status` reads instead of the tables.

RUN_STATE_SUFFIX = ".run.json"
PHASES = {
    "starting": "finding and planning the files",
    "batches": "cleaning, embedding and loading articles",
    "finishing": "resolving entities, grouping stories, indexing and checking",
}

_published: dict[str, Any] | None = None  # the state of this process's run, while one is published
_published_path: Path | None = None
_published_lock = threading.Lock()  # batches finish on the flow's threads


def run_state_path(warehouse: Path) -> Path:
    return warehouse.with_name(warehouse.name + RUN_STATE_SUFFIX)


def _utc_now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def _write_atomically(path: Path, state: dict[str, Any]) -> None:
    """Write to a temporary file beside `path`, then rename it over `path`: a reader sees the old state or
    the new, never half of one."""
    handle = tempfile.NamedTemporaryFile("w", dir=path.parent, prefix=f".{path.name}.", suffix=".tmp",
                                         delete=False, encoding="utf-8")
    try:
        with handle:
            json.dump(state, handle)
        os.replace(handle.name, path)
    except BaseException:
        Path(handle.name).unlink(missing_ok=True)
        raise


def _publish(**changes: Any) -> None:
    """Update the published state of this process's run, if it publishes one. A state that cannot be
    written (a read-only or full disk) costs `status` its live view, never the run."""
    with _published_lock:
        if _published is None or _published_path is None:
            return
        _published.update(changes, updated=_utc_now())
        try:
            _write_atomically(_published_path, _published)
        except OSError:
            pass


@contextmanager
def published_run(warehouse: Path | str, run_id: str) -> Iterator[None]:
    """Publish this run's state beside the warehouse while it runs (a single file only: a DuckLake has no
    file here, and other runs may read it while one writes)."""
    global _published, _published_path
    if str(warehouse).startswith("ducklake:"):
        yield
        return
    path = run_state_path(Path(warehouse))
    with _published_lock:
        _published, _published_path = {"run_id": run_id, "pid": os.getpid(), "host": socket.gethostname(),
                                       "started": _utc_now()}, path
    _publish(phase="starting")
    try:
        yield
    finally:
        with _published_lock:
            _published = _published_path = None
        path.unlink(missing_ok=True)


def read_run_state(warehouse: Path) -> dict[str, Any] | None:
    """The state a run publishes beside the warehouse, if one is running now: None when there is no state,
    or it was left by a process that has died (on this host: another host's process cannot be checked)."""
    try:
        state = json.loads(run_state_path(warehouse).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(state, dict) or not isinstance(state.get("pid"), int):
        return None
    if state.get("host") == socket.gethostname():
        try:
            os.kill(state["pid"], 0)
        except ProcessLookupError:
            return None
        except PermissionError:  # alive, another user's
            pass
    return state


def describe_run_state(state: dict[str, Any]) -> list[str]:
    """The published state in a few lines for people."""
    lines = [f"run {state.get('run_id', '?')} is writing now (PID {state['pid']} on {state.get('host', '?')}, "
             f"started {state.get('started', '?')})"]
    phase = str(state.get("phase", "starting"))
    detail = PHASES.get(phase, phase)
    if phase in ("batches", "finishing") and state.get("articles_total"):
        detail += f"; {state.get('articles_done', 0)}/{state['articles_total']} articles done"
        if phase == "batches":
            detail += f" (batch {state.get('batch', 0)}/{state.get('batches', '?')}"
            if state.get("rate_per_s"):
                detail += f", {state['rate_per_s']} articles/s"
            if state.get("eta_seconds") is not None:
                detail += f", ETA {state['eta_seconds']} s"
            detail += ")"
    lines.append(f"  {phase}: {detail} (as of {state.get('updated', '?')})")
    return lines
