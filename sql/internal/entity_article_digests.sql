-- The digest of each wanted article's raw mentions (as entity_changed_articles computes it).
select article_id, count(*) as mentions,
       bit_xor(hash(paragraph_id, start_char, end_char, surface, label, word_before)) as digest
from raw_mentions
join wanted_articles using (article_id)
group by article_id
