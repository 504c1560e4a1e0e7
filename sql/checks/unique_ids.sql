-- Every check returns the offending rows; an empty result means it passed. Checks read the checked_*
-- relations (sql/internal/check_scope_*.sql): the rows of the articles the run changed, or every row.
-- Neither backend keys these tables (storage/schema.KEYED_TABLES): loads delete an article's rows before
-- inserting them, and this checks it.
select 'duplicate paragraph_id' as problem, paragraph_id as detail from checked_paragraphs group by paragraph_id having count(*) > 1
union all
select 'duplicate article_id', article_id from checked_articles group by article_id having count(*) > 1
union all
-- Entities are settled over the whole warehouse each run: checked whole (one narrow column).
select 'duplicate entity_id', entity_id from entities
-- Two runs that first meet an entity at once each add its row; the later one merges them when it ends.
where entity_id not in (select entity_id from checked_unsettled_entities)
group by entity_id having count(*) > 1
