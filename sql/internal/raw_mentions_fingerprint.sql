-- An order-free digest of every stored raw mention: (count, xor of row hashes).
select count(*),
       coalesce(bit_xor(hash(article_id, paragraph_id, start_char, end_char, surface, label, word_before)), 0)
from raw_mentions
