-- What the warehouse holds per file. An article in the warehouse counts as loaded with the content it
-- was loaded from, even when the run that loaded it died before recording its files: its batch was
-- committed whole, and redoing it would re-link it against later articles (another end state).
select coalesce(f.source_path, a.source_path) as source_path,
       coalesce(a.content_sha256, f.content_sha256) as content_sha256,
       case when a.article_id is not null then 'loaded' else f.status end as status
from ingest_files f full outer join articles a on a.source_path = f.source_path
