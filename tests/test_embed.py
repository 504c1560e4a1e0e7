"""Embedding with the real packaged model: each distinct text encoded once, cached vectors reused."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest

from tasks.embed import (
    ATTENTION_BUDGET, TOKEN_BUDGET, attach_embeddings, embed_texts, encode_texts, length_batches, load_model,
)
from tasks.paragraphs import text_hash
from tasks.settings import get_settings

pytestmark = pytest.mark.slow  # loads the real model

SETTINGS = get_settings()


def texts_frame(*texts: str) -> pl.DataFrame:
    return pl.DataFrame({"text_sha256": [text_hash(t) for t in texts], "text": list(texts)})


def test_each_distinct_text_is_embedded_once_and_cached_vectors_are_reused() -> None:
    said = "The minister said the talks had been useful."
    texts = texts_frame(said, "Rain is expected across the north tomorrow.", said)
    marker = np.zeros(SETTINGS.embedding_dim, dtype=np.float32)
    marker[0] = 1.0  # no model gives this vector for a sentence: it can only come from the cache
    cache = pl.DataFrame({"text_sha256": [text_hash("Rain is expected across the north tomorrow."), "unrelated"],
                          "embedding": [marker, marker]}).with_columns(
        pl.col("embedding").cast(pl.Array(pl.Float32, SETTINGS.embedding_dim)))

    vectors = embed_texts(texts, cache, SETTINGS.embedding_model, SETTINGS.embedding_dim)

    assert sorted(vectors["text_sha256"].to_list()) == sorted({text_hash(said), text_hash(texts["text"][1])})
    by_hash = dict(zip(vectors["text_sha256"].to_list(), vectors["embedding"].to_numpy()))
    assert np.array_equal(by_hash[texts["text_sha256"][1]], marker)
    encoded = by_hash[text_hash(said)]
    assert encoded.shape == (SETTINGS.embedding_dim,) and np.linalg.norm(encoded) == pytest.approx(1.0, abs=1e-5)

    paragraphs = texts.with_columns(paragraph_id=pl.Series(["p0", "p1", "p2"]))
    attached = attach_embeddings(paragraphs, vectors, SETTINGS.embedding_model)
    assert attached["paragraph_id"].to_list() == ["p0", "p1", "p2"]
    assert np.array_equal(attached["embedding"][0].to_numpy(), attached["embedding"][2].to_numpy())


def test_a_model_of_another_size_than_the_warehouse_is_refused() -> None:
    cache = pl.DataFrame(schema={"text_sha256": pl.String, "embedding": pl.Array(pl.Float32, 512)})
    with pytest.raises(ValueError, match="384-dimensional embeddings but the warehouse expects 512"):
        embed_texts(texts_frame("One sentence to embed."), cache, SETTINGS.embedding_model, 512)


def test_long_texts_go_in_smaller_batches_and_each_text_keeps_its_own_vector() -> None:
    texts = [f"Short note number {n}." for n in range(300)] + [f"{n} " + "a long paragraph of news " * 60 for n in range(20)]
    batches = length_batches(texts, batch_size=256, max_tokens=256)
    assert sorted(i for batch in batches for i in batch) == list(range(len(texts)))
    assert max(len(batch) for batch in batches) == 256  # short texts: the configured batch size
    for batch in batches:
        longest = max(min(256, len(texts[i]) // 4 + 2) for i in batch)
        assert len(batch) == 1 or len(batch) * longest ** 2 <= ATTENTION_BUDGET
        assert len(batch) == 1 or len(batch) * longest <= TOKEN_BUDGET
    assert any(len(batch) < 20 for batch in batches if all(i >= 300 for i in batch))

    vectors = encode_texts(texts, SETTINGS.embedding_model)
    plain = load_model(SETTINGS.embedding_model).encode(texts, batch_size=64, normalize_embeddings=True)
    assert np.allclose(vectors, plain, atol=1e-5)  # the same vectors, row for row
