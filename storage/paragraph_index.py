"""The HNSW index beside a single-file warehouse (the folder `<warehouse>.paragraph-index/`), kept in step
with the stored paragraphs by what changed, never by comparing it with every stored paragraph, and never
read or written whole.

- Every transaction that inserts or deletes paragraphs journals them (paragraph_index_journal: the
  paragraph, the text its vector embeds, added or removed; storage/loads.py). The relink in that
  transaction (flows/relink.py) applies the journal's net changes to the index and empties the journal.
- The index is segments: HNSW files of at most SEGMENT_VECTORS vectors each. New vectors go into the
  last segment while it has room (that file alone is read and written again), then into a new one; a
  full segment is never rewritten: it is searched memory-mapped (usearch's view), and a paragraph
  deleted or edited since is listed as removed from it (a small file of keys beside it) and left out of
  its answers. A segment more than half removed is rebuilt from its live vectors. So a relink reads and
  writes at most one segment's file, whatever the archive's size, and the whole index is never held in
  memory (a single file had to be read and written whole at each relink: 1.7 KB a paragraph, ~35 GB at
  a million articles).
- `manifest.json` names the segments and their removed keys; files are written under new names and the
  manifest replaced last (atomically), so that a crash leaves the previous manifest and its files whole.
- A set of paragraphs has a digest: the sum, modulo 2**64, of its entries' hashes (sql/internal/
  paragraph_set_digest.sql; an entry is a paragraph and its text). Equal sets have equal digests whatever
  the order of changes that made them, and a journal moves a digest by its own entries alone. The
  warehouse records the digest of its stored paragraphs (warehouse_meta), the manifest the digest of
  what the segments hold.
- When the two differ at a relink (a crash between the manifest's save and the commit, a folder deleted
  or brought from elsewhere, runs below `exact_max` that kept no index, a warehouse from before the
  journal or with the single-file index `<warehouse>.hnsw` of earlier versions), the index is built again
  from the stored paragraphs, a segment at a time: work that follows the warehouse, only then.

Keys are resolved to paragraphs by `paragraphs.index_key`, for the keys a search found only.
"""

from __future__ import annotations

import json
import os
import shutil
from dataclasses import dataclass
from pathlib import Path

import duckdb
import numpy as np
import polars as pl

from storage.backend import backend_of
from storage.frames import blocks_excluding_articles, internal_sql, read_frame, registered
from storage.state import paragraph_vectors, stored_meta
from tasks.embed import embedding_matrix
from tasks.similarity import INDEX_THREADS, IndexSegment, ParagraphIndex, new_ann_index, paragraph_key

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


# --- the segments' files ----------------------------------------------------------------------------

# The most vectors a segment holds (1.7 GB of float32 vectors and graph at 384 dimensions): what one
# relink reads and writes at most, and what a rebuild holds in memory at once.
SEGMENT_VECTORS = 1 << 20
MANIFEST = "manifest.json"
FOLDER_FORMAT = "newsdag-paragraph-index"
FOLDER_VERSION = 2


@dataclass(frozen=True)
class SegmentFile:
    file: str  # the HNSW graph
    removed_file: str | None  # its keys that no longer count (sorted uint64, .npy), if any
    size: int = -1  # the graph file's bytes: a file cut short or replaced is not opened (a view of it would
    #                 fault when searched past its end)


@dataclass(frozen=True)
class Manifest:
    dimension: int
    digest: int
    segments: tuple[SegmentFile, ...]
    next_number: int  # the number the next file written gets (names are never reused)


def legacy_index_files(folder: Path) -> list[Path]:
    """The single index file of earlier versions (`<warehouse>.hnsw`) and its digest file: replaced by the
    folder, removed once the folder is written."""
    legacy = folder.with_name(folder.name.removesuffix(".paragraph-index") + ".hnsw")
    return [legacy, legacy.with_name(legacy.name + ".json")]


