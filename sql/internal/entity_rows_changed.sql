-- Entities whose row differs from the one the last settling left (a batch's provisional resolution
-- made one, renamed it, gave it an alias or a mention): their names lead to the partitions to settle again.
select e.entity_id, e.canonical_name, e.aliases
from entities e
left join entity_settled_rows s using (entity_id)
where s.digest is distinct from hash(e.canonical_name, e.label, e.aliases, e.mention_count)
