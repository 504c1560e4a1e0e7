-- One row per story, with its topic, for scanning: what happened, who covered it, when.
create or replace view story_summary as
select
    s.story_id,
    s.label,
    s.headline,
    s.n_articles,
    s.n_outlets,
    s.first_seen,
    s.last_seen,
    s.terms,
    s.top_entities,
    s.representative_article_id,
    s.topic_id,
    t.label as topic_label,
    t.n_articles as topic_articles,
    (select list_sort(list(distinct o.outlet))
     from story_articles sa join article_outlets o using (article_id) where sa.story_id = s.story_id) as outlets
from stories s
left join topics t using (topic_id);
