-- Articles loaded by other runs that were writing while run $run was (still running, killed, or
-- finished after it started, with a margin of $margin seconds for clocks of other hosts).
select a.article_id from articles a join runs r using (run_id)
where r.run_id <> $run and (r.finished_at is null
    or r.finished_at >= (select started_at from runs where run_id = $run) - to_seconds($margin))
