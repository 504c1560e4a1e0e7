-- Every key of the wanted forms, and the first-name edges' other ends of those keys.
select key
from entity_form_keys
join wanted_forms using (surface, label, person_before)
union
select e.key_b from entity_article_edges e join entity_form_keys k on e.key_a = k.key
join wanted_forms using (surface, label, person_before)
union
select e.key_a from entity_article_edges e join entity_form_keys k on e.key_b = k.key
join wanted_forms using (surface, label, person_before)
