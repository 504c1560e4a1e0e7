-- Articles of another run still writing: on a DuckLake several runs write at once, and each settles what
-- it shares with the others (stories, an entity's row and mention count) in its end-of-run step, so the
-- data checks wait for that run's end. getvariable('newsdag_checking_run'): the run checking, whose own
-- articles are always checked (unset: no run is checking).
create or replace view unsettled_articles as
select a.article_id
from articles a join runs r using (run_id)
where r.status = 'running' and r.run_id is distinct from getvariable('newsdag_checking_run');
