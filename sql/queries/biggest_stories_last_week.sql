-- The biggest stories of the last 7 days (by articles published, else first ingested, in that window),
-- with their topic and the outlets that reported them.
with recent as (
    select sa.story_id, o.article_id, o.outlet
    from story_articles sa
    join article_outlets o using (article_id)
    where o.day >= current_date - interval 7 day
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
