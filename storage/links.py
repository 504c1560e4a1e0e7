"""Paragraph links: the relink queue, each paragraph's nearest-neighbour list, and their union as
paragraph_similarity (flows/relink.py); quote links among a set of articles."""

from __future__ import annotations

import duckdb
import polars as pl

from storage.backend import backend_of
from storage.frames import READ_BLOCK_ROWS, insert, internal_sql, key_frame, read_frame, registered
from storage.loads import bump_content_version


def relink_queue(con: duckdb.DuckDBPyConnection) -> pl.DataFrame:
    """Queued paragraphs still stored (`paragraph_id`, `article_id`, `added`)."""
    return read_frame(con, "select q.paragraph_id, p.article_id, q.added from relink_queue q join paragraphs p using (paragraph_id)")


def queue_articles_for_relink(con: duckdb.DuckDBPyConnection, article_ids: list[str]) -> int:
    """Queue these articles' paragraphs as new (`added`) for the relink (inside the caller's transaction):
    their lists are recomputed against every stored paragraph, and they enter others' lists. Returns how
    many paragraphs were queued."""
    if not article_ids:
        return 0
    with registered(con, "requeued_articles", key_frame("article_id", article_ids)):
        backend_of(con).queue_for_relink(con, "select paragraph_id from paragraphs where article_id in "
                                              "(select article_id from requeued_articles)", added=True)
        row = con.execute("select count(*) from relink_queue").fetchone()
    return int(row[0]) if row else 0


def queue_all_paragraphs(con: duckdb.DuckDBPyConnection) -> int:
    """Queue every stored paragraph for a new neighbour list (settings that shape links changed, or a
    warehouse from before neighbour lists)."""
    backend_of(con).queue_for_relink(con, "select paragraph_id from paragraphs", added=False)
    row = con.execute("select count(*) from relink_queue").fetchone()
    return int(row[0]) if row else 0


def needs_full_relink(con: duckdb.DuckDBPyConnection) -> bool:
    """Links stored without neighbour lists (a warehouse from before them)."""
    row = con.execute(
        "select (select count(*) from paragraph_similarity) > 0 and (select count(*) from paragraph_neighbours) = 0"
    ).fetchone()
    return bool(row and row[0])


def neighbour_floors(con: duckdb.DuckDBPyConnection, paragraph_ids: list[str] | None = None) -> pl.DataFrame:
    """Per paragraph with a list (of `paragraph_ids`, when given): its length and its weakest neighbour's cosine."""
    if paragraph_ids is None:
        return read_frame(con, "select paragraph_id, count(*)::integer as n, min(cosine) as floor from paragraph_neighbours group by all")
    with registered(con, "floor_paragraphs", key_frame("paragraph_id", paragraph_ids)):
        return read_frame(con, internal_sql("relink_floors"))


def replace_neighbour_lists(con: duckdb.DuckDBPyConnection, paragraph_ids: list[str], lists: pl.DataFrame) -> None:
    """New neighbour lists for `paragraph_ids` (inside the caller's transaction)."""
    with registered(con, "relinked", key_frame("paragraph_id", paragraph_ids)):
        con.execute("delete from paragraph_neighbours where paragraph_id in (select paragraph_id from relinked)")
    insert(con, "paragraph_neighbours", lists)


def pairs_touching(con: duckdb.DuckDBPyConnection, paragraph_ids: list[str]) -> pl.DataFrame:
    """The union of the neighbour lists for every pair with an end in `paragraph_ids`, each pair once
    (a < b): `paragraph_id_a`, `paragraph_id_b`, their article ids and `cosine`. No texts: see
    `paragraph_texts`."""
    with registered(con, "relinked", key_frame("paragraph_id", paragraph_ids)):
        return read_frame(con, internal_sql("pairs_touching"))


def paragraph_texts(con: duckdb.DuckDBPyConnection, paragraph_ids: list[str]) -> dict[str, str]:
    """{paragraph_id: text} of these stored paragraphs. Streamed, so that DuckDB holds a chunk of texts
    at a time whatever their number (the caller bounds how many it asks for at once)."""
    texts: dict[str, str] = {}
    with registered(con, "wanted_paragraphs", key_frame("paragraph_id", paragraph_ids)):
        reader = con.execute("select paragraph_id, text from paragraphs "
                             "where paragraph_id in (select paragraph_id from wanted_paragraphs)").to_arrow_reader(READ_BLOCK_ROWS)
        for batch in reader:
            texts.update(zip(batch.column(0).to_pylist(), batch.column(1).to_pylist()))
    return texts


def replace_links(con: duckdb.DuckDBPyConnection, paragraph_ids: list[str], links: pl.DataFrame) -> None:
    """Replace every paragraph_similarity row with an end in `paragraph_ids` by `links`, and empty the
    relink queue (inside the caller's transaction)."""
    with registered(con, "relinked", key_frame("paragraph_id", paragraph_ids)):
        con.execute(
            "delete from paragraph_similarity where paragraph_id_a in (select paragraph_id from relinked) "
            "or paragraph_id_b in (select paragraph_id from relinked)"
        )
    insert(con, "paragraph_similarity", links)
    con.execute("delete from relink_queue")
    bump_content_version(con)  # stories and checks read the links


def replace_quote_links_among(con: duckdb.DuckDBPyConnection, article_ids: list[str], quote_links: pl.DataFrame) -> int:
    """Make the quote links between any two of these articles exactly `quote_links` (every such pair,
    computed over their current quotes), inside the caller's transaction: stored links between them that
    a batch computed from an older snapshot (a speaker since settled, a quote it could not see) are
    replaced, not only completed. Returns how many rows differ from what was stored."""
    with registered(con, "linked_articles", key_frame("article_id", article_ids)):
        among = ("from quote_links where article_id_a in (select article_id from linked_articles) "
                 "and article_id_b in (select article_id from linked_articles)")
        stored = read_frame(con, f"select * {among}")
        con.execute(f"delete {among}")
    insert(con, "quote_links", quote_links)
    if stored.height == 0:
        return quote_links.height
    exact = [c for c in quote_links.columns if c not in ("cosine", "word_similarity")]  # the floats: noise only
    stored = stored.select(exact).cast({c: quote_links.schema[c] for c in exact})
    return quote_links.join(stored, on=exact, how="anti").height + stored.join(quote_links.select(exact), on=exact, how="anti").height
