"""What a long run shows while it works: a progress bar on a terminal, plain log lines elsewhere."""

from __future__ import annotations

import logging
import sys
import time
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
        if self._progress is not None:
            self._progress.stop()
        for handler, level in self._quieted:
            handler.setLevel(level)
