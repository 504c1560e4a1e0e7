"""Link similar paragraphs across articles (shared wire copy, the same quote in several outlets).

Two searches find each paragraph's nearest neighbours: an exact one (a matrix product, the reference,
used for small corpora and within a batch) and an approximate one (a usearch HNSW index kept on disk
beside the warehouse, so that a new batch is linked to every stored paragraph without recomputing
all pairs). Each link also carries a cheap lexical signal, word-shingle containment, which tells
copied wire text (`kind = 'copy'`) from paraphrase.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import polars as pl

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


# --- nearest neighbours -------------------------------------------------------------------------

def _matrix(frame: pl.DataFrame) -> np.ndarray:
    if frame.height == 0:
        return np.zeros((0, 0), dtype=np.float32)
    return np.ascontiguousarray(frame["embedding"].to_numpy().astype(np.float32, copy=False))


def exact_neighbours(queries: np.ndarray, corpus: np.ndarray, k: int, chunk_rows: int = 2048) -> tuple[np.ndarray, np.ndarray]:
    """Top-k corpus rows by cosine (unit vectors) for each query: (indices, scores), best first.

    The reference for the approximate index; cost grows with queries x corpus.
    """
    k = min(k, corpus.shape[0])
    indices = np.zeros((queries.shape[0], k), dtype=np.int64)
    scores = np.zeros((queries.shape[0], k), dtype=np.float32)
    if k == 0:
        return indices, scores
    for start in range(0, queries.shape[0], chunk_rows):
        block = queries[start:start + chunk_rows] @ corpus.T
        best = np.argpartition(-block, k - 1, axis=1)[:, :k] if k < block.shape[1] else np.tile(
            np.arange(block.shape[1]), (block.shape[0], 1))
        best_scores = np.take_along_axis(block, best, axis=1)
        order = np.argsort(-best_scores, axis=1)
        indices[start:start + chunk_rows] = np.take_along_axis(best, order, axis=1)
        scores[start:start + chunk_rows] = np.take_along_axis(best_scores, order, axis=1)
    return indices, scores


def paragraph_key(paragraph_ids: list[str] | pl.Series) -> np.ndarray:
    """A stable 63-bit integer key per paragraph_id (usearch keys are integers)."""
    return np.array(
        [int.from_bytes(hashlib.blake2b(p.encode(), digest_size=8).digest(), "big") >> 1 for p in paragraph_ids],
        dtype=np.uint64,
    )


def new_ann_index(dimension: int):  # -> usearch.index.Index
    from usearch.index import Index

    # connectivity 16 / expansion 128 (build) and 64 (search): usearch's defaults, recall@10 >= 0.95
    # on sentence embeddings (bench/similarity.py).
    return Index(ndim=dimension, metric="cos", dtype="f32", connectivity=16, expansion_add=128, expansion_search=64)


@dataclass
class ParagraphIndex:
    """An HNSW index over stored paragraph embeddings, saved as `<warehouse>.hnsw` (+ `.json`).

    The JSON side file holds the paragraph count and a checksum of the keys; an index that does not
    match the warehouse (a crash between commit and save, articles deleted by `prune`) is rebuilt.
    """

    index: object
    keys: dict[int, tuple[str, str]]  # key -> (paragraph_id, article_id)

    @classmethod
    def build(cls, stored: pl.DataFrame, dimension: int) -> "ParagraphIndex":
        index = new_ann_index(dimension)
        keys = paragraph_key(stored["paragraph_id"])
        if stored.height:
            index.add(keys, _matrix(stored))
        return cls(index, dict(zip(keys.tolist(), zip(stored["paragraph_id"], stored["article_id"]))))

    @staticmethod
    def fingerprint(paragraph_ids: list[str] | pl.Series) -> dict[str, int]:
        keys = paragraph_key(paragraph_ids)
        return {"count": int(keys.size), "checksum": int(keys.sum(dtype=np.uint64))}

    @classmethod
    def load(cls, path: Path, stored_ids: pl.DataFrame) -> "ParagraphIndex | None":
        """The saved index if it matches the stored paragraphs (`paragraph_id`, `article_id`), else None."""
        meta_path = path.with_suffix(path.suffix + ".json")
        if not path.exists() or not meta_path.exists():
            return None
        if json.loads(meta_path.read_text()) != cls.fingerprint(stored_ids["paragraph_id"]):
            return None
        from usearch.index import Index

        index = Index.restore(str(path))
        if index is None or len(index) != stored_ids.height:
            return None
        keys = paragraph_key(stored_ids["paragraph_id"])
        return cls(index, dict(zip(keys.tolist(), zip(stored_ids["paragraph_id"], stored_ids["article_id"]))))

    def save(self, path: Path) -> None:
        ids = [paragraph_id for paragraph_id, _ in self.keys.values()]
        self.index.save(str(path))
        path.with_suffix(path.suffix + ".json").write_text(json.dumps(self.fingerprint(ids)))

    def update(self, removed_paragraph_ids: list[str], added: pl.DataFrame) -> None:
        """Drop replaced paragraphs and add new ones (`paragraph_id`, `article_id`, `embedding`)."""
        for key in paragraph_key(removed_paragraph_ids).tolist():
            if key in self.keys:
                self.index.remove(key)
                del self.keys[key]
        if added.height:
            keys = paragraph_key(added["paragraph_id"])
            fresh = [i for i, key in enumerate(keys.tolist()) if key not in self.keys]
            if fresh:
                self.index.add(keys[fresh], _matrix(added)[fresh])
                for i in fresh:
                    self.keys[int(keys[i])] = (added["paragraph_id"][i], added["article_id"][i])

    def search(self, queries: np.ndarray, k: int) -> tuple[list[list[tuple[str, str]]], np.ndarray]:
        """For each query: up to k (paragraph_id, article_id) and cosines, best first."""
        if len(self.keys) == 0 or queries.shape[0] == 0:
            return [[] for _ in range(queries.shape[0])], np.zeros((queries.shape[0], 0), dtype=np.float32)
        matches = self.index.search(queries, min(k, len(self.keys)))
        keys = np.atleast_2d(matches.keys)
        cosines = 1.0 - np.atleast_2d(matches.distances)
        counts = np.atleast_1d(matches.counts)
        found = [[self.keys[int(key)] for key in keys[row, :counts[row]]] for row in range(keys.shape[0])]
        return found, cosines


def ann_neighbours(queries: np.ndarray, corpus: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Approximate top-k corpus rows by cosine (HNSW): (indices, scores), best first; -1 where fewer."""
    index = new_ann_index(corpus.shape[1])
    index.add(np.arange(corpus.shape[0], dtype=np.uint64), corpus)
    matches = index.search(queries, min(k, corpus.shape[0]))
    keys = np.atleast_2d(matches.keys).astype(np.int64)
    counts = np.atleast_1d(matches.counts)
    keys[np.arange(keys.shape[1])[None, :] >= counts[:, None]] = -1
    return keys, (1.0 - np.atleast_2d(matches.distances)).astype(np.float32)


