-- record_files on the DuckDB file: the outcome of every file seen in a run (`incoming_files`), one statement.
-- Columns named: mtime_ns was added to older warehouses by `alter table`, so positions may differ.
insert into ingest_files (source_path, content_sha256, size_bytes, status, change, duplicate_of, encoding, error,
                          article_id, first_seen_at, last_seen_at, run_id, mtime_ns)
select source_path, content_sha256, size_bytes, status, change, duplicate_of,
       -- a file skipped as unchanged keeps the encoding its article was decoded with
       coalesce(encoding, (select s.encoding from article_sources s where s.article_id = i.article_id)),
       error, article_id, seen_at, seen_at, run_id, mtime_ns
from incoming_files i
on conflict (source_path) do update set
    content_sha256 = excluded.content_sha256, size_bytes = excluded.size_bytes,
    status = excluded.status, change = excluded.change, duplicate_of = excluded.duplicate_of,
    encoding = coalesce(excluded.encoding, ingest_files.encoding), error = excluded.error, article_id = excluded.article_id,
    last_seen_at = excluded.last_seen_at, run_id = excluded.run_id, mtime_ns = excluded.mtime_ns