def _read_manifest(folder: Path, dimension: int) -> Manifest | None:
    """The folder's manifest, None when there is no usable one (absent, unreadable, another format or size)."""
    try:
        found = json.loads((folder / MANIFEST).read_text())
        if found.get("format") != FOLDER_FORMAT or found.get("version") != FOLDER_VERSION:
            return None
        manifest = Manifest(int(found["dimension"]), int(found["digest"]),
                            tuple(SegmentFile(str(entry["file"]), entry.get("removed_file"), int(entry["size"]))
                                  for entry in found["segments"]),
                            int(found["next_number"]))
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return None
    return manifest if manifest.dimension == dimension else None


def _write_manifest(folder: Path, manifest: Manifest) -> None:
    """Replace the manifest (the commit point of the folder's changes), then remove the files it no longer
    names (an earlier generation's, or those a crashed relink wrote) and the single file of earlier versions."""
    text = json.dumps({"format": FOLDER_FORMAT, "version": FOLDER_VERSION, "dimension": manifest.dimension,
                       "digest": str(manifest.digest), "next_number": manifest.next_number,
                       "segments": [{"file": entry.file, "removed_file": entry.removed_file, "size": entry.size}
                                    for entry in manifest.segments]},
                      indent=1)
    temporary = folder / (MANIFEST + ".tmp")
    temporary.write_text(text)
    os.replace(temporary, folder / MANIFEST)
    named = {MANIFEST} | {entry.file for entry in manifest.segments} | {
        entry.removed_file for entry in manifest.segments if entry.removed_file}
    for path in folder.iterdir():
        if path.name not in named and path.is_file():
            path.unlink(missing_ok=True)
    for path in legacy_index_files(folder):
        path.unlink(missing_ok=True)


def remove_index_folder(folder: Path) -> None:
    """Remove the segments' folder if newsdag made it (a manifest of ours, or empty); anything else stays."""
    if folder.is_dir() and not folder.is_symlink():
        ours = (folder / MANIFEST).is_file() and _read_manifest_format(folder)
        if ours or not any(folder.iterdir()):
            shutil.rmtree(folder)


def _read_manifest_format(folder: Path) -> bool:
    try:
        return json.loads((folder / MANIFEST).read_text()).get("format") == FOLDER_FORMAT
    except (OSError, ValueError, AttributeError):
        return False


class _Writer:
    """Files written under new names (`segment-<n>.usearch`, `segment-<n>.removed.npy`)."""

    def __init__(self, folder: Path, next_number: int) -> None:
        self.folder, self.next_number = folder, next_number

    def _name(self, suffix: str) -> str:
        self.next_number += 1
        return f"segment-{self.next_number:06d}{suffix}"

    def index(self, index: object) -> SegmentFile:
        name = self._name(".usearch")
        index.save(str(self.folder / name))  # type: ignore[attr-defined]
        return SegmentFile(name, None, (self.folder / name).stat().st_size)

    def removed(self, keys: np.ndarray) -> str | None:
        if keys.size == 0:
            return None
        name = self._name(".removed.npy")
        np.save(self.folder / name, np.sort(keys.astype(np.uint64)), allow_pickle=False)
        return name


def _opened(folder: Path, manifest: Manifest) -> list[IndexSegment] | None:
    """The manifest's segments, memory-mapped (nothing read until searched); None when a file is missing
    or unreadable."""
    from usearch.index import Index

    segments = []
    try:
        for entry in manifest.segments:
            if (folder / entry.file).stat().st_size != entry.size:
                return None
            index = Index.restore(str(folder / entry.file), view=True)
            if index is None or index.ndim != manifest.dimension:
                return None
            removed = (np.load(folder / entry.removed_file, allow_pickle=False).astype(np.uint64)
                       if entry.removed_file else np.zeros(0, dtype=np.uint64))
            segments.append(IndexSegment(index, removed))
    except (OSError, RuntimeError, ValueError):
        return None
    return segments


# --- the relink's index ----------------------------------------------------------------------------

