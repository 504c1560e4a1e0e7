"""Topics and stories: two levels of one average-linkage (UPGMA) tree over articles.

An article is described by its vector (the mean of its paragraph vectors) and its entity profile (the
TF-IDF of the entities it names). Two articles' similarity is the mean of the two cosines. One
average-linkage tree over all articles is cut twice: at `TOPIC_MIN_SIMILARITY` (running subjects: a
league's season, a public figure, a product line) and at `STORY_MIN_SIMILARITY` (one event or
development inside a topic). Both cuts come from one tree, so every story lies inside one topic. A merge
above the topic cut still parts two topics when each group is far closer inside than to the other
(relative closeness, `split_topics`): one absolute cut cannot tell a loose subject from two tight ones.
And a branch of the tree whose named subject is not the rest of its topic's (`detach_subjects`: Barack
Obama's childhood beside the coverage of Michelle Obama; GM beside BMW) is a topic of its own: a topic is
a running subject, and where both sides have a clear one, two subjects are two topics.

Exact and sub-quadratic at once: two clusters merge in average linkage only if their mean pairwise
similarity reaches the cut, which needs at least one pair of their articles that reaches it; so every
topic lies inside one connected component of the graph of article pairs at least that similar, and the
tree is built per component from that graph's candidate pairs (all of them up to
`EXACT_NEIGHBOURS_MAX` articles, an HNSW index's nearest neighbours beyond). A component larger than
`EXACT_COMPONENT_MAX` is split on stronger pairs first (an approximation: fewer topic merges).

Grouped by period: articles are grouped only with those of the same calendar period (group_articles:
their published date, else the day their file was first seen; NEWSDAG_GROUPING_PERIOD: by default all
together up to WHOLE_ARCHIVE_MAX articles, a week at a time beyond),
and everything a period's grouping reads (entity weights, candidate pairs, label term weights) comes from
its own articles. So a run regroups only the periods whose articles changed (flows/derived.derive_stories),
and the result equals grouping every period: a run's cost follows the period it adds to, not the archive.

Order-free and stable: each period is clustered from its full set of articles in sorted id order (the
result does not depend on the order articles arrived in), then ids are carried over from the previous
assignment (`carry_ids`): a cluster keeps the id of the previous cluster it shares most articles with, two
previous clusters that one new cluster absorbs are recorded as a merge.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
import numpy as np
import polars as pl
import scipy.sparse as sp
from scipy.cluster.hierarchy import ClusterNode, fcluster, linkage, to_tree
from scipy.sparse.csgraph import connected_components
from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS, CountVectorizer, TfidfTransformer
from sklearn.preprocessing import normalize

# Defaults of NEWSDAG_TOPIC_MIN_SIMILARITY and NEWSDAG_STORY_MIN_SIMILARITY. Mean similarity (mean of vector
# cosine and entity cosine) of two articles for them to share a topic or a
# story, as average linkage applies it between groups. Chosen on the dev corpus (bench/stories.py, which
# prints the neighbouring cuts too: 0.15-0.25 give topics ARI 0.87-0.88); a story must not mix two
# labelled topics, which holds at 0.6 and not at 0.5 (two stories mix).
TOPIC_MIN_SIMILARITY = 0.2
STORY_MIN_SIMILARITY = 0.6
# Relative closeness (as in Chameleon, Karypis, Han & Kumar 1999): two groups of at least
# TOPIC_SPLIT_MIN_ARTICLES articles each, whose mean similarity to each other is under TOPIC_SPLIT_RATIO
# times the cohesion (mean similarity inside) of the looser of them, are two subjects, even above the
# topic cut: a running crisis in one country beside the same crisis in another, tighter each on its own
# than together. On the dev corpus every ratio from 0.5 to 0.75, with either 3 or 5 articles, gives the
# same topics (bench/stories.py prints the neighbours); 0.85 and up start splitting one subject.
TOPIC_SPLIT_RATIO = 0.65
TOPIC_SPLIT_MIN_ARTICLES = 3
# A group's subject: the entity of these types with the largest mean share of its articles' mentions of
# them (people, organisations, products, events and works say what an article is about; places and
# nationalities say where). A branch is detached from its topic when its subject and the rest's differ,
# each takes at least SUBJECT_MIN_SHARE of its side's mentions, is named in at least
# SUBJECT_MIN_PRESENCE of its side's articles, and has under half that share on the other side. On the
# dev corpus shares of 0.15-0.22 give the same gain (bench/stories.py prints the neighbours); 0.1 splits
# loose subjects (a league's clubs), 0.25 nothing.
SUBJECT_ENTITY_TYPES = ("PERSON", "ORG", "PRODUCT", "EVENT", "WORK_OF_ART", "FAC", "LAW")
SUBJECT_MIN_SHARE = 0.2
SUBJECT_MIN_PRESENCE = 0.5
# The entity profile's share of the similarity (the vector has the rest).
ENTITY_WEIGHT = 0.5
# Entity types that say what an article is about (dates, numbers and amounts do not).
PROFILE_ENTITY_TYPES = ("PERSON", "ORG", "GPE", "NORP", "LOC", "EVENT", "FAC", "PRODUCT", "WORK_OF_ART", "LAW")
# Up to this many articles, every candidate pair is scored (blockwise); beyond, each article's
# `APPROX_NEIGHBOURS` nearest by vector (HNSW) are the candidates.
EXACT_NEIGHBOURS_MAX = 20_000
APPROX_NEIGHBOURS = 50
# A component larger than this is split on stronger pairs (see cluster_levels) rather than given the exact
# tree, whose distance matrix is quadratic (5,000 articles: 200 MB a copy).
EXACT_COMPONENT_MAX = 5_000
# NEWSDAG_GROUPING_PERIOD=auto groups every article together up to this many articles (the exact candidate
# search's reach), and a week at a time beyond (`grouping_period`).
WHOLE_ARCHIVE_MAX = EXACT_NEIGHBOURS_MAX
AUTO_PERIOD = "week"
LABEL_TERMS = 3
LABEL_ENTITIES = 3
BLOCK_ROWS = 2048

TOPIC_SCHEMA = {
    "topic_id": pl.String, "label": pl.String, "terms": pl.List(pl.String), "top_entities": pl.List(pl.String),
    "representative_article_id": pl.String, "headline": pl.String, "n_articles": pl.Int32, "n_outlets": pl.Int32,
    "n_stories": pl.Int32, "first_seen": pl.Date, "last_seen": pl.Date,
}
STORY_SCHEMA = {
    "story_id": pl.String, "topic_id": pl.String, "label": pl.String, "terms": pl.List(pl.String),
    "top_entities": pl.List(pl.String), "representative_article_id": pl.String, "headline": pl.String,
    "n_articles": pl.Int32, "n_outlets": pl.Int32, "first_seen": pl.Date, "last_seen": pl.Date,
}
STORY_ARTICLE_SCHEMA = {"story_id": pl.String, "article_id": pl.String, "is_original": pl.Boolean}
MERGE_SCHEMA = {"level": pl.String, "absorbed_id": pl.String, "survivor_id": pl.String}


def grouping_period(setting: str, n_articles: int) -> str:
    """The calendar period articles are grouped within (`all`: one period) for NEWSDAG_GROUPING_PERIOD and
    the number of stored articles: a function of the stored articles alone, as the grouping must be."""
    if setting == "auto":
        return "all" if n_articles <= WHOLE_ARCHIVE_MAX else AUTO_PERIOD
    return setting


def article_vectors(paragraph_vectors: pl.DataFrame) -> pl.DataFrame:
    """`article_id`, `embedding`: the normalised mean of each article's normalised paragraph vectors."""
    if paragraph_vectors.height == 0:
        return pl.DataFrame(schema={"article_id": pl.String, "embedding": pl.List(pl.Float32)})
    frame = paragraph_vectors.filter(pl.col("embedding").is_not_null()).sort("article_id")
    matrix = normalize(np.asarray(frame["embedding"].to_list(), dtype=np.float32))
    ids, starts = np.unique(frame["article_id"].to_numpy(), return_index=True)
    sums = np.add.reduceat(matrix, starts, axis=0)
    means = normalize(sums).astype(np.float32)
    return pl.DataFrame({"article_id": ids.astype(str), "embedding": list(means)},
                        schema={"article_id": pl.String, "embedding": pl.List(pl.Float32)})


