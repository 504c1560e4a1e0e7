-- Cross-article paragraph links with both texts and outlets side by side.
create or replace view linked_paragraphs as
select
    s.cosine,
    aa.source_path as source_a,
    oa.outlet as outlet_a,
    pa.text as text_a,
    ab.source_path as source_b,
    ob.outlet as outlet_b,
    pb.text as text_b,
    s.paragraph_id_a,
    s.paragraph_id_b
from paragraph_similarity s
join paragraphs pa on pa.paragraph_id = s.paragraph_id_a
join paragraphs pb on pb.paragraph_id = s.paragraph_id_b
join articles aa on aa.article_id = s.article_id_a
join articles ab on ab.article_id = s.article_id_b
join article_outlets oa on oa.article_id = s.article_id_a
join article_outlets ob on ob.article_id = s.article_id_b;
