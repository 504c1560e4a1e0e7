-- Each stored paragraph's key in the HNSW index file, for those stored before paragraphs.index_key:
-- the same number tasks/similarity.paragraph_key gives new ones (63 bits of the id's MD5).
update paragraphs set index_key = md5_number_upper(paragraph_id) >> 1 where index_key is null
