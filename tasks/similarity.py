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
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import polars as pl

from tasks.embed import embedding_matrix

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
    """A stable 63-bit integer key per paragraph_id (usearch keys are integers): the first 8 bytes of its
    id's MD5, little-endian, shifted right by one. The same number as DuckDB's
    `md5_number_upper(paragraph_id) >> 1`, which fills the key of paragraphs stored before
    `paragraphs.index_key` (storage/paragraph_index.py; tests/test_paragraph_index.py checks they agree)."""
    return np.array(
        [int.from_bytes(hashlib.md5(p.encode()).digest()[:8], "little") >> 1 for p in paragraph_ids],
        dtype=np.uint64,
    )


# One thread for building and searching the HNSW graph: with several, the graph (and so which neighbours an
# approximate search finds) changes from run to run on the same paragraphs; one thread keeps a run's links
# reproducible (test_6_links_through_the_hnsw_index... failed 1 run in 5 with usearch's default, all cores).
INDEX_THREADS = 1
# Searching is another matter: each query walks the graph on its own, so the answers are the same on any
# number of threads (tests/test_paragraph_index.py checks it), and a batch's searches use every core.
SEARCH_THREADS = 0


def new_ann_index(dimension: int):  # -> usearch.index.Index
    from usearch.index import Index

    # connectivity 16 / expansion 128 (build) and 64 (search): usearch's defaults, recall@10 >= 0.95
    # on sentence embeddings (bench/similarity.py).
    return Index(ndim=dimension, metric="cos", dtype="f32", connectivity=16, expansion_add=128, expansion_search=64)


# Hits (query x k) fetched and scored at once by ParagraphIndex.search: 16,384 vectors of 384 floats are
# 25 MB in float32, 50 MB as float64.
SEARCH_BLOCK_HITS = 16_384


def frame_resolver(stored: pl.DataFrame) -> Callable[[np.ndarray], pl.DataFrame]:
    """A `ParagraphIndex.resolve` over a frame of the indexed paragraphs (`paragraph_id`, `article_id`):
    for tests and benchmarks that hold them all; the flow asks the warehouse (storage/paragraph_index.py)."""
    keyed = stored.select(pl.Series("index_key", paragraph_key(stored["paragraph_id"])), "paragraph_id", "article_id")
    return lambda keys: keyed.join(pl.DataFrame({"index_key": keys}, schema={"index_key": pl.UInt64}),
                                   on="index_key", how="semi")


@dataclass
class IndexSegment:
    """One HNSW graph over some of the stored paragraphs' vectors. `removed`: its keys that no longer
    count (their paragraphs deleted, or edited and indexed again in a later segment), sorted: a segment
    written once is never rewritten for a removal, only left out of the answers."""

    index: object
    removed: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.uint64))

    @property
    def live(self) -> int:
        return len(self.index) - int(self.removed.size)  # type: ignore[arg-type]


