-- The recorded first-name edges of the wanted articles.
select key_a, key_b
from entity_article_edges
join wanted_articles using (article_id)
