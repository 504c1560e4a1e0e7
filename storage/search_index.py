"""The single file's full-text index: a tantivy index in `<warehouse>.search/`, kept in line incrementally.

DuckDB's fts index cannot be updated: rebuilt over every paragraph at the end of each run, it cost about
1 ms a paragraph, whatever the run added (issue 31). This index takes what changed: the paragraphs to
add, replace or delete are found in DuckDB against `search_index.indexed` (what the index holds: each
paragraph with the hash of the text it was given; sql/internal/search_index_*.sql), applied to tantivy as
delete-by-term + add (an upsert: applying them again after a crash is harmless), committed there, then
recorded in the warehouse in one transaction.

As with the HNSW file (tasks/similarity.ParagraphIndex), the warehouse is the truth: a missing, unreadable
or other-format index folder is made anew and refilled from `paragraphs` (the table cleared), and an index
that does not hold as many documents as the table says after a sync (a folder or warehouse put back from
another time) is rebuilt; a stale folder costs work, never wrong results. A folder that newsdag did not
make (no mark in it) is refused, untouched.

BM25's statistics count a replaced or deleted paragraph until tantivy merges its segment, so scores can
differ slightly from a freshly built index's (which paragraphs match does not).
"""

from __future__ import annotations

import json
import os
import shutil
from dataclasses import dataclass
from pathlib import Path

import duckdb
import polars as pl
import tantivy

from storage.connection import transaction
from storage.frames import internal_sql, read_frame, registered

# The fields and tokenizer below: an index made with another format is rebuilt.
FORMAT = "newsdag-search"
FORMAT_VERSION = 1
MARK = "newsdag-search.json"  # written before anything else in a folder newsdag makes
# Indexing memory and threads: a run's usual thousand paragraphs fit one buffer; a full rebuild flushes a
# segment per buffer. One thread: the run's other work shares the machine.
WRITER_HEAP_BYTES = 64_000_000
WRITER_THREADS = 1
TEXT_BATCH_ROWS = 10_000  # texts read from DuckDB at a time (a full rebuild streams them)


class SearchIndexMissing(RuntimeError):
    """The warehouse has no usable full-text index beside it (search reads, never builds)."""


class ForeignSearchIndex(RuntimeError):
    """Something that is not newsdag's full-text index is where the index belongs."""


@dataclass(frozen=True)
class SyncCounts:
    """What a sync wrote to the index: documents added (new or replaced) and deleted; `rebuilt`: made anew."""

    added: int
    deleted: int
    rebuilt: bool


def search_index_path(warehouse: Path) -> Path:
    """The index folder kept beside the warehouse."""
    return warehouse.with_name(warehouse.name + ".search")


def _schema() -> tantivy.Schema:
    builder = tantivy.SchemaBuilder()
    # raw: the whole id is one term, so that an upsert deletes the paragraph's document by it
    builder.add_text_field("paragraph_id", stored=True, tokenizer_name="raw", index_option="basic")
    # en_stem: tantivy's simple tokenizer, words over 40 bytes dropped, lowercased, English (Snowball)
    # stems. Term frequencies for BM25; no positions (no phrase queries).
    builder.add_text_field("text", stored=False, tokenizer_name="en_stem", index_option="freq")
    return builder.build()


def _query_analyzer(stopwords: bool) -> tantivy.TextAnalyzer:
    """en_stem as the index applies it, so that the query's terms are the indexed ones; with `stopwords`,
    English stop words dropped as DuckDB's fts did (they rank nothing)."""
    builder = tantivy.TextAnalyzerBuilder(tantivy.Tokenizer.simple()).filter(tantivy.Filter.remove_long(40))
    builder = builder.filter(tantivy.Filter.lowercase())
    if stopwords:
        builder = builder.filter(tantivy.Filter.stopword("english"))
    return builder.filter(tantivy.Filter.stemmer("english")).build()


