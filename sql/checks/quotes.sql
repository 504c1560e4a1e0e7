select 'quote without paragraph' as problem, q.quote_id as detail from quotes q anti join paragraphs p using (paragraph_id)
union all
select 'quote text does not match its offsets', q.quote_id from quotes q join paragraphs p using (paragraph_id)
where substr(p.text, q.start_char + 1, q.end_char - q.start_char) <> q.text
union all
select 'quote speaker without entity', q.quote_id from quotes q
where q.speaker_entity_id is not null and q.speaker_entity_id not in (select entity_id from entities)
union all
select 'quote link without quote', l.quote_id_a from quote_links l
where l.quote_id_a not in (select quote_id from quotes) or l.quote_id_b not in (select quote_id from quotes)
union all
select 'quote link within one article', l.quote_id_a from quote_links l where l.article_id_a = l.article_id_b
union all
select 'entity mention_count out of date', e.entity_id from entities e
where e.mention_count <> (select count(*) from entity_mentions m where m.entity_id = e.entity_id)
  -- recounted when the run writing them ends
  and e.entity_id not in (select m.entity_id from entity_mentions m join unsettled_articles using (article_id))
