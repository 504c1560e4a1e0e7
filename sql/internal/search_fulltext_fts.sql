    -- DuckDB's fts index over the paragraphs this connection sees (a DuckLake's search builds it in memory)
    select paragraph_id, fts_main_paragraphs.match_bm25(paragraph_id, $text) as bm25
    from paragraphs
