"""Link similar paragraphs across articles (shared wire copy, the same quote in several outlets).

Two searches find each paragraph's nearest neighbours: an exact one (a matrix product, the reference,
used for small corpora and within a batch) and an approximate one (a usearch HNSW index kept on disk
beside the warehouse, so that a new batch is linked to every stored paragraph without recomputing
all pairs). Each link also carries a cheap lexical signal, word-shingle containment, which tells
copied wire text (`kind = 'copy'`) from paraphrase.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import polars as pl

from tasks.embed import embedding_matrix, frame_blocks

LINK_SCHEMA = {
    "paragraph_id_a": pl.String,
    "paragraph_id_b": pl.String,
    "article_id_a": pl.String,
    "article_id_b": pl.String,
    "cosine": pl.Float32,
    "lexical_overlap": pl.Float32,
    "kind": pl.String,
}

# Share of the shorter paragraph's word 3-grams found in the other: wire copy, even lightly edited,
# keeps most of them; a paraphrase of the same statement keeps few.
COPY_MIN_OVERLAP = 0.5
SHINGLE_WORDS = 3
_WORD = re.compile(r"\w+")


# --- lexical signal -----------------------------------------------------------------------------

def shingles(text: str, size: int = SHINGLE_WORDS) -> set[tuple[str, ...]]:
    """Word n-grams of the lower-cased text (the words themselves for texts shorter than n)."""
    words = _WORD.findall(text.lower())
    if len(words) < size:
        return {tuple(words)} if words else set()
    return {tuple(words[i:i + size]) for i in range(len(words) - size + 1)}


def lexical_overlap(text_a: str, text_b: str) -> float:
    """Containment of word 3-grams: |A ∩ B| / min(|A|, |B|), 1.0 for verbatim (or truncated) copies."""
    a, b = shingles(text_a), shingles(text_b)
    if not a or not b:
        return 0.0
    return len(a & b) / min(len(a), len(b))


def link_kind(overlap: float) -> str:
    return "copy" if overlap >= COPY_MIN_OVERLAP else "paraphrase"


# --- ranking: one total order everywhere ------------------------------------------------------------
#
# Neighbours are ranked by (cosine desc, paragraph_id asc), the cosine rounded to RANK_DECIMALS. A float32
# matrix product's cosine depends in its last bits on the shapes multiplied, the BLAS kernel and its
# threads (and the HNSW index has its own kernel), so a float32 cosine near a rounding boundary rounds
# either way, and identical paragraphs' cosines may differ in the last bit: 3 of 731 links after a
# history of edits differed from a fresh run's. So the float32 product only picks candidates, with a
# margin, and the candidates' cosines are computed again in float64 from the stored float32 vectors
# (whose products are exact in float64; any summation order then agrees to ~1e-14, far below the
# rounding step), and those are what is ranked and stored.

RANK_DECIMALS = 6
# Far above a float32 cosine's error (~1e-7 for 384 dimensions), so that no candidate is lost.
SCORE_MARGIN = 1e-4


def rank_scores(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Row-wise cosines of unit vectors `a` and `b` (float32, same shape), in float64, rounded: the
    score every ranking uses."""
    if a.shape[0] == 0:
        return np.zeros(0, dtype=np.float64)
    exact = np.einsum("ij,ij->i", a.astype(np.float64), b.astype(np.float64))
    return np.round(exact, RANK_DECIMALS)


