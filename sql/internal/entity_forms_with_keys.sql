-- The recorded forms that have any of the wanted keys.
select distinct surface, label, person_before
from entity_form_keys
join wanted_keys using (key)
