-- The links of the checked articles (sql/internal/check_scope_*.sql).
select 'link within one article' as problem, paragraph_id_a as detail from checked_links where article_id_a = article_id_b
union all
select 'link not stored once (a >= b)', paragraph_id_a from checked_links where paragraph_id_a >= paragraph_id_b
union all
select 'cosine out of range', paragraph_id_a from checked_links where cosine < -1.0001 or cosine > 1.0001
union all
select 'lexical overlap out of range', paragraph_id_a from checked_links where lexical_overlap < 0 or lexical_overlap > 1.0001