@dataclass
class Features:
    """Per article (in `ids` order, sorted): unit vector part and unit entity part, each scaled so that a
    row's dot product with another is the combined similarity."""

    ids: list[str]
    vectors: np.ndarray      # n x d, rows scaled to sqrt(1 - ENTITY_WEIGHT) (1 for rows without entities)
    entities: sp.csr_matrix  # n x names, rows scaled to sqrt(ENTITY_WEIGHT) (zero rows: no shared entity)
    entity_names: list[str]
    subjects: sp.csr_matrix  # n x subject names: each article's share of its mentions of SUBJECT_ENTITY_TYPES
    subject_names: list[str]

    def similarity(self, rows: np.ndarray, cols: np.ndarray | None = None) -> np.ndarray:
        """Dense similarity block between articles `rows` and `cols` (all when None)."""
        right_v = self.vectors if cols is None else self.vectors[cols]
        right_e = self.entities if cols is None else self.entities[cols]
        dense = self.vectors[rows] @ right_v.T
        by_entity = (self.entities[rows] @ right_e.T).tocoo()
        dense[by_entity.row, by_entity.col] += by_entity.data  # sparse: cheaper than a dense copy
        return dense

    def pair_similarity(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        by_vector = np.einsum("ij,ij->i", self.vectors[a], self.vectors[b])
        by_entity = np.asarray(self.entities[a].multiply(self.entities[b]).sum(axis=1)).ravel()
        return by_vector + by_entity


def article_features(vectors: pl.DataFrame, entities: pl.DataFrame) -> Features:
    """`vectors`: `article_id`, `embedding` (article_vectors); `entities`: `article_id`, `canonical_name`,
    `label`, `mentions`. Entity weights: sublinear TF-IDF over this corpus, names in two articles or more."""
    vectors = vectors.sort("article_id")
    ids = vectors["article_id"].to_list()
    matrix = normalize(np.asarray(vectors["embedding"].to_list(), dtype=np.float32)) if ids else np.zeros((0, 1), np.float32)
    named = entities.filter(pl.col("label").is_in(PROFILE_ENTITY_TYPES) & pl.col("article_id").is_in(ids))
    shared = named.group_by("canonical_name").agg(pl.col("article_id").n_unique().alias("n")).filter(pl.col("n") >= 2)
    counts = (named.join(shared.select("canonical_name"), on="canonical_name")
              .group_by("article_id", "canonical_name").agg(pl.col("mentions").sum()))
    raw, entity_names = _by_article(ids, counts["article_id"], counts["canonical_name"], counts["mentions"])
    if raw.shape[1]:
        weighted = normalize(TfidfTransformer(sublinear_tf=True).fit_transform(raw))
    else:
        weighted = sp.csr_matrix((len(ids), 0))
    # An article naming no entity shared with another is compared by its vector alone (else it could
    # never reach a story's similarity).
    has_profile = np.asarray(weighted.getnnz(axis=1) > 0) if weighted.shape[1] else np.zeros(len(ids), bool)
    vector_scale = np.where(has_profile, np.sqrt(1.0 - ENTITY_WEIGHT), 1.0)[:, None]
    subjects, subject_names = subject_shares(ids, entities)
    return Features(
        ids=ids,
        vectors=(matrix * vector_scale).astype(np.float32),
        entities=sp.csr_matrix(weighted * np.sqrt(ENTITY_WEIGHT), dtype=np.float32),
        entity_names=entity_names,
        subjects=subjects,
        subject_names=subject_names,
    )


def subject_shares(ids: list[str], entities: pl.DataFrame) -> tuple[sp.csr_matrix, list[str]]:
    """Per article (rows in `ids` order), each entity's share of the article's mentions of SUBJECT_ENTITY_TYPES."""
    named = (entities.filter(pl.col("label").is_in(SUBJECT_ENTITY_TYPES) & pl.col("article_id").is_in(ids))
             .group_by("article_id", "canonical_name").agg(pl.col("mentions").sum())
             .with_columns(share=pl.col("mentions") / pl.col("mentions").sum().over("article_id")))
    return _by_article(ids, named["article_id"], named["canonical_name"], named["share"])


def _by_article(ids: list[str], article_ids: pl.Series, names: pl.Series, values: pl.Series) -> tuple[sp.csr_matrix, list[str]]:
    """An articles x names matrix (rows in `ids` order, columns the names sorted) from one value per
    (article, name), and its column names."""
    columns = sorted(names.unique().to_list())
    row_of = {article_id: i for i, article_id in enumerate(ids)}
    col_of = {name: j for j, name in enumerate(columns)}
    rows = [row_of[a] for a in article_ids.to_list()]
    cols = [col_of[name] for name in names.to_list()]
    matrix = sp.csr_matrix((values.to_numpy().astype(np.float64), (rows, cols)), shape=(len(ids), len(columns)))
    return matrix, columns


def candidate_pairs(features: Features, min_similarity: float, exact_max: int = EXACT_NEIGHBOURS_MAX,
                    neighbours: int = APPROX_NEIGHBOURS) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Article pairs (i < j) at least `min_similarity` similar, and their similarity: all of them (scored a block at a time)
    up to `exact_max` articles; beyond, among each article's nearest neighbours by vector (HNSW)."""
    n = len(features.ids)
    rows: list[np.ndarray] = []
    cols: list[np.ndarray] = []
    values: list[np.ndarray] = []
    if n <= exact_max:
        for start in range(0, n, BLOCK_ROWS):
            block = np.arange(start, min(start + BLOCK_ROWS, n))
            scores = features.similarity(block)
            i, j = np.nonzero(scores >= min_similarity)
            keep = block[i] < j
            rows.append(block[i][keep])
            cols.append(j[keep])
            values.append(scores[i[keep], j[keep]])
    else:
        from usearch.index import Index

        # One thread and a fixed insertion order (sorted ids): the same graph for the same articles.
        index = Index(ndim=features.vectors.shape[1], metric="cos", dtype="f32", connectivity=16,
                      expansion_add=128, expansion_search=64)
        unit = normalize(features.vectors).astype(np.float32)
        index.add(np.arange(n, dtype=np.uint64), unit, threads=1)
        matches = index.search(unit, min(neighbours + 1, n), threads=1)
        keys = np.atleast_2d(matches.keys).astype(np.int64)
        a = np.repeat(np.arange(n), keys.shape[1])
        b = keys.ravel()
        valid = (b >= 0) & (b < n) & (a != b)
        a, b = np.minimum(a[valid], b[valid]), np.maximum(a[valid], b[valid])
        pairs = np.unique(np.stack([a, b], axis=1), axis=0)
        scores = features.pair_similarity(pairs[:, 0], pairs[:, 1])
        keep = scores >= min_similarity
        rows.append(pairs[keep, 0])
        cols.append(pairs[keep, 1])
        values.append(scores[keep])
    if not rows:
        return np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0, np.float32)
    return (np.concatenate(rows).astype(np.int64), np.concatenate(cols).astype(np.int64),
            np.concatenate(values).astype(np.float32))


