"""The model-only ceiling: the paragraphs a run embedded and tagged, through the same models in a bare loop
(and, timed apart, the quotes it embedded). Then the same model work with embedding in the worker process
beside NER, as the flow runs it: the stricter floor, since a sequential loop leaves CPU idle that the
flow uses.

Usage: python bench/model_ceiling.py --warehouse FILE  (prints JSON)
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

import duckdb  # noqa: E402

from runtime.embedding_worker import embedding_worker, encode_in_worker  # noqa: E402
from tasks.embed import encode_texts, load_model  # noqa: E402
from tasks.entities import load_nlp  # noqa: E402
from tasks.settings import get_settings  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--warehouse", type=Path, required=True)
    args = parser.parse_args()
    settings = get_settings()
    with duckdb.connect(str(args.warehouse), read_only=True) as con:
        texts = [row[0] for row in con.execute("select text from paragraphs order by paragraph_id").fetchall()]
        quote_texts = [row[0] for row in con.execute("select text from quotes order by quote_id").fetchall()]
    distinct = list(dict.fromkeys(texts))  # the pipeline embeds each distinct text once

    started = time.perf_counter()
    load_model(settings.embedding_model, settings.embedding_device)
    nlp = load_nlp(settings.spacy_model)
    load_seconds = time.perf_counter() - started

    started = time.perf_counter()
    encode_texts(distinct, settings.embedding_model, settings.embedding_device, settings.embedding_batch_size)
    embed_seconds = time.perf_counter() - started

    started = time.perf_counter()
    for _ in nlp.pipe(texts, batch_size=settings.ner_batch_size):
        pass
    ner_seconds = time.perf_counter() - started

    # Quote embeddings (for linking one statement across outlets) are model work the ceiling
    # leaves out; timed separately so both ratios can be reported.
    quote_only = [text for text in dict.fromkeys(quote_texts) if text not in set(distinct)]
    started = time.perf_counter()
    encode_texts(quote_only, settings.embedding_model, settings.embedding_device, settings.embedding_batch_size)
    quote_embed_seconds = time.perf_counter() - started

    # The same work overlapped: one encode call over paragraphs and quotes (as the flow batches them)
    # in the embedding worker process (started and timed apart), NER in this one.
    started = time.perf_counter()
    embedding_worker(settings.embedding_model, settings.embedding_device)
    worker_start_seconds = time.perf_counter() - started
    started = time.perf_counter()
    embedder = threading.Thread(target=encode_in_worker, args=(
        list(dict.fromkeys(distinct + quote_texts)), settings.embedding_model, settings.embedding_device,
        settings.embedding_batch_size))
    embedder.start()
    for _ in nlp.pipe(texts, batch_size=settings.ner_batch_size):
        pass
    embedder.join()
    concurrent_seconds = time.perf_counter() - started

    print(json.dumps({
        "paragraphs": len(texts),
        "distinct_paragraphs": len(distinct),
        "model_load_seconds": round(load_seconds, 2),
        "embed_seconds": round(embed_seconds, 2),
        "ner_seconds": round(ner_seconds, 2),
        "ceiling_seconds": round(load_seconds + embed_seconds + ner_seconds, 2),
        "quotes": len(quote_texts),
        "distinct_quotes": len(quote_only),
        "quote_embed_seconds": round(quote_embed_seconds, 2),
        "worker_start_seconds": round(worker_start_seconds, 2),
        "concurrent_seconds": round(concurrent_seconds, 2),
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
    }))


if __name__ == "__main__":
    main()
