-- Quality of the articles loaded by one run, and the rows each step produced for them (parameter: run_id).
select
    count(*) as articles,
    coalesce(round(sum(r.removed_chars) / nullif(sum(length(s.raw_text)), 0), 4), 0) as removed_share,
    coalesce(round(avg(case when a.published is null then 1 else 0 end), 4), 0) as missing_date_rate,
    coalesce(round(avg(case when len(a.authors) = 0 then 1 else 0 end), 4), 0) as missing_author_rate,
    coalesce(sum(r.removed_spans), 0) as removed_spans,
    (select count(*) from paragraphs p join articles x using (article_id) where x.run_id = $1) as paragraphs,
    (select count(*) from entity_mentions m join articles x using (article_id) where x.run_id = $1) as entity_mentions,
    (select count(*) from paragraph_similarity l
     where l.article_id_a in (select article_id from articles where run_id = $1)
        or l.article_id_b in (select article_id from articles where run_id = $1)) as similarity_links
from articles a
join article_sources s using (article_id)
left join (
    select article_id, sum(end_char - start_char) as removed_chars, count(*) as removed_spans
    from removed_spans group by article_id
) r using (article_id)
where a.run_id = $1
