"""Paragraph search: full-text (DuckDB fts, BM25) and semantic (cosine) results fused by reciprocal rank.

One SQL query does it all; every value (the text, the query vector, limits) is a parameter.
"""

from __future__ import annotations

import numpy as np

# Reciprocal rank fusion (Cormack et al. 2009): score = sum over rankings of 1 / (RRF_K + rank).
RRF_K = 60
# Candidates taken from each ranking before fusing.
CANDIDATES = 50

_SEARCH_SQL = """\
with semantic as (
    select paragraph_id, cosine, row_number() over (order by cosine desc, paragraph_id) as semantic_rank
    from (
        select paragraph_id, array_cosine_similarity(embedding, cast($vector as float[{dimension}])) as cosine
        from paragraphs
        order by cosine desc
        limit $candidates
    )
),
fulltext as (
    select paragraph_id, bm25, row_number() over (order by bm25 desc, paragraph_id) as fulltext_rank
    from (
        select paragraph_id, fts_main_paragraphs.match_bm25(paragraph_id, $text) as bm25
        from paragraphs
        where bm25 is not null
        order by bm25 desc
        limit $candidates
    )
),
fused as (
    select
        paragraph_id,
        s.cosine,
        f.bm25,
        coalesce(1.0 / ($rrf_k + s.semantic_rank), 0) + coalesce(1.0 / ($rrf_k + f.fulltext_rank), 0) as score
    from semantic s
    full outer join fulltext f using (paragraph_id)
)
select
    round(fused.score, 5) as score,
    round(fused.cosine, 3) as cosine,
    round(fused.bm25, 3) as bm25,
    coalesce(a.publisher, a.wire_source, a.source_path) as outlet,
    a.title,
    p.paragraph_id,
    p.text
from fused
join paragraphs p using (paragraph_id)
join articles a using (article_id)
order by fused.score desc, fused.cosine desc nulls last, p.paragraph_id
limit $limit
"""


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


def search_sql(dimension: int) -> str:
    """The search query for a warehouse of `dimension`-sized embeddings (a type, not a value)."""
    return _SEARCH_SQL.replace("{dimension}", str(int(dimension)))


def search_params(text: str, vector: np.ndarray, limit: int, candidates: int = CANDIDATES) -> dict[str, object]:
    return {
        "text": text,
        "vector": [float(x) for x in np.asarray(vector, dtype=np.float32)],
        "candidates": max(int(candidates), int(limit)),
        "rrf_k": RRF_K,
        "limit": int(limit),
    }
