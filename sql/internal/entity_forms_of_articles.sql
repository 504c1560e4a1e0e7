-- The forms (surface, label, person_before) the wanted articles' mentions had when recorded.
select distinct surface, label, person_before
from entity_article_forms
join wanted_articles using (article_id)
