-- Files gone from the raw folder whose content is loaded from another path now (renamed or moved):
-- their old path and article.
select f.source_path, a.article_id
from ingest_files f join articles a on a.source_path = f.source_path
where f.status = 'deleted' and a.content_sha256 in (
    select b.content_sha256 from articles b join ingest_files g on g.source_path = b.source_path
    where g.status in ('loaded', 'unchanged'))
order by 1
