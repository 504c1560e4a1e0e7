-- Runs still marked running when a run starts under the writer lock: their process died.
-- $1: now, $2: the summary saying so, $3: the starting run (not itself).
update runs set status = 'crashed', finished_at = coalesce(finished_at, ?), summary = coalesce(summary, ?)
where status = 'running' and run_id <> ?
returning run_id
