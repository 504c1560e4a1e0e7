-- Links are the union of the neighbour lists (tasks/similarity.py: relink): every list row's paragraphs
-- exist, every link comes from a list, nothing is left queued once a run has finished.
select 'neighbour list row without paragraph' as problem, n.paragraph_id as detail from paragraph_neighbours n
where n.paragraph_id not in (select paragraph_id from paragraphs) or n.neighbour_id not in (select paragraph_id from paragraphs)
union all
select 'link in no neighbour list', l.paragraph_id_a || ' ' || l.paragraph_id_b from paragraph_similarity l
where not exists (select 1 from paragraph_neighbours n where (n.paragraph_id = l.paragraph_id_a and n.neighbour_id = l.paragraph_id_b)
                                                          or (n.paragraph_id = l.paragraph_id_b and n.neighbour_id = l.paragraph_id_a))
union all
select 'paragraph left in the relink queue', paragraph_id from relink_queue
