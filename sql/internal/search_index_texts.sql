-- The texts of the paragraphs to index (search_index_add: paragraph_id), read in batches.
select p.paragraph_id, p.text
from paragraphs p
semi join search_index_add a on a.paragraph_id = p.paragraph_id
