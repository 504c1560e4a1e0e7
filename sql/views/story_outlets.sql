-- Per story and outlet: how many of its paragraphs other outlets in the story also carry, and how
-- many only it has.
create or replace view story_outlets as
select
    s.story_id,
    s.label,
    c.outlet,
    count(*) as paragraphs,
    count(*) filter (where c.coverage = 'shared') as shared_paragraphs,
    count(*) filter (where c.coverage = 'unique') as unique_paragraphs
from story_coverage c
join stories s using (story_id)
group by all;
