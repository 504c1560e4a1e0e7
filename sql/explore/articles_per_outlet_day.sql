-- Articles per outlet and publication day (articles without a date in their text are left out).
select outlet, day, count(*) as articles
from article_outlets
where day_is_published
group by all
order by day, outlet
