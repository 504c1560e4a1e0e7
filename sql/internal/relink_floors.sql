-- Per paragraph of `floor_paragraphs` with a neighbour list: its length and its weakest neighbour's cosine
-- (whether a new paragraph enters it, tasks/similarity.py: index_entered_lists). Only the paragraphs a
-- batch's new ones reach are asked for: grouping every list per batch grew with the warehouse.
select paragraph_id, count(*)::integer as n, min(cosine) as floor
from paragraph_neighbours
where paragraph_id in (select paragraph_id from floor_paragraphs)
group by paragraph_id
