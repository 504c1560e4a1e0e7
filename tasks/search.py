"""Paragraph search: full-text (BM25) and semantic (cosine) results fused by reciprocal rank.

One SQL query fuses them (sql/internal/search_paragraphs.sql); every value (the text, the query vector,
limits) is a parameter. Where the full-text candidates come from is the backend's (`Backend.fulltext_source`):
the single file's tantivy index beside it (storage/search_index.py), or DuckDB's fts index that a DuckLake's
search builds in memory.
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


# Where the full-text candidates (paragraph_id, bm25) come from: sql/internal/search_fulltext_<source>.sql.
FULLTEXT_SOURCES = ("fts", "index")


def search_sql(sql_dir: Path, dimension: int, fulltext_source: str = "fts") -> str:
    """The search query for a warehouse of `dimension`-sized embeddings (a type, not a value), its
    full-text candidates from `fulltext_source` (one of FULLTEXT_SOURCES)."""
    if fulltext_source not in FULLTEXT_SOURCES:
        raise ValueError(f"unknown full-text source {fulltext_source!r}")
    internal = sql_dir / "internal"
    fulltext = (internal / f"search_fulltext_{fulltext_source}.sql").read_text().rstrip()
    query = (internal / "search_paragraphs.sql").read_text()
    return query.replace("{fulltext_hits}", fulltext).replace("{dimension}", str(int(dimension)))


def search_params(text: str, vector: np.ndarray, limit: int, candidates: int = CANDIDATES) -> dict[str, object]:
    return {
        "text": text,
        "vector": [float(x) for x in np.asarray(vector, dtype=np.float32)],
        "candidates": max(int(candidates), int(limit)),
        "rrf_k": RRF_K,
        "limit": int(limit),
    }
