"""The end-of-run entity resolution (`resolve-entities`) on a copy of a warehouse.

Copies `--warehouse` (a flow run's single DuckDB file) to a temp folder and times, there:
- the first settling (every stored mention resolved at once; the articles whose mentions resolved
  differently from their batches' provisional resolution are rewritten, with their quotes);
- a second one, with nothing changed (the digest check alone);
- `entities.resolve_corpus` by itself, the part that grows with the warehouse.

Usage: python bench/entities.py --warehouse FILE
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from flows.derived import settle_entities  # noqa: E402
from storage.backend import backend_for, backend_of
from storage.derived import run_checks
from storage.state import stored_raw_mentions
from tasks import entities  # noqa: E402
from tasks.settings import get_settings  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--warehouse", type=Path, required=True)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        copy = Path(folder) / "w.duckdb"
        shutil.copy(args.warehouse, copy)
        settings = get_settings(warehouse=copy)
        with backend_for(copy).connect() as con:
            backend_of(con).apply_schema(con, ROOT / "sql", settings.embedding_dim, settings.embedding_model)
            articles, mentions = (con.execute(f"select count(*) from {t}").fetchone()[0] for t in ("articles", "entity_mentions"))  # type: ignore[index]
            started = time.perf_counter()
            changed = settle_entities(con, settings)
            first = time.perf_counter() - started
            started = time.perf_counter()
            settle_entities(con, settings)
            second = time.perf_counter() - started
            raw = stored_raw_mentions(con)
            started = time.perf_counter()
            entity_rows, _ = entities.resolve_corpus(raw)
            resolve = time.perf_counter() - started
            problems = run_checks(con, ROOT / "sql")
    print("| articles | mentions | entities | articles re-resolved | first settling s | unchanged s | resolve_corpus s |")
    print("|---|---|---|---|---|---|---|")
    print(f"| {articles:,} | {mentions:,} | {entity_rows.height:,} | {changed:,} | {first:.2f} | {second:.3f} | {resolve:.2f} |")
    if problems.height:
        raise SystemExit(f"checks failed after settling: {problems.rows()}")


if __name__ == "__main__":
    main()
