"""End-to-end performance benchmark of the real flow on a corpus (default: ../shared/corpora/bbc).

Runs, each in a fresh process, timed with /usr/bin/time:
  1. the full flow into a fresh warehouse (wall time, per-step seconds, peak memory);
  2. the model-only ceiling: the same paragraphs through the same models in a bare loop;
  3. a re-run with no new files (with the background Prefect server, then in ephemeral mode);
  4. a re-run after adding one new article.
Prints a table and writes bench/out/pipeline/results.json.

Usage: python bench/pipeline.py [--corpus DIR] [--fraction 0.25] [--out DIR]
       python bench/pipeline.py --copies 4 --full-run-only --out bench/out/pipeline-x4   (memory at 4x)
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
NEWSDAG = [sys.executable, "-m", "flows"]


def timed(command: list[str], env: dict[str, str]) -> tuple[float, float, str]:
    """(wall seconds, peak RSS in MB, stdout) of one command in its own process."""
    rss_file = Path(env["BENCH_OUT"]) / "rss.txt"
    started = time.perf_counter()
    result = subprocess.run(
        ["/usr/bin/time", "-f", "%M", "-o", str(rss_file), *command],
        cwd=ROOT, env=env, capture_output=True, text=True,
    )
    wall = time.perf_counter() - started
    if result.returncode != 0:
        raise SystemExit(f"command failed: {' '.join(command)}\n{result.stderr[-3000:]}")
    return wall, int(rss_file.read_text().split()[-1]) / 1024, result.stdout


def fresh_out(out: Path, corpus: Path, fraction: float) -> tuple[Path, Path, int]:
    """An emptied output folder with a `raw` folder holding the corpus share: (out, raw, files copied)."""
    out = out.resolve()
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir(parents=True)
    return out, out / "raw", copy_corpus(corpus, out / "raw", fraction)


def copy_corpus(corpus: Path, raw: Path, fraction: float, copies: int = 1) -> int:
    """Copy a deterministic fraction of the corpus (every n-th file) into a fresh raw folder. With
    `copies` > 1 the corpus is repeated, each further copy with every line marked so that no paragraph
    text repeats: the embedding cache cannot make the larger corpus cheaper than its size."""
    shutil.rmtree(raw, ignore_errors=True)
    files = sorted(p for p in corpus.rglob("*.txt") if p.is_file())
    step = max(1, round(1 / fraction)) if fraction < 1 else 1
    chosen = files[::step]
    for copy in range(copies):
        for path in chosen:
            relative = path.relative_to(corpus)
            target = raw / (f"copy{copy}" if copies > 1 else "") / relative
            target.parent.mkdir(parents=True, exist_ok=True)
            if copy == 0:
                shutil.copy(path, target)
            else:
                text = path.read_text(encoding="utf-8", errors="replace")
                target.write_text("\n".join(f"{line} ({copy})" if line.strip() else line for line in text.split("\n")),
                                  encoding="utf-8")
    return len(chosen) * copies


def last_run_summary(warehouse: Path) -> dict:
    import duckdb

    with duckdb.connect(str(warehouse), read_only=True) as con:
        row = con.execute("select summary from runs where status = 'completed' order by finished_at desc limit 1").fetchone()
    return json.loads(row[0])


def memory_by_batch(peaks: list[int], label: str = "memory") -> str:
    """The flow's peak memory after the first batch, at a quarter, half and three quarters of the run, and at
    the end: flat when what each batch holds does not grow with the warehouse."""
    if not peaks:
        return f"  {label:<13} (no batches)"
    marks = sorted({0, len(peaks) // 4, len(peaks) // 2, 3 * len(peaks) // 4, len(peaks) - 1})
    return f"  {label:<13} peak after batch " + ", ".join(f"{m + 1}: {peaks[m]} MB" for m in marks)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--corpus", type=Path, default=ROOT.parent / "shared" / "corpora" / "bbc")
    parser.add_argument("--fraction", type=float, default=1.0, help="share of the corpus files to use")
    parser.add_argument("--copies", type=int, default=1, help="repeat the corpus this many times (distinct text)")
    parser.add_argument("--full-run-only", action="store_true", help="only the full run (for the memory check)")
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "out" / "pipeline")
    args = parser.parse_args()

    out = args.out.resolve()
    out.mkdir(parents=True, exist_ok=True)
    raw, warehouse = out / "raw", out / "bench.duckdb"
    for stale in out.glob("bench.duckdb*"):
        stale.unlink()
    n_files = copy_corpus(args.corpus, raw, args.fraction, args.copies)
    env = {**os.environ, "BENCH_OUT": str(out), "NEWSDAG_RAW_DIR": str(raw), "NEWSDAG_WAREHOUSE": str(warehouse)}

    results: dict[str, object] = {"corpus": str(args.corpus), "files": n_files, "fraction": args.fraction,
                                  "copies": args.copies}
    wall, rss, _ = timed([*NEWSDAG, "run"], env)
    summary = last_run_summary(warehouse)
    # /usr/bin/time reports the largest single process; the flow's summary adds its embedding worker's
    # peak to its own (an upper bound of the two together).
    peak = max(rss, (summary.get("peak_rss_mb_by_batch") or [0])[-1])
    results["full_run"] = {"wall_seconds": round(wall, 1), "peak_rss_mb": round(peak), "flow_seconds": summary["wall_seconds"],
                           "seconds_per_step": summary["seconds_per_step"], "articles": summary["articles"],
                           "paragraphs": summary["paragraphs"],
                           **{key: summary.get(key, []) for key in
                              ("peak_rss_mb_by_batch", "resident_mb_by_batch", "duckdb_mb_by_batch", "free_heap_mb_by_batch",
                               "embedding_worker_peak_mb_by_batch")}}
    if args.full_run_only:
        (out / "results.json").write_text(json.dumps(results, indent=2))
        full = results["full_run"]
        print(f"corpus {args.corpus} x{args.copies} ({n_files} files, fraction {args.fraction})")
        print(f"full run        {full['wall_seconds']:>7.1f} s wall, peak {full['peak_rss_mb']} MB")  # type: ignore[index]
        print(memory_by_batch(full["peak_rss_mb_by_batch"]))  # type: ignore[index]
        print(memory_by_batch(full["embedding_worker_peak_mb_by_batch"], "  its worker"))  # type: ignore[index]
        return

    wall, rss, stdout = timed([sys.executable, "bench/model_ceiling.py", "--warehouse", str(warehouse)], env)
    ceiling = json.loads(stdout)
    results["model_ceiling"] = {**ceiling, "wall_seconds": round(wall, 1)}

    wall, rss, _ = timed([*NEWSDAG, "run"], env)
    results["rerun_no_new_files"] = {"wall_seconds": round(wall, 1), "peak_rss_mb": round(rss),
                                     "flow_seconds": last_run_summary(warehouse)["wall_seconds"]}

    # The same re-run without a server: Prefect's ephemeral mode starts a temporary one in-process.
    wall, rss, _ = timed([*NEWSDAG, "run", "--ephemeral"], env)
    results["rerun_no_new_files_ephemeral"] = {"wall_seconds": round(wall, 1), "peak_rss_mb": round(rss),
                                               "flow_seconds": last_run_summary(warehouse)["wall_seconds"]}

    new_article = sorted((ROOT / "data" / "raw").glob("*.txt"))[0]
    shutil.copy(new_article, raw / "bench-new-article.txt")
    wall, rss, _ = timed([*NEWSDAG, "run"], env)
    results["rerun_one_new_article"] = {"wall_seconds": round(wall, 1), "peak_rss_mb": round(rss),
                                        "flow_seconds": last_run_summary(warehouse)["wall_seconds"]}

    full, ceil = results["full_run"], results["model_ceiling"]
    # Both ceilings include the ceiling process's own start and model loading, as the full run's wall
    # time does; each leaves out the other measurements made in the same process.
    sequential = (ceil["wall_seconds"] - ceil["quote_embed_seconds"] - ceil["concurrent_seconds"]  # type: ignore[index]
                  - ceil["worker_start_seconds"])  # type: ignore[index]
    concurrent = (ceil["wall_seconds"] - ceil["embed_seconds"] - ceil["ner_seconds"] - ceil["quote_embed_seconds"]  # type: ignore[index]
                  - ceil["worker_start_seconds"])  # type: ignore[index]
    results["sequential_ceiling_seconds"] = round(sequential, 1)
    results["sequential_ceiling_with_quotes_seconds"] = round(sequential + ceil["quote_embed_seconds"], 1)  # type: ignore[index]
    results["concurrent_floor_seconds"] = round(concurrent, 1)
    results["full_run_over_ceiling"] = round(full["wall_seconds"] / sequential, 3)  # type: ignore[index]
    results["full_run_over_ceiling_with_quotes"] = round(
        full["wall_seconds"] / (sequential + ceil["quote_embed_seconds"]), 3)  # type: ignore[index]
    results["full_run_over_concurrent_floor"] = round(full["wall_seconds"] / concurrent, 3)  # type: ignore[index]
    results["articles_per_second"] = round(full["articles"] / full["wall_seconds"], 1)  # type: ignore[index]
    results["paragraphs_per_second"] = round(full["paragraphs"] / full["wall_seconds"], 1)  # type: ignore[index]
    (out / "results.json").write_text(json.dumps(results, indent=2))

    print(f"corpus {args.corpus} ({n_files} files, fraction {args.fraction})")
    print(f"full run        {full['wall_seconds']:>7.1f} s wall, peak {full['peak_rss_mb']} MB, "  # type: ignore[index]
          f"{results['articles_per_second']} articles/s, {results['paragraphs_per_second']} paragraphs/s")
    print(memory_by_batch(full["peak_rss_mb_by_batch"]))  # type: ignore[index]
    print(memory_by_batch(full["embedding_worker_peak_mb_by_batch"], "  its worker"))  # type: ignore[index]
    print("  steps         " + ", ".join(f"{k} {v:.1f}" for k, v in full["seconds_per_step"].items()))  # type: ignore[index]
    print(f"model ceiling   {results['sequential_ceiling_seconds']:>7.1f} s: load {ceil['model_load_seconds']}, embed "  # type: ignore[index]
          f"{ceil['embed_seconds']}, ner {ceil['ner_seconds']} in a bare loop, one after the other "  # type: ignore[index]
          f"(+ {ceil['quote_embed_seconds']} s for {ceil['distinct_quotes']} quote texts)")  # type: ignore[index]
    print(f"  concurrent    {results['concurrent_floor_seconds']:>7.1f} s: the same models, embedding (quotes too) in a "
          f"worker process beside NER")
    print(f"full / ceiling  {results['full_run_over_ceiling']:>7.3f} (paragraph embedding + NER), "
          f"{results['full_run_over_ceiling_with_quotes']:.3f} (+ quote embedding), "
          f"{results['full_run_over_concurrent_floor']:.3f} (against the concurrent bare loop)")
    print(f"re-run, no new  {results['rerun_no_new_files']['wall_seconds']:>7.1f} s wall")  # type: ignore[index]
    print(f"  ephemeral     {results['rerun_no_new_files_ephemeral']['wall_seconds']:>7.1f} s wall (no server)")  # type: ignore[index]
    print(f"re-run, +1 new  {results['rerun_one_new_article']['wall_seconds']:>7.1f} s wall")  # type: ignore[index]


if __name__ == "__main__":
    main()
