-- Paragraph links between outlets (each pair of outlets once, both directions counted together).
select least(oa.outlet, ob.outlet) as outlet_a, greatest(oa.outlet, ob.outlet) as outlet_b, count(*) as links
from paragraph_similarity l
join article_outlets oa on oa.article_id = l.article_id_a
join article_outlets ob on ob.article_id = l.article_id_b
where oa.outlet <> ob.outlet
group by all
order by links desc
