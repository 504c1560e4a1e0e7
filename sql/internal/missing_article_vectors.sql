-- Paragraph vectors of the articles without a stored article vector, in reading order.
select p.article_id, p.embedding
from paragraphs p join articles a using (article_id)
anti join article_vectors v using (article_id)
where p.embedding is not null
order by p.article_id, p.position
