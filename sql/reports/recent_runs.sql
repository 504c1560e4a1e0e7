-- The latest runs, newest first (parameter: how many), with what each did and how long it took.
select
    started_at,
    status,
    round(epoch(finished_at - started_at), 1)           as seconds,
    cast(summary ->> 'files_seen' as integer)           as files_seen,
    cast(summary ->> 'new' as integer)                  as new,
    cast(summary ->> 'changed' as integer)              as changed,
    cast(summary ->> 'failed' as integer)               as failed,
    cast(summary ->> 'deleted' as integer)              as deleted,
    cast(summary ->> 'articles' as integer)             as articles_after,
    coalesce(summary ->> 'error', '')                   as error,
    run_id
from runs
order by started_at desc
limit $1
