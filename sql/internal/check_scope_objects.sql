-- The temporary relations check_scope_*.sql made, dropped when the checks are done (kind, name).
select 'view' as kind, view_name as name from duckdb_views() where temporary and (view_name like 'checked\_%' escape '\' or view_name like 'referenced\_%' escape '\')
union all
select 'table', table_name from duckdb_tables() where temporary and (table_name like 'checked\_%' escape '\' or table_name like 'referenced\_%' escape '\')
