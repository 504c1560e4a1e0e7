-- Which outlets carried the same statement: cross-outlet paragraph pairs, most similar first.
select
    round(cosine, 3) as cosine,
    outlet_a,
    outlet_b,
    left(text_a, 90) as paragraph_a,
    left(text_b, 90) as paragraph_b
from linked_paragraphs
where cosine >= 0.7
order by cosine desc
limit 20;
