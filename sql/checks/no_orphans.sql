select 'paragraph without article' as problem, p.paragraph_id as detail
from paragraphs p anti join articles a using (article_id)
union all
select 'mention without paragraph', m.paragraph_id from entity_mentions m anti join paragraphs p using (paragraph_id)
union all
select 'mention without entity', m.entity_id from entity_mentions m anti join entities e using (entity_id)
union all
select 'entity without mention', e.entity_id from entities e anti join entity_mentions m using (entity_id)
union all
select 'link without paragraph', s.paragraph_id_a from paragraph_similarity s
where s.paragraph_id_a not in (select paragraph_id from paragraphs) or s.paragraph_id_b not in (select paragraph_id from paragraphs)
union all
select 'removed span without article', r.article_id from removed_spans r anti join articles a using (article_id)
union all
select 'article with wrong paragraph count', a.article_id from articles a
where a.n_paragraphs <> (select count(*) from paragraphs p where p.article_id = a.article_id)
