-- The run's paragraphs (parameter: run_id) linked to the most other outlets: statements it carried
-- across outlets. Each link counted from both ends (a union, not an OR join: that would compare every
-- pair); only links with an end in the run's articles are read, so a report costs what the run added.
with run_articles as (
    select article_id from articles where run_id = $1
), link_ends as (
    select paragraph_id_a as paragraph_id, article_id_b as other_article from paragraph_similarity
    where article_id_a in (select article_id from run_articles)
    union all
    select paragraph_id_b as paragraph_id, article_id_a as other_article from paragraph_similarity
    where article_id_b in (select article_id from run_articles)
)
select
    p.paragraph_id,
    o.outlet,
    left(p.text, 160) as statement,
    count(distinct e.other_article) as linked_articles
from link_ends e
join paragraphs p using (paragraph_id)
join article_outlets o on o.article_id = p.article_id
group by all
order by linked_articles desc, p.paragraph_id
limit 10
