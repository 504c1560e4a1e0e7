-- Each article's grouping period and digests of what its derived rows are computed from
-- (flows/derived.derive_stories regroups the periods holding an article whose grouping digest changed,
-- and recomputes the similarity rows of the articles whose similarity digest changed).
-- Period: the published date, else the day its file was first seen, truncated to $part; $one_period:
-- one period for all (date_trunc is evaluated on both branches, so $part is always a valid part).
-- Grouping digest: its text and metadata and the entities it names (name and label).
-- Similarity digest: its metadata, its paragraph links, and whether each of its paragraph texts is in
-- more articles than count as copies ($identical_max).
with counted_texts as (
    select text_sha256, count(distinct article_id) > $identical_max as common
    from paragraphs group by text_sha256
), text_digest as (
    select p.article_id, bit_xor(hash(p.paragraph_id, p.text_sha256, c.common)) as digest
    from paragraphs p join counted_texts c using (text_sha256)
    group by p.article_id
), mention_digest as (
    select m.article_id, bit_xor(hash(m.entity_id, e.label, m.paragraph_id, m.start_char, m.end_char)) as digest
    from entity_mentions m left join (select distinct entity_id, label from entities) e using (entity_id)
    group by m.article_id
), link_digest as (
    select article_id, bit_xor(h) as digest
    from (select article_id_a as article_id, hash(paragraph_id_a, paragraph_id_b, cosine, kind) as h
          from paragraph_similarity
          union all
          select article_id_b, hash(paragraph_id_a, paragraph_id_b, cosine, kind) from paragraph_similarity)
    group by article_id
)
select a.article_id,
       case when $one_period then date '2000-01-01'
            else cast(date_trunc($part, coalesce(a.published, cast(coalesce(f.first_seen_at, a.ingested_at) as date))) as date)
       end as period,
       hash(a.content_sha256, a.title, a.published, o.outlet, coalesce(f.first_seen_at, a.ingested_at), m.digest)
           as grouping_signature,
       hash(a.n_paragraphs, a.published, coalesce(f.first_seen_at, a.ingested_at), t.digest, l.digest)
           as similarity_signature
from articles a
join article_outlets o using (article_id)
left join ingest_files f using (source_path)
left join text_digest t using (article_id)
left join mention_digest m using (article_id)
left join link_digest l using (article_id)
