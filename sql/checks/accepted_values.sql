-- Every check returns the offending rows; an empty result means it passed.
-- Status columns hold only the values the code writes (listed beside them in sql/schema.sql).
select 'unknown runs.status' as problem, run_id || ': ' || status as detail
from runs
where status not in ('running', 'completed', 'failed', 'interrupted', 'crashed')
union all
select 'unknown ingest_files.status', source_path || ': ' || status
from ingest_files
where status not in ('loaded', 'unchanged', 'duplicate', 'failed', 'empty', 'deleted')
union all
select 'unknown ingest_files.change', source_path || ': ' || change
from ingest_files
where change is not null and change not in ('new', 'changed', 'unchanged')
