"""How the flow's other work slows embedding, with the model in a thread of the same process or in a
worker process (`runtime.embedding_worker.EmbeddingWorker`, the flow's default).

Embeds the first N paragraphs of a corpus (blank-line blocks of its files) alone, then beside work that
runs until the embedding is done: the cleaning step (`tasks.cleaning.clean_text` over the corpus's files,
pure Python, as the flow's thread runs between model calls) or spaCy's NER over the same paragraphs.
For each: the embedding's seconds and the work done beside it per second, so neither side's gain is
hidden by the other's loss.

Usage: python bench/embed_contention.py [--corpus DIR] [--paragraphs 1000]
"""

from __future__ import annotations

import argparse
import os
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

from embed_memory import corpus_paragraphs  # noqa: E402

from tasks.cleaning import clean_text  # noqa: E402
from runtime.embedding_worker import embedding_worker, encode_in_worker  # noqa: E402
from tasks.embed import encode_texts, load_model  # noqa: E402
from tasks.entities import load_nlp  # noqa: E402
from tasks.settings import get_settings  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--corpus", type=Path, default=ROOT.parent / "shared" / "corpora" / "bbc")
    parser.add_argument("--paragraphs", type=int, default=1000)
    args = parser.parse_args()
    settings = get_settings()
    model = settings.embedding_model
    texts = corpus_paragraphs(args.corpus, args.paragraphs)
    documents = [path.read_text(errors="replace") for path in sorted(args.corpus.rglob("*.txt"))]
    nlp = load_nlp(settings.spacy_model)
    load_model(model)
    embedding_worker(model)
    encode_texts(texts[:32], model)  # first passes allocate what later ones reuse
    encode_in_worker(texts[:32], model)

    def clean_until(stop: threading.Event) -> int:
        done = 0
        while not stop.is_set():
            clean_text(documents[done % len(documents)])
            done += 1
        return done

    def tag_until(stop: threading.Event) -> int:
        done = 0
        while not stop.is_set():
            for _ in nlp.pipe(texts[:256], batch_size=settings.ner_batch_size):
                done += 1
                if stop.is_set():
                    break
        return done

    embedders: dict[str, Callable[[list[str], str], object]] = {
        "thread": encode_texts, "worker process": encode_in_worker}
    besides: dict[str, Callable[[threading.Event], int] | None] = {
        "alone": None, "beside cleaning": clean_until, "beside NER": tag_until}
    units = {"beside cleaning": "files cleaned/s", "beside NER": "paragraphs tagged/s"}
    print(f"{len(texts)} paragraphs of {args.corpus}")
    for beside_name, beside in besides.items():
        for where, encode in embedders.items():
            stop = threading.Event()
            # The other work runs on this (the main) thread, as in the flow; embedding in a helper thread.
            embedder = threading.Thread(target=lambda: (encode(texts, model), stop.set()))
            started = time.perf_counter()
            embedder.start()
            done = beside(stop) if beside is not None else 0
            embedder.join()
            seconds = time.perf_counter() - started
            rate = f", {done / seconds:.1f} {units[beside_name]}" if beside is not None else ""
            print(f"{beside_name:<16} {where:<15} embedding {seconds:6.1f} s{rate}", flush=True)


if __name__ == "__main__":
    main()
