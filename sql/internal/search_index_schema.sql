-- The single file's full-text index (storage/search_index.py) is a tantivy index in `<warehouse>.search/`;
-- this table, in a schema of its own as DuckDB's fts index kept its tables, records what that index holds:
-- each paragraph it was last given, with the hash of the text it was given. What to add, replace and delete
-- is this table against `paragraphs` (search_index_to_add.sql, search_index_to_delete.sql). Only the single
-- file has it (a DuckLake's search builds DuckDB's fts index in memory), so it is not in schema.sql, which
-- both backends take and whose tables they are compared by.
create schema if not exists search_index;
create table if not exists search_index.indexed (
    paragraph_id varchar not null,           -- one row per paragraph (the index holds one document each)
    text_sha256  varchar not null            -- paragraphs.text_sha256 of the text indexed
);
-- DuckDB's fts index, which this replaced (rebuilt over every paragraph at each run): its tables, gone.
drop schema if exists fts_main_paragraphs cascade;
