"""Relink: bring the stored paragraphs' neighbour lists and links in line with the stored paragraphs.

Runs inside the transaction that changed them (a batch's load, a prune, a DuckLake run's last step):
reads the relink queue and the stored paragraphs, computes with the pure steps of tasks/similarity.py
(exact search, or the HNSW index file beside the warehouse above `exact_max` paragraphs) and writes the
recomputed lists and their links back.
"""

from __future__ import annotations

from pathlib import Path

import duckdb
import numpy as np
import polars as pl

from storage.links import (
    neighbour_floors, pairs_touching, paragraph_texts, relink_queue, replace_links, replace_neighbour_lists,
)
from storage.paragraph_index import journal_pending, settle_journal
from storage.state import (
    longest_article, paragraph_articles, paragraph_count, paragraph_embedding_blocks, paragraph_vectors,
)
from tasks import similarity
from tasks.embed import embedding_matrix


def relink(con: duckdb.DuckDBPyConnection, threshold: float, top_k: int, exact_max: int, index_path: Path,
           dimension: int) -> int:
    """Bring neighbour lists and links in line with the stored paragraphs (inside the caller's
    transaction): recompute the queued paragraphs' lists and those a new paragraph enters, then their
    links. Returns how many lists were recomputed."""
    queue = relink_queue(con)
    if queue.height == 0 and not journal_pending(con):  # (every run's last relink, usually: nothing to read)
        con.execute("delete from relink_queue")  # entries of paragraphs since removed
        return 0
    stored_count = paragraph_count(con)
    # The index file follows every change, even one that queues no list (its digest says so).
    index = settle_journal(con, index_path if stored_count > exact_max else None, dimension)
    if queue.height == 0:
        con.execute("delete from relink_queue")  # entries of paragraphs since removed
        return 0
    affected = _lists_to_recompute(con, queue, stored_count, index, threshold, top_k)
    targets = paragraph_articles(con, sorted(affected))
    query_ids, query_articles = targets["paragraph_id"].to_list(), targets["article_id"].to_list()
    query_vectors = _vectors_of(con, targets)
    if index is None:
        lists = similarity.exact_neighbour_lists(query_ids, query_articles, query_vectors,
                                                 paragraph_embedding_blocks(con, []), threshold, top_k)
    else:
        lists = similarity.index_neighbour_lists(index, query_ids, query_articles, query_vectors, threshold, top_k,
                                                 longest_article(con))
    replace_neighbour_lists(con, query_ids, lists)
    links = similarity.links_from_pairs(pairs_touching(con, query_ids), lambda ids: paragraph_texts(con, ids))
    replace_links(con, query_ids, links)
    return len(query_ids)


def _lists_to_recompute(con: duckdb.DuckDBPyConnection, queue: pl.DataFrame, stored_count: int,
                        index: similarity.ParagraphIndex | None, threshold: float, top_k: int) -> set[str]:
    """The queued paragraphs, and the stored ones whose neighbour list a new (queued as added) one enters."""
    affected = set(queue["paragraph_id"].to_list())
    added = queue.filter(pl.col("added"))
    if added.height == 0 or len(affected) >= stored_count:  # nothing new, or every list recomputed anyway
        return affected
    added_vectors = _vectors_of(con, added)
    if index is None:  # (at most exact_max paragraphs)
        floors = {pid: (n, floor) for pid, n, floor in neighbour_floors(con).iter_rows()}
        return affected | similarity.entered_lists(added["article_id"].to_list(), added_vectors,
                                                   paragraph_embedding_blocks(con, []), floors, threshold, top_k)
    added_ids, added_articles = added["paragraph_id"].to_list(), added["article_id"].to_list()
    # Only a paragraph the new ones reach through the index can be entered: the floors of those alone are
    # read (the same search as index_entered_lists'; a floor not read counts as a list to recompute).
    reached = similarity.index_neighbour_lists(index, added_ids, added_articles, added_vectors, threshold, top_k, 64)
    floors = {pid: (n, floor) for pid, n, floor in neighbour_floors(con, reached["neighbour_id"].unique().to_list()).iter_rows()}
    return affected | similarity.index_entered_lists(index, added_ids, added_articles, added_vectors, floors, threshold, top_k)


def _vectors_of(con: duckdb.DuckDBPyConnection, frame: pl.DataFrame) -> np.ndarray:
    """The stored embeddings of `frame`'s paragraphs, in its row order."""
    found = paragraph_vectors(con, frame["paragraph_id"].to_list())
    ordered = frame.select("paragraph_id").join(found, on="paragraph_id", how="left", maintain_order="left")
    return embedding_matrix(ordered["embedding"])
