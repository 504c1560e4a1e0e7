-- The union of the neighbour lists for every pair with an end in `relinked` (`paragraph_id`), each
-- pair once (a < b), with both texts (for the lexical overlap).
with directed as (
    select least(paragraph_id, neighbour_id) as paragraph_id_a, greatest(paragraph_id, neighbour_id) as paragraph_id_b,
           case when paragraph_id < neighbour_id then article_id else neighbour_article_id end as article_id_a,
           case when paragraph_id < neighbour_id then neighbour_article_id else article_id end as article_id_b,
           cosine
    from paragraph_neighbours
    where paragraph_id in (select paragraph_id from relinked) or neighbour_id in (select paragraph_id from relinked)
)
select d.paragraph_id_a, d.paragraph_id_b, any_value(d.article_id_a) as article_id_a,
       any_value(d.article_id_b) as article_id_b, max(d.cosine) as cosine,
       any_value(pa.text) as text_a, any_value(pb.text) as text_b
from directed d join paragraphs pa on pa.paragraph_id = d.paragraph_id_a
join paragraphs pb on pb.paragraph_id = d.paragraph_id_b
group by d.paragraph_id_a, d.paragraph_id_b
order by 1, 2
