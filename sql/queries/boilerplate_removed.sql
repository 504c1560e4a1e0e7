-- What the cleaner removed, by family of remnant.
select reason, count(*) as spans, count(distinct article_id) as articles, sum(end_char - start_char) as chars
from removed_spans
group by reason
order by spans desc;
