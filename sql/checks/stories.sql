-- Stories, topics and article pairs: derived tables the grouping step rewrites (flows/derived.py), checked
-- whole (key and figure columns only: no texts or vectors), in either scope.
select 'article in no story' as problem, a.article_id as detail from articles a anti join story_articles s using (article_id)
where a.article_id not in (select article_id from unsettled_articles)  -- grouped when their run ends
union all
select 'story member without article', s.article_id from story_articles s anti join articles a using (article_id)
union all
select 'story without articles', s.story_id from stories s anti join story_articles m using (story_id)
union all
select 'story with several originals', story_id from story_articles group by story_id having count(*) filter (where is_original) > 1
union all
select 'story in no topic', s.story_id from stories s anti join topics t using (topic_id)
union all
select 'topic without stories', t.topic_id from topics t anti join stories s using (topic_id)
union all
select 'merged id still in use', m.absorbed_id from cluster_merges m
where m.absorbed_id in (select story_id from stories union all select topic_id from topics)
union all
select 'article pair not stored once (a >= b)', article_id_a from article_similarity where article_id_a >= article_id_b
union all
select 'article similarity share out of range', article_id_a || ' ' || article_id_b from article_similarity
where share_a not between 0 and 1 or share_b not between 0 and 1 or copied_share_a > share_a + 1e-6 or copied_share_b > share_b + 1e-6
