-- Who is quoted most, per outlet (outlet = the URL's publisher, else the wire agency, else the file).
-- A quotation split over sentences or paragraphs counts once, reported speech counts, fragments do not;
-- unnamed sources are grouped.
with quoted as (
    select
        o.outlet,
        case
            when e.canonical_name is not null then e.canonical_name
            when q.attribution = 'none' then '(not attributed)'
            else '(unnamed: ' || lower(coalesce(q.speaker_surface, '?')) || ')'
        end as speaker
    from quotes q
    join article_outlets o using (article_id)
    left join entities e on e.entity_id = q.speaker_entity_id
    where q.continues_quote_id is null and q.kind in ('direct', 'indirect', 'mixed')
      and (q.kind <> 'direct' or not q.is_partial)
),
ranked as (
    select outlet, speaker, count(*) as quotes,
           row_number() over (partition by outlet order by count(*) desc, speaker) as rank
    from quoted
    group by outlet, speaker
)
select outlet, rank, speaker, quotes
from ranked
where rank <= 3
order by outlet, rank;
