select 'paragraph without embedding' as problem, paragraph_id as detail from paragraphs where embedding is null
