"""Memory and time of embedding, batch after batch, under an allocator setting: the paragraphs of a corpus
(blank-line blocks of its files, in file order) through `encode_texts`, 1,200 at a time, printing the
process's peak and current resident memory, the heap's free memory and the seconds taken after each batch.

  (no option)            as the flow runs: free heap memory returned as it builds up (`runtime.heap`)
  --keep-free-heap       glibc as it comes
  --mapped-block-kb N    glibc as it comes, but blocks of N KB and up in their own mappings
                         (`mallopt(M_MMAP_THRESHOLD)`), the alternative `runtime.heap` was chosen over

  --budget-scale F       the embedding batches' budgets (tasks.embed.ATTENTION_BUDGET, TOKEN_BUDGET) times F

Usage: python bench/embed_memory.py [--corpus DIR] [--keep-free-heap | --mapped-block-kb 4096] [--batches 4]
                                    [--budget-scale 2]
"""

from __future__ import annotations

import argparse
import ctypes
import ctypes.util
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

import tasks.embed  # noqa: E402
from tasks.embed import encode_texts, load_model  # noqa: E402
from runtime.heap import free_heap_bytes, peak_rss_mb, resident_bytes  # noqa: E402
from tasks.settings import get_settings  # noqa: E402

_M_MMAP_THRESHOLD = -3  # glibc's mallopt parameter


def corpus_paragraphs(corpus: Path, limit: int) -> list[str]:
    texts: list[str] = []
    for path in sorted(corpus.rglob("*.txt")):
        texts.extend(block.strip() for block in path.read_text(errors="replace").split("\n\n") if block.strip())
        if len(texts) >= limit:
            break
    return texts[:limit]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--corpus", type=Path, default=ROOT.parent / "shared" / "corpora" / "bbc")
    setting = parser.add_mutually_exclusive_group()
    setting.add_argument("--keep-free-heap", action="store_true")
    setting.add_argument("--mapped-block-kb", type=int, default=0)
    parser.add_argument("--batches", type=int, default=4)
    parser.add_argument("--batch-size", type=int, default=1200)
    parser.add_argument("--budget-scale", type=float, default=1.0)
    args = parser.parse_args()
    tasks.embed.ATTENTION_BUDGET = int(tasks.embed.ATTENTION_BUDGET * args.budget_scale)
    tasks.embed.TOKEN_BUDGET = int(tasks.embed.TOKEN_BUDGET * args.budget_scale)
    if args.keep_free_heap or args.mapped_block_kb:
        tasks.embed.release_free_heap = lambda: False  # type: ignore[assignment]
    if args.mapped_block_kb:
        ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6").mallopt(_M_MMAP_THRESHOLD, args.mapped_block_kb * 1024)
    label = ("glibc as it comes" if args.keep_free_heap else f"blocks >= {args.mapped_block_kb} KB mapped"
             if args.mapped_block_kb else "free heap returned (as the flow)")
    model = get_settings().embedding_model
    load_model(model)
    texts = corpus_paragraphs(args.corpus, args.batches * args.batch_size)
    encode_texts(texts[:32], model)  # the first pass allocates what every later one reuses
    print(f"model loaded: resident {resident_bytes() // 2**20} MB; budgets x{args.budget_scale:g}", flush=True)
    started = time.perf_counter()
    for number in range(args.batches):
        encode_texts(texts[number * args.batch_size:(number + 1) * args.batch_size], model)
        print(f"batch {number + 1}: peak {peak_rss_mb()} MB, resident {resident_bytes() // 2**20} MB, "
              f"heap free {(free_heap_bytes() or 0) // 2**20} MB, {time.perf_counter() - started:.1f} s", flush=True)
    print(f"{label}: {len(texts)} paragraphs in {time.perf_counter() - started:.1f} s")


if __name__ == "__main__":
    main()
