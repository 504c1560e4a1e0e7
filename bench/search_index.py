"""The end-of-run full-text index on the single file: DuckDB's fts index rebuilt over every paragraph (as
before issue 31) against the tantivy index beside the warehouse synced with what changed
(storage/search_index.py).

BBC's paragraphs (../shared/corpora/bbc, bodies split on blank lines), copied with a copy mark to reach
each size; a run that adds 1,000 paragraphs to a warehouse holding 1x and 4x BBC's.

    PYTHONPATH=$PWD python bench/search_index.py [--copies 1 4] [--added 1000] [--fts-max 60000]
"""

from __future__ import annotations

import argparse
import hashlib
import shutil
import tempfile
import time
from pathlib import Path

import duckdb
import polars as pl

from storage import search_index
from storage.connection import load_extension
from storage.schema import create_schema

ROOT = Path(__file__).resolve().parent.parent
BBC = ROOT.parent / "shared" / "corpora" / "bbc"
DIM = 4  # (vectors play no part here)


def bbc_paragraphs() -> list[str]:
    texts = []
    for path in sorted(BBC.glob("*/*.txt")):
        body = path.read_text(encoding="latin-1").split("\n\n")  # the title is a block too
        texts += [part.strip() for part in body if part.strip()]
    return texts


def frame(texts: list[str], prefix: str) -> pl.DataFrame:
    ids = [f"{prefix}-{n:07d}" for n in range(len(texts))]
    return pl.DataFrame({"paragraph_id": ids, "article_id": [i[:-3] for i in ids], "position": list(range(len(texts))),
                         "text": texts, "text_sha256": [hashlib.sha256(t.encode()).hexdigest() for t in texts]},
                        schema_overrides={"position": pl.Int32})


def insert(con: duckdb.DuckDBPyConnection, paragraphs: pl.DataFrame) -> None:
    con.register("incoming", paragraphs)
    con.execute("insert into paragraphs (paragraph_id, article_id, position, text, text_sha256, n_words, model) "
                "select paragraph_id, article_id, position, text, text_sha256, 0, 'm' from incoming")
    con.unregister("incoming")


def timed(action) -> float:  # type: ignore[no-untyped-def]
    start = time.perf_counter()
    action()
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--copies", type=int, nargs="+", default=[1, 4])
    parser.add_argument("--added", type=int, default=1000)
    parser.add_argument("--fts-max", type=int, default=60_000, help="no fts rebuild above this many paragraphs (slow)")
    args = parser.parse_args()
    base = bbc_paragraphs()
    print(f"BBC: {len(base):,} paragraphs")
    print("| stored | fts rebuild (before) | tantivy first build | sync +%d | no-op sync | ratio |" % args.added)
    print("|---|---|---|---|---|---|")
    for copies in args.copies:
        texts = [text if copy == 0 else f"{text} (copy {copy})" for copy in range(copies) for text in base]
        added = frame([f"{text} (added)" for text in base[:args.added]], "new")
        folder = Path(tempfile.mkdtemp(prefix="bench-search-"))
        try:
            warehouse = folder / "w.duckdb"
            with duckdb.connect(str(warehouse)) as con:
                create_schema(con, ROOT / "sql", DIM)
                insert(con, frame(texts, "old"))
                first = timed(lambda: search_index.sync(con, warehouse))
                insert(con, added)
                incremental = timed(lambda: print("  ", search_index.sync(con, warehouse)))
                noop = timed(lambda: search_index.sync(con, warehouse))
                fts = float("nan")
                if len(texts) + args.added <= args.fts_max:
                    load_extension(con, "fts")
                    fts = timed(lambda: con.execute(
                        "pragma create_fts_index('paragraphs', 'paragraph_id', 'text', overwrite = 1)"))
            stored = len(texts) + args.added
            print(f"| {stored:,} | {fts:.2f} s | {first:.2f} s | {incremental:.2f} s | {noop:.3f} s | "
                  f"{fts / incremental:.0f}x |", flush=True)
        finally:
            shutil.rmtree(folder)


if __name__ == "__main__":
    main()
