-- Every check returns the offending rows; an empty result means it passed.
select 'duplicate paragraph_id' as problem, paragraph_id as detail from paragraphs group by paragraph_id having count(*) > 1
union all
select 'duplicate article_id', article_id from articles group by article_id having count(*) > 1
union all
select 'duplicate entity_id', entity_id from entities
-- Two runs that first meet an entity at once each add its row; the later one merges them when it ends.
where entity_id not in (select m.entity_id from entity_mentions m join unsettled_articles using (article_id))
group by entity_id having count(*) > 1
