-- The biggest stories of the last 7 days (by articles published, else first ingested, in that window),
-- with their topic and the outlets that reported them.
with recent as (
    select sa.story_id, a.article_id, coalesce(a.publisher, a.wire_source, a.source_path) as outlet
    from story_articles sa
    join articles a using (article_id)
    where coalesce(a.published, cast(a.ingested_at as date)) >= current_date - interval 7 day
)
select
    s.story_id,
    s.label,
    s.headline,
    t.label as topic,
    count(distinct r.article_id) as articles_this_week,
    count(distinct r.outlet) as outlets_this_week,
    list_sort(list(distinct r.outlet)) as outlets
from recent r
join stories s using (story_id)
left join topics t using (topic_id)
group by all
order by articles_this_week desc, outlets_this_week desc, s.story_id
limit 20;
