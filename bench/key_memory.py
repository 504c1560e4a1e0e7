"""Does a batch's load fit the default DuckDB memory cap as paragraphs grow, with and without a key?

    .venv/bin/python bench/key_memory.py [--sizes 1000000 2000000 3000000 4000000 5000000]

For each size N and each of `keyed` (paragraph_id a primary key, as the single file had until b362453)
and `keyless` (as now, storage/schema.KEYED_TABLES): a DuckDB file of N paragraph rows (ids as the flow
makes them, `<16 hex>-<position>`, 20 an article) is written, reopened under the default cap
(`NEWSDAG_DUCKDB_MEMORY_LIMIT`, 128 MB) and one batch is loaded as storage/loads.load_batch loads it: in
one transaction, 1,000 articles' paragraphs deleted and 20,000 inserted. Each case in its own process.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

MEMORY_LIMIT = "128MB"


def case(path: Path, size: int, keyed: bool) -> str:
    import duckdb

    with duckdb.connect(str(path)) as con:
        con.execute(f"create table p (paragraph_id varchar {'primary key' if keyed else ''}, article_id varchar, x integer)")
        for start in range(0, size, 1_000_000):
            con.execute("insert into p select md5((i // 20)::varchar)[:16] || '-' || (i % 20), md5((i // 20)::varchar)[:16], 1 "
                        "from range(?, ?) t(i)", [start, min(size, start + 1_000_000)])
    with duckdb.connect(str(path), config={"memory_limit": MEMORY_LIMIT}) as con:
        started = time.perf_counter()
        try:
            con.execute("begin transaction")
            con.execute("delete from p where article_id in (select md5(i::varchar)[:16] from range(1000) t(i))")
            con.execute("insert into p select 'new' || (i // 20) || '-' || (i % 20), 'new' || (i // 20), 1 from range(20000) t(i)")
            con.execute("commit")
            return f"loaded in {time.perf_counter() - started:.2f} s"
        except duckdb.Error as error:
            return "FAILED: " + str(error).splitlines()[0][:90]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", type=int, nargs="+", default=[1_000_000, 2_000_000, 3_000_000, 4_000_000, 5_000_000])
    parser.add_argument("--case", nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.case:
        with tempfile.TemporaryDirectory() as work:
            print(case(Path(work) / "p.duckdb", int(args.case[0]), args.case[1] == "keyed"))
        return
    print("| paragraphs | keyed (as until b362453) | keyless (now) |")
    print("|---:|---|---|")
    for size in args.sizes:
        outcomes = [subprocess.run([sys.executable, __file__, "--case", str(size), kind], capture_output=True,
                                   text=True).stdout.strip().splitlines()[-1:] or ["crashed"] for kind in ("keyed", "keyless")]
        print(f"| {size:,} | {outcomes[0][0]} | {outcomes[1][0]} |", flush=True)


if __name__ == "__main__":
    main()
