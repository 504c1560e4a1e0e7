"""Opening a database, the errors a user meets when it cannot be opened, and transactions (with the
retry a DuckLake's optimistic commits need)."""

from __future__ import annotations

import functools
import importlib
import random
import re
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, TypeVar

import duckdb

Result = TypeVar("Result")

# Attempts of a transaction that a concurrent DuckLake commit keeps conflicting with (storage/lake.py).
LAKE_COMMIT_ATTEMPTS = 30


class WarehouseBusy(RuntimeError):
    """Another newsdag run is writing to this warehouse."""


class WarehouseInUse(RuntimeError):
    """The DuckDB file is open in another process in a way that excludes this one."""


class WarehouseTooNew(RuntimeError):
    """The DuckDB file was written by a newer DuckDB than this one reads."""


class WarehouseCheckFailed(RuntimeError):
    """A data check found problems in the warehouse."""


def utc_now() -> datetime:
    return datetime.now(timezone.utc).replace(tzinfo=None)


def open_database(
    warehouse: Path, read_only: bool = False, config: dict[str, object] | None = None
) -> duckdb.DuckDBPyConnection:
    """duckdb.connect, with the two errors a user meets translated into what to do about them."""
    try:
        return duckdb.connect(str(warehouse), read_only=read_only, config=config or {})
    except duckdb.IOException as error:
        message = str(error)
        if "Could not set lock" in message:
            holder = re.search(r"held in (.+?) \(PID (\d+)\)", message)
            who = f" ({Path(holder.group(1)).name}, PID {holder.group(2)})" if holder else ""
            if read_only:
                raise WarehouseInUse(
                    f"{warehouse} is open for writing by another process{who}, likely a newsdag run; "
                    "try again when it has finished"
                ) from None
            raise WarehouseInUse(
                f"{warehouse} is open in another process{who} (a `newsdag explore`, `sql` or other reader?); "
                "close it and run again"
            ) from None
        if "newer version of DuckDB" in message or "created with an newer version" in message:
            raise WarehouseTooNew(
                f"{warehouse} was written by a newer DuckDB than this newsdag's ({duckdb.__version__}); "
                "upgrade newsdag, or use another --warehouse file"
            ) from None
        raise


def load_extension(con: duckdb.DuckDBPyConnection, name: str) -> None:
    """Load a DuckDB extension shipped by its pip package (`duckdb-extension-<name>`): no download."""
    try:
        loaded = con.execute("select count(*) from duckdb_extensions() where extension_name = ? and loaded", [name]).fetchone()
    except duckdb.PermissionException:
        # A guarded reader (storage/readonly.py) cannot list the extension folder; it loaded what it needs
        # before its guards were set, and could not load anything now anyway.
        return
    if loaded and loaded[0]:  # already loaded (e.g. before a read-only connection was locked)
        return
    package = importlib.import_module(f"duckdb_extension_{name}")
    found = sorted(Path(next(iter(package.__path__))).rglob(f"{name}.duckdb_extension"))
    if not found:
        raise RuntimeError(f"duckdb-extension-{name} is installed but holds no {name}.duckdb_extension")
    con.load_extension(str(found[-1]))


def memory_in_use(con: duckdb.DuckDBPyConnection) -> int:
    """Bytes DuckDB's buffer manager holds now (cached blocks, hash tables, appended data)."""
    row = con.execute("select coalesce(sum(memory_usage_bytes), 0) from duckdb_memory()").fetchone()
    return int(row[0]) if row else 0


def rollback_quietly(con: duckdb.DuckDBPyConnection) -> None:
    """Roll back, keeping the original error: after a failed commit (a full disk, a DuckLake conflict)
    DuckDB has no transaction left to roll back, and that second error would hide the first."""
    try:
        con.execute("rollback")
    except duckdb.Error:
        pass


@contextmanager
def transaction(con: duckdb.DuckDBPyConnection) -> Iterator[None]:
    con.execute("begin transaction")
    try:
        yield
        con.execute("commit")
    except BaseException:
        rollback_quietly(con)
        raise


def is_commit_conflict(error: BaseException) -> bool:
    return isinstance(error, duckdb.TransactionException) and "conflict" in str(error).lower()


def retry_on_conflict(function: Callable[..., Result]) -> Callable[..., Result]:
    """Run a writing function (its first argument a connection) again, whole, when its commit conflicts
    with a concurrent one (DuckLake's optimistic concurrency; never on the single file, one writer).
    The function must be a unit: its own transaction, or one statement."""

    @functools.wraps(function)
    def wrapper(con: duckdb.DuckDBPyConnection, *args: Any, **kwargs: Any) -> Result:
        for attempt in range(LAKE_COMMIT_ATTEMPTS):
            try:
                return function(con, *args, **kwargs)
            except duckdb.Error as error:
                if not is_commit_conflict(error) or attempt == LAKE_COMMIT_ATTEMPTS - 1:
                    raise
                rollback_quietly(con)
                # Jittered back-off: two runs retrying in step would conflict again.
                time.sleep(random.uniform(0.05, 0.25) * min(2 ** attempt, 16))
        raise AssertionError("unreachable")

    return wrapper


@retry_on_conflict
def in_transaction(con: duckdb.DuckDBPyConnection, body: Callable[[duckdb.DuckDBPyConnection], Result]) -> Result:
    """`body(con)` in one transaction, redone whole when its commit conflicts with a concurrent one (a
    DuckLake's; `with transaction(con)` cannot be redone)."""
    with transaction(con):
        return body(con)