# --- linking ------------------------------------------------------------------------------------

def _query_depth(new: pl.DataFrame, top_k: int) -> int:
    """Neighbours to ask for so that top_k remain after dropping those in the same article."""
    longest = int(new.group_by("article_id").len()["len"].max() or 0)
    return top_k + min(longest, 64)


def _pairs_frame(pairs: dict[tuple[str, str], tuple[str, str, float]], texts: dict[str, str]) -> pl.DataFrame:
    rows = []
    for (a, b), (article_a, article_b, cosine) in sorted(pairs.items()):
        overlap = lexical_overlap(texts.get(a, ""), texts.get(b, ""))
        rows.append({"paragraph_id_a": a, "paragraph_id_b": b, "article_id_a": article_a, "article_id_b": article_b,
                     "cosine": min(cosine, 1.0), "lexical_overlap": overlap, "kind": link_kind(overlap)})
    return pl.DataFrame(rows, schema=LINK_SCHEMA)


def _keep(pairs: dict, a: str, b: str, article_a: str, article_b: str, cosine: float) -> None:
    if a > b:
        a, b, article_a, article_b = b, a, article_b, article_a
    pairs[(a, b)] = (article_a, article_b, cosine)


def _candidates(
    new: pl.DataFrame, neighbours: list[list[tuple[str, str, float]]], threshold: float, top_k: int,
    pairs: dict[tuple[str, str], tuple[str, str, float]],
) -> None:
    """Keep each new paragraph's top_k neighbours from other articles with cosine >= threshold."""
    for (paragraph_id, article_id), found in zip(new.select("paragraph_id", "article_id").iter_rows(), neighbours):
        kept = 0
        for other_id, other_article, cosine in sorted(found, key=lambda hit: -hit[2]):
            if kept == top_k or cosine < threshold:
                break
            if other_article == article_id or other_id == paragraph_id:
                continue
            _keep(pairs, paragraph_id, other_id, article_id, other_article, cosine)
            kept += 1


