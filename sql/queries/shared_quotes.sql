-- Statements carried by several outlets: linked quotes grouped into statements (connected pairs),
-- with the speaker, the outlets and each outlet's wording side by side. A statement one outlet quotes
-- and another reports ("Lavrov said Russia would respect …") is one statement; a reported wording is
-- marked "(reported)". Fragments (kind 'fragment') are never linked.
with recursive pairs(a, b) as (
    select quote_id_a, quote_id_b from quote_links
    union all
    select quote_id_b, quote_id_a from quote_links
),
reach(quote_id, member) as (
    select a, a from pairs
    union
    select r.quote_id, p.b from reach r join pairs p on p.a = r.member
),
statement_of as (
    select quote_id, min(member) as statement_id from reach group by quote_id
),
wordings as (
    select
        s.statement_id,
        o.outlet,
        e.canonical_name as speaker,
        case when q.kind in ('indirect', 'mixed') then q.text || ' (reported)' else q.text end as text
    from statement_of s
    join quotes q using (quote_id)
    join article_outlets o on o.article_id = q.article_id
    left join entities e on e.entity_id = q.speaker_entity_id
)
select
    statement_id,
    mode(speaker) as speaker,
    count(distinct outlet) as outlets,
    list(distinct outlet order by outlet) as outlet_names,
    list(outlet || ': ' || text order by outlet) as wordings,
    (select round(min(l.word_similarity), 2) from quote_links l
     join statement_of s2 on s2.quote_id = l.quote_id_a where s2.statement_id = w.statement_id) as min_word_similarity
from wordings w
group by statement_id
having count(distinct outlet) >= 2
order by outlets desc, statement_id;
