-- Any topic or story id ever given out -> the id that holds its articles now (follows chains of merges):
-- `select current_id from cluster_id_map where level = 'story' and old_id = ?`.
create or replace view cluster_id_map as
with recursive chain(level, old_id, current_id, depth) as (
    select 'topic', topic_id, topic_id, 0 from topics
    union all
    select 'story', story_id, story_id, 0 from stories
    union all
    select m.level, m.absorbed_id, c.current_id, c.depth + 1
    from cluster_merges m
    join chain c on c.level = m.level and c.old_id = m.survivor_id
    where c.depth < 1000
)
select level, old_id, current_id from chain;
