-- Links are the union of the neighbour lists (tasks/similarity.py: relink): every list row's paragraphs
-- exist, every link comes from a list, nothing is left queued once a run has finished. Over the checked
-- articles (sql/internal/check_scope_*.sql): a link with an end in one of them comes from a list row that
-- names that article, on one side or the other, so its list row is among the checked ones.
select 'neighbour list row without paragraph' as problem, n.paragraph_id as detail
from checked_neighbours n anti join referenced_paragraphs p on p.paragraph_id = n.paragraph_id
union all
select 'neighbour list row without paragraph', n.paragraph_id
from checked_neighbours n anti join referenced_paragraphs p on p.paragraph_id = n.neighbour_id
union all
select 'link in no neighbour list', l.paragraph_id_a || ' ' || l.paragraph_id_b
from checked_links l anti join (
    select paragraph_id as a, neighbour_id as b from checked_neighbours
    union all
    select neighbour_id, paragraph_id from checked_neighbours
) n on n.a = l.paragraph_id_a and n.b = l.paragraph_id_b
union all
select 'paragraph left in the relink queue', paragraph_id from relink_queue
