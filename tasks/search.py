"""Paragraph search: full-text (DuckDB fts, BM25) and semantic (cosine) results fused by reciprocal rank.

One SQL query does it all (sql/internal/search_paragraphs.sql); every value (the text, the query vector,
limits) is a parameter.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

# Reciprocal rank fusion (Cormack et al. 2009): score = sum over rankings of 1 / (RRF_K + rank).
RRF_K = 60
# Candidates taken from each ranking before fusing.
CANDIDATES = 50


class SearchTextError(ValueError):
    """A search text that cannot be searched for (empty, or not text at all)."""


def checked_text(text: str) -> str:
    """The search text, if it is one: bytes that are not UTF-8 reach Python's argv as lone surrogates,
    which the tokenizer refuses with a type error; an empty text would rank every paragraph alike and
    return arbitrary rows."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise SearchTextError("the search text is not valid UTF-8: give it as UTF-8 text "
                              "(check the terminal's or the script's encoding)") from None
    if not text.strip():
        raise SearchTextError("the search text is empty: give the words or the sentence to look for")
    return text


def search_sql(sql_dir: Path, dimension: int) -> str:
    """The search query for a warehouse of `dimension`-sized embeddings (a type, not a value)."""
    query = (sql_dir / "internal" / "search_paragraphs.sql").read_text()
    return query.replace("{dimension}", str(int(dimension)))


def search_params(text: str, vector: np.ndarray, limit: int, candidates: int = CANDIDATES) -> dict[str, object]:
    return {
        "text": text,
        "vector": [float(x) for x in np.asarray(vector, dtype=np.float32)],
        "candidates": max(int(candidates), int(limit)),
        "rrf_k": RRF_K,
        "limit": int(limit),
    }