@dataclass
class ParagraphIndex:
    """HNSW graphs (segments) over stored paragraph embeddings, kept in files beside the warehouse.

    The segments hold keys and vectors only: `resolve(keys)` says which stored paragraph (`paragraph_id`,
    `article_id`) each key found is, so that nothing the size of the warehouse is held beside them. A key
    `resolve` does not know (a paragraph gone since the index was saved) is never returned.
    """

    segments: list[IndexSegment]
    resolve: Callable[[np.ndarray], pl.DataFrame]  # keys -> `index_key`, `paragraph_id`, `article_id`

    @property
    def size(self) -> int:
        return sum(segment.live for segment in self.segments)

    def search(self, queries: np.ndarray, k: int) -> tuple[list[list[tuple[str, str]]], list[np.ndarray], list[bool]]:
        """For each query: up to k (paragraph_id, article_id) and their cosines, scored exactly
        (rank_scores, not the index's own float32 kernel), in the order (cosine desc, paragraph_id), and
        whether that is all there is (no segment held more hits than were asked of it).
        Queries go a block at a time, so that the hits' vectors held at once stay bounded whatever the
        batch (a batch's thousands of queries times k hits, fetched and scored in float64 at once,
        took gigabytes); the keys found are resolved to paragraphs once, after the last block."""
        hit_keys: list[np.ndarray] = []
        hit_scores: list[np.ndarray] = []
        complete: list[bool] = []
        step = max(1, SEARCH_BLOCK_HITS // max(k * max(len(self.segments), 1), 1))
        for start in range(0, queries.shape[0], step):
            block_keys, block_scores, block_complete = self._search_block(queries[start:start + step], k)
            hit_keys += block_keys
            hit_scores += block_scores
            complete += block_complete
        unique = np.unique(np.concatenate(hit_keys)) if hit_keys else np.zeros(0, dtype=np.uint64)
        known = self.resolve(unique) if unique.size else pl.DataFrame()
        paragraphs = dict(zip(known["index_key"].to_list(), zip(known["paragraph_id"].to_list(),
                                                                known["article_id"].to_list()))) if known.height else {}
        found: list[list[tuple[str, str]]] = []
        cosines: list[np.ndarray] = []
        for q, (keys, scores) in enumerate(zip(hit_keys, hit_scores)):
            kept = [i for i, key in enumerate(keys.tolist()) if key in paragraphs]
            hits = [paragraphs[int(keys[i])] for i in kept]
            order = sorted(range(len(hits)), key=lambda i: (-scores[kept[i]], hits[i][0]))
            if len(order) > k:  # several segments answered: the best k of their hits
                order, complete[q] = order[:k], False
            found.append([hits[i] for i in order])
            cosines.append(scores[[kept[i] for i in order]])
        return found, cosines, complete

    def _search_block(self, queries: np.ndarray, k: int) -> tuple[list[np.ndarray], list[np.ndarray], list[bool]]:
        """Per query: the live keys the segments found, their exact cosines, and whether every segment
        gave fewer hits than asked (so that none holds more)."""
        n_queries = queries.shape[0]
        keys_of: list[list[np.ndarray]] = [[] for _ in range(n_queries)]
        scores_of: list[list[np.ndarray]] = [[] for _ in range(n_queries)]
        complete = np.ones(n_queries, dtype=bool)
        for segment in self.segments:
            if len(segment.index) == 0 or n_queries == 0:  # type: ignore[arg-type]
                continue
            asked = min(k, len(segment.index))  # type: ignore[arg-type]
            matches = segment.index.search(queries, asked, threads=SEARCH_THREADS)  # type: ignore[attr-defined]
            keys = np.atleast_2d(matches.keys)
            # one query gives a Matches (its hits only), several a BatchMatches (padded rows and their counts)
            counts = np.atleast_1d(matches.counts if hasattr(matches, "counts") else len(matches.keys))
            complete &= counts < k
            valid = np.arange(keys.shape[1])[None, :] < counts[:, None]
            flat_keys = keys.astype(np.uint64)
            valid &= ~np.isin(flat_keys, segment.removed)
            query_rows, _ = np.nonzero(valid)
            flat_keys = flat_keys[valid]
            # The stored vectors, fetched in one call, against their queries: one exact cosine per hit.
            vectors = np.asarray(segment.index.get(flat_keys), dtype=np.float32).reshape(len(flat_keys), -1)  # type: ignore[attr-defined]
            exact = rank_scores(queries[query_rows], vectors)
            bounds = np.concatenate([[0], np.cumsum(valid.sum(axis=1))])
            for row in range(n_queries):
                keys_of[row].append(flat_keys[bounds[row]:bounds[row + 1]])
                scores_of[row].append(exact[bounds[row]:bounds[row + 1]])
        empty_keys, empty_scores = np.zeros(0, dtype=np.uint64), np.zeros(0)
        return ([np.concatenate(parts) if parts else empty_keys for parts in keys_of],
                [np.concatenate(parts) if parts else empty_scores for parts in scores_of],
                complete.tolist())


def sync_paragraph_index(
    path: Path, stored: pl.DataFrame, fetch_embeddings: Callable[[list[str]], pl.DataFrame], dimension: int,
) -> tuple[ParagraphIndex, int, int]:
    """Bring the index file at `path` in line with `stored` (`paragraph_id`, `article_id`) by comparing
    every key: for tests and benchmarks over frames (the flow keeps its file by the changes journalled in
    the warehouse instead: storage/paragraph_index.py). `fetch_embeddings(ids)` returns `paragraph_id`,
    `embedding` for paragraphs the index lacks. Returns the index and how many paragraphs were added
    and removed (the file is saved if any)."""
    from usearch.index import Index

    index = Index.restore(str(path)) if path.exists() else None
    if index is None or index.ndim != dimension:
        index = new_ann_index(dimension)
    wanted_keys = paragraph_key(stored["paragraph_id"])
    wanted = dict(zip(wanted_keys.tolist(), stored["paragraph_id"].to_list()))
    present = set(np.asarray(index.keys).tolist()) if len(index) else set()
    stale = [key for key in present if key not in wanted]
    for key in stale:
        index.remove(key)
    missing_ids = [wanted[key] for key in wanted if key not in present]
    if missing_ids:
        vectors = fetch_embeddings(missing_ids)
        index.add(paragraph_key(vectors["paragraph_id"]), embedding_matrix(vectors["embedding"]), threads=INDEX_THREADS)
    if stale or missing_ids:
        path.parent.mkdir(parents=True, exist_ok=True)
        index.save(str(path))
    return ParagraphIndex([IndexSegment(index)], frame_resolver(stored)), len(missing_ids), len(stale)


# --- neighbour lists and links, independent of arrival order -------------------------------------
#
# A paragraph's neighbour list is its top_k paragraphs of other articles by cosine, at or above the
# threshold, ties broken by paragraph_id (cosines compared at RANK_DECIMALS, so that a last-bit
# difference between two matrix products never reorders them). Two paragraphs are linked when either
# is in the other's list. Both depend only on the set of stored paragraphs, so after any sequence of
# adds, edits, renames, deletes and prunes the links equal those of one run over the final folder.
# flows/relink.py keeps them so: it recomputes the lists of the queued paragraphs (new ones, and those whose
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
        found, scores, complete = index.search(query_vectors[pending], count)
        again = []
        for q, hits, exact, whole in zip(pending, found, scores, complete):
            others = [(-float(s), pid, aid) for (pid, aid), s in zip(hits, exact) if aid != query_articles[q]]
            kept = sorted(hit for hit in others if -hit[0] >= threshold)[:top_k]
            weakest = min((float(s) for s in exact), default=-np.inf)
            bar = -kept[-1][0] if len(kept) == top_k else threshold
            if not whole and weakest >= bar - SCORE_MARGIN:
                again.append(q)  # what was not asked for may tie with the k-th (or still pass the threshold)
                continue
            rows += [(query_ids[q], pid, query_articles[q], aid, -negated) for negated, pid, aid in kept]
        pending, count = again, count * 2
    return _neighbour_frame(sorted(rows))


def index_entered_lists(
    index: ParagraphIndex, added_ids: list[str], added_articles: list[str], added_vectors: np.ndarray,
    floors: dict[str, tuple[int, float]], threshold: float, top_k: int,
) -> set[str]:
    """`entered_lists` through the HNSW index: the stored paragraphs that new paragraphs' own (approximate)
    neighbour lists reach, and whose list they enter. `floors`: paragraph_id -> (list length, weakest cosine)."""
    # 64: the most same-article hits index_neighbour_lists ever asks beyond top_k.
    lists = index_neighbour_lists(index, added_ids, added_articles, added_vectors, threshold, top_k, 64)
    entered: set[str] = set()
    for paragraph_id, score in lists.select("neighbour_id", "cosine").iter_rows():
        length, floor = floors.get(paragraph_id, (0, -1.0))
        if length < top_k or score >= floor - _EPS:
            entered.add(paragraph_id)
    return entered


# Paragraphs whose texts are held at once while links are made (~16 MB of 2 KB paragraphs; one read of
# the stored texts per block, and a batch's pairs usually fit in one).
LINK_BLOCK_PARAGRAPHS = 8192


def pair_blocks(pairs: pl.DataFrame, max_paragraphs: int = LINK_BLOCK_PARAGRAPHS) -> Iterable[tuple[pl.DataFrame, list[str]]]:
    """`pairs` (`paragraph_id_a`, `paragraph_id_b`, ...) cut, in order, into consecutive blocks whose pairs
    have at most `max_paragraphs` distinct ends (at least one pair a block); each with those ends, sorted."""
    start, ends = 0, set()
    for row, (a, b) in enumerate(pairs.select("paragraph_id_a", "paragraph_id_b").iter_rows()):
        grown = ends | {a, b}
        if len(grown) > max_paragraphs and row > start:
            yield pairs.slice(start, row - start), sorted(ends)
            start, grown = row, {a, b}
        ends = grown
    if pairs.height > start:
        yield pairs.slice(start), sorted(ends)


def links_from_pairs(pairs: pl.DataFrame, texts_of: Callable[[list[str]], dict[str, str]],
                     max_paragraphs: int = LINK_BLOCK_PARAGRAPHS) -> pl.DataFrame:
    """paragraph_similarity rows from the union pairs (`paragraph_id_a`, `paragraph_id_b`, article ids,
    `cosine`), in their order. `texts_of(ids)`: {paragraph_id: text}, asked a block of at most
    `max_paragraphs` paragraphs at a time, so that the texts held do not grow with the pairs (a
    syndicated paragraph is in many pairs) nor with the batch."""
    overlaps: list[float] = []
    for block, ends in pair_blocks(pairs, max_paragraphs):
        texts = texts_of(ends)
        overlaps.extend(lexical_overlap(texts[a], texts[b])
                        for a, b in block.select("paragraph_id_a", "paragraph_id_b").iter_rows())
    return pairs.select(
        "paragraph_id_a", "paragraph_id_b", "article_id_a", "article_id_b", pl.col("cosine").cast(pl.Float32),
        lexical_overlap=pl.Series(overlaps, dtype=pl.Float32),
        kind=pl.Series([link_kind(o) for o in overlaps], dtype=pl.String),
    )


def paragraph_index_path(warehouse: Path) -> Path:
    """The folder of the HNSW index's segments kept beside the warehouse (storage/paragraph_index.py)."""
    return warehouse.with_name(warehouse.name + ".paragraph-index")
