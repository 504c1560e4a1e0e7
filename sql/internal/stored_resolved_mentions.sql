-- Every stored mention with the label of the entity it points to.
select m.article_id, m.paragraph_id, m.start_char, m.end_char, m.surface, m.label,
       m.entity_id, e.label as entity_label
from entity_mentions m
left join (select distinct entity_id, label from entities) e using (entity_id)
