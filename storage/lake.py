"""DuckLake attachment mechanics: the extensions from their pip wheels, one attached lake per process,
and guarded read-only attachments. What differs in the lake's *behaviour* is storage/backend.py's DuckLake.

`NEWSDAG_WAREHOUSE=ducklake:<catalog>` selects a DuckLake instead of the single DuckDB file:
  ducklake:/srv/newsdag/meta.ducklake                                   one process at a time, catalog in a DuckDB file
  ducklake:sqlite:/srv/newsdag/meta.sqlite                              several runs on one host, catalog in SQLite
  ducklake:postgres:dbname=newsdag host=db port=5432 user=newsdag       several hosts, catalog in PostgreSQL
Data files are Parquet under NEWSDAG_LAKE_DATA (a folder, or an object-store path), given when the lake
is first created and remembered by its catalog; a local catalog defaults to `<catalog file>.files/`.
DuckLake has no primary keys, unique constraints or fixed-size arrays, and commits optimistically:
`schema.lake_schema` is sql/schema.sql without them (vectors as float[]; sql/checks/unique_ids.sql
guards the keys), upserts are delete + insert in one transaction, and every writing transaction is
retried when a concurrent commit conflicts with it (connection.retry_on_conflict).
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
import random
import shutil
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import duckdb

LAKE_PREFIX = "ducklake:"
_LAKE_EXTENSIONS = (  # (pip package, file in the wheel, name DuckDB loads it by: its entry point)
    ("duckdb_extension_ducklake", "ducklake", "ducklake"),
    ("duckdb_extension_postgres", "postgres", "postgres_scanner"),
    ("duckdb_extension_sqlite", "sqlite", "sqlite_scanner"),
    ("duckdb_extension_fts", "fts", "fts"),
)
# Open lakes of this process: one in-memory DuckDB per lake, with the lake attached; steps connect
# through cursors of it (each its own transaction), as they share one open database file otherwise.
_open_lakes: dict[str, duckdb.DuckDBPyConnection] = {}
_lake_dims: dict[str, int] = {}


def is_lake(warehouse: Path | str) -> bool:
    return str(warehouse).startswith(LAKE_PREFIX)


def on_lake(con: duckdb.DuckDBPyConnection) -> bool:
    """Whether this connection's default catalog is a DuckLake."""
    # By the catalog's type, not only its name: a single file named lake_*.duckdb is attached as lake_*.
    row = con.execute("select type from duckdb_databases() where database_name = current_database()").fetchone()
    return bool(row and row[0] == "ducklake")


def lake_catalog_name(warehouse: Path | str) -> str:
    """The name the lake is attached under (one per lake, so a process can tell them apart)."""
    return "lake_" + hashlib.sha256(str(warehouse).encode()).hexdigest()[:10]


def lake_embedding_dim(con: duckdb.DuckDBPyConnection) -> int | None:
    """The lake's vector size (warehouse_meta), cached per lake: reads turn its float[] lists into
    the fixed-size arrays the single file stores."""
    catalog = str(con.execute("select current_database()").fetchone()[0])  # type: ignore[index]
    if catalog not in _lake_dims:
        try:
            row = con.execute("select value from warehouse_meta where key = 'embedding_dim'").fetchone()
        except duckdb.CatalogException:
            return None
        if row is None:
            return None
        _lake_dims[catalog] = int(row[0])
    return _lake_dims[catalog]


def extension_directory() -> Path:
    """A folder laid out as DuckDB expects (`<dir>/v<version>/<platform>/<name>.duckdb_extension`) with
    the extensions of the pip wheels, each under the name of its entry point: DuckDB's own download
    site is out of reach here, and `LOAD postgres` then finds postgres_scanner.duckdb_extension."""
    platform = duckdb.execute("pragma platform").fetchone()[0]  # type: ignore[index]
    version = "v" + duckdb.__version__
    base = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "newsdag" / "duckdb-extensions"
    target = base / version / platform
    target.mkdir(parents=True, exist_ok=True)
    for package, file_name, load_name in _LAKE_EXTENSIONS:
        spec = importlib.util.find_spec(package)
        if spec is None or not spec.submodule_search_locations:
            raise RuntimeError(f"{package.replace('_', '-')}=={duckdb.__version__} is not installed (pip install it)")
        found = sorted(Path(next(iter(spec.submodule_search_locations))).rglob(f"{file_name}.duckdb_extension"))
        if not found:
            raise RuntimeError(f"{package} holds no {file_name}.duckdb_extension")
        dest = target / f"{load_name}.duckdb_extension"
        if not dest.exists() or dest.stat().st_size != found[-1].stat().st_size:
            # Copied then renamed: several processes may lay the folder out at the same time.
            with tempfile.NamedTemporaryFile(dir=target, delete=False) as tmp:
                shutil.copyfile(found[-1], tmp.name)
            os.replace(tmp.name, dest)
    return base


