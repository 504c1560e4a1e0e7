-- entities.mention_count = the entity's rows in entity_mentions, for the entities in `touched_entities`.
update entities set mention_count = coalesce(
    (select count(*) from entity_mentions m where m.entity_id = entities.entity_id), 0)
where entity_id in (select entity_id from touched_entities)
