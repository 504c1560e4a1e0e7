-- Checks read the checked_* relations (sql/internal/check_scope_*.sql): the rows of the articles the run
-- changed, or every row (`newsdag check --all`).
select 'paragraph without embedding' as problem, paragraph_id as detail from checked_paragraphs where no_embedding
