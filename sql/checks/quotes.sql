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
  -- On a DuckLake, a run still writing recounts the entities it shares with other runs when it ends:
  -- only entities no such run mentions must be up to date (getvariable: the checking run).
  and e.entity_id not in (
      select m.entity_id from entity_mentions m join articles a using (article_id) join runs r using (run_id)
      where r.status = 'running' and r.run_id is distinct from getvariable('newsdag_checking_run'))
