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
