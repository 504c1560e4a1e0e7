-- Rows of the checked articles (sql/internal/check_scope_*.sql) whose parent is missing. Checked for a run
-- only, rows orphaned elsewhere still show in the stored counts (getvariable('newsdag_checks_scoped')):
-- every paragraph is counted in its article's n_paragraphs, every mention in its entity's mention_count.
select 'paragraph without article' as problem, p.paragraph_id as detail
from checked_paragraphs p anti join referenced_articles a using (article_id)
union all
select 'mention without paragraph', m.paragraph_id from checked_mentions m anti join referenced_paragraphs p using (paragraph_id)
union all
select 'mention without entity', m.entity_id from checked_mentions m anti join referenced_entities e using (entity_id)
union all
select 'entity without mention', e.entity_id
from entities e anti join (
    -- (the filter inside too: scoped, the plan then reads no mention at all)
    select entity_id from entity_mentions where not getvariable('newsdag_checks_scoped')
) m using (entity_id)
where not getvariable('newsdag_checks_scoped')
union all
select 'entity without mention', entity_id from entities where mention_count = 0 and getvariable('newsdag_checks_scoped')
union all
-- (each end on its own: a join on either end would compare every link with every paragraph; the
-- referenced_* relations are the stored parents the checked rows name, looked up by key)
select 'link without paragraph', s.paragraph_id_a from checked_links s anti join referenced_paragraphs p on p.paragraph_id = s.paragraph_id_a
union all
select 'link without paragraph', s.paragraph_id_a from checked_links s anti join referenced_paragraphs p on p.paragraph_id = s.paragraph_id_b
union all
select 'removed span without article', r.article_id from checked_removed_spans r anti join referenced_articles a using (article_id)
union all
select 'article with wrong paragraph count', a.article_id
from checked_articles a left join (select article_id, count(*) as n from checked_paragraphs group by article_id) p using (article_id)
where a.n_paragraphs <> coalesce(p.n, 0)
union all
select 'stored paragraphs differ from the articles'' n_paragraphs', stored || ' stored, ' || counted || ' counted'
from (select (select count(*) from paragraphs) as stored, (select coalesce(sum(n_paragraphs), 0) from articles) as counted)
where getvariable('newsdag_checks_scoped') and stored <> counted
union all
select 'stored mentions differ from the entities'' mention_count', stored || ' stored, ' || counted || ' counted'
from (select (select count(*) from entity_mentions) as stored, (select coalesce(sum(mention_count), 0) from entities) as counted)
-- another run's mentions are counted when it ends
where getvariable('newsdag_checks_scoped') and stored <> counted and not exists (select 1 from unsettled_articles)