def query_terms(text: str) -> list[str]:
    """The index terms of a search text: its words as the index tokenizes them, never parsed as a query
    language (quotes, colons, AND/OR, brackets are just text), stop words dropped unless they are all it
    has; sorted and distinct."""
    terms = _query_analyzer(stopwords=True).analyze(text) or _query_analyzer(stopwords=False).analyze(text)
    return sorted(set(terms))


# --- the folder ------------------------------------------------------------------------------------

def _mark_matches(path: Path) -> bool | None:
    """True: newsdag's index of this format; False: newsdag's, of another format or unreadable mark;
    None: no mark (not a folder newsdag made, or one it made and died in before the mark was written)."""
    mark = path / MARK
    if not mark.is_file():
        return None
    try:
        found = json.loads(mark.read_text())
    except (OSError, ValueError):
        return False
    return isinstance(found, dict) and found.get("format") == FORMAT and found.get("version") == FORMAT_VERSION


def _open(path: Path) -> tantivy.Index | None:
    """The index at `path` if it is newsdag's, of this format, and opens with its segments; else None."""
    if not path.is_dir() or not _mark_matches(path):
        return None
    try:
        index = tantivy.Index.open(str(path))
        index.searcher().num_docs  # opens every segment: a missing or damaged file fails here
        return index
    except Exception:  # noqa: BLE001 - whatever tantivy finds wrong: unreadable, so made anew
        return None


def open_for_search(warehouse: Path) -> tantivy.Index:
    """The index beside `warehouse`, read-only (opening it writes nothing); SearchIndexMissing when absent."""
    path = search_index_path(warehouse)
    index = _open(path)
    if index is None:
        state = "unreadable" if path.exists() else "missing"
        raise SearchIndexMissing(f"the full-text index beside this warehouse is {state} ({path}): "
                                 f"run `newsdag run` once to build it from the stored paragraphs")
    return index


def _made_anew(path: Path) -> tantivy.Index:
    """An empty index at `path`: a folder newsdag made (marked) is replaced; an empty one is used; anything
    else there is refused, untouched."""
    if path.is_symlink() or path.is_file():
        raise ForeignSearchIndex(f"{path} is not newsdag's full-text index folder: move it away "
                                 f"(newsdag keeps its index for `newsdag search` there)")
    if path.is_dir():
        if _mark_matches(path) is None and any(path.iterdir()):
            raise ForeignSearchIndex(f"{path} holds files that are not newsdag's full-text index: move it away "
                                     f"(newsdag keeps its index for `newsdag search` there)")
        shutil.rmtree(path)
    path.mkdir(parents=True)
    temporary = path / (MARK + ".tmp")
    temporary.write_text(json.dumps({"format": FORMAT, "version": FORMAT_VERSION}))
    os.replace(temporary, path / MARK)
    return tantivy.Index(_schema(), path=str(path), reuse=False)


def remove_index_folder(path: Path) -> None:
    """Remove the index folder at `path` if newsdag made it (marked, or empty); anything else stays."""
    if path.is_dir() and not path.is_symlink() and (_mark_matches(path) is not None or not any(path.iterdir())):
        shutil.rmtree(path)


def index_present(warehouse: Path) -> bool:
    return _open(search_index_path(warehouse)) is not None


# --- the sync --------------------------------------------------------------------------------------

def sync(con: duckdb.DuckDBPyConnection, warehouse: Path) -> SyncCounts:
    """Bring the index beside `warehouse` in line with its `paragraphs` (`con`: a writing connection to it,
    under the writer lock). Costs what changed: two anti joins over ids and hashes, the texts of the
    paragraphs to add, and nothing written when nothing changed."""
    con.execute(internal_sql("search_index_schema"))
    counts = _sync_once(con, search_index_path(warehouse))
    if not counts.rebuilt and not _holds_what_is_recorded(con, warehouse):
        # The folder or the warehouse came back from another time: what the table says is not what the
        # index holds, and no diff against it can be trusted.
        rebuilt = _sync_once(con, search_index_path(warehouse), anew=True)
        counts = SyncCounts(counts.added + rebuilt.added, counts.deleted + rebuilt.deleted, True)
    return counts


