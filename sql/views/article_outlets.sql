-- Each article's outlet (the URL's publisher, else the wire agency, else its file) and its day
-- (published, else the day it was ingested): what "per outlet and day" means in charts and queries.
create or replace view article_outlets as
select
    article_id,
    coalesce(publisher, wire_source, source_path) as outlet,
    coalesce(published, cast(ingested_at as date)) as day,
    published is not null as day_is_published
from articles;
