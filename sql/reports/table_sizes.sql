-- Rows per warehouse table.
select table_name, estimated_size as rows
from duckdb_tables()
where schema_name = 'main' and database_name = current_database()
order by table_name
