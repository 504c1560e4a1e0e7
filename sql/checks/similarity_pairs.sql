select 'link within one article' as problem, paragraph_id_a as detail from paragraph_similarity where article_id_a = article_id_b
union all
select 'link not stored once (a >= b)', paragraph_id_a from paragraph_similarity where paragraph_id_a >= paragraph_id_b
union all
select 'cosine out of range', paragraph_id_a from paragraph_similarity where cosine < -1.0001 or cosine > 1.0001
