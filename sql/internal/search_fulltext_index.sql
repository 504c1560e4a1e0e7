    -- The top $candidates paragraphs by BM25 from the tantivy index beside the warehouse (those tied with
    -- the last included), found for the search text and passed in as the frame search_index_hits.
    select paragraph_id, bm25
    from search_index_hits