def settle_journal(con: duckdb.DuckDBPyConnection, folder: Path | None, dimension: int) -> ParagraphIndex | None:
    """Apply the journal (inside the caller's transaction): with `folder`, to the index there, returned
    in step with the stored paragraphs; without (exact search), to the recorded digest alone, which then
    no longer matches the folder's, so that a later relink that needs the index builds it again."""
    if not backend_of(con).has_paragraph_index_file:
        return None  # (nothing journalled there: a lake searches exactly)
    recorded = stored_meta(con, DIGEST_KEY)
    journal = "select paragraph_id, text_sha256, added from paragraph_index_journal"
    digest = (int(recorded) + _digest(con, journal)) % _DIGEST_MODULUS if recorded is not None else stored_digest(con)
    segments = None
    if folder is not None:
        manifest = _read_manifest(folder, dimension)
        in_step = recorded is not None and manifest is not None and manifest.digest == int(recorded)
        segments = _opened(folder, manifest) if in_step and manifest is not None else None
        if segments is not None and manifest is not None:
            files, segments = _apply_journal(con, folder, manifest, segments)
        else:  # out of step, or a file usearch cannot read
            folder.mkdir(parents=True, exist_ok=True)
            files, segments = _built_index(con, folder, dimension, _next_number(manifest))
        if files is not None:
            entries, next_number = files
            _write_manifest(folder, Manifest(dimension, digest, entries, next_number))
    con.execute("delete from paragraph_index_journal")
    if recorded is None or int(recorded) != digest:
        backend_of(con).replace_meta(con, DIGEST_KEY, str(digest))
    return None if segments is None else ParagraphIndex(segments, lambda keys: paragraphs_of_keys(con, keys))


def _next_number(manifest: Manifest | None) -> int:
    return manifest.next_number if manifest is not None else 0


def _restored(path: Path, dimension: int) -> object | None:
    """The segment file at `path` read whole (to be added to), None when usearch cannot read it."""
    from usearch.index import Index

    try:
        index = Index.restore(str(path))
    except (OSError, RuntimeError, ValueError):
        return None
    return index if index is not None and index.ndim == dimension else None


def _apply_journal(
    con: duckdb.DuckDBPyConnection, folder: Path, manifest: Manifest, segments: list[IndexSegment],
) -> tuple[tuple[tuple[SegmentFile, ...], int] | None, list[IndexSegment] | None]:
    """The journal's net changes, applied: entries removed (and the earlier copy of any entry added)
    are listed as removed from the segment that holds them; entries added (the stored vector now) go
    into the last segment while it has room, then into new ones. Returns the files to name in the
    manifest (None when nothing changed) and the segments as they now are (None: a file could not be
    read back, so the index is built again)."""
    net = read_frame(con, "select paragraph_id, text_sha256, sum(case when added then 1 else -1 end)::integer as net "
                          "from paragraph_index_journal group by all having net <> 0")
    if net.height == 0:
        return None, segments
    added = net.filter(pl.col("net") > 0)["paragraph_id"].unique().sort()
    leaving = paragraph_key(net["paragraph_id"].unique().sort())
    entries = list(manifest.segments)
    writer = _Writer(folder, manifest.next_number)
    for number, segment in enumerate(segments):
        held = leaving[np.asarray(segment.index.contains(leaving), dtype=bool).reshape(-1)] if leaving.size else leaving  # type: ignore[attr-defined]
        gone = np.setdiff1d(held, segment.removed)
        if gone.size:
            segment.removed = np.union1d(segment.removed, gone)
            entries[number] = SegmentFile(entries[number].file, writer.removed(segment.removed), entries[number].size)
    # A segment more than half removed is rebuilt from its live vectors (bounded: one segment's worth);
    # one left empty goes.
    for number, segment in enumerate(segments):
        if segment.removed.size * 2 > len(segment.index) and segment.removed.size:  # type: ignore[arg-type]
            segments[number], entries[number] = _compacted(segment, manifest.dimension, writer)
    kept = [number for number, segment in enumerate(segments) if len(segment.index)]  # type: ignore[arg-type]
    segments, entries = [segments[number] for number in kept], [entries[number] for number in kept]
    if added.len():
        vectors = paragraph_vectors(con, added.to_list()).sort("paragraph_id")
        keys, matrix = paragraph_key(vectors["paragraph_id"]), embedding_matrix(vectors["embedding"])
        start = 0
        while start < len(keys):
            last = segments[-1] if segments else None
            room = SEGMENT_VECTORS - (len(last.index) if last is not None else SEGMENT_VECTORS)  # type: ignore[arg-type]
            if last is None or room <= 0:
                segments.append(IndexSegment(new_ann_index(manifest.dimension)))
                entries.append(SegmentFile("", None, 0))
                room = SEGMENT_VECTORS
            else:  # the last segment, read whole to be added to (it alone)
                index = _restored(folder / entries[-1].file, manifest.dimension)
                if index is None:
                    return None, None
                for key in segments[-1].removed.tolist():  # removed for good from the file rewritten
                    index.remove(key)  # type: ignore[attr-defined]
                segments[-1] = IndexSegment(index)
            part = slice(start, start + room)
            segments[-1].index.add(keys[part], matrix[part], threads=INDEX_THREADS)  # type: ignore[attr-defined]
            entries[-1] = writer.index(segments[-1].index)
            start += room
    return (tuple(entries), writer.next_number), segments


