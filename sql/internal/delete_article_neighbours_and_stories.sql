-- Before the articles in `doomed` are deleted (their neighbours already queued for new lists): the
-- neighbour lists and queue entries that hold them, their story memberships, the stories left without
-- articles and the topics left without stories (the others are rebuilt at the end of the next run),
-- and the quote links with an end in them.
delete from paragraph_neighbours
where article_id in (select article_id from doomed) or neighbour_article_id in (select article_id from doomed);
delete from relink_queue
where paragraph_id in (select paragraph_id from paragraphs where article_id in (select article_id from doomed));
delete from story_articles where article_id in (select article_id from doomed);
delete from stories where story_id not in (select story_id from story_articles);
delete from topics where topic_id not in (select topic_id from stories);
delete from quote_links
where article_id_a in (select article_id from doomed) or article_id_b in (select article_id from doomed);
