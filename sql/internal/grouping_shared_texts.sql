-- Every paragraph whose text is also a paragraph of a changed article (`changed_articles`): identical
-- texts link their articles as copies (tasks/stories.identical_paragraph_links counts their articles).
select paragraph_id, article_id, text_sha256
from paragraphs
where text_sha256 in (select p.text_sha256 from paragraphs p semi join changed_articles c using (article_id))
