"""What a relink spends keeping the HNSW index file's bookkeeping in step, as the archive grows (issue 31).

    .venv/bin/python bench/paragraph_index.py [--sizes 200000 1000000 5000000] [--added 20000] [--hits 400000]

For each size N, a single-file warehouse of N synthetic paragraphs (50,000 articles' worth per million,
ids, text hashes and index keys as the flow stores them; no vectors: the index file's own restore and
save are the same in both and are not measured here) and, in separate child processes (wall time and
peak RSS of each):

- `before`: what the relink did until 1c84874 before searching: every stored (paragraph_id, article_id)
  read, a key computed for each, a dict of all of them and the set of the index's keys compared;
- `after`: what it does now (DuckDB under the default 128 MB cap in both): a batch of `--added` paragraphs journalled, the journal's digest moved, and
  `--hits` keys found by the searches resolved to paragraphs through `paragraphs.index_key`
  (storage/paragraph_index.py).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
MEMORY_LIMIT = "128MB"  # the product's default DuckDB cap (NEWSDAG_DUCKDB_MEMORY_LIMIT)


def build(path: Path, size: int) -> None:
    import duckdb

    from storage.backend import backend_of

    con = duckdb.connect(str(path))
    backend_of(con).apply_schema(con, ROOT / "sql", 8, "bench")
    con.execute(
        "insert into paragraphs (paragraph_id, article_id, position, text, text_sha256, n_words, model, index_key) "
        "select a || '-' || p, a, p, '', sha, 1, 'bench', md5_number_upper(a || '-' || p) >> 1 from ("
        "  select md5(((i // 20))::varchar)[:16] as a, (i % 20)::integer as p, sha256(i::varchar) as sha "
        "  from range(?) t(i))", [size])
    con.close()


def before(path: Path) -> dict[str, float]:
    import duckdb
    import numpy as np

    from storage.state import paragraph_ids
    from tasks.similarity import paragraph_key

    con = duckdb.connect(str(path), config={"memory_limit": MEMORY_LIMIT})
    index_keys = con.execute("select index_key from paragraphs").fetchnumpy()["index_key"]  # stands for index.keys
    started = time.perf_counter()
    stored = paragraph_ids(con)
    wanted = dict(zip(paragraph_key(stored["paragraph_id"]).tolist(),
                      zip(stored["paragraph_id"].to_list(), stored["article_id"].to_list())))
    present = set(np.asarray(index_keys).tolist())
    stale = [key for key in present if key not in wanted]
    missing = [key for key in wanted if key not in present]
    assert not stale and not missing
    return {"seconds": time.perf_counter() - started}


def after(path: Path, added: int, hits: int) -> dict[str, float]:
    import duckdb
    import numpy as np
    import polars as pl

    from storage.paragraph_index import DIGEST_KEY, _digest, journal_added, paragraphs_of_keys

    con = duckdb.connect(str(path), config={"memory_limit": MEMORY_LIMIT})
    con.execute("insert or replace into warehouse_meta values (?, '0')", [DIGEST_KEY])
    rng = np.random.default_rng(0)
    found = con.execute(f"select index_key from paragraphs using sample reservoir({int(hits)} rows) repeatable (7)").fetchnumpy()["index_key"]
    batch = pl.DataFrame({"paragraph_id": [f"new-{i}" for i in range(added)],
                          "text_sha256": [f"{rng.integers(1 << 62):x}" for _ in range(added)]})
    started = time.perf_counter()
    con.execute("begin transaction")
    journal_added(con, batch)
    _digest(con, "select paragraph_id, text_sha256, added from paragraph_index_journal")
    con.execute("delete from paragraph_index_journal")
    resolved = paragraphs_of_keys(con, np.asarray(found, dtype=np.uint64))
    con.execute("rollback")
    assert resolved.height == len(found)
    return {"seconds": time.perf_counter() - started}


def child(args: argparse.Namespace) -> None:
    path = Path(args.path)
    result = before(path) if args.case == "before" else after(path, args.added, args.hits)
    # VmHWM, not ru_maxrss: Linux carries ru_maxrss over from the parent through fork and exec
    peak_kb = next(int(line.split()[1]) for line in Path("/proc/self/status").read_text().splitlines()
                   if line.startswith("VmHWM:"))
    result["peak_rss_mb"] = peak_kb / 1024
    print(json.dumps(result))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", type=int, nargs="+", default=[200_000, 1_000_000, 5_000_000])
    parser.add_argument("--added", type=int, default=20_000, help="paragraphs a run adds (1,000 articles)")
    parser.add_argument("--hits", type=int, default=400_000, help="distinct keys the searches find")
    parser.add_argument("--case", choices=["before", "after"], help=argparse.SUPPRESS)
    parser.add_argument("--path", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.case:
        child(args)
        return
    print("| stored paragraphs | before: s | before: peak RSS MB | after: s | after: peak RSS MB |")
    print("|---:|---:|---:|---:|---:|")
    for size in args.sizes:
        with tempfile.TemporaryDirectory() as work:
            path = Path(work) / "w.duckdb"
            build(path, size)
            cases = {}
            for case in ("before", "after"):
                out = subprocess.run([sys.executable, __file__, "--case", case, "--path", str(path),
                                      "--added", str(args.added), "--hits", str(min(args.hits, size))],
                                     check=True, capture_output=True, text=True).stdout
                cases[case] = json.loads(out.strip().splitlines()[-1])
            print(f"| {size:,} | {cases['before']['seconds']:.2f} | {cases['before']['peak_rss_mb']:.0f} "
                  f"| {cases['after']['seconds']:.2f} | {cases['after']['peak_rss_mb']:.0f} |", flush=True)


if __name__ == "__main__":
    main()
