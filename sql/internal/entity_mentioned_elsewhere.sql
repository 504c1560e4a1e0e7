-- Which of the wanted entities stored mentions outside the wanted articles point to.
select distinct m.entity_id
from entity_mentions m
join wanted_entities using (entity_id)
where m.article_id not in (select article_id from wanted_articles)
