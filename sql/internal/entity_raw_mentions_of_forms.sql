-- The stored raw mentions of the wanted forms; $prefixes: the words before a name that make
-- person_before true (tasks/entities.PERSON_PREFIXES).
select r.article_id, r.paragraph_id, r.start_char, r.end_char, r.surface, r.label, r.word_before
from raw_mentions r
semi join wanted_forms f
    on r.surface = f.surface and r.label = f.label
    and f.person_before = list_contains($prefixes::varchar[], r.word_before)
