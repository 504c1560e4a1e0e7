"""Compare two newsdag warehouses table by table, as multisets of rows.

Columns that say when or by which run a row was written differ between any two runs and are left out;
floats are compared to 4 decimals (vectors element by element). Each side may be a DuckDB file or a
DuckLake (`ducklake:<catalog>`). Prints one line per table and exits 1 if any table differs.

    python bench/compare_warehouses.py BEFORE.duckdb AFTER.duckdb
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import duckdb

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

# When a row was written and by which run: never equal across two runs.
VOLATILE_COLUMNS = frozenset({
    "run_id", "ingested_at", "first_seen_at", "last_seen_at", "started_at", "finished_at", "created_at",
    "updated_at", "computed_at", "resolved_at", "merged_at", "seen_at", "mtime_ns",
    # digests of what an article's grouping read, times included (article_signatures)
    "grouping_signature", "similarity_signature",
})
# Tables of run bookkeeping (ids, times, durations) and per-process caches, not results.
SKIPPED_TABLES = frozenset({"runs", "relink_queue"})
# warehouse_meta rows that record a run or a moment rather than a result (the content version counts
# the writes that led to the content, which differ between one run and several).
VOLATILE_META_PREFIXES = ("derived_by", "content_version", "derived.")


def _attach(con: duckdb.DuckDBPyConnection, target: str, alias: str) -> None:
    if target.startswith("ducklake:"):
        from storage.connection import load_extension

        load_extension(con, "ducklake")
        for name in ("postgres_scanner", "sqlite_scanner"):
            try:
                load_extension(con, name)
            except Exception:  # noqa: BLE001 - only the catalog's own kind is needed
                pass
        con.execute(f"attach '{target}' as {alias} (read_only)")
    else:
        con.execute(f"attach '{target}' as {alias} (read_only)")


def _tables(con: duckdb.DuckDBPyConnection, alias: str) -> dict[str, list[tuple[str, str]]]:
    rows = con.execute(
        "select table_name, column_name, data_type from duckdb_columns() "
        "where database_name = ? and schema_name = 'main' order by table_name, column_index", [alias]
    ).fetchall()
    views = {r[0] for r in con.execute("select view_name from duckdb_views() where database_name = ?", [alias]).fetchall()}
    tables: dict[str, list[tuple[str, str]]] = {}
    for table, column, data_type in rows:
        if table not in views and table not in SKIPPED_TABLES and not table.startswith("ducklake_"):
            tables.setdefault(table, []).append((column, data_type))
    return tables


def _comparable(column: str, data_type: str) -> str:
    quoted = f'"{column}"'
    if data_type.startswith(("FLOAT[", "DOUBLE[")):
        return f"list_transform({quoted}::double[], x -> round(x, 4))"
    if data_type in ("FLOAT", "DOUBLE", "REAL"):
        return f"round({quoted}, 4)"
    return quoted


def differences(before: str, after: str) -> dict[str, tuple[int, int, int, int]]:
    """{table: (rows before, rows after, rows only before, rows only after)} for every table of either."""
    con = duckdb.connect()
    _attach(con, before, "a")
    _attach(con, after, "b")
    tables_a, tables_b = _tables(con, "a"), _tables(con, "b")
    result: dict[str, tuple[int, int, int, int]] = {}
    for table in sorted(set(tables_a) | set(tables_b)):
        if table not in tables_a or table not in tables_b:
            result[table] = (-1 if table not in tables_a else 0, -1 if table not in tables_b else 0, 0, 0)
            continue
        columns_b = dict(tables_b[table])
        shared = [(c, t) for c, t in tables_a[table] if c in columns_b and c not in VOLATILE_COLUMNS]
        select = ", ".join(_comparable(c, t) for c, t in shared)
        where = ""
        if table == "warehouse_meta":
            where = " where " + " and ".join(f"not starts_with(key, '{p}')" for p in VOLATILE_META_PREFIXES)
        count_a = con.execute(f"select count(*) from a.{table}{where}").fetchone()[0]
        count_b = con.execute(f"select count(*) from b.{table}{where}").fetchone()[0]
        only_a = con.execute(f"select count(*) from (select {select} from a.{table}{where} except all "
                             f"select {select} from b.{table}{where})").fetchone()[0]
        only_b = con.execute(f"select count(*) from (select {select} from b.{table}{where} except all "
                             f"select {select} from a.{table}{where})").fetchone()[0]
        result[table] = (count_a, count_b, only_a, only_b)
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("before")
    parser.add_argument("after")
    args = parser.parse_args()
    found = differences(args.before, args.after)
    differing = 0
    for table, (count_a, count_b, only_a, only_b) in found.items():
        same = count_a == count_b and only_a == only_b == 0
        differing += not same
        print(f"{'same' if same else 'DIFFERS':8} {table:28} {count_a:>9} {count_b:>9}  only before {only_a}, only after {only_b}")
    print(f"{len(found) - differing} of {len(found)} tables identical")
    return 1 if differing else 0


if __name__ == "__main__":
    sys.exit(main())