def _near_top(block: np.ndarray, k: int, floor: float | np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(row, column) of the float32 scores in `block` that may be among a row's top k once scored
    exactly: within SCORE_MARGIN of the row's k-th best (and of `floor`), every tie included, however
    many. Cells set to -inf (masked) are never taken."""
    if block.shape[1] > k:
        kth = np.partition(block, block.shape[1] - k, axis=1)[:, block.shape[1] - k]
    else:
        kth = np.full(block.shape[0], -np.inf, dtype=block.dtype)
    cutoff = np.maximum(kth, floor) - SCORE_MARGIN
    rows, columns = np.nonzero((block >= cutoff[:, None]) & np.isfinite(block))
    return rows, columns


# --- nearest neighbours -------------------------------------------------------------------------

# Cosines scored at once by the exact search (x 4 bytes, plus argpartition's 8-byte indices): queries
# are taken in chunks small enough that memory stays flat as the corpus grows. 2M cells hold the
# search's temporaries to ~38 MB (8M: ~99 MB, on top of what the embedding thread holds meanwhile)
# at about the same speed (1,200 queries x 8,192 stored: ~0.2 s either way).
EXACT_BLOCK_CELLS = 2_000_000


def exact_chunk_rows(corpus_rows: int) -> int:
    """Queries per block of the exact search, so that a block holds at most EXACT_BLOCK_CELLS cosines."""
    return max(1, EXACT_BLOCK_CELLS // max(1, corpus_rows))


def exact_neighbours(queries: np.ndarray, corpus: np.ndarray, k: int, chunk_rows: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Top-k corpus rows by cosine (unit vectors) for each query: (indices, scores), best first, equal
    cosines (at RANK_DECIMALS) in row order, so that the result does not depend on chunking or threads.

    The reference for the approximate index; cost grows with queries x corpus.
    """
    chunk_rows = chunk_rows or exact_chunk_rows(corpus.shape[0])
    k = min(k, corpus.shape[0])
    indices = np.zeros((queries.shape[0], k), dtype=np.int64)
    scores = np.zeros((queries.shape[0], k), dtype=np.float32)
    if k == 0:
        return indices, scores
    for start in range(0, queries.shape[0], chunk_rows):
        block = queries[start:start + chunk_rows] @ corpus.T
        rows, columns = _near_top(block, k, -np.inf)
        exact = rank_scores(queries[start + rows], corpus[columns])
        bounds = np.searchsorted(rows, np.arange(block.shape[0] + 1))  # np.nonzero gives rows in order
        for row in range(block.shape[0]):
            cols, found = columns[bounds[row]:bounds[row + 1]], exact[bounds[row]:bounds[row + 1]]
            order = np.lexsort((cols, -found))[:k]  # total key: (cosine desc, row asc)
            indices[start + row], scores[start + row] = cols[order], found[order]
    return indices, scores


def paragraph_key(paragraph_ids: list[str] | pl.Series) -> np.ndarray:
    """A stable 63-bit integer key per paragraph_id (usearch keys are integers)."""
    return np.array(
        [int.from_bytes(hashlib.blake2b(p.encode(), digest_size=8).digest(), "big") >> 1 for p in paragraph_ids],
        dtype=np.uint64,
    )


# One thread for building and searching the HNSW graph: with several, the graph (and so which neighbours an
# approximate search finds) changes from run to run on the same paragraphs; one thread keeps a run's links
# reproducible (test_6_links_through_the_hnsw_index... failed 1 run in 5 with usearch's default, all cores).
INDEX_THREADS = 1


def new_ann_index(dimension: int):  # -> usearch.index.Index
    from usearch.index import Index

    # connectivity 16 / expansion 128 (build) and 64 (search): usearch's defaults, recall@10 >= 0.95
    # on sentence embeddings (bench/similarity.py).
    return Index(ndim=dimension, metric="cos", dtype="f32", connectivity=16, expansion_add=128, expansion_search=64)


@dataclass
class ParagraphIndex:
    """An HNSW index over stored paragraph embeddings, kept in a file beside the warehouse.

    The warehouse is the truth: `sync_paragraph_index` adds what the index lacks and removes what the
    warehouse no longer holds (replaced, pruned or duplicate articles, or a crash between a commit
    and the save), so a stale or missing file costs work, never wrong links.
    """

    index: object
    keys: dict[int, tuple[str, str]]  # key -> (paragraph_id, article_id)

    def search(self, queries: np.ndarray, k: int) -> tuple[list[list[tuple[str, str]]], list[np.ndarray]]:
        """For each query: up to k (paragraph_id, article_id) and their cosines, scored exactly
        (rank_scores, not the index's own float32 kernel), in the order (cosine desc, paragraph_id)."""
        if len(self.keys) == 0 or queries.shape[0] == 0:
            return [[] for _ in range(queries.shape[0])], [np.zeros(0) for _ in range(queries.shape[0])]
        matches = self.index.search(queries, min(k, len(self.keys)), threads=INDEX_THREADS)
        keys = np.atleast_2d(matches.keys)
        counts = np.atleast_1d(matches.counts)
        valid = np.arange(keys.shape[1])[None, :] < counts[:, None]
        query_rows, _ = np.nonzero(valid)
        flat_keys = keys[valid]
        # The stored vectors, fetched in one call, against their queries: one exact cosine per hit.
        vectors = np.asarray(self.index.get(flat_keys), dtype=np.float32).reshape(len(flat_keys), -1)
        exact = rank_scores(queries[query_rows], vectors)
        found: list[list[tuple[str, str]]] = []
        cosines: list[np.ndarray] = []
        start = 0
        for row in range(keys.shape[0]):
            stop = start + int(counts[row])
            hits = [self.keys[int(key)] for key in flat_keys[start:stop]]
            row_scores = exact[start:stop]
            order = sorted(range(len(hits)), key=lambda i: (-row_scores[i], hits[i][0]))
            found.append([hits[i] for i in order])
            cosines.append(row_scores[order])
            start = stop
        return found, cosines


def sync_paragraph_index(
    path: Path, stored: pl.DataFrame, fetch_embeddings: Callable[[list[str]], pl.DataFrame], dimension: int,
) -> tuple[ParagraphIndex, int, int]:
    """Bring the index file at `path` in line with the stored paragraphs (`paragraph_id`, `article_id`).

    `fetch_embeddings(ids)` returns `paragraph_id`, `embedding` for paragraphs the index lacks.
    Returns the index and how many paragraphs were added and removed (the file is saved if any).
    """
    from usearch.index import Index

    index = Index.restore(str(path)) if path.exists() else None
    if index is None or index.ndim != dimension:
        index = new_ann_index(dimension)
    wanted_keys = paragraph_key(stored["paragraph_id"])
    wanted = dict(zip(wanted_keys.tolist(), zip(stored["paragraph_id"].to_list(), stored["article_id"].to_list())))
    present = set(np.asarray(index.keys).tolist()) if len(index) else set()
    stale = [key for key in present if key not in wanted]
    for key in stale:
        index.remove(key)
    missing_ids = [wanted[key][0] for key in wanted if key not in present]
    if missing_ids:
        vectors = fetch_embeddings(missing_ids)
        index.add(paragraph_key(vectors["paragraph_id"]), embedding_matrix(vectors["embedding"]), threads=INDEX_THREADS)
    if stale or missing_ids:
        path.parent.mkdir(parents=True, exist_ok=True)
        index.save(str(path))
    return ParagraphIndex(index, wanted), len(missing_ids), len(stale)


def ann_neighbours(queries: np.ndarray, corpus: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Approximate top-k corpus rows by cosine (HNSW): (indices, scores), best first; -1 where fewer."""
    index = new_ann_index(corpus.shape[1])
    index.add(np.arange(corpus.shape[0], dtype=np.uint64), corpus, threads=INDEX_THREADS)
    matches = index.search(queries, min(k, corpus.shape[0]), threads=INDEX_THREADS)
    keys = np.atleast_2d(matches.keys).astype(np.int64)
    counts = np.atleast_1d(matches.counts)
    keys[np.arange(keys.shape[1])[None, :] >= counts[:, None]] = -1
    return keys, (1.0 - np.atleast_2d(matches.distances)).astype(np.float32)


# --- linking ------------------------------------------------------------------------------------

def _query_depth(new: pl.DataFrame, top_k: int) -> int:
    """Neighbours to ask for so that top_k remain after dropping those in the same article."""
    longest = int(new.group_by("article_id").len()["len"].max() or 0)
    return top_k + min(longest, 64)


def _pairs_frame(pairs: dict[tuple[str, str], tuple[str, str, float]]) -> pl.DataFrame:
    return pl.DataFrame(
        [{"paragraph_id_a": a, "paragraph_id_b": b, "article_id_a": article_a, "article_id_b": article_b,
          "cosine": min(cosine, 1.0), "lexical_overlap": None, "kind": None}
         for (a, b), (article_a, article_b, cosine) in sorted(pairs.items())],
        schema=LINK_SCHEMA,
    )


def add_lexical_overlap(links: pl.DataFrame, texts: dict[str, str]) -> pl.DataFrame:
    """Fill `lexical_overlap` and `kind` from the paragraphs' texts (paragraph_id -> text)."""
    overlaps = [lexical_overlap(texts.get(a, ""), texts.get(b, ""))
                for a, b in links.select("paragraph_id_a", "paragraph_id_b").iter_rows()]
    return links.with_columns(
        lexical_overlap=pl.Series(overlaps, dtype=pl.Float32),
        kind=pl.Series([link_kind(o) for o in overlaps], dtype=pl.String),
    )


def _keep(pairs: dict, a: str, b: str, article_a: str, article_b: str, cosine: float) -> None:
    if a > b:
        a, b, article_a, article_b = b, a, article_b, article_a
    pairs[(a, b)] = (article_a, article_b, cosine)


def _total_key(hit: tuple[str, str, float]) -> tuple[float, str]:
    """(paragraph_id, article_id, cosine) ranked by cosine (at RANK_DECIMALS: float32 or float64, the
    same value) desc, then paragraph_id."""
    return -round(hit[2], RANK_DECIMALS), hit[0]


def _candidates(
    new: pl.DataFrame, neighbours: list[list[tuple[str, str, float]]], threshold: float, top_k: int,
    pairs: dict[tuple[str, str], tuple[str, str, float]],
) -> None:
    """Keep each new paragraph's top_k neighbours from other articles with cosine >= threshold."""
    for (paragraph_id, article_id), found in zip(new.select("paragraph_id", "article_id").iter_rows(), neighbours):
        kept = 0
        for other_id, other_article, cosine in sorted(found, key=_total_key):
            if kept == top_k or cosine < threshold:
                break
            if other_article == article_id or other_id == paragraph_id:
                continue
            _keep(pairs, paragraph_id, other_id, article_id, other_article, cosine)
            kept += 1


def link_similar_paragraphs(
    new: pl.DataFrame,
    existing: pl.DataFrame | Iterable[pl.DataFrame],
    threshold: float,
    top_k: int,
    index: ParagraphIndex | None = None,
    excluded_articles: list[str] | None = None,
) -> pl.DataFrame:
    """Link each new paragraph to its top-k most similar paragraphs in other articles (cosine >= threshold).

    `new` holds `paragraph_id`, `article_id` and unit-length `embedding` (and `text`). Stored
    paragraphs are searched exactly in `existing` (same columns; a frame, or frames read a block at a
    time so that memory stays flat as the warehouse grows) or, when given, approximately in `index`;
    articles in `excluded_articles` (about to be replaced) are skipped. New paragraphs are always
    searched exactly among themselves. Each pair is stored once (paragraph_id_a < paragraph_id_b).
    Lexical overlap is filled in where both texts are in `new` or `existing`; use
    `add_lexical_overlap` for the others.
    """
    if new.height == 0:
        return pl.DataFrame(schema=LINK_SCHEMA)
    excluded = set(excluded_articles or [])
    depth = _query_depth(new, top_k)
    # exact_neighbours breaks ties by row: rows in paragraph_id order make that the total order.
    new = new.sort("paragraph_id")
    new_vectors = embedding_matrix(new["embedding"])
    new_ids, new_articles = new["paragraph_id"].to_list(), new["article_id"].to_list()
    neighbours: list[list[tuple[str, str, float]]] = [[] for _ in new_ids]

    rows, scores = exact_neighbours(new_vectors, new_vectors, depth + 1)
    for q in range(len(new_ids)):
        neighbours[q] += [(new_ids[c], new_articles[c], float(s)) for c, s in zip(rows[q], scores[q])]

    texts: dict[str, str] = {}
    if index is not None:
        # A replaced article's old paragraphs are still in the index and resemble its new ones.
        found, cosines = index.search(new_vectors, depth + (depth - top_k if excluded else 0))
        for q, hits in enumerate(found):
            neighbours[q] += [(pid, aid, float(c)) for (pid, aid), c in zip(hits, cosines[q]) if aid not in excluded]
    else:
        excluded_list = list(excluded)
        for block in frame_blocks(existing):
            stored = block.filter(~pl.col("paragraph_id").is_in(new_ids) & ~pl.col("article_id").is_in(excluded_list)
                                  ).sort("paragraph_id")
            if stored.height == 0:
                continue
            stored_ids, stored_articles = stored["paragraph_id"].to_list(), stored["article_id"].to_list()
            rows, scores = exact_neighbours(new_vectors, embedding_matrix(stored["embedding"]), depth)
            for q in range(len(new_ids)):
                hits = neighbours[q] + [(stored_ids[c], stored_articles[c], float(s)) for c, s in zip(rows[q], scores[q])]
                # Only the batch's own depth + 1 hits can be of the same article, so the best
                # 2 * depth + 1 always hold the top_k from other articles.
                neighbours[q] = sorted(hits, key=_total_key)[:2 * depth + 1]
            if "text" in stored.columns:
                kept = {hit[0] for hits in neighbours for hit in hits}
                texts.update((p, t) for p, t in zip(stored_ids, stored["text"].to_list()) if p in kept)

    pairs: dict[tuple[str, str], tuple[str, str, float]] = {}
    _candidates(new, neighbours, threshold, top_k, pairs)
    if "text" in new.columns:
        texts.update(zip(new_ids, new["text"].to_list()))
    return add_lexical_overlap(_pairs_frame(pairs), texts)


def paragraph_ids_missing_text(links: pl.DataFrame, known: set[str]) -> list[str]:
    """Linked paragraphs whose text is not at hand (found through the index): fetch them, then
    `add_lexical_overlap`."""
    linked = set(links["paragraph_id_a"].to_list()) | set(links["paragraph_id_b"].to_list())
    return sorted(linked - known)


# --- neighbour lists and links, independent of arrival order -------------------------------------
#
# A paragraph's neighbour list is its top_k paragraphs of other articles by cosine, at or above the
# threshold, ties broken by paragraph_id (cosines compared at RANK_DECIMALS, so that a last-bit
# difference between two matrix products never reorders them). Two paragraphs are linked when either
# is in the other's list. Both depend only on the set of stored paragraphs, so after any sequence of
# adds, edits, renames, deletes and prunes the links equal those of one run over the final folder.
# `relink` keeps them so: it recomputes the lists of the queued paragraphs (new ones, and those whose
# neighbours were removed) and of every stored paragraph a new one enters the list of.

# Candidates asked of the HNSW index beyond top_k, so that paragraphs tied at the k-th place (the same
# wire paragraph in several outlets) are seen and ordered by id; more are asked while the last one
# found still ties with the k-th (index_neighbour_lists).
TIE_MARGIN = 16
_EPS = SCORE_MARGIN  # the reverse check over-includes by this much; a recomputed list is exact either way


class _ArticleCodes:
    """Article ids as small integers, for masking same-article pairs in a matrix."""

    def __init__(self) -> None:
        self.codes: dict[str, int] = {}

    def of(self, article_ids: list[str]) -> np.ndarray:
        return np.array([self.codes.setdefault(a, len(self.codes)) for a in article_ids], dtype=np.int64)


def exact_neighbour_lists(
    query_ids: list[str], query_articles: list[str], query_vectors: np.ndarray, corpus_blocks: Iterable[pl.DataFrame],
    threshold: float, top_k: int,
) -> pl.DataFrame:
    """Each query's neighbour list over the corpus (frames with `paragraph_id`, `article_id`,
    `embedding`, read a block at a time), by exact search. Columns: those of paragraph_neighbours."""
    codes = _ArticleCodes()
    query_codes = codes.of(query_articles)
    n = len(query_ids)
    # Per query, its best top_k so far as (-score, paragraph_id, article_id): the top_k of a union is
    # the top_k of its parts' top_k under a total order, so blocks may come in any size and order.
    best: list[list[tuple[float, str, str]]] = [[] for _ in range(n)]
    floor = np.full(n, threshold, dtype=np.float64)  # a query's k-th best so far: weaker cannot enter
    for block in corpus_blocks:
        if block.height == 0:
            continue
        block_ids, block_articles = block["paragraph_id"].to_list(), block["article_id"].to_list()
        block_codes = codes.of(block_articles)
        matrix = embedding_matrix(block["embedding"])
        for start in range(0, n, exact_chunk_rows(block.height)):
            stop = min(n, start + exact_chunk_rows(block.height))
            scores = query_vectors[start:stop] @ matrix.T
            scores[query_codes[start:stop, None] == block_codes[None, :]] = -np.inf  # same article (and itself)
            rows, columns = _near_top(scores, top_k, floor[start:stop])
            exact = rank_scores(query_vectors[start + rows], matrix[columns])
            touched = set()
            for row, column, score in zip(rows.tolist(), columns.tolist(), exact.tolist()):
                if score >= threshold:
                    best[start + row].append((-score, block_ids[column], block_articles[column]))
                    touched.add(start + row)
            for q in touched:
                best[q] = sorted(best[q])[:top_k]
                if len(best[q]) == top_k:
                    floor[q] = -best[q][-1][0]
    rows_out = [(query_ids[q], other, query_articles[q], other_article, -negated)
                for q in range(n) for negated, other, other_article in best[q]]
    return _neighbour_frame(rows_out)


def _neighbour_frame(rows: list[tuple[str, str, str, str, float]]) -> pl.DataFrame:
    return pl.DataFrame(
        rows, orient="row",
        schema={"paragraph_id": pl.String, "neighbour_id": pl.String, "article_id": pl.String,
                "neighbour_article_id": pl.String, "cosine": pl.Float32},
    )


def entered_lists(
    added_articles: list[str], added_vectors: np.ndarray, corpus_blocks: Iterable[pl.DataFrame],
    floors: dict[str, tuple[int, float]], threshold: float, top_k: int,
) -> set[str]:
    """Stored paragraphs whose neighbour list a new paragraph enters (exact search): its best cosine
    from a new paragraph of another article reaches the threshold and the list's weakest (or the list
    is not full). `floors`: paragraph_id -> (list length, weakest cosine)."""
    entered: set[str] = set()
    if not added_articles:
        return entered
    codes = _ArticleCodes()
    added_codes = codes.of(added_articles)
    for block in corpus_blocks:
        if block.height == 0:
            continue
        ids = block["paragraph_id"].to_list()
        block_codes = codes.of(block["article_id"].to_list())
        matrix = embedding_matrix(block["embedding"])
        best = np.full(block.height, -np.inf)
        for start in range(0, len(added_articles), exact_chunk_rows(block.height)):
            stop = start + exact_chunk_rows(block.height)
            # float32 is enough here: the margin (_EPS) over-includes, and each list entered is
            # recomputed exactly.
            scores = added_vectors[start:stop] @ matrix.T
            scores[added_codes[start:stop, None] == block_codes[None, :]] = -np.inf
            best = np.maximum(best, scores.max(axis=0))
        for paragraph_id, score in zip(ids, best.tolist()):
            if score < threshold - _EPS:
                continue
            length, floor = floors.get(paragraph_id, (0, -1.0))
            if length < top_k or score >= floor - _EPS:
                entered.add(paragraph_id)
    return entered


def index_neighbour_lists(
    index: ParagraphIndex, query_ids: list[str], query_articles: list[str], query_vectors: np.ndarray,
    threshold: float, top_k: int, longest_article: int,
) -> pl.DataFrame:
    """Neighbour lists through the HNSW index (approximate: as good as its recall). Hits are scored
    again exactly (rank_scores) and ordered by (cosine desc, paragraph_id); a query whose last hit
    still ties with its k-th is searched again for more, so that a tie is never cut by the index."""
    rows: list[tuple[str, str, str, str, float]] = []
    count = top_k + TIE_MARGIN + min(longest_article, 64)
    pending = list(range(len(query_ids)))
    while pending:
        found, scores = index.search(query_vectors[pending], count)
        again = []
        for q, hits, exact in zip(pending, found, scores):
            others = [(-float(s), pid, aid) for (pid, aid), s in zip(hits, exact) if aid != query_articles[q]]
            kept = sorted(hit for hit in others if -hit[0] >= threshold)[:top_k]
            weakest = min((float(s) for s in exact), default=-np.inf)
            bar = -kept[-1][0] if len(kept) == top_k else threshold
            if count < len(index.keys) and len(hits) == count and weakest >= bar - SCORE_MARGIN:
                again.append(q)  # what was not asked for may tie with the k-th (or still pass the threshold)
                continue
            rows += [(query_ids[q], pid, query_articles[q], aid, -negated) for negated, pid, aid in kept]
        pending, count = again, count * 2
    return _neighbour_frame(sorted(rows))


def links_from_pairs(pairs: pl.DataFrame) -> pl.DataFrame:
    """paragraph_similarity rows from the union pairs (`paragraph_id_a`, `paragraph_id_b`, article ids,
    `cosine`, `text_a`, `text_b`)."""
    overlaps = [lexical_overlap(a, b) for a, b in pairs.select("text_a", "text_b").iter_rows()]
    return pairs.select(
        "paragraph_id_a", "paragraph_id_b", "article_id_a", "article_id_b", pl.col("cosine").cast(pl.Float32),
        lexical_overlap=pl.Series(overlaps, dtype=pl.Float32),
        kind=pl.Series([link_kind(o) for o in overlaps], dtype=pl.String),
    )


def paragraph_index_path(warehouse: Path) -> Path:
    """The HNSW index file kept beside the warehouse."""
    return warehouse.with_name(warehouse.name + ".hnsw")


def relink(con, threshold: float, top_k: int, exact_max: int, index_path: Path, dimension: int) -> int:
    """Bring neighbour lists and links in line with the stored paragraphs (inside the caller's
    transaction): recompute the queued paragraphs' lists and those a new paragraph enters, then their
    links. Returns how many lists were recomputed."""
    from tasks import warehouse

    queue = warehouse.relink_queue(con)
    if queue.height == 0:
        con.execute("delete from relink_queue")  # entries of paragraphs since removed
        return 0
    stored = warehouse.paragraph_ids(con)
    added = queue.filter(pl.col("added"))
    floors = {pid: (n, floor) for pid, n, floor in warehouse.neighbour_floors(con).iter_rows()}
    use_index = stored.height > exact_max
    index = None
    if use_index:
        index, _, _ = sync_paragraph_index(index_path, stored, lambda ids: warehouse.paragraph_vectors(con, ids), dimension)

    def vectors_of(frame: pl.DataFrame) -> np.ndarray:
        found = warehouse.paragraph_vectors(con, frame["paragraph_id"].to_list())
        ordered = frame.select("paragraph_id").join(found, on="paragraph_id", how="left", maintain_order="left")
        return embedding_matrix(ordered["embedding"])

    affected = set(queue["paragraph_id"].to_list())
    if added.height and len(affected) < stored.height:
        added_vectors = vectors_of(added)
        if index is None:
            affected |= entered_lists(added["article_id"].to_list(), added_vectors,
                                      warehouse.paragraph_embedding_blocks(con, []), floors, threshold, top_k)
        else:
            lists = index_neighbour_lists(index, added["paragraph_id"].to_list(), added["article_id"].to_list(),
                                          added_vectors, threshold, top_k, 64)
            for pid, score in lists.select("neighbour_id", "cosine").iter_rows():
                length, floor = floors.get(pid, (0, -1.0))
                if length < top_k or score >= floor - _EPS:
                    affected.add(pid)
    targets = stored.filter(pl.col("paragraph_id").is_in(sorted(affected))).sort("paragraph_id")
    query_ids, query_articles = targets["paragraph_id"].to_list(), targets["article_id"].to_list()
    query_vectors = vectors_of(targets)
    if index is None:
        lists = exact_neighbour_lists(query_ids, query_articles, query_vectors,
                                      warehouse.paragraph_embedding_blocks(con, []), threshold, top_k)
    else:
        longest = int(stored.group_by("article_id").len()["len"].max() or 0)
        lists = index_neighbour_lists(index, query_ids, query_articles, query_vectors, threshold, top_k, longest)
    warehouse.replace_neighbour_lists(con, query_ids, lists)
    warehouse.replace_links(con, query_ids, links_from_pairs(warehouse.pairs_touching(con, query_ids)))
    return len(query_ids)
