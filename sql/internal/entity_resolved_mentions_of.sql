-- The wanted articles' stored mentions with the label of the entity each points to (entities.RESOLVED_KEY).
select m.article_id, m.paragraph_id, m.start_char, m.end_char, m.surface, m.label,
       m.entity_id, e.label as entity_label
from entity_mentions m
join wanted_articles using (article_id)
left join (select distinct entity_id, label from entities) e using (entity_id)
