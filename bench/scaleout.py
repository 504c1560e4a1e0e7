"""Scale-out benchmark: the models on Dask, and the DuckLake warehouse, against the defaults.

One invocation, same code, same machine, same corpus (default: a deterministic share of
../shared/corpora/bbc), each run a fresh `newsdag run` process into a fresh warehouse:
  1. in-process models, single DuckDB file (the default);
  2. --dask local:1 and 3. --dask local:2 (a LocalCluster started by the run, counted in its time);
  4. in-process models, DuckLake warehouse with its catalog in PostgreSQL (started here, loopback);
then the example queries (sql/queries) on the file and on the lake (median of 3), and both sizes on disk.
Prints a table and writes bench/out/scaleout/results.json.

Usage: python bench/scaleout.py [--corpus DIR] [--fraction 0.2] [--out DIR]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from pipeline import fresh_out  # noqa: E402  (bench/pipeline.py)

NEWSDAG = [sys.executable, "-m", "flows"]


def run(env: dict[str, str], *extra: str) -> dict:
    """One `newsdag run`: process wall seconds and the flow's own summary (per-step seconds)."""
    started = time.perf_counter()
    result = subprocess.run([*NEWSDAG, "run", *extra], cwd=ROOT, env=env, capture_output=True, text=True)
    wall = time.perf_counter() - started
    if result.returncode != 0:
        raise SystemExit(f"newsdag run {' '.join(extra)} failed:\n{result.stdout[-2000:]}\n{result.stderr[-3000:]}")
    steps = dict(re.findall(r"([a-z-]+) ([0-9.]+)", result.stdout.split("seconds", 1)[1].splitlines()[0]))
    files = dict(re.findall(r"([a-z]+) (\d+)", result.stdout.split("  files ", 1)[1].splitlines()[0]))
    return {"process_seconds": round(wall, 1), "seconds_per_step": {k: float(v) for k, v in steps.items()},
            "files": {k: int(v) for k, v in files.items()}}


def folder_bytes(folder: Path) -> int:
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())


def query_seconds(target: Path) -> dict[str, float]:
    from storage.backend import backend_for

    timings = {}
    with backend_for(target).connect_read_only() as con:
        for query in sorted((ROOT / "sql" / "queries").glob("*.sql")):
            runs = []
            for _ in range(3):
                started = time.perf_counter()
                con.execute(query.read_text()).fetchall()
                runs.append(time.perf_counter() - started)
            timings[query.stem] = round(statistics.median(runs), 4)
    return timings


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--corpus", type=Path, default=ROOT.parent / "shared" / "corpora" / "bbc")
    parser.add_argument("--fraction", type=float, default=0.2, help="share of the corpus files to use")
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "out" / "scaleout")
    parser.add_argument("--dask-runs", nargs="*", default=["local:1", "local:2"], help="Dask runs beside the in-process one")
    args = parser.parse_args()

    from tests.pgserver import create_database, postgres_server

    out, raw, n_files = fresh_out(args.out, args.corpus, args.fraction)
    # Ephemeral Prefect in every run alike (its start-up is in "process s", not in the flow's total).
    base_env = {**os.environ, "NEWSDAG_RAW_DIR": str(raw), "NEWSDAG_PREFECT_MODE": "ephemeral"}
    results: dict[str, object] = {"corpus": str(args.corpus), "files": n_files, "fraction": args.fraction,
                                  "cpus": os.cpu_count(), "load_average_at_start": os.getloadavg()[0]}

    runs: dict[str, dict] = {}
    for label, extra in (("in-process", ()), *((f"dask {d}", ("--dask", d)) for d in args.dask_runs)):
        target = out / f"{label.replace(' ', '-').replace(':', '')}.duckdb"
        runs[label] = run({**base_env, "NEWSDAG_WAREHOUSE": str(target)}, *extra)
        print(label, runs[label], flush=True)
    file_target = out / "in-process.duckdb"

    with postgres_server() as pg:
        lake = Path("ducklake:postgres:" + create_database(pg, "bench"))
        lake_data = out / "lake-data"
        runs["ducklake (postgres)"] = run({**base_env, "NEWSDAG_WAREHOUSE": str(lake), "NEWSDAG_LAKE_DATA": str(lake_data)})
        print("ducklake", runs["ducklake (postgres)"], flush=True)
        results["queries_file"] = query_seconds(file_target)
        results["queries_lake"] = query_seconds(lake)
        import duckdb

        from storage.backend import backend_for
        from storage.lake import extension_directory

        with backend_for(lake).connect_read_only() as con:
            counts = {t: con.execute(f"select count(*) from {t}").fetchone()[0] for t in ("articles", "paragraphs")}
        con = duckdb.connect(config={"extension_directory": str(extension_directory())})
        con.execute("load postgres")
        con.execute(f"attach '{pg.libpq('bench')}' as pg (type postgres, read_only)")
        catalog_bytes = con.execute("select * from postgres_query('pg', 'select pg_database_size(current_database())')").fetchone()[0]
        con.close()
    results["runs"] = runs
    results["counts"] = counts
    results["size_bytes"] = {"file": file_target.stat().st_size, "lake_parquet": folder_bytes(lake_data),
                             "lake_catalog_postgres": int(catalog_bytes)}
    (out / "results.json").write_text(json.dumps(results, indent=2))

    print(f"\ncorpus {args.corpus}, {n_files} files (fraction {args.fraction}), {counts}")
    print("| run | process s | flow total s | embed s | entities s | load s | stories s |")
    print("|---|---|---|---|---|---|---|")
    for label, figures in runs.items():
        steps = figures["seconds_per_step"]
        print(f"| {label} | {figures['process_seconds']} | {steps.get('total')} | {steps.get('embed')} | "
              f"{steps.get('entities')} | {steps.get('load')} | {steps.get('stories')} |")
    print("\n| query | file s | lake s |\n|---|---|---|")
    for name, seconds in results["queries_file"].items():  # type: ignore[union-attr]
        print(f"| {name} | {seconds} | {results['queries_lake'][name]} |")  # type: ignore[index]
    print(f"\nsize: {results['size_bytes']}")


if __name__ == "__main__":
    main()
