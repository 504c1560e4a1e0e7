-- Quotes and quote links of the checked articles (sql/internal/check_scope_*.sql).
select 'quote without paragraph' as problem, q.quote_id as detail from checked_quotes q anti join referenced_paragraphs p using (paragraph_id)
union all
select 'quote text does not match its offsets', q.quote_id from checked_quotes q join checked_paragraphs p using (paragraph_id)
where substr(p.text, q.start_char + 1, q.end_char - q.start_char) <> q.text
union all
select 'quote speaker without entity', q.quote_id
from checked_quotes q anti join referenced_entities e on e.entity_id = q.speaker_entity_id
where q.speaker_entity_id is not null
union all
select 'quote link without quote', l.quote_id_a from checked_quote_links l anti join referenced_quotes q on q.quote_id = l.quote_id_a
union all
select 'quote link without quote', l.quote_id_a from checked_quote_links l anti join referenced_quotes q on q.quote_id = l.quote_id_b
union all
select 'quote link within one article', l.quote_id_a from checked_quote_links l where l.article_id_a = l.article_id_b
union all
select 'unknown quotes.kind', q.quote_id || ': ' || q.kind from checked_quotes q
where q.kind not in ('direct', 'indirect', 'mixed', 'fragment')
union all
-- fragments are no statements: never linked
select 'quote link to a fragment', l.quote_id_a from checked_quote_links l
join quotes q on q.quote_id in (l.quote_id_a, l.quote_id_b) where q.kind = 'fragment'
union all
-- The entities the checked mentions name (all of them when checking everything); the others' counts add
-- up to the stored mentions (no_orphans.sql).
select 'entity mention_count out of date', e.entity_id
from entities e left join (
    select entity_id, count(*) as n from entity_mentions
    where not getvariable('newsdag_checks_scoped') or entity_id in (select entity_id from checked_mentions)
    group by entity_id
) m using (entity_id)
where (not getvariable('newsdag_checks_scoped') or e.entity_id in (select entity_id from checked_mentions))
  and e.mention_count <> coalesce(m.n, 0)
  -- recounted when the run writing them ends
  and e.entity_id not in (select entity_id from checked_unsettled_entities)
