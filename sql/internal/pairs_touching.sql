-- The union of the neighbour lists for every pair with an end in `relinked` (`paragraph_id`), each
-- pair once (a < b): ids and cosine only. The texts (for the lexical overlap) are read afterwards a
-- block of paragraphs at a time (storage/links.py paragraph_texts): joined in here, every pair carried
-- both texts through the aggregate, which outgrew the default memory cap on syndicated copy (issue 31).
with directed as (
    select least(paragraph_id, neighbour_id) as paragraph_id_a, greatest(paragraph_id, neighbour_id) as paragraph_id_b,
           case when paragraph_id < neighbour_id then article_id else neighbour_article_id end as article_id_a,
           case when paragraph_id < neighbour_id then neighbour_article_id else article_id end as article_id_b,
           cosine
    from paragraph_neighbours
    where paragraph_id in (select paragraph_id from relinked) or neighbour_id in (select paragraph_id from relinked)
)
select paragraph_id_a, paragraph_id_b, any_value(article_id_a) as article_id_a,
       any_value(article_id_b) as article_id_b, max(cosine) as cosine
from directed
group by paragraph_id_a, paragraph_id_b
order by 1, 2
