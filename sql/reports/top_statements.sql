-- The paragraphs linked to the most other outlets: statements carried across outlets.
select
    p.paragraph_id,
    coalesce(a.publisher, a.wire_source, a.source_path) as outlet,
    left(p.text, 160) as statement,
    count(distinct case when s.article_id_a = p.article_id then s.article_id_b else s.article_id_a end) as linked_articles
from paragraph_similarity s
join paragraphs p on p.paragraph_id in (s.paragraph_id_a, s.paragraph_id_b)
join articles a on a.article_id = p.article_id
group by all
order by linked_articles desc, p.paragraph_id
limit 10
