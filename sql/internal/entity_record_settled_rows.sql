-- The wanted entities' rows as settled now (and none for entities gone).
delete from entity_settled_rows
where entity_id in (select entity_id from wanted_entities) or entity_id not in (select entity_id from entities);
insert into entity_settled_rows
select entity_id, hash(canonical_name, label, aliases, mention_count)
from entities
join wanted_entities using (entity_id);
