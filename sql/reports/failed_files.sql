-- Files that could not be loaded, with the reason, as of the last run that saw them.
select source_path, status, error, last_seen_at
from ingest_files
where status = 'failed'
order by source_path
