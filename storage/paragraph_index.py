"""The HNSW index file beside a single-file warehouse (`<warehouse>.hnsw`), kept in step with the stored
paragraphs by what changed, never by comparing it with every stored paragraph.

- Every transaction that inserts or deletes paragraphs journals them (paragraph_index_journal: the
  paragraph, the text its vector embeds, added or removed; storage/loads.py). The relink in that
  transaction (flows/relink.py) applies the journal's net changes to the index, saves it (a temporary file
  renamed over the old one, then its sidecar) and empties the journal.
- A set of paragraphs has a digest: the sum, modulo 2**64, of its entries' hashes (sql/internal/
  paragraph_set_digest.sql; an entry is a paragraph and its text). Equal sets have equal digests whatever
  the order of changes that made them, and a journal moves a digest by its own entries alone. The
  warehouse records the digest of its stored paragraphs (warehouse_meta), the sidecar
  `<warehouse>.hnsw.json` the digest of what the file holds.
- When the two differ at a relink (a crash between the file's save and the commit, a file deleted or
  brought from elsewhere, runs below `exact_max` that kept no file, a warehouse from before the journal),
  the index is built again from the stored paragraphs: work that follows the warehouse, only then.

Keys are resolved to paragraphs by `paragraphs.index_key`, for the keys a search found only.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import duckdb
import numpy as np
import polars as pl

from storage.backend import backend_of
from storage.frames import blocks_excluding_articles, internal_sql, read_frame, registered
from storage.state import paragraph_vectors, stored_meta
from tasks.embed import embedding_matrix
from tasks.similarity import INDEX_THREADS, ParagraphIndex, new_ann_index, paragraph_key

DIGEST_KEY = "paragraph_set_digest"  # warehouse_meta: the digest of the stored paragraphs at the last relink
_DIGEST_MODULUS = 2**64


# --- the journal (inside the transactions that change paragraphs) ---------------------------------

def keyed_paragraphs(paragraphs: pl.DataFrame) -> pl.DataFrame:
    """`paragraphs` with their `index_key`, as they are stored."""
    return paragraphs.with_columns(pl.Series("index_key", paragraph_key(paragraphs["paragraph_id"]), dtype=pl.UInt64))


def journal_added(con: duckdb.DuckDBPyConnection, paragraphs: pl.DataFrame) -> None:
    """Journal paragraphs just inserted (`paragraph_id`, `text_sha256`)."""
    if backend_of(con).has_paragraph_index_file and paragraphs.height:
        with registered(con, "journalled_paragraphs", paragraphs.select("paragraph_id", "text_sha256")):
            con.execute("insert into paragraph_index_journal select paragraph_id, text_sha256, true from journalled_paragraphs")


def journal_removed(con: duckdb.DuckDBPyConnection) -> None:
    """Journal the stored paragraphs of the articles in the registered relation `doomed`, about to be deleted."""
    if backend_of(con).has_paragraph_index_file:
        con.execute("insert into paragraph_index_journal select paragraph_id, text_sha256, false from paragraphs "
                    "where article_id in (select article_id from doomed)")


def journal_pending(con: duckdb.DuckDBPyConnection) -> bool:
    """Paragraphs inserted or deleted since the index file was last brought in step."""
    row = con.execute("select exists (select 1 from paragraph_index_journal)").fetchone()
    return bool(row and row[0])


# --- digests ---------------------------------------------------------------------------------------

def _digest(con: duckdb.DuckDBPyConnection, entries: str) -> int:
    """The digest moved by `entries` (a query of `paragraph_id`, `text_sha256`, `added`), read where they lie."""
    con.sql(entries).create_view("digest_entries", replace=True)
    try:
        row = con.execute(internal_sql("paragraph_set_digest")).fetchone()
    finally:
        con.execute("drop view digest_entries")
    return int(row[0]) % _DIGEST_MODULUS if row and row[0] is not None else 0


def stored_digest(con: duckdb.DuckDBPyConnection) -> int:
    """The digest of every stored paragraph (reads them all: for a warehouse that has none recorded)."""
    return _digest(con, "select paragraph_id, text_sha256, true as added from paragraphs")


def sidecar_path(index_path: Path) -> Path:
    """The file beside the index file that records the digest of what it holds."""
    return index_path.with_name(index_path.name + ".json")


def _file_digest(path: Path, dimension: int) -> int | None:
    """The digest the index file at `path` holds, None when there is no usable file."""
    try:
        recorded = json.loads(sidecar_path(path).read_text())
        return int(recorded["digest"]) if path.exists() and int(recorded["dimension"]) == dimension else None
    except (OSError, ValueError, KeyError, TypeError):
        return None


def _replace_file(path: Path, text_or_index: object) -> None:
    temporary = path.with_name(path.name + ".tmp")
    if isinstance(text_or_index, str):
        temporary.write_text(text_or_index)
    else:
        text_or_index.save(str(temporary))  # type: ignore[attr-defined]
    os.replace(temporary, path)


# --- the relink's index ----------------------------------------------------------------------------

def settle_journal(con: duckdb.DuckDBPyConnection, path: Path | None, dimension: int) -> ParagraphIndex | None:
    """Apply the journal (inside the caller's transaction): with `path`, to the index file there, returned
    in step with the stored paragraphs; without (exact search), to the recorded digest alone, which then
    no longer matches the file's, so that a later relink that needs the file builds it again."""
    if not backend_of(con).has_paragraph_index_file:
        return None  # (nothing journalled there: a lake searches exactly)
    recorded = stored_meta(con, DIGEST_KEY)
    journal = "select paragraph_id, text_sha256, added from paragraph_index_journal"
    digest = (int(recorded) + _digest(con, journal)) % _DIGEST_MODULUS if recorded is not None else stored_digest(con)
    index = None
    if path is not None:
        in_step = recorded is not None and _file_digest(path, dimension) == int(recorded)
        index = _restored(path, dimension) if in_step else None
        if index is not None:
            changed = _apply_journal(con, index)
        else:  # out of step, or a file usearch cannot read
            index, changed = _built_index(con, dimension), True
        if changed:
            path.parent.mkdir(parents=True, exist_ok=True)
            _replace_file(path, index)
            _replace_file(sidecar_path(path), json.dumps({"digest": str(digest), "dimension": dimension}))
    con.execute("delete from paragraph_index_journal")
    if recorded is None or int(recorded) != digest:
        backend_of(con).replace_meta(con, DIGEST_KEY, str(digest))
    return None if index is None else ParagraphIndex(index, lambda keys: paragraphs_of_keys(con, keys))


def _restored(path: Path, dimension: int) -> object | None:
    from usearch.index import Index

    try:
        index = Index.restore(str(path))
    except (OSError, RuntimeError, ValueError):
        return None
    return index if index is not None and index.ndim == dimension else None


def _apply_journal(con: duckdb.DuckDBPyConnection, index: object) -> bool:
    """The journal's net changes, applied to `index`: entries removed leave it, entries added (the stored
    vector now) enter it. Returns whether anything changed."""
    net = read_frame(con, "select paragraph_id, text_sha256, sum(case when added then 1 else -1 end)::integer as net "
                          "from paragraph_index_journal group by all having net <> 0")
    removed = net.filter(pl.col("net") < 0)["paragraph_id"].unique().sort()
    added = net.filter(pl.col("net") > 0)["paragraph_id"].unique().sort()
    for key in paragraph_key(removed).tolist():
        if index.contains(key):  # type: ignore[attr-defined]
            index.remove(key)  # type: ignore[attr-defined]
    if added.len():
        vectors = paragraph_vectors(con, added.to_list()).sort("paragraph_id")
        # (an edited paragraph's old entry was journalled as removed, and has just left)
        index.add(paragraph_key(vectors["paragraph_id"]), embedding_matrix(vectors["embedding"]),  # type: ignore[attr-defined]
                  threads=INDEX_THREADS)
    return bool(removed.len() or added.len())


def _built_index(con: duckdb.DuckDBPyConnection, dimension: int) -> object:
    """A new index over every stored paragraph, read a block at a time (one thread, so that the same
    file gives the same graph). Paragraphs stored before `index_key` get theirs first."""
    con.execute(internal_sql("paragraph_index_keys"))
    index = new_ann_index(dimension)
    for block in blocks_excluding_articles(
            con, "select index_key, embedding from paragraphs anti join excluded_articles using (article_id)", []):
        index.add(block["index_key"].to_numpy(), embedding_matrix(block["embedding"]), threads=INDEX_THREADS)
    return index


def paragraphs_of_keys(con: duckdb.DuckDBPyConnection, keys: np.ndarray) -> pl.DataFrame:
    """The stored paragraphs (`index_key`, `paragraph_id`, `article_id`) of these index keys."""
    wanted = pl.DataFrame({"index_key": keys}, schema={"index_key": pl.UInt64})
    with registered(con, "wanted_keys", wanted):
        return read_frame(con, "select index_key, paragraph_id, article_id from paragraphs "
                               "where index_key in (select index_key from wanted_keys)")
