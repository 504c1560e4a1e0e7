-- One row per canonical entity with how often and where it is mentioned.
create or replace view entity_summary as
select
    e.entity_id,
    e.canonical_name,
    e.label,
    e.aliases,
    count(m.entity_id) as mention_count,
    count(distinct m.article_id) as article_count
from entities e
left join entity_mentions m using (entity_id)
group by all;