def _sync_once(con: duckdb.DuckDBPyConnection, path: Path, anew: bool = False) -> SyncCounts:
    index = None if anew else _open(path)
    rebuilt = index is None
    if index is None:
        index = _made_anew(path)
        con.execute("delete from search_index.indexed")  # the index is empty: everything is to add
    to_delete = read_frame(con, internal_sql("search_index_to_delete"))
    to_add = read_frame(con, internal_sql("search_index_to_add"))
    if to_delete.height == 0 and to_add.height == 0:
        return SyncCounts(0, 0, rebuilt)
    changed = pl.concat([to_delete.select("paragraph_id"), to_add.select("paragraph_id")])
    writer = index.writer(heap_size=WRITER_HEAP_BYTES, num_threads=WRITER_THREADS)
    try:
        if not rebuilt:  # (an index made anew holds nothing to delete)
            for paragraph_id in changed["paragraph_id"].to_list():
                writer.delete_documents_by_term("paragraph_id", paragraph_id)
        with registered(con, "search_index_add", to_add):
            texts = con.execute(internal_sql("search_index_texts")).to_arrow_reader(TEXT_BATCH_ROWS)
            for batch in texts:
                for paragraph_id, text in zip(batch.column(0).to_pylist(), batch.column(1).to_pylist()):
                    writer.add_document(tantivy.Document(paragraph_id=paragraph_id, text=text))
        writer.commit()
    except BaseException:
        writer.rollback()
        raise
    writer.wait_merging_threads()  # merges finish and the writer's lock is released before the next sync
    _record(con, changed, to_add)
    return SyncCounts(to_add.height, to_delete.height, rebuilt)


def _record(con: duckdb.DuckDBPyConnection, changed: pl.DataFrame, added: pl.DataFrame) -> None:
    """What the index now holds, in one warehouse transaction (after the index's commit: a crash between
    the two leaves the table behind the index, and the next sync applies the same changes again)."""
    with transaction(con), registered(con, "search_index_changed", changed), registered(con, "search_index_add", added):
        con.execute(internal_sql("search_index_record"))


def _holds_what_is_recorded(con: duckdb.DuckDBPyConnection, warehouse: Path) -> bool:
    index = _open(search_index_path(warehouse))
    if index is None:
        return False
    index.reload()
    recorded = con.execute("select count(*) from search_index.indexed").fetchone()
    return recorded is not None and int(recorded[0]) == index.searcher().num_docs


# --- search ----------------------------------------------------------------------------------------

HITS_SCHEMA = {"paragraph_id": pl.String, "bm25": pl.Float64}


def top_hits(index: tantivy.Index, text: str, candidates: int) -> pl.DataFrame:
    """The `candidates` best paragraphs by BM25 for `text` (`HITS_SCHEMA`), in the order (bm25 desc,
    paragraph_id), and every paragraph tied with the last of them (the same wire paragraph in several
    outlets scores alike: which of them made the cut must not depend on where tantivy stored them). A
    text with no indexable word finds nothing."""
    terms = query_terms(text)
    if not terms or candidates <= 0:
        return pl.DataFrame(schema=HITS_SCHEMA)
    schema = index.schema
    query = tantivy.Query.boolean_query(
        [(tantivy.Occur.Should, tantivy.Query.term_query(schema, "text", term, index_option="freq")) for term in terms])
    searcher = index.searcher()
    limit = candidates
    while True:
        hits = searcher.search(query, limit, count=False).hits
        if len(hits) < limit or hits[-1][0] != hits[candidates - 1][0]:
            break
        limit *= 2  # the last one found ties with the cut: there may be more
    cut = hits[candidates - 1][0] if len(hits) >= candidates else float("-inf")
    rows = [(searcher.doc(address)["paragraph_id"][0], float(score)) for score, address in hits if score >= cut]
    return pl.DataFrame(rows, schema=HITS_SCHEMA, orient="row").sort(["bm25", "paragraph_id"], descending=[True, False])
