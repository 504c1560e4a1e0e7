-- Paragraph search (tasks/search.py): the full-text and the semantic candidates fused by reciprocal rank.
-- fulltext_hits (paragraph_id, bm25) is where the backend's full-text candidates come from, filled in from
-- search_fulltext_<source>.sql: on the single file the BM25 ranking of the tantivy index beside the warehouse
-- (storage/search_index.py), passed in as a frame; on a DuckLake DuckDB's fts index, built at search time.
with fulltext_hits as (
{fulltext_hits}
),
semantic as (
    select paragraph_id, cosine, row_number() over (order by cosine desc, paragraph_id) as semantic_rank
    from (
        select paragraph_id, array_cosine_similarity(embedding, cast($vector as float[{dimension}])) as cosine
        from paragraphs
        order by cosine desc, paragraph_id
        limit $candidates
    )
),
fulltext as (
    select paragraph_id, bm25, row_number() over (order by bm25 desc, paragraph_id) as fulltext_rank
    from (
        select paragraph_id, bm25
        from fulltext_hits
        where bm25 is not null
        order by bm25 desc, paragraph_id
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