def _compacted(segment: IndexSegment, dimension: int, writer: _Writer) -> tuple[IndexSegment, SegmentFile]:
    """The segment rebuilt from its live vectors alone, and its new file."""
    keys = np.setdiff1d(np.asarray(segment.index.keys, dtype=np.uint64), segment.removed)  # type: ignore[attr-defined]
    index = new_ann_index(dimension)
    for start in range(0, len(keys), _BUILD_BLOCK):
        part = keys[start:start + _BUILD_BLOCK]
        index.add(part, np.asarray(segment.index.get(part), dtype=np.float32).reshape(len(part), -1),  # type: ignore[attr-defined]
                  threads=INDEX_THREADS)
    return IndexSegment(index), writer.index(index)


_BUILD_BLOCK = 65_536


def _built_index(
    con: duckdb.DuckDBPyConnection, folder: Path, dimension: int, next_number: int,
) -> tuple[tuple[tuple[SegmentFile, ...], int], list[IndexSegment]]:
    """New segments over every stored paragraph, read a block at a time (one thread, so that the same
    paragraphs give the same graphs), each saved when full and then searched memory-mapped. Paragraphs
    stored before `index_key` get theirs first."""
    from usearch.index import Index

    con.execute(internal_sql("paragraph_index_keys"))
    writer = _Writer(folder, next_number)
    files: list[SegmentFile] = []
    index = new_ann_index(dimension)

    def seal() -> None:
        files.append(writer.index(index))

    for block in blocks_excluding_articles(
            con, "select index_key, embedding from paragraphs anti join excluded_articles using (article_id)", []):
        keys, matrix = block["index_key"].to_numpy(), embedding_matrix(block["embedding"])
        start = 0
        while start < len(keys):
            room = SEGMENT_VECTORS - len(index)
            index.add(keys[start:start + room], matrix[start:start + room], threads=INDEX_THREADS)
            start += room
            if len(index) >= SEGMENT_VECTORS:
                seal()
                index = new_ann_index(dimension)
    if len(index) or not files:
        seal()
    segments = [IndexSegment(Index.restore(str(folder / entry.file), view=True)) for entry in files]
    return (tuple(files), writer.next_number), segments


def paragraphs_of_keys(con: duckdb.DuckDBPyConnection, keys: np.ndarray) -> pl.DataFrame:
    """The stored paragraphs (`index_key`, `paragraph_id`, `article_id`) of these index keys."""
    wanted = pl.DataFrame({"index_key": keys}, schema={"index_key": pl.UInt64})
    with registered(con, "wanted_keys", wanted):
        return read_frame(con, "select index_key, paragraph_id, article_id from paragraphs "
                               "where index_key in (select index_key from wanted_keys)")
