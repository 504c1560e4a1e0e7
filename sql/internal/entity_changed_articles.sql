-- Articles whose raw mentions differ from those their entity partitions were recorded for (added,
-- changed or deleted since): each article's digest of its raw mentions now against the recorded one.
with now as (
    select article_id, count(*) as mentions,
           bit_xor(hash(paragraph_id, start_char, end_char, surface, label, word_before)) as digest
    from raw_mentions
    group by article_id
), recorded as (
    select distinct article_id, mentions, digest from entity_article_forms
)
select coalesce(n.article_id, r.article_id) as article_id
from now n
full join recorded r on n.article_id = r.article_id
where n.mentions is distinct from r.mentions or n.digest is distinct from r.digest
order by 1
