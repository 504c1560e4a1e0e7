"""What a relink spends on the HNSW index's files as the archive grows: one file read and written whole
(until the segments) against segments (storage/paragraph_index.py), and what several segments cost a
search (issue 31).

    .venv/bin/python bench/index_segments.py [--vectors 1048576] [--last 100000] [--segments 1 5 20]

Builds one HNSW file of `--vectors` random unit vectors of 384 dimensions (SEGMENT_VECTORS by default:
a full segment; 1.7 KB a vector) and one of `--last` (a last segment with room). The graphs are built
with expansion_add 16 on two threads, not the product's 128 on one, to keep the build within minutes:
the files' sizes and layout are the product's, the graphs' quality (and so the search's exact cost) is
not. Then, each in a child process (wall seconds, peak RSS):

- `one file`: what every relink did with the single file: read it whole (Index.restore) and write it
  whole (save); its cost is in proportion to the file, so to the archive.
- `segments`: what a relink does now: open S full segments as memory-mapped views, read and write the
  last segment (the `--last` one, and the worst case, a last segment one vector short of full).
- `search`: 2,000 queries, 80 hits each, against S views (the same full segment opened S times, standing
  for S segments of that size; the page cache is shared, so this is a lower bound for S distinct files,
  and the peak counts the file's pages once per view).

Adding the batch's vectors costs the same in both layouts and is left out.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
DIMENSION = 384


def _vectors(count: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    vectors = rng.standard_normal((count, DIMENSION)).astype(np.float32)
    return vectors / np.linalg.norm(vectors, axis=1, keepdims=True)


def build(path: Path, count: int, seed: int) -> None:
    from usearch.index import Index

    index = Index(ndim=DIMENSION, metric="cos", dtype="f32", connectivity=16, expansion_add=16, expansion_search=64)
    step = 131_072
    for start in range(0, count, step):
        part = min(step, count - start)
        index.add(np.arange(start, start + part, dtype=np.uint64), _vectors(part, seed + start), threads=2)
    index.save(str(path))


def one_file(path: Path) -> None:
    from usearch.index import Index

    index = Index.restore(str(path))
    index.save(str(path.with_name(path.name + ".out")))


def segments(full: Path, last: Path, count: int) -> None:
    from usearch.index import Index

    views = [Index.restore(str(full), view=True) for _ in range(count)]
    index = Index.restore(str(last))
    index.save(str(last.with_name(last.name + ".out")))
    assert all(len(view) for view in views)


def search(full: Path, count: int) -> None:
    from usearch.index import Index

    views = [Index.restore(str(full), view=True) for _ in range(count)]
    queries = _vectors(2000, 99)
    for view in views:
        view.search(queries, 80, threads=1)


def _child(*args: str) -> dict[str, float]:
    started = time.perf_counter()
    done = subprocess.run([sys.executable, __file__, "--child", *args], capture_output=True, text=True, check=True)
    peak = json.loads(done.stdout.strip().splitlines()[-1])["peak_mb"]
    return {"s": round(time.perf_counter() - started, 2), "peak_mb": round(peak)}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--vectors", type=int, default=1 << 20)
    parser.add_argument("--last", type=int, default=100_000)
    parser.add_argument("--segments", type=int, nargs="+", default=[1, 5, 20])
    parser.add_argument("--child", nargs="+")
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "out" / "index_segments.json")
    args = parser.parse_args()
    if args.child:
        kind, *rest = args.child
        {"one": lambda: one_file(Path(rest[0])), "segments": lambda: segments(Path(rest[0]), Path(rest[1]), int(rest[2])),
         "search": lambda: search(Path(rest[0]), int(rest[1]))}[kind]()
        # VmHWM, not getrusage's ru_maxrss: a child's ru_maxrss starts from its parent's at fork (here the
        # builder's gigabytes). Mapped file pages a search touched count as resident.
        peak_kb = next(int(line.split()[1]) for line in Path("/proc/self/status").read_text().splitlines()
                       if line.startswith("VmHWM:"))
        print(json.dumps({"peak_mb": peak_kb / 1024}))
        return
    rows = []
    with tempfile.TemporaryDirectory(dir="/tmp") as folder:
        full, last = Path(folder) / "full.usearch", Path(folder) / "last.usearch"
        started = time.perf_counter()
        build(full, args.vectors, 0)
        build(last, args.last, 7)
        print(f"built in {time.perf_counter() - started:.0f} s; full segment {full.stat().st_size / 2**20:.0f} MB, "
              f"last {last.stat().st_size / 2**20:.0f} MB", flush=True)
        rows.append({"what": f"one file of {args.vectors:,} vectors: read and written whole", **_child("one", str(full))})
        for count in args.segments:
            rows.append({"what": f"{count} full segments as views + a last of {args.last:,} read and written",
                         **_child("segments", str(full), str(last), str(count))})
        rows.append({"what": f"1 full segment as a view + a last one nearly full ({args.vectors:,}) read and written",
                     **_child("segments", str(full), str(full), "1")})
        for count in args.segments:
            rows.append({"what": f"search: 2,000 queries x 80 hits over {count} segment(s) of {args.vectors:,}",
                         **_child("search", str(full), str(count))})
    for row in rows:
        print(f"| {row['what']} | {row['s']} | {row['peak_mb']:,} |", flush=True)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(rows, indent=1))


if __name__ == "__main__":
    main()
