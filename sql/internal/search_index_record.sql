-- What the full-text index holds now, after its commit (one transaction): the changed paragraphs'
-- rows replaced (search_index_changed: paragraph_id, added and deleted) by the added ones' (search_index_add).
delete from search_index.indexed where paragraph_id in (select paragraph_id from search_index_changed);
insert into search_index.indexed select paragraph_id, text_sha256 from search_index_add;
