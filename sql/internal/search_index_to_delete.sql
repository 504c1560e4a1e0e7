-- Paragraphs the full-text index holds that the warehouse no longer does (pruned, replaced or duplicate
-- articles; an edit that left an article fewer paragraphs).
select i.paragraph_id
from search_index.indexed i
anti join paragraphs p on p.paragraph_id = i.paragraph_id
order by i.paragraph_id
