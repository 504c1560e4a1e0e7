-- The digest of a set of paragraphs (storage/paragraph_index.py): the sum of its entries' hashes, an entry
-- being a paragraph and the text its vector embeds; `digest_entries` (paragraph_id, text_sha256, added)
-- adds an entry's hash when added and subtracts it when removed. The caller takes it modulo 2^64.
select coalesce(sum(md5_number_upper(paragraph_id || ' ' || text_sha256)::hugeint
                    * (case when added then 1 else -1 end)), 0)::varchar
from digest_entries