def cluster_levels(features: Features, topic_min: float = TOPIC_MIN_SIMILARITY, story_min: float = STORY_MIN_SIMILARITY,
                   exact_max: int = EXACT_NEIGHBOURS_MAX, component_max: int = EXACT_COMPONENT_MAX,
                   split_ratio: float = TOPIC_SPLIT_RATIO, split_min: int = TOPIC_SPLIT_MIN_ARTICLES,
                   subject_min_share: float = SUBJECT_MIN_SHARE) -> tuple[np.ndarray, np.ndarray]:
    """(topic, story) cluster numbers per article: the average-linkage tree cut at both similarities,
    topics also where two groups are far less close than each is inside (`split_topics`) or where a branch
    is about another subject than the rest of its topic (`detach_subjects`; not in the last-resort path of
    a component too large for the exact tree).
    Numbers are local to this call; `carry_ids` names the clusters."""
    n = len(features.ids)
    topic = np.full(n, -1, dtype=np.int64)
    story = np.full(n, -1, dtype=np.int64)
    if n == 0:
        return topic, story
    a, b, score = candidate_pairs(features, topic_min, exact_max)
    next_topic = next_story = 0
    # Components to cut, with the similarity their edges were kept at. A component too large for the exact
    # tree is split again on stronger edges (+0.05 at a time, up to the story cut): topics then cannot span
    # the parts (fewer merges than the exact tree, never more).
    pending: list[tuple[np.ndarray, float]] = [(np.arange(n), topic_min)]
    while pending:
        members, edge_min = pending.pop()
        for part in _components(n, members, a, b, score, edge_min):
            if part.size > component_max and edge_min < story_min:
                pending.append((part, min(round(edge_min + 0.05, 6), story_min)))
                continue
            if part.size == 1:
                topic_local = story_local = np.zeros(1, dtype=np.int64)
            elif part.size <= component_max:
                distances = np.clip(1.0 - features.similarity(part, part).astype(np.float64), 0.0, None)
                tree = linkage(distances[np.triu_indices(part.size, k=1)], method="average")
                # fcluster cuts on distance (merge height <= t): 1 - similarity.
                topic_local = split_topics(tree, topic_min, story_min, split_ratio, split_min)
                topic_local = detach_subjects(tree, topic_local, features.subjects[part], story_min, split_min,
                                              subject_min_share, names=features.subject_names)
                story_local = fcluster(tree, 1.0 - story_min, criterion="distance")
            else:
                topic_local, story_local = _constrained_levels(features, part, a, b, topic_min, story_min)
            _, topic_local = np.unique(topic_local, return_inverse=True)
            _, story_local = np.unique(story_local, return_inverse=True)
            topic[part] = topic_local.ravel() + next_topic
            story[part] = story_local.ravel() + next_story
            next_topic += int(topic_local.max()) + 1
            next_story += int(story_local.max()) + 1
    return topic, story


