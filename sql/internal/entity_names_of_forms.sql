-- The full names (with their transliteration bucket) the wanted forms may give a person.
select distinct name, bucket
from entity_form_names
join wanted_forms using (surface, label, person_before)
