-- What article similarity reads of each article in `linked_articles`.
select a.article_id, a.n_paragraphs, a.published, coalesce(f.first_seen_at, a.ingested_at) as first_seen_at
from articles a
semi join linked_articles l using (article_id)
left join ingest_files f using (source_path)
