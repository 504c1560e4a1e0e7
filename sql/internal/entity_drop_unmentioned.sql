-- Entities no stored mention points to (a settled resolution has none).
delete from entities where entity_id not in (select entity_id from entity_mentions)
