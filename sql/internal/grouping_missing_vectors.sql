-- Paragraph vectors of the regrouped articles (`regrouped_articles`) without a stored article vector,
-- in reading order (the mean's summation order).
select p.article_id, p.embedding
from paragraphs p
semi join regrouped_articles r using (article_id)
anti join article_vectors v using (article_id)
where p.embedding is not null
order by p.article_id, p.position
