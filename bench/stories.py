"""Topics and stories against a labelled corpus (default: ../shared/corpora/wikiref150).

Runs the real flow on the corpus into a fresh warehouse (or reads `--warehouse` if it exists), then
scores the stored topics and stories against `labels.tsv` (file, topic, noise): ARI, NMI and B-cubed
precision/recall/F1 over all articles (each noise topic its own label) and over the three large topics
only; the number of stories, whether any story mixes two labels, and the purity of the largest ones.
Beside them, in the same run and on the same paragraph vectors, the baseline: HDBSCAN(min_cluster_size=5)
on each article's mean paragraph vector (its noise points each their own cluster). Also: the topic cut's
neighbours, the split ratio's and the subject share's (sensitivity), the same articles grouped in 3 batches in 3 orders (membership must equal the
one-shot grouping), and the grouping's time on the warehouse (and on `--timing-warehouse`, e.g. BBC's, with
its topics' B-cubed precision against the corpus's folders when its files are filed in folders).

Usage: python bench/stories.py [--corpus DIR] [--warehouse FILE] [--timing-warehouse FILE]
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import duckdb
import numpy as np
import polars as pl
from sklearn.cluster import HDBSCAN
from sklearn.metrics import adjusted_rand_score, normalized_mutual_info_score
from sklearn.metrics.cluster import contingency_matrix

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tasks import topics  # noqa: E402

EMPTY_PREVIOUS = pl.DataFrame(schema={"article_id": pl.String, "story_id": pl.String, "topic_id": pl.String})


def bcubed(labels: list[str], clusters: list[str]) -> tuple[float, float, float]:
    """B-cubed precision, recall, F1 (Bagga & Baldwin; Amigó et al. 2009)."""
    table = contingency_matrix(labels, clusters, sparse=True).astype(np.float64)
    squared = table.multiply(table)
    n = len(labels)
    precision = float((squared.sum(axis=0) / np.maximum(table.sum(axis=0), 1)).sum() / n)
    recall = float((squared.sum(axis=1) / np.maximum(table.sum(axis=1), 1)).sum() / n)
    return precision, recall, 2 * precision * recall / (precision + recall)


def scores(labels: list[str], clusters: list[str]) -> dict[str, float]:
    p, r, f = bcubed(labels, clusters)
    return {"ARI": adjusted_rand_score(labels, clusters), "NMI": normalized_mutual_info_score(labels, clusters),
            "B3 P": p, "B3 R": r, "B3 F1": f}


def run_flow(corpus: Path, warehouse: Path) -> float:
    started = time.perf_counter()
    result = subprocess.run([sys.executable, "-m", "flows", "run", "--ephemeral", "--raw-dir", str(corpus),
                             "--warehouse", str(warehouse)], cwd=ROOT, capture_output=True, text=True)
    if result.returncode != 0:
        raise SystemExit(f"flow failed:\n{result.stderr[-3000:]}")
    return time.perf_counter() - started


def grouping_inputs(con: duckdb.DuckDBPyConnection) -> tuple[pl.DataFrame, pl.DataFrame, pl.DataFrame]:
    """Article vectors (recomputed from the stored paragraph vectors), articles and entities."""
    paragraphs = con.execute("select article_id, embedding from paragraphs order by article_id, position").pl()
    articles = con.execute(
        "select a.article_id, a.source_path, a.title, left(a.body, 2000) as lede, a.published, o.outlet, "
        "a.ingested_at as first_seen_at from articles a join article_outlets o using (article_id) "
        "order by a.article_id").pl()
    entities = con.execute("select m.article_id, e.canonical_name, e.label, count(*) as mentions "
                           "from entity_mentions m join entities e using (entity_id) group by all").pl()
    return topics.article_vectors(paragraphs), articles, entities


def membership(grouping: topics.Grouping) -> tuple[set[frozenset[str]], set[frozenset[str]]]:
    frame = grouping.story_articles.join(grouping.stories.select("story_id", "topic_id"), on="story_id")
    by = lambda key: {frozenset(g["article_id"].to_list()) for _, g in frame.group_by(key)}  # noqa: E731
    return by("topic_id"), by("story_id")


def batched(vectors: pl.DataFrame, articles: pl.DataFrame, entities: pl.DataFrame, seed: int) -> topics.Grouping:
    """Group the articles as three runs would, each adding a third (in a shuffled order)."""
    order = np.random.default_rng(seed).permutation(vectors.height)
    previous, retired = EMPTY_PREVIOUS, frozenset[str]()
    grouping = None
    for end in (len(order) // 3, 2 * len(order) // 3, len(order)):
        seen = vectors[np.sort(order[:end])]
        grouping = topics.group_articles(seen, articles, entities, previous, retired)
        previous = grouping.story_articles.join(grouping.stories.select("story_id", "topic_id"), on="story_id").select(
            "article_id", "story_id", "topic_id")
        retired = retired | frozenset(grouping.merges["absorbed_id"].to_list())
    assert grouping is not None
    return grouping


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--corpus", type=Path, default=ROOT.parent / "shared" / "corpora" / "wikiref150")
    parser.add_argument("--warehouse", type=Path, default=None, help="reuse this warehouse if it exists")
    parser.add_argument("--timing-warehouse", type=Path, default=None, help="also time the grouping on this one")
    args = parser.parse_args()

    warehouse = args.warehouse or Path(tempfile.mkdtemp(prefix="bench-stories-")) / "w.duckdb"
    if not warehouse.exists():
        print(f"running the flow on {args.corpus / 'articles'} into {warehouse} ...", flush=True)
        print(f"  flow: {run_flow(args.corpus / 'articles', warehouse):.1f} s")
    labels = pl.read_csv(args.corpus / "labels.tsv", separator="\t").rename({"file": "source_path"})
    large = labels.group_by("topic").len().filter(pl.col("len") >= 20)["topic"].to_list()

    with duckdb.connect(str(warehouse), read_only=True) as con:
        stored = con.execute(
            "select a.source_path, sa.article_id, sa.story_id, s.topic_id from story_articles sa "
            "join stories s using (story_id) join articles a using (article_id)").pl()
        vectors, articles, entities = grouping_inputs(con)
    frame = stored.join(labels, on="source_path").sort("article_id")
    missing = labels.height - frame.height
    matrix = np.asarray(vectors.join(frame.select("article_id"), on="article_id")["embedding"].to_list())
    baseline = HDBSCAN(min_cluster_size=5, copy=True).fit_predict(matrix)
    baseline_ids = [f"b{c}" if c >= 0 else f"noise{i}" for i, c in enumerate(baseline)]
    frame = frame.with_columns(baseline=pl.Series(baseline_ids))

    rows = []
    for subset, part in (("all", frame), ("3 large", frame.filter(pl.col("topic").is_in(large)))):
        for name, column in (("topics", "topic_id"), ("stories", "story_id"), ("HDBSCAN baseline", "baseline")):
            rows.append({"articles": subset, "clustering": name, **scores(part["topic"].to_list(), part[column].to_list())})
    table = pl.DataFrame(rows)
    with pl.Config(tbl_rows=20, float_precision=3, tbl_hide_dataframe_shape=True, tbl_hide_column_data_types=True):
        print(f"\n{frame.height} labelled articles in the warehouse ({missing} labelled files not loaded)")
        print(table)

    stories = frame.group_by("story_id").agg(n=pl.len(), labels=pl.col("topic").n_unique(),
                                             purity=pl.col("topic").value_counts().struct.field("count").max() / pl.len())
    largest = stories.sort(["n", "story_id"], descending=[True, False]).head(5)
    print(f"\nstories: {stories.height} ({(stories['n'] == 1).sum()} single articles); topics: "
          f"{frame['topic_id'].n_unique()}; stories mixing two labels: {(stories['labels'] > 1).sum()}")
    print("largest stories (articles, purity):", [(r["n"], round(r["purity"], 3)) for r in largest.to_dicts()])
    nested = frame.group_by("story_id").agg(pl.col("topic_id").n_unique().alias("k"))["k"].max() == 1
    print(f"every story inside one topic: {nested}")

    # Sensitivity: each topic setting's neighbours, on the same inputs.
    labelled = frame.select("article_id", "topic")

    def sweep(title: str, setting: str, values: tuple[float, ...], default: float) -> None:
        results = []
        for value in values:
            grouping = topics.group_articles(vectors, articles, entities, EMPTY_PREVIOUS, **{setting: value})
            got = grouping.story_articles.join(grouping.stories.select("story_id", "topic_id"), on="story_id").join(
                labelled, on="article_id")
            b3 = bcubed(got["topic"].to_list(), got["topic_id"].to_list())[2]
            results.append(f"{value:.2f}: ARI {adjusted_rand_score(got['topic'], got['topic_id']):.3f}, B3 F1 {b3:.3f}")
        print(f"{title}:", "; ".join(results), f"(default {default})")

    sweep("topic cut sensitivity", "topic_min", (0.15, topics.TOPIC_MIN_SIMILARITY, 0.25), topics.TOPIC_MIN_SIMILARITY)
    sweep("topic split ratio sensitivity (0: no split)", "split_ratio", (0.0, 0.5, topics.TOPIC_SPLIT_RATIO, 0.75, 0.85),
          topics.TOPIC_SPLIT_RATIO)
    sweep("subject share sensitivity (1.01: no branch detached)", "subject_min_share",
          (0.1, 0.15, topics.SUBJECT_MIN_SHARE, 0.22, 0.25, 1.01), topics.SUBJECT_MIN_SHARE)

    started = time.perf_counter()
    one_shot = topics.group_articles(vectors, articles, entities, EMPTY_PREVIOUS)
    elapsed = time.perf_counter() - started
    expected = membership(one_shot)
    same = [membership(batched(vectors, articles, entities, seed)) == expected for seed in range(3)]
    print(f"3 batches in 3 orders give the one-shot membership: {same}")
    print(f"grouping {vectors.height} articles: {elapsed:.2f} s")
    if args.timing_warehouse:
        with duckdb.connect(str(args.timing_warehouse), read_only=True) as con:
            big = grouping_inputs(con)
        started = time.perf_counter()
        grouping = topics.group_articles(*big, EMPTY_PREVIOUS)
        print(f"grouping {big[0].height} articles ({args.timing_warehouse}): {time.perf_counter() - started:.2f} s, "
              f"{grouping.topics.height} topics, {grouping.stories.height} stories")
        # A corpus filed in folders (BBC's business/, sport/, ...): coarse sections, not topics, but a topic
        # should rarely straddle two of them (B-cubed precision against the folder; files outside a folder,
        # such as BBC's README.TXT, left out).
        folders = big[1].filter(pl.col("source_path").str.contains("/")).select(
            "article_id", folder=pl.col("source_path").str.split("/").list.first())
        if folders.height >= 0.9 * big[1].height:
            got = grouping.story_articles.join(grouping.stories.select("story_id", "topic_id"), on="story_id").join(
                folders, on="article_id")
            precision = bcubed(got["folder"].to_list(), got["topic_id"].to_list())[0]
            straddling = got.group_by("topic_id").agg(k=pl.col("folder").n_unique(), n=pl.len()).filter(pl.col("k") > 1)
            print(f"  against its {got['folder'].n_unique()} folders: topics' B3 precision {precision:.3f}; "
                  f"{straddling.height} topics ({straddling['n'].sum()} articles) straddle two folders or more")


if __name__ == "__main__":
    main()