def split_topics(tree: np.ndarray, topic_min: float, story_min: float, ratio: float, min_articles: int) -> np.ndarray:
    """Topic numbers per leaf of an average-linkage tree (scipy's linkage matrix over 1 - similarity):
    the tree cut at `topic_min`, and also at every merge below `story_min` (so stories still nest) of
    two groups of `min_articles` or more whose mean similarity is under `ratio` times the cohesion of
    the looser one. Cohesion comes from the tree itself: a merge's height is its groups' mean distance,
    so each group's sum of pair similarities adds up bottom-up, O(n)."""
    n = tree.shape[0] + 1
    pair_sum = np.zeros(2 * n - 1)  # per node id: the sum of the similarities of its articles' pairs
    for k, (left, right, height, _) in enumerate(tree):
        left_size = tree[int(left) - n, 3] if left >= n else 1
        right_size = tree[int(right) - n, 3] if right >= n else 1
        pair_sum[n + k] = pair_sum[int(left)] + pair_sum[int(right)] + (1.0 - height) * left_size * right_size

    def cohesion(node: ClusterNode) -> float:
        pairs = node.count * (node.count - 1) / 2
        return pair_sum[node.id] / pairs if pairs else 1.0

    label = np.zeros(n, dtype=np.int64)
    next_label = 0
    stack = [to_tree(tree)]
    while stack:
        node = stack.pop()
        if not node.is_leaf():
            left, right, between = node.get_left(), node.get_right(), 1.0 - node.dist
            if between < topic_min or (
                    between < story_min and min(left.count, right.count) >= min_articles
                    and between < ratio * min(cohesion(left), cohesion(right))):
                stack.extend((right, left))
                continue
        label[node.pre_order()] = next_label
        next_label += 1
    return label


