-- Keys and names of forms no stored article has any more.
delete from entity_form_keys k
where not exists (select 1 from entity_article_forms a
                  where a.surface = k.surface and a.label = k.label and a.person_before = k.person_before);
delete from entity_form_names k
where not exists (select 1 from entity_article_forms a
                  where a.surface = k.surface and a.label = k.label and a.person_before = k.person_before);
