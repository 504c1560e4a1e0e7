-- The paragraph links with an end in a changed article (`changed_articles`): the article pairs whose
-- similarity rows are computed again.
select paragraph_id_a, paragraph_id_b, article_id_a, article_id_b, cosine, kind
from paragraph_similarity
where article_id_a in (select article_id from changed_articles)
   or article_id_b in (select article_id from changed_articles)
