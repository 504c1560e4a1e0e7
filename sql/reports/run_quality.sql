-- Quality of the articles loaded by one run (parameter: run_id).
select
    count(*) as articles,
    coalesce(round(sum(r.removed_chars) / nullif(sum(length(s.raw_text)), 0), 4), 0) as removed_share,
    coalesce(round(avg(case when a.published is null then 1 else 0 end), 4), 0) as missing_date_rate,
    coalesce(round(avg(case when len(a.authors) = 0 then 1 else 0 end), 4), 0) as missing_author_rate
from articles a
join article_sources s using (article_id)
left join (
    select article_id, sum(end_char - start_char) as removed_chars from removed_spans group by article_id
) r using (article_id)
where a.run_id = ?
