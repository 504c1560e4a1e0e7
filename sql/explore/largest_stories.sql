select label, first_seen, coalesce(last_seen, first_seen) as last_seen, n_articles, n_outlets
from stories
order by n_articles desc, story_id
limit 15
