-- The articles being regrouped (`regrouped_articles`) as topics and stories read them: the lede (the
-- body's start) is what the labels' distinctive terms are drawn from; first seen: when its file was
-- first seen, else when it was ingested.
select a.article_id, a.title, left(a.body, 2000) as lede, a.n_paragraphs, a.published,
       o.outlet, coalesce(f.first_seen_at, a.ingested_at) as first_seen_at
from articles a
semi join regrouped_articles r using (article_id)
join article_outlets o using (article_id)
left join ingest_files f using (source_path)
