-- The wanted forms that have no recorded keys yet.
select distinct surface, label, person_before
from wanted_forms f
where not exists (select 1 from entity_form_keys k
                  where k.surface = f.surface and k.label = f.label and k.person_before = f.person_before)
