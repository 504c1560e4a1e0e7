-- Every check returns the offending rows; an empty result means it passed.
select 'duplicate paragraph_id' as problem, paragraph_id as detail from paragraphs group by paragraph_id having count(*) > 1
union all
select 'duplicate article_id', article_id from articles group by article_id having count(*) > 1
union all
select 'duplicate entity_id', entity_id from entities
-- On a DuckLake, two runs that first meet an entity at once each add its row; the later one's end-of-run
-- step merges them: only entities no other run still writing mentions must be single already.
where entity_id not in (
    select m.entity_id from entity_mentions m join articles a using (article_id) join runs r using (run_id)
    where r.status = 'running' and r.run_id is distinct from getvariable('newsdag_checking_run'))
group by entity_id having count(*) > 1
