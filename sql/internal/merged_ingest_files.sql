-- record_files (ingest_files has no key, so no ON CONFLICT): the rows `incoming_files` makes of the stored
-- ones, which they replace; keeps the first sighting, and a skipped file's encoding.
select i.source_path, i.content_sha256, i.size_bytes, i.status, i.change, i.duplicate_of,
       coalesce(i.encoding, (select s.encoding from article_sources s where s.article_id = i.article_id),
                old.encoding) as encoding,
       i.error, i.article_id, coalesce(old.first_seen_at, i.seen_at) as first_seen_at,
       i.seen_at as last_seen_at, i.run_id, i.mtime_ns
from incoming_files i left join ingest_files old using (source_path)
