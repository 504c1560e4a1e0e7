select canonical_name as entity, label, mention_count as mentions
from entities
order by mention_count desc, canonical_name
limit 20