def detach_subjects(tree: np.ndarray, topic: np.ndarray, subjects: sp.csr_matrix, story_min: float,
                    min_articles: int, min_share: float = SUBJECT_MIN_SHARE,
                    min_presence: float = SUBJECT_MIN_PRESENCE, names: list[str] | None = None) -> np.ndarray:
    """Topic numbers per leaf, with every branch of the tree whose subject differs from the rest of its
    topic's made a topic of its own (see SUBJECT_MIN_SHARE). `subjects`: the leaves' subject shares
    (`subject_shares`), `names` their columns' names. Branches are those joined to their sibling below
    `story_min` (so stories still nest) with `min_articles` or more, tried top-down once each, against
    their topic as it is then. A one-word subject that is a word of the other's ("Elvis", "Elvis
    Presley") may be one subject under two names left apart by entity resolution: never detached."""
    if subjects.shape[1] == 0:
        return topic
    topic = topic.copy()
    next_topic = int(topic.max()) + 1
    present = subjects.copy()
    present.data[:] = 1.0
    sums: dict[int, tuple[np.ndarray, np.ndarray]] = {}  # topic -> (share sums, articles naming), lazily
    sizes = dict(enumerate(np.bincount(topic).tolist()))

    def totals(members: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        return np.asarray(subjects[members].sum(axis=0)).ravel(), np.asarray(present[members].sum(axis=0)).ravel()

    stack: list[tuple[ClusterNode, float]] = [(to_tree(tree), 1.0)]
    while stack:
        node, joined_at = stack.pop()
        if not node.is_leaf():
            inner = 1.0 - node.dist
            stack.extend(((node.get_right(), inner), (node.get_left(), inner)))
        if joined_at >= story_min or node.count < min_articles:
            continue
        members = np.asarray(node.pre_order())
        current = int(topic[members[0]])
        size = sizes[current]
        if size - members.size < min_articles or (topic[members] != current).any():
            continue
        if current not in sums:
            sums[current] = totals(np.flatnonzero(topic == current))
        share_in, named_in = totals(members)
        share_rest, named_rest = sums[current][0] - share_in, sums[current][1] - named_in
        share_in, share_rest = share_in / members.size, share_rest / (size - members.size)
        mine, theirs = int(np.argmax(share_in)), int(np.argmax(share_rest))
        if (mine != theirs and share_in[mine] >= min_share and share_rest[theirs] >= min_share
                and named_in[mine] >= min_presence * members.size
                and named_rest[theirs] >= min_presence * (size - members.size)
                and share_rest[mine] < 0.5 * share_in[mine] and share_in[theirs] < 0.5 * share_rest[theirs]
                and not (names is not None and _may_name_one_subject(names[mine], names[theirs]))):
            topic[members] = next_topic
            sums[current] = (sums[current][0] - share_in * members.size, sums[current][1] - named_in)
            sizes[current], sizes[next_topic] = size - members.size, members.size
            next_topic += 1
    return topic


def _may_name_one_subject(a: str, b: str) -> bool:
    words_a, words_b = a.casefold().split(), b.casefold().split()
    return (len(words_a) == 1 and words_a[0] in words_b) or (len(words_b) == 1 and words_b[0] in words_a)


def _components(n: int, members: np.ndarray, a: np.ndarray, b: np.ndarray, score: np.ndarray,
                edge_min: float) -> list[np.ndarray]:
    """Connected components of `members` (sorted article numbers each, in order of their first member)
    over the candidate pairs at least `edge_min` similar."""
    inside = np.zeros(n, dtype=bool)
    inside[members] = True
    keep = inside[a] & inside[b] & (score >= edge_min)
    graph = sp.coo_matrix((np.ones(int(keep.sum())), (a[keep], b[keep])), shape=(n, n))
    _, label = connected_components(graph, directed=False)
    label = label[members]
    order = np.argsort(label, kind="stable")
    parts = [np.sort(members[chunk]) for chunk in np.split(order, np.flatnonzero(np.diff(label[order])) + 1)]
    return sorted(parts, key=lambda part: int(part[0]))


def _constrained_levels(features: Features, members: np.ndarray, a: np.ndarray, b: np.ndarray,
                        topic_min: float, story_min: float) -> tuple[np.ndarray, np.ndarray]:
    """Last resort for a component still too large for the exact tree when split on pairs as similar as a
    story's: average linkage restricted to candidate pairs (scikit-learn's connectivity-constrained tree),
    cut twice. Approximate, and poor for topics: averages run over the candidate pairs only, which are
    the closest ones, so it merges far more than the exact tree (on the dev corpus, forced: topics ARI 0.33
    against the exact tree's; stories identical)."""
    from sklearn.cluster import AgglomerativeClustering

    position = {int(m): i for i, m in enumerate(members)}
    inside = np.isin(a, members) & np.isin(b, members)
    rows = np.array([position[int(x)] for x in a[inside]])
    cols = np.array([position[int(x)] for x in b[inside]])
    connectivity = sp.coo_matrix((np.ones(rows.size), (rows, cols)), shape=(members.size, members.size))
    dense = np.hstack([features.vectors[members], features.entities[members].toarray()])
    out = []
    for minimum in (topic_min, story_min):
        model = AgglomerativeClustering(n_clusters=None, metric="cosine", linkage="average",
                                        distance_threshold=1.0 - minimum, connectivity=connectivity)
        out.append(model.fit_predict(dense + 1e-12))
    # Stories must nest in topics: split a story where its members fall in different topics.
    story = np.unique(np.stack([out[0], out[1]], axis=1), axis=0, return_inverse=True)[1].ravel()
    return out[0], story


def carry_ids(
    clusters: pl.DataFrame, previous: pl.DataFrame, prefix: str, retired: frozenset[str] = frozenset()
) -> tuple[dict[int, str], list[tuple[str, str]]]:
    """Name this run's clusters after the previous run's.

    `clusters`: `article_id`, `cluster` (this run's numbers), `earliest` (sort key of the article: its
    earliest-published order); `previous`: `article_id`, `old_id` (last run's ids, for articles still
    present). A cluster takes the id of the previous cluster it shares most articles with (ties: the
    smaller id), each previous id going to one cluster at most, the larger overlaps first; a cluster
    with none left founds `<prefix><its earliest article>` (never an id used before: `retired` holds the
    ids absorbed in earlier runs). Returns cluster -> id and the merges
    (absorbed id, survivor id): previous ids that no cluster took, into the cluster holding most of
    their articles."""
    overlap = (
        clusters.join(previous, on="article_id", how="inner")
        .group_by("cluster", "old_id").agg(pl.len().alias("shared"))
        .sort(["shared", "old_id", "cluster"], descending=[True, False, False])
    )
    names: dict[int, str] = {}
    taken: set[str] = set()
    for cluster, old_id, _ in overlap.iter_rows():
        if cluster in names or old_id in taken:
            continue
        names[cluster] = old_id
        taken.add(old_id)
    used_before = retired | set(previous["old_id"].to_list())
    founders = clusters.sort("earliest", "article_id").group_by("cluster", maintain_order=True).first()
    for cluster, article_id in founders.select("cluster", "article_id").iter_rows():
        if cluster not in names:
            candidate = f"{prefix}{article_id}"
            # An earlier run's id that no cluster took may equal a founder's: keep ids unique.
            names[cluster] = candidate if candidate not in taken | used_before else f"{candidate}-{cluster}"
            taken.add(names[cluster])
    merges: list[tuple[str, str]] = []
    left = overlap.filter(~pl.col("old_id").is_in(list(set(names.values()))))
    for old_id, group in left.group_by("old_id", maintain_order=True):
        cluster = group.row(0, named=True)["cluster"]  # sorted: most shared first
        merges.append((str(old_id[0]), names[cluster]))
    return names, sorted(merges)


_WORD = re.compile(r"(?u)\b[^\W\d_][\w'-]+\b")
# Words every news story uses, beside English stop words: honorifics (British style drops the dot: "Mr
# Blair") and attribution verbs, frequent enough in a subject's coverage to outrank what it is about.
NEWS_STOP_WORDS = frozenset({"said", "says", "say", "told", "according", "mr", "mrs", "ms", "dr", "sir"})


def distinctive_terms(texts_by_cluster: dict[str, str], size: int = LABEL_TERMS) -> dict[str, list[str]]:
    """Class-based TF-IDF (as BERTopic): a cluster's documents as one, each term weighted by its frequency
    in the cluster times log(1 + mean words per cluster / the term's frequency over all clusters)."""
    keys = sorted(texts_by_cluster)
    if not keys:
        return {}
    vectorizer = CountVectorizer(token_pattern=_WORD.pattern, lowercase=True, stop_words=sorted(ENGLISH_STOP_WORDS | NEWS_STOP_WORDS))
    try:
        counts = vectorizer.fit_transform([texts_by_cluster[k] for k in keys]).astype(np.float64)
    except ValueError:  # no words at all
        return {k: [] for k in keys}
    terms = vectorizer.get_feature_names_out()
    totals = np.asarray(counts.sum(axis=0)).ravel()
    mean_words = counts.sum() / len(keys)
    idf = np.log1p(mean_words / np.maximum(totals, 1.0))
    tf = normalize(counts, norm="l1")
    scores = tf.multiply(idf).tocsr()
    out: dict[str, list[str]] = {}
    for row, key in enumerate(keys):
        start, end = scores.indptr[row], scores.indptr[row + 1]
        cols, values = scores.indices[start:end], scores.data[start:end]
        best = sorted(zip(-values, terms[cols]))[:size]  # ties: alphabetical
        out[key] = [str(term) for _, term in best]
    return out


def _summaries(
    members: pl.DataFrame, key: str, features: Features, position: dict[str, int], entities: pl.DataFrame,
) -> pl.DataFrame:
    """Per cluster (`key`): terms, top entities, representative article, counts and dates."""
    ingested = pl.col("first_seen_at").cast(pl.Date)
    summary = members.group_by(key).agg(
        n_articles=pl.len().cast(pl.Int32),
        n_outlets=pl.col("outlet").n_unique().cast(pl.Int32),
        # Publication dates where the texts give them; ingestion dates only for a cluster with none.
        first_seen=pl.coalesce(pl.col("published").min(), ingested.min()),
        last_seen=pl.coalesce(pl.col("published").max(), ingested.max()),
        article_ids=pl.col("article_id").sort(),
        text=pl.concat_str([pl.col("title").fill_null(""), pl.col("lede").fill_null("")], separator=" ").str.join(" "),
    ).sort(key)
    terms = distinctive_terms(dict(zip(summary[key].to_list(), summary["text"].to_list())))
    # Representative: the member nearest the cluster's centre (mean of its members' features), ties by id.
    rows = np.array([position[a] for a in members["article_id"].to_list()])
    cluster_of = members[key].to_list()
    keys = summary[key].to_list()
    index_of = {k: i for i, k in enumerate(keys)}
    cluster_rows = np.array([index_of[k] for k in cluster_of])
    indicator = sp.csr_matrix((np.ones(rows.size), (cluster_rows, rows)), shape=(len(keys), len(features.ids)))
    indicator = normalize(indicator, norm="l1")
    centre_v = indicator @ features.vectors
    centre_e = sp.csr_matrix(indicator @ features.entities)
    closeness = np.einsum("ij,ij->i", features.vectors[rows], centre_v[cluster_rows]) + np.asarray(
        features.entities[rows].multiply(centre_e[cluster_rows]).sum(axis=1)).ravel()
    nearest = (
        pl.DataFrame({key: cluster_of, "article_id": members["article_id"], "closeness": np.round(closeness, 6)})
        .sort([key, "closeness", "article_id"], descending=[False, True, False])
        .group_by(key, maintain_order=True).first()
    )
    representative = dict(zip(nearest[key].to_list(), nearest["article_id"].to_list()))
    # Top entities: named in many of the cluster's articles and in few others (share x idf), so that a
    # name every topic carries ("United States") does not label them all.
    profile = entities.filter(pl.col("label").is_in(PROFILE_ENTITY_TYPES)).join(
        members.select("article_id", key), on="article_id")
    n_all = max(members.height, 1)
    idf = profile.group_by("canonical_name").agg(
        idf=(n_all / pl.col("article_id").n_unique()).log() + 1.0)
    named = (
        profile.group_by(key, "canonical_name")
        .agg(n=pl.col("article_id").n_unique(), mentions=pl.col("mentions").sum())
        .join(idf, on="canonical_name")
        .with_columns(score=(pl.col("n") * pl.col("idf")).round(9))
        .sort([key, "score", "mentions", "canonical_name"], descending=[False, True, True, False])
        .group_by(key, maintain_order=True)
        .agg(top_entities=pl.col("canonical_name").head(LABEL_ENTITIES))
    )
    titles = dict(members.select("article_id", "title").iter_rows())
    summary = summary.with_columns(
        terms=pl.Series([terms.get(k, []) for k in summary[key].to_list()], dtype=pl.List(pl.String)),
        representative_article_id=pl.Series([representative[k] for k in keys], dtype=pl.String),
        headline=pl.Series([titles.get(representative[k]) for k in keys], dtype=pl.String),
    ).join(named, on=key, how="left").with_columns(pl.col("top_entities").fill_null([]))
    labels = [
        " / ".join(names) + (" — " if names and words else "") + ", ".join(words) if (names or words) else "(untitled)"
        for names, words in summary.select("top_entities", "terms").iter_rows()
    ]
    return summary.with_columns(label=pl.Series(labels, dtype=pl.String)).drop("article_ids", "text")


@dataclass
class Grouping:
    topics: pl.DataFrame
    stories: pl.DataFrame
    story_articles: pl.DataFrame
    merges: pl.DataFrame  # level, absorbed_id, survivor_id


def group_articles(
    vectors: pl.DataFrame, articles: pl.DataFrame, entities: pl.DataFrame, previous: pl.DataFrame,
    retired: frozenset[str] = frozenset(), topic_min: float = TOPIC_MIN_SIMILARITY, story_min: float = STORY_MIN_SIMILARITY,
    exact_max: int = EXACT_NEIGHBOURS_MAX, split_ratio: float = TOPIC_SPLIT_RATIO,
    subject_min_share: float = SUBJECT_MIN_SHARE, reserved: frozenset[str] = frozenset(),
) -> Grouping:
    """Topics and stories of every article with a vector, grouped within its period.

    `vectors`: `article_id`, `embedding` (article_vectors); `articles`: `article_id`, `title`, `lede`,
    `published`, `outlet`, `first_seen_at`, and optionally `period` (articles of different periods are
    never grouped together; absent: one period); `entities`: `article_id`, `canonical_name`, `label`,
    `mentions`; `previous`: the last run's `article_id`, `story_id`, `topic_id` (empty on a first run);
    `retired`: ids absorbed by merges in earlier runs (never given out again); `reserved`: ids in use by
    clusters outside these articles (a founder never takes one).

    Each period is grouped from its own articles only (its entity weights, its candidate pairs, its
    labels' term weights), so that a period's topics and stories follow from its articles alone: a run
    regroups only the periods whose articles changed, and the result equals grouping every period.
    """
    if vectors.height == 0:
        return Grouping(pl.DataFrame(schema=TOPIC_SCHEMA), pl.DataFrame(schema=STORY_SCHEMA),
                        pl.DataFrame(schema=STORY_ARTICLE_SCHEMA), pl.DataFrame(schema=MERGE_SCHEMA))
    if "period" not in articles.columns:
        articles = articles.with_columns(period=pl.lit(None, dtype=pl.Date))
    with_vectors = articles.join(vectors.select("article_id"), on="article_id", how="semi")
    parts: list[tuple[pl.DataFrame, Features]] = []
    next_topic = next_story = 0
    for (_,), members in with_vectors.sort("period", "article_id", nulls_last=True).group_by("period", maintain_order=True):
        features = article_features(vectors.join(members.select("article_id"), on="article_id", how="semi"),
                                    entities.join(members.select("article_id"), on="article_id", how="semi"))
        topic_no, story_no = cluster_levels(features, topic_min, story_min, exact_max, split_ratio=split_ratio,
                                            subject_min_share=subject_min_share)
        parts.append((pl.DataFrame({"article_id": features.ids, "topic_no": topic_no + next_topic,
                                    "story_no": story_no + next_story}), features))
        next_topic += int(topic_no.max()) + 1
        next_story += int(story_no.max()) + 1
    # Earliest first: published date (unknown last), then id; not the time a run saw it, which
    # depends on how the articles were batched.
    meta = with_vectors.sort("published", "article_id", nulls_last=True).with_row_index("earliest")
    frame = pl.concat([numbers for numbers, _ in parts]).join(meta, on="article_id")
    topic_names, topic_merges = carry_ids(
        frame.select("article_id", cluster="topic_no", earliest="earliest"),
        previous.select("article_id", old_id="topic_id").drop_nulls(), "topic-", retired | reserved)
    story_names, story_merges = carry_ids(
        frame.select("article_id", cluster="story_no", earliest="earliest"),
        previous.select("article_id", old_id="story_id").drop_nulls(), "story-", retired | reserved)
    frame = frame.with_columns(
        topic_id=pl.col("topic_no").replace_strict(topic_names, return_dtype=pl.String),
        story_id=pl.col("story_no").replace_strict(story_names, return_dtype=pl.String),
    )
    topic_parts, story_parts = [], []
    for numbers, features in parts:
        members = frame.join(numbers.select("article_id"), on="article_id", how="semi")
        position = {article_id: i for i, article_id in enumerate(features.ids)}
        named = entities.join(numbers.select("article_id"), on="article_id", how="semi")
        topic_parts.append(_summaries(members, "topic_id", features, position, named))
        story_parts.append(_summaries(members, "story_id", features, position, named))
    topics = pl.concat(topic_parts).join(
        frame.group_by("topic_id").agg(n_stories=pl.col("story_id").n_unique().cast(pl.Int32)), on="topic_id"
    ).select(list(TOPIC_SCHEMA)).cast(TOPIC_SCHEMA).sort("topic_id")  # type: ignore[arg-type]
    stories = pl.concat(story_parts).join(frame.select("story_id", "topic_id").unique(), on="story_id").select(
        list(STORY_SCHEMA)).cast(STORY_SCHEMA).sort("story_id")  # type: ignore[arg-type]
    original = frame.sort("earliest").group_by("story_id", maintain_order=True).first().select(
        "story_id", original_id="article_id")
    story_articles = frame.join(original, on="story_id").select(
        "story_id", "article_id", is_original=pl.col("article_id") == pl.col("original_id")
    ).sort("story_id", "article_id")
    merges = pl.DataFrame(
        [("topic", a, s) for a, s in topic_merges] + [("story", a, s) for a, s in story_merges],
        schema=MERGE_SCHEMA, orient="row")
    return Grouping(topics, stories, story_articles, merges)
