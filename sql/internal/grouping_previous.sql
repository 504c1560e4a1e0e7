-- The stored story and topic of each article being regrouped (`regrouped_articles`): ids are carried over.
select sa.article_id, sa.story_id, s.topic_id
from story_articles sa
semi join regrouped_articles r using (article_id)
left join stories s using (story_id)
