"""Scale of the paragraph-similarity step: time, peak memory and recall@10 at 10k, 30k, 100k paragraphs.

Embedding 100k paragraphs on a 2-core CPU takes about half an hour, so the corpus is built from the
~10k BBC paragraph embeddings (cached by `bench/duplicates.py` in bench/out/similarity/) plus
lightly perturbed copies of those *vectors* (Gaussian noise, renormalised: cosine ~0.9 to the
original, as a reworded paragraph in another outlet). Paragraphs are grouped five to an article.

For each size, in a fresh process (peak RSS is that process's), the step runs as the flow runs it:
batches of `--batch` new paragraphs are linked to everything stored so far, then stored.
  ann:   `link_similar_paragraphs` (bench/linker.py) through the HNSW index file (`sync_paragraph_index`), as in a
         warehouse above NEWSDAG_SIMILARITY_EXACT_MAX paragraphs;
  exact: `link_similar_paragraphs` against every stored vector (the reference).
recall@10: the final index's top 10 against exact top 10 for `--queries` random paragraphs.

Usage: python bench/similarity.py [--sizes 10000 30000 100000] [--methods ann exact] [--out DIR]
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import polars as pl

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.linker import link_similar_paragraphs  # noqa: E402
from tasks import similarity  # noqa: E402
from tasks.settings import get_settings  # noqa: E402

PARAGRAPHS_PER_ARTICLE = 5
NOISE = 0.45  # norm of the added noise relative to the unit vector: cosine to the original ~0.9


def corpus_vectors(cache: Path, size: int, seed: int = 0) -> np.ndarray:
    """`size` unit vectors: the cached BBC embeddings, then perturbed copies of them."""
    base = np.stack(pl.read_parquet(cache)["embedding"].to_numpy()).astype(np.float32)
    rng = np.random.default_rng(seed)
    parts, have = [base[:size]], min(size, base.shape[0])
    while have < size:
        take = min(base.shape[0], size - have)
        noise = rng.standard_normal((take, base.shape[1])).astype(np.float32)
        noise *= NOISE / np.linalg.norm(noise, axis=1, keepdims=True)
        copy = base[rng.permutation(base.shape[0])[:take]] + noise
        parts.append(copy / np.linalg.norm(copy, axis=1, keepdims=True))
        have += take
    return np.concatenate(parts)


def frame(vectors: np.ndarray, offset: int) -> pl.DataFrame:
    ids = [f"{(offset + i) // PARAGRAPHS_PER_ARTICLE:08d}-{(offset + i) % PARAGRAPHS_PER_ARTICLE:04d}"
           for i in range(vectors.shape[0])]
    return pl.DataFrame(
        {"paragraph_id": ids, "article_id": [i.split("-")[0] for i in ids], "text": [""] * len(ids),
         "embedding": list(vectors)},
        schema={"paragraph_id": pl.String, "article_id": pl.String, "text": pl.String,
                "embedding": pl.Array(pl.Float32, vectors.shape[1])},
    )


def run_one(cache: Path, size: int, method: str, batch: int, queries: int) -> dict[str, object]:
    settings = get_settings()
    vectors = corpus_vectors(cache, size)
    dimension = vectors.shape[1]
    stored = frame(vectors[:0], 0)
    links = 0
    with tempfile.TemporaryDirectory() as tmp:
        index_path = Path(tmp) / "bench.hnsw"
        started = time.perf_counter()
        for offset in range(0, size, batch):
            new = frame(vectors[offset:offset + batch], offset)
            if method == "ann":
                index, _, _ = similarity.sync_paragraph_index(
                    index_path, stored.select("paragraph_id", "article_id"),
                    lambda ids: stored.filter(pl.col("paragraph_id").is_in(ids)), dimension)
                found = link_similar_paragraphs(
                    new, new.head(0), settings.similarity_threshold, settings.similarity_top_k, index)
                stored = pl.concat([stored, new])
                similarity.sync_paragraph_index(
                    index_path, stored.select("paragraph_id", "article_id"),
                    lambda ids: stored.filter(pl.col("paragraph_id").is_in(ids)), dimension)
            else:
                found = link_similar_paragraphs(
                    new, stored, settings.similarity_threshold, settings.similarity_top_k)
                stored = pl.concat([stored, new])
            links += found.height
        seconds = time.perf_counter() - started
        result: dict[str, object] = {"paragraphs": size, "method": method, "seconds": round(seconds, 2),
                                     "links": links}
        if method == "ann":
            index, _, _ = similarity.sync_paragraph_index(
                index_path, stored.select("paragraph_id", "article_id"), lambda ids: stored.head(0), dimension)
            sample = np.random.default_rng(1).choice(size, size=min(queries, size), replace=False)
            exact_rows, _ = similarity.exact_neighbours(vectors[sample], vectors, 10)
            found_ids, _, _ = index.search(vectors[sample], 10)
            ids = stored["paragraph_id"].to_list()
            hits = [len({ids[c] for c in exact_rows[q]} & {pid for pid, _ in found_ids[q]}) / 10
                    for q in range(len(sample))]
            result["recall_at_10"] = round(float(np.mean(hits)), 4)
    result["peak_rss_mb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 30_000, 100_000])
    parser.add_argument("--methods", nargs="+", default=["ann", "exact"], choices=["ann", "exact"])
    parser.add_argument("--batch", type=int, default=5_000, help="paragraphs per batch (~256 articles)")
    parser.add_argument("--queries", type=int, default=1_000, help="paragraphs whose recall@10 is measured")
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "out" / "similarity")
    parser.add_argument("--one", action="store_true", help=argparse.SUPPRESS)  # a single size, in this process
    args = parser.parse_args()
    cache = args.out.resolve() / "bbc_embeddings.parquet"
    if not cache.exists():
        raise SystemExit(f"{cache} not found: run `python bench/duplicates.py` first (it embeds the BBC paragraphs)")
    if args.one:
        print(json.dumps(run_one(cache, args.sizes[0], args.methods[0], args.batch, args.queries)))
        return
    results = []
    for method in args.methods:
        for size in args.sizes:
            done = subprocess.run(
                [sys.executable, __file__, "--one", "--sizes", str(size), "--methods", method, "--batch",
                 str(args.batch), "--queries", str(args.queries), "--out", str(args.out)],
                capture_output=True, text=True,
            )
            if done.returncode:
                raise SystemExit(f"{method} at {size} failed:\n{done.stderr[-3000:]}")
            results.append(json.loads(done.stdout.strip().splitlines()[-1]))
            print(json.dumps(results[-1]), flush=True)
    (args.out / "scale.json").write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
