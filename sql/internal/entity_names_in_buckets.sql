-- Every recorded full name in the wanted transliteration buckets.
select distinct name, bucket
from entity_form_names
join wanted_buckets using (bucket)
