-- Per story, every paragraph and the outlets that carry it (its own and those of linked paragraphs
-- in the same story): `shared` by several outlets or `unique` to one.
create or replace view story_coverage as
with paragraph_outlets as (
    select p.paragraph_id, sa.story_id, o.outlet
    from paragraphs p
    join article_outlets o using (article_id)
    join story_articles sa using (article_id)
),
linked as (
    select paragraph_id_a as paragraph_id, paragraph_id_b as other_id from paragraph_similarity
    union all
    select paragraph_id_b, paragraph_id_a from paragraph_similarity
),
carriers as (
    select paragraph_id, story_id, outlet from paragraph_outlets
    union
    select l.paragraph_id, own.story_id, other.outlet
    from linked l
    join paragraph_outlets own using (paragraph_id)
    join paragraph_outlets other on other.paragraph_id = l.other_id and other.story_id = own.story_id
)
select
    c.story_id,
    p.article_id,
    p.paragraph_id,
    p.position,
    own.outlet,
    count(distinct c.outlet) as n_outlets,
    list_sort(list(distinct c.outlet)) as outlets,
    case when count(distinct c.outlet) > 1 then 'shared' else 'unique' end as coverage,
    p.text
from carriers c
join paragraph_outlets own using (paragraph_id, story_id)
join paragraphs p using (paragraph_id)
group by all;
