-- Most-mentioned people per outlet (outlet = the URL's publisher, else the wire agency, else the file).
with mentions as (
    select
        o.outlet,
        e.canonical_name as person
    from entity_mentions m
    join entities e using (entity_id)
    join article_outlets o using (article_id)
    where e.label = 'PERSON'
),
ranked as (
    select outlet, person, count(*) as mentions,
           row_number() over (partition by outlet order by count(*) desc, person) as rank
    from mentions
    group by outlet, person
)
select outlet, rank, person, mentions
from ranked
where rank <= 3
order by outlet, rank;