def link_similar_paragraphs(
    new: pl.DataFrame,
    existing: pl.DataFrame,
    threshold: float,
    top_k: int,
    index: ParagraphIndex | None = None,
    excluded_articles: list[str] | None = None,
) -> pl.DataFrame:
    """Link each new paragraph to its top-k most similar paragraphs in other articles.

    `new` holds `paragraph_id`, `article_id`, `text` and unit-length `embedding`. Stored paragraphs
    are searched exactly in `existing` (same columns) or, when given, approximately in `index`
    (then `existing` needs only the `text` of paragraphs the index may return; articles in
    `excluded_articles`, about to be replaced, are skipped). The new paragraphs are always searched
    exactly among themselves. Each pair is stored once (paragraph_id_a < paragraph_id_b).
    """
    if new.height == 0:
        return pl.DataFrame(schema=LINK_SCHEMA)
    excluded = set(excluded_articles or [])
    depth = _query_depth(new, top_k)
    new_vectors = _matrix(new)
    new_ids, new_articles = new["paragraph_id"].to_list(), new["article_id"].to_list()
    neighbours: list[list[tuple[str, str, float]]] = [[] for _ in new_ids]

    rows, scores = exact_neighbours(new_vectors, new_vectors, depth + 1)
    for q in range(len(new_ids)):
        neighbours[q] += [(new_ids[c], new_articles[c], float(s)) for c, s in zip(rows[q], scores[q])]

    if index is not None:
        found, cosines = index.search(new_vectors, depth + len(excluded) * 0 + 16 if excluded else depth)
        for q, hits in enumerate(found):
            neighbours[q] += [(pid, aid, float(c)) for (pid, aid), c in zip(hits, cosines[q])
                              if aid not in excluded]
    elif existing.height:
        stored = existing.filter(~pl.col("paragraph_id").is_in(new_ids) & ~pl.col("article_id").is_in(list(excluded)))
        stored_ids, stored_articles = stored["paragraph_id"].to_list(), stored["article_id"].to_list()
        rows, scores = exact_neighbours(new_vectors, _matrix(stored), depth)
        for q in range(len(new_ids)):
            neighbours[q] += [(stored_ids[c], stored_articles[c], float(s)) for c, s in zip(rows[q], scores[q])]

    pairs: dict[tuple[str, str], tuple[str, str, float]] = {}
    _candidates(new, neighbours, threshold, top_k, pairs)
    texts = dict(zip(new_ids, new["text"].to_list())) if "text" in new.columns else {}
    if "text" in existing.columns:
        texts = {**dict(zip(existing["paragraph_id"].to_list(), existing["text"].to_list())), **texts}
    return _pairs_frame(pairs, texts)


def paragraphs_needing_text(links_without_text: set[str], new: pl.DataFrame) -> list[str]:
    return sorted(links_without_text - set(new["paragraph_id"].to_list()))
