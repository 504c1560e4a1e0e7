-- Paragraphs the full-text index lacks, or holds with another text (an edited article keeps its paragraph
-- ids with new text): a scan of two narrow columns each side; the texts are read afterwards, for these only.
select p.paragraph_id, p.text_sha256
from paragraphs p
anti join search_index.indexed i on i.paragraph_id = p.paragraph_id and i.text_sha256 = p.text_sha256
order by p.paragraph_id
