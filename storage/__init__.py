"""The only code that talks to DuckDB. Start at storage/backend.py: the interface and its two backends."""
