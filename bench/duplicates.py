"""Duplicate and near-duplicate detection on the BBC corpus (default: ../shared/corpora/bbc).

1. Byte-identical copies: plans ingest over the corpus (the flow's own `plan_ingest`) and checks that
   every pair in `bbc_exact_dups.tsv` is recorded as a duplicate.
2. Near-duplicates: every file (byte-identical copies included, as if they differed by a byte) is
   cleaned, split, embedded (cached in bench/out/similarity/), linked by bench/linker.py (top-k links
   per paragraph) and scored with `tasks.stories.article_similarity`. Reports recall on the exact copies
   (they must come out as `duplicate`) and recall / precision of `duplicate` + `near_duplicate` against
   `bbc_same_title_diff_content.tsv`, and writes a sample of flagged pairs that are in neither list
   for a manual check (bench/out/similarity/flagged_sample.tsv).

Usage: python bench/duplicates.py [--corpus DIR] [--out DIR] [--sample 20]
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import time
from pathlib import Path

import polars as pl

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.linker import link_similar_paragraphs  # noqa: E402
from tasks import cleaning, embed, ingest, paragraphs, stories, topics  # noqa: E402
from tasks.settings import get_settings  # noqa: E402


def read_pairs(path: Path) -> set[tuple[str, str]]:
    rows = [line.split("\t")[:2] for line in path.read_text().splitlines() if line.strip()]
    return {tuple(sorted(row)) for row in rows if row[0] != "a"}  # type: ignore[misc]


def embedded_paragraphs(corpus: Path, out: Path) -> tuple[pl.DataFrame, pl.DataFrame]:
    """(articles, paragraphs with embeddings) for every file of the corpus; embeddings cached by text hash."""
    settings = get_settings()
    files = ingest.discover_files(corpus, settings.max_file_bytes)
    documents = ingest.read_documents(files, corpus).filter(pl.col("error").is_null())
    cleaned, _ = cleaning.clean_articles(documents)
    articles = documents.select("article_id", "source_path").join(cleaned, on="article_id")
    paras = paragraphs.split_paragraphs(articles)
    cache_path = out / "bbc_embeddings.parquet"
    cache = pl.read_parquet(cache_path) if cache_path.exists() else pl.DataFrame(
        schema={"text_sha256": pl.String, "embedding": pl.Array(pl.Float32, settings.embedding_dim)})
    started = time.perf_counter()
    vectors = embed.embed_texts(paras, cache, settings.embedding_model, settings.embedding_dim)
    embedded = embed.attach_embeddings(paras, vectors, settings.embedding_model)
    print(f"embedded {paras.height} paragraphs in {time.perf_counter() - started:.1f}s "
          f"({cache.height} cached)", file=sys.stderr)
    embedded.select("text_sha256", "embedding").unique("text_sha256").write_parquet(cache_path)
    return articles, embedded


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--corpus", type=Path, default=ROOT.parent / "shared" / "corpora" / "bbc")
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "out" / "similarity")
    parser.add_argument("--sample", type=int, default=20, help="flagged pairs outside both lists to write out")
    args = parser.parse_args()
    out = args.out.resolve()
    out.mkdir(parents=True, exist_ok=True)
    settings = get_settings()
    exact_pairs = read_pairs(args.corpus.parent / "bbc_exact_dups.tsv")
    same_title_pairs = read_pairs(args.corpus.parent / "bbc_same_title_diff_content.tsv")

    # 1. What ingest records for byte-identical files.
    plan = ingest.plan_ingest(ingest.discover_files(args.corpus, settings.max_file_bytes),
                              pl.DataFrame(schema={"source_path": pl.String, "content_sha256": pl.String,
                                                   "status": pl.String}))
    owner = dict(zip(plan["source_path"].to_list(),
                     plan.select(pl.coalesce("duplicate_of", "source_path"))["duplicate_of"].to_list()))
    recorded = sum(1 for a, b in exact_pairs if owner.get(a) is not None and owner.get(a) == owner.get(b))
    results: dict[str, object] = {
        "exact_pairs": len(exact_pairs),
        "exact_pairs_recorded_by_ingest": recorded,
        "files_recorded_duplicate": int((plan["action"] == "duplicate").sum()),
    }

    # 2. Article similarity over all files, copies included.
    articles, embedded = embedded_paragraphs(args.corpus, out)
    started = time.perf_counter()
    links = link_similar_paragraphs(
        embedded, embedded.head(0), settings.similarity_threshold, settings.similarity_top_k)
    link_seconds = time.perf_counter() - started
    meta = articles.select("article_id", "source_path", "title", "n_paragraphs", "published").with_columns(
        first_seen_at=pl.lit(None, dtype=pl.Datetime))
    similar = stories.article_similarity(links, meta, stories.identical_paragraph_links(embedded))
    path_of = dict(zip(articles["article_id"].to_list(), articles["source_path"].to_list()))
    similar = similar.with_columns(
        path_a=pl.col("article_id_a").replace_strict(path_of), path_b=pl.col("article_id_b").replace_strict(path_of))
    flagged = similar.filter(pl.col("relation").is_in(["duplicate", "near_duplicate"]))
    flagged_pairs = {tuple(sorted(p)) for p in flagged.select("path_a", "path_b").rows()}
    relation_of = {tuple(sorted((a, b))): r for a, b, r in similar.select("path_a", "path_b", "relation").rows()}
    exact_found = sum(1 for p in exact_pairs if relation_of.get(p) == "duplicate")
    same_title_found = sum(1 for p in same_title_pairs if p in flagged_pairs)
    known = exact_pairs | same_title_pairs
    # Pairs of files that are copies of one another in the exact list also pair up through third
    # copies (a=b, a=c => b=c): not false positives.
    groups: dict[str, str] = {}
    for a, b in sorted(exact_pairs):
        groups[b] = groups.get(a, a)
    other = sorted(p for p in flagged_pairs if p not in known and groups.get(p[0], p[0]) != groups.get(p[1], p[1]))
    results.update({
        "paragraphs": embedded.height,
        "links": links.height,
        "link_seconds": round(link_seconds, 2),
        "exact_pairs_flagged_duplicate": exact_found,
        "same_title_pairs": len(same_title_pairs),
        "same_title_flagged": same_title_found,
        "same_title_recall": round(same_title_found / len(same_title_pairs), 3),
        "flagged_pairs": len(flagged_pairs),
        "flagged_in_lists": len(flagged_pairs & known),
        "flagged_outside_lists": len(other),
        "precision_against_lists": round(len(flagged_pairs & known) / max(1, len(flagged_pairs)), 3),
        "relations": dict(similar.group_by("relation").len().rows()),
        "same_title_missed": sorted(f"{a} {b} ({relation_of.get((a, b), 'not linked')})"
                                    for a, b in same_title_pairs if (a, b) not in flagged_pairs),
    })
    # Stories over the corpus (no entities here: articles are compared by their vectors alone).
    no_entities = pl.DataFrame(schema={"article_id": pl.String, "canonical_name": pl.String, "label": pl.String,
                                       "mentions": pl.Int64})
    no_previous = pl.DataFrame(schema={"article_id": pl.String, "story_id": pl.String, "topic_id": pl.String})
    story_frame = topics.group_articles(
        topics.article_vectors(embedded.select("article_id", "embedding")),
        meta.with_columns(outlet=pl.lit("bbc.co.uk"), lede=pl.lit("")), no_entities, no_previous).stories
    multi = story_frame.filter(pl.col("n_articles") > 1)
    results["stories"] = {"articles": articles.height, "stories": story_frame.height,
                          "multi_article_stories": multi.height, "articles_in_them": int(multi["n_articles"].sum()),
                          "largest": int(story_frame["n_articles"].max() or 0)}
    sample = random.Random(0).sample(other, min(args.sample, len(other)))
    titles = dict(zip(articles["source_path"].to_list(), articles["title"].to_list()))
    chosen = set(sample)
    rows = similar.filter(pl.Series([tuple(sorted(p)) in chosen for p in similar.select("path_a", "path_b").rows()]))
    rows.select("path_a", "path_b", "relation", "share_a", "share_b", "copied_share_a", "copied_share_b",
                "mean_cosine", title_a=pl.col("path_a").replace_strict(titles),
                title_b=pl.col("path_b").replace_strict(titles)).write_csv(out / "flagged_sample.tsv", separator="\t")
    similar.write_parquet(out / "article_similarity.parquet")  # for tuning the relation thresholds
    (out / "duplicates.json").write_text(json.dumps(results, indent=2))
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
