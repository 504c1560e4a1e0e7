"""Split cleaned bodies into paragraphs (the cleaner has already repaired mid-sentence breaks)."""

from __future__ import annotations

import hashlib

import polars as pl

PARAGRAPH_SCHEMA = {
    "paragraph_id": pl.String,
    "article_id": pl.String,
    "position": pl.Int32,
    "text": pl.String,
    "section_heading": pl.String,
    "text_sha256": pl.String,
    "n_words": pl.Int32,
    "kind": pl.String,  # "text", or "table"/"list": a block of short rows, embedded once as a whole
}


def paragraph_id_for(article_id: str, position: int) -> str:
    return f"{article_id}-{position:04d}"


def text_hash(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def split_paragraphs(articles: pl.DataFrame) -> pl.DataFrame:
    """One row per paragraph of each article's `body`. Paragraphs are separated by a blank line;
    a section heading is the first line of its paragraph's block and is kept apart from the text.
    A block of kind "table" or "list" (the cleaner's `paragraph_kinds`) is one paragraph, its rows
    kept on their own lines, without a heading."""
    rows: list[dict[str, object]] = []
    kinds_column = articles["paragraph_kinds"].to_list() if "paragraph_kinds" in articles.columns else None
    for number, (article_id, body) in enumerate(articles.select("article_id", "body").iter_rows()):
        kinds = (kinds_column[number] if kinds_column is not None else None) or []
        for position, block in enumerate(b for b in body.split("\n\n") if b.strip()):
            kind = kinds[position] if position < len(kinds) else "text"
            heading, _, text = ("", "", block) if kind != "text" else block.rpartition("\n")
            rows.append(
                {
                    "paragraph_id": paragraph_id_for(article_id, position),
                    "article_id": article_id,
                    "position": position,
                    "text": text,
                    "section_heading": heading or None,
                    "text_sha256": text_hash(text),
                    "n_words": len(text.split()),
                    "kind": kind,
                }
            )
    return pl.DataFrame(rows, schema=PARAGRAPH_SCHEMA)
