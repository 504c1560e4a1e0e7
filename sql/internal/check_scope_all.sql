-- What the data checks examine when they check everything (`newsdag check --all`, a warehouse whose checks
-- changed, tests): the relations of check_scope_run.sql over every stored row.
create or replace temp view checked_articles as select article_id, n_paragraphs from articles;
create or replace temp view checked_paragraphs as
select paragraph_id, article_id, text, embedding is null as no_embedding from paragraphs;
create or replace temp view checked_mentions as select * from entity_mentions;
create or replace temp view checked_quotes as
select quote_id, article_id, paragraph_id, start_char, end_char, text, kind, speaker_entity_id from quotes;
create or replace temp view checked_quote_links as select * from quote_links;
create or replace temp view checked_links as select * from paragraph_similarity;
create or replace temp view checked_neighbours as select * from paragraph_neighbours;
create or replace temp view checked_removed_spans as select article_id, start_char from removed_spans;
-- Entities with mentions of another run still writing (a DuckLake's): counted and merged when it ends.
create or replace temp view checked_unsettled_entities as
select distinct m.entity_id from entity_mentions m join unsettled_articles using (article_id);
-- The stored rows the checked rows may name (check_scope_run.sql): all of them.
create or replace temp view referenced_paragraphs as select paragraph_id from paragraphs;
create or replace temp view referenced_articles as select article_id from articles;
create or replace temp view referenced_entities as select entity_id from entities;
create or replace temp view referenced_quotes as select quote_id from quotes;
