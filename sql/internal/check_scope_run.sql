-- What a run's data checks examine (storage/derived.py: run_checks, scoped to the run): the articles loaded by
-- the checking run (getvariable('newsdag_checking_run')) and by the runs since the last completed one that did
-- not complete (crashed, interrupted or failed: theirs were never checked), the articles of files this run
-- found duplicate or empty (deleted: nothing of them may remain), and every row hanging off those articles.
-- Paragraphs are reached by their ids (<article_id>-<position>, tasks/paragraphs.py): one pass over the id
-- column (no key: storage/schema.KEYED_TABLES), texts and vectors read for these articles only; the other
-- tables by article id.
-- check_scope_all.sql makes the same relations over everything.
create or replace temp table checked_runs as
select run_id, started_at from runs
where run_id = getvariable('newsdag_checking_run')
   or (status in ('crashed', 'interrupted', 'failed')
       and started_at > coalesce((select max(started_at) from runs where status = 'completed'), '-infinity'::timestamp));

create or replace temp table checked_article_ids as
select article_id from articles
where run_id in (select run_id from checked_runs)
  -- a run's articles were appended while it ran: the zone maps skip the row groups of earlier runs
  and ingested_at >= (select min(started_at) from checked_runs)
union
select left(sha256(source_path), 16) from ingest_files  -- their article ids (tasks/ingest.py: article_id_for)
where run_id = getvariable('newsdag_checking_run') and status in ('duplicate', 'empty');

create or replace temp table checked_articles as
select article_id, n_paragraphs from articles where article_id in (select article_id from checked_article_ids);

create or replace temp table checked_paragraphs as
select paragraph_id, article_id, text, embedding is null as no_embedding from paragraphs
where paragraph_id in (select printf('%s-%04d', article_id, unnest(range(n_paragraphs))) from checked_articles);

create or replace temp table checked_mentions as
select * from entity_mentions where article_id in (select article_id from checked_article_ids);

create or replace temp table checked_quotes as
select quote_id, article_id, paragraph_id, start_char, end_char, text, kind, speaker_entity_id from quotes
where article_id in (select article_id from checked_article_ids);

create or replace temp table checked_quote_links as
select * from quote_links
where article_id_a in (select article_id from checked_article_ids) or article_id_b in (select article_id from checked_article_ids);

create or replace temp table checked_links as
select * from paragraph_similarity
where article_id_a in (select article_id from checked_article_ids) or article_id_b in (select article_id from checked_article_ids);

create or replace temp table checked_neighbours as
select * from paragraph_neighbours
where article_id in (select article_id from checked_article_ids) or neighbour_article_id in (select article_id from checked_article_ids);

create or replace temp table checked_removed_spans as
select article_id, start_char from removed_spans where article_id in (select article_id from checked_article_ids);

-- Entities with mentions of another run still writing (a DuckLake's): counted and merged when it ends.
-- (Those articles first, usually none: an empty side of the join spares reading every mention.)
create or replace temp table checked_unsettled_articles as select article_id from unsettled_articles;

create or replace temp table checked_unsettled_entities as
select distinct m.entity_id from entity_mentions m join checked_unsettled_articles using (article_id);

-- The stored rows the checked rows name (their parents), looked up by id: a parent missing from these is
-- missing from the warehouse. (A pass over the id column alone; an anti join with the whole table would
-- read every one of its rows.)
create or replace temp table referenced_paragraphs as
select paragraph_id from paragraphs where paragraph_id in (
    select paragraph_id from checked_mentions union select paragraph_id from checked_quotes
    union select paragraph_id_a from checked_links union select paragraph_id_b from checked_links
    union select paragraph_id from checked_neighbours union select neighbour_id from checked_neighbours);

create or replace temp table referenced_articles as
select article_id from articles where article_id in (
    select article_id from checked_paragraphs union select article_id from checked_removed_spans);

create or replace temp table referenced_entities as
select entity_id from entities where entity_id in (
    select entity_id from checked_mentions union select speaker_entity_id from checked_quotes);

create or replace temp table referenced_quotes as
select quote_id from quotes where quote_id in (
    select quote_id_a from checked_quote_links union select quote_id_b from checked_quote_links);
