-- Ids a founder among the regrouped articles (`regrouped_articles`) could take, already given out: ids
-- absorbed by earlier merges and ids of clusters outside the regrouped ones (`replaced_ids`). Founders'
-- ids are '<topic|story>-<article_id>[-n]' (tasks/topics.carry_ids), so only ids naming one of these
-- articles can collide.
select id from (
    select absorbed_id as id from cluster_merges
    union all select story_id from stories
    union all select topic_id from topics
)
where substr(id, 7, 16) in (select article_id from regrouped_articles)
  and id not in (select id from replaced_ids)