def _sql_string(value: str) -> str:
    return value.replace("'", "''")


def _lake_database(warehouse: Path | str, data_path: str | None = None, read_only: bool = False,
                   memory_limit: str | None = None) -> duckdb.DuckDBPyConnection:
    """An in-memory DuckDB with the lake attached (and created, when new, with its data under `data_path`)."""
    catalog = str(warehouse)[len(LAKE_PREFIX):]
    db = duckdb.connect(config={"extension_directory": str(extension_directory()),
                                "autoinstall_known_extensions": False, "autoload_known_extensions": True})
    try:
        db.execute("load ducklake")
        if catalog.startswith("postgres:"):
            db.execute("load postgres")
        elif catalog.startswith("sqlite:"):
            db.execute("load sqlite")
            if not read_only:
                Path(catalog.split(":", 1)[1]).parent.mkdir(parents=True, exist_ok=True)
        elif not read_only:
            Path(catalog).parent.mkdir(parents=True, exist_ok=True)
        if memory_limit:
            db.execute(f"set memory_limit = '{memory_limit}'")
        options = []
        if data_path:
            if "://" not in data_path:
                Path(data_path).mkdir(parents=True, exist_ok=True)
            options.append(f"data_path '{_sql_string(data_path.rstrip('/') + '/')}'")
        if read_only:
            options.append("read_only")
        attach = f"attach '{_sql_string(LAKE_PREFIX + catalog)}' as {lake_catalog_name(warehouse)}"
        db.execute(attach + (f" ({', '.join(options)})" if options else ""))
    except BaseException:
        db.close()
        raise
    return db


def open_lake(warehouse: Path | str, data_path: str | None = None, memory_limit: str | None = None) -> None:
    """Attach the lake once for this process (creating it when new); `connect_lake` then hands out cursors."""
    key = str(warehouse)
    for attempt in range(10):
        if key in _open_lakes:
            return
        try:
            _open_lakes[key] = _lake_database(warehouse, data_path, memory_limit=memory_limit)
        except duckdb.Error as error:
            # Two runs creating one new lake: the catalog's tables are created by one, the other retries.
            if "initialize DuckLake" not in str(error) or attempt == 9:
                raise
            time.sleep(random.uniform(0.2, 1.0))


@contextmanager
def connect_lake(warehouse: Path | str, read_only: bool = False) -> Iterator[duckdb.DuckDBPyConnection]:
    """A connection whose default catalog is the lake. Read-only: a database of its own, attached read-only
    (unless this process has the lake open already: a DuckDB-file catalog takes one attachment)."""
    if read_only and str(warehouse) not in _open_lakes:
        con = _lake_database(warehouse, read_only=True)
    else:
        open_lake(warehouse)
        con = _open_lakes[str(warehouse)].cursor()
    try:
        con.execute(f"use {lake_catalog_name(warehouse)}")
        yield con
    finally:
        con.close()


@contextmanager
def connect_lake_read_only(warehouse: Path | str) -> Iterator[duckdb.DuckDBPyConnection]:
    """A guarded reader of a DuckLake: a database of its own with the lake attached read-only, fts
    loaded, then the same guards as the single file's readers, except that files under the lake's data
    folder stay readable (its Parquet files are the tables): `allowed_directories` = that folder,
    `enable_external_access = false`, `lock_configuration = true`. Inside a process that has the lake
    open for writing (a run), a cursor of that database, unguarded (the run's own reads)."""
    if str(warehouse) in _open_lakes:
        with connect_lake(warehouse) as con:
            yield con
        return
    con = _lake_database(warehouse, read_only=True)
    try:
        catalog = lake_catalog_name(warehouse)
        con.execute("load fts")
        # Where its Parquet files are: the catalog's own record (the attach options hold it only when given).
        row = con.execute(f"select value from __ducklake_metadata_{catalog}.ducklake_metadata where key = 'data_path'").fetchone()
        data_path = str(row[0]) if row and row[0] else None
        if data_path:
            con.execute("set allowed_directories = ?", [[data_path]])
        con.execute("set enable_external_access = false")
        con.execute("set lock_configuration = true")
        con.execute(f"use {catalog}")
        yield con
    finally:
        con.close()


def close_lakes() -> None:
    for key in list(_open_lakes):
        _open_lakes.pop(key).close()
