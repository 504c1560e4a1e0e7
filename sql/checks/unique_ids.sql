-- Every check returns the offending rows; an empty result means it passed.
select 'duplicate paragraph_id' as problem, paragraph_id as detail from paragraphs group by paragraph_id having count(*) > 1
union all
select 'duplicate article_id', article_id from articles group by article_id having count(*) > 1
union all
select 'duplicate entity_id', entity_id from entities group by entity_id having count(*) > 1
