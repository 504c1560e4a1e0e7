-- Before the articles in `doomed` are deleted: the paragraph and article links with an end in them.
delete from paragraph_similarity
where article_id_a in (select article_id from doomed) or article_id_b in (select article_id from doomed);
delete from article_similarity
where article_id_a in (select article_id from doomed) or article_id_b in (select article_id from doomed);
