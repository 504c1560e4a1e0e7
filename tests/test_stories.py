"""Article similarity, stories and coverage on the five samples, through the real flow."""

from __future__ import annotations

import duckdb


def test_the_five_samples_are_one_story(con) -> None:
    rows = con.execute("select story_id, n_articles, n_outlets, label, first_seen, last_seen from stories").fetchall()
    assert len(rows) == 1
    story_id, n_articles, n_outlets, label, first_seen, last_seen = rows[0]
    assert (n_articles, n_outlets) == (5, 5)
    assert {"Kerry", "Russia", "Ukraine", "Lavrov", "Crimea"} & set(label.replace("/", " ").split())
    assert first_seen is not None and first_seen <= last_seen
    members = con.execute("select count(*), count(*) filter (where is_original) from story_articles "
                          "where story_id = ?", [story_id]).fetchone()
    assert members == (5, 1)


def test_article_similarity_covers_linked_pairs_both_ways(con) -> None:
    pairs = con.execute("select count(*) from article_similarity").fetchone()[0]
    linked = con.execute("select count(distinct (article_id_a, article_id_b)) from paragraph_similarity").fetchone()[0]
    assert pairs == linked > 0
    bad = con.execute(
        "select count(*) from article_similarity s join articles a on a.article_id = s.article_id_a "
        "where abs(s.share_a - s.linked_paragraphs_a / a.n_paragraphs) > 1e-6"
    ).fetchone()[0]
    assert bad == 0
    # Five outlets' own reports of one event: related, not copies of one another.
    relations = {row[0] for row in con.execute("select distinct relation from article_similarity").fetchall()}
    assert relations == {"related"}


def test_links_carry_lexical_overlap_and_kind(con) -> None:
    rows = con.execute("select lexical_overlap, kind from paragraph_similarity").fetchall()
    assert rows and all(overlap is not None and 0 <= overlap <= 1 for overlap, _ in rows)
    assert {kind for _, kind in rows} <= {"copy", "paraphrase"}
    assert all((kind == "copy") == (overlap >= 0.5) for overlap, kind in rows)


def test_coverage_tells_shared_from_single_outlet_paragraphs(con) -> None:
    coverage = dict(con.execute("select coverage, count(*) from story_coverage group by coverage").fetchall())
    assert coverage.get("shared", 0) > 0 and coverage.get("unique", 0) > 0
    assert sum(coverage.values()) == con.execute("select count(*) from paragraphs").fetchone()[0]
    shared_without_link = con.execute(
        "select count(*) from story_coverage c where coverage = 'shared' and not exists ("
        "select 1 from paragraph_similarity s where c.paragraph_id in (s.paragraph_id_a, s.paragraph_id_b))"
    ).fetchone()[0]
    assert shared_without_link == 0
    outlets = con.execute("select count(*), sum(paragraphs) from story_outlets").fetchone()
    assert outlets[0] == 5


def test_an_edited_copy_arriving_later_is_a_duplicate_of_the_original(run_flow, tmp_path) -> None:
    import shutil

    from tests.conftest import SEEDS_DIR

    raw = tmp_path / "raw"
    raw.mkdir()
    seed = sorted(SEEDS_DIR.glob("*.txt"))[2]
    shutil.copy(seed, raw / "wire.txt")
    warehouse = tmp_path / "w.duckdb"
    run_flow(raw, warehouse)
    with duckdb.connect(str(warehouse), read_only=True) as connection:
        (story_id,) = connection.execute("select story_id from stories").fetchone()

    # Another outlet runs the same wire story with an extra closing paragraph, one run later.
    (raw / "syndicated.txt").write_text(seed.read_text() + "\nThe newspaper's editors added this closing line.\n")
    run_flow(raw, warehouse)
    with duckdb.connect(str(warehouse), read_only=True) as connection:
        relation, original, basis, wire_id = connection.execute(
            "select s.relation, s.original_article_id, s.original_basis, w.article_id from article_similarity s "
            "join articles w on w.source_path = 'wire.txt'"
        ).fetchone()
        assert (relation, original, basis) == ("duplicate", wire_id, "first_seen")
        # The copy joined the existing story, which kept its id.
        assert connection.execute("select story_id, n_articles from stories").fetchall() == [(story_id, 2)]


# --- topics and stories: determinism, re-runs, batches, merges ------------------------------------------

import os  # noqa: E402
import shutil  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
from datetime import date, datetime  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402
import polars as pl  # noqa: E402
import pytest  # noqa: E402

from storage.backend import backend_for, backend_of
from storage.connection import transaction
from storage.derived import replace_groups
from tasks import topics  # noqa: E402

# Two short events of our own (a harbour board vote, a cup semi-final), two outlets each, beside the samples.
OWN_ARTICLES = Path(__file__).parent / "data" / "stories"
PROJECT_ROOT = Path(__file__).resolve().parent.parent
GROUPING_TABLES = {
    "topics": "select * from topics order by topic_id",
    "stories": "select * from stories order by story_id",
    "story_articles": "select * from story_articles order by article_id",
    "cluster_merges": "select level, absorbed_id, survivor_id from cluster_merges order by all",
}


@pytest.fixture(scope="module")
def mixed_raw(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from tests.conftest import SEEDS_DIR

    raw = tmp_path_factory.mktemp("mixed-raw")
    for path in [*sorted(SEEDS_DIR.glob("*.txt")), *sorted(OWN_ARTICLES.glob("*.txt"))]:
        shutil.copy(path, raw / path.name)
    return raw


@pytest.fixture(scope="module")
def mixed_run(run_flow, mixed_raw: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("mixed") / "w.duckdb"
    run_flow(mixed_raw, path)
    return path


def grouping_state(path: Path) -> dict[str, list[tuple]]:
    with duckdb.connect(str(path), read_only=True) as connection:
        return {table: connection.execute(query).fetchall() for table, query in GROUPING_TABLES.items()}


def members_by(path: Path, level: str) -> dict[str, frozenset[str]]:
    """id -> source paths of its articles."""
    column = "s.topic_id" if level == "topic" else "sa.story_id"
    with duckdb.connect(str(path), read_only=True) as connection:
        rows = connection.execute(
            f"select {column}, list(a.source_path) from story_articles sa join stories s using (story_id) "
            "join articles a using (article_id) group by all").fetchall()
    return {key: frozenset(paths) for key, paths in rows}


def test_each_event_is_one_story_and_stories_nest_in_topics(mixed_run: Path) -> None:
    from tests.conftest import SEEDS_DIR

    stories = set(members_by(mixed_run, "story").values())
    assert frozenset(p.name for p in SEEDS_DIR.glob("*.txt")) in stories
    assert frozenset({"harbour_gazette.txt", "harbour_post.txt"}) in stories
    assert frozenset({"football_chronicle.txt", "football_echo.txt"}) in stories
    with duckdb.connect(str(mixed_run), read_only=True) as connection:
        # Every story in one topic, topic counts add up; labels, representatives and summary filled in.
        assert connection.execute(
            "select count(*) from stories s anti join topics t using (topic_id)").fetchone() == (0,)
        assert connection.execute(
            "select sum(n_articles), count(*) filter (where representative_article_id is null or label = '') "
            "from topics").fetchone() == (9, 0)
        summary = connection.execute(
            "select label, outlets, topic_label from story_summary where n_articles = 5").fetchone()
        assert len(summary[1]) == 5 and summary[0] and summary[2]
        assert connection.execute("select count(*) from cluster_merges").fetchone() == (0,)


REGROUP = (
    "import sys\n"
    "from pathlib import Path\n"
    "from flows.ingest import group_stories\n"
    "from tasks.settings import get_settings\n"
    "group_stories.fn(get_settings(warehouse=Path(sys.argv[1])), False, 'regroup')\n"
)


def test_grouping_is_identical_under_other_hash_seeds(mixed_run: Path, tmp_path: Path) -> None:
    states = []
    for seed in ("1", "4242"):
        copy = tmp_path / f"seed-{seed}.duckdb"
        shutil.copy(mixed_run, copy)
        with duckdb.connect(str(copy)) as connection:  # forget the grouping: computed afresh in the subprocess
            for table in ("story_articles", "stories", "topics", "cluster_merges", "article_vectors", "article_signatures"):
                connection.execute(f"delete from {table}")
        env = {**os.environ, "PYTHONHASHSEED": seed, "PYTHONPATH": str(PROJECT_ROOT)}
        done = subprocess.run([sys.executable, "-c", REGROUP, str(copy)], env=env, cwd=PROJECT_ROOT,
                              capture_output=True, text=True, timeout=300)
        assert done.returncode == 0, done.stderr[-2000:]
        states.append(grouping_state(copy))
    assert states[0] == states[1] == grouping_state(mixed_run)


RESETTLE = (
    "import sys\n"
    "from pathlib import Path\n"
    "from flows.ingest import resolve_entities\n"
    "from tasks.settings import get_settings\n"
    "print(resolve_entities.fn(get_settings(warehouse=Path(sys.argv[1]))))\n"
)


def entity_rows(path: Path) -> list[tuple]:
    with duckdb.connect(str(path), read_only=True) as connection:
        return sorted(connection.execute(
            "select m.paragraph_id, m.start_char, m.end_char, e.entity_id, e.canonical_name, e.label, e.mention_count "
            "from entity_mentions m join entities e using (entity_id)").fetchall())


def test_entities_resolved_again_are_identical_under_other_hash_seeds(mixed_run: Path, tmp_path: Path) -> None:
    """The end-of-run resolution rebuilds entities and mentions from the raw mentions alone, the same
    whatever Python's hash seed."""
    for seed in ("1", "4242"):
        copy = tmp_path / f"seed-{seed}.duckdb"
        shutil.copy(mixed_run, copy)
        with duckdb.connect(str(copy)) as connection:
            connection.execute("delete from entity_mentions")
            connection.execute("delete from entities")
            connection.execute("delete from warehouse_meta where key = 'entities_resolved_for'")
        env = {**os.environ, "PYTHONHASHSEED": seed, "PYTHONPATH": str(PROJECT_ROOT)}
        done = subprocess.run([sys.executable, "-c", RESETTLE, str(copy)], env=env, cwd=PROJECT_ROOT,
                              capture_output=True, text=True, timeout=300)
        assert done.returncode == 0, done.stderr[-2000:]
        assert int(done.stdout.split()[-1]) > 0  # every article with mentions was written again
        assert entity_rows(copy) == entity_rows(mixed_run)


def test_a_rerun_on_the_unchanged_folder_changes_nothing(run_flow, mixed_raw: Path, mixed_run: Path, tmp_path: Path) -> None:
    copy = tmp_path / "again.duckdb"
    shutil.copy(mixed_run, copy)
    before = grouping_state(copy)
    with duckdb.connect(str(copy), read_only=True) as connection:
        vectors_before = connection.execute("select * from article_vectors order by article_id").fetchall()
    assert run_flow(mixed_raw, copy)["new"] == 0
    assert grouping_state(copy) == before
    with duckdb.connect(str(copy), read_only=True) as connection:
        assert connection.execute("select * from article_vectors order by article_id").fetchall() == vectors_before


def test_three_batches_give_the_stories_and_topics_of_one(run_flow, mixed_raw: Path, mixed_run: Path, tmp_path: Path) -> None:
    files = sorted(mixed_raw.glob("*.txt"), reverse=True)  # not the order one run takes them in
    batches = [files[0::3], files[1::3], files[2::3]]
    raw, path = tmp_path / "raw", tmp_path / "batched.duckdb"
    raw.mkdir()
    arrived: dict[str, int] = {}
    for number, batch in enumerate(batches):
        for file in batch:
            shutil.copy(file, raw / file.name)
            arrived[file.name] = number
        run_flow(raw, path)
    for level in ("story", "topic"):
        one_run, batched = members_by(mixed_run, level), members_by(path, level)
        assert set(batched.values()) == set(one_run.values())
        # Ids: a cluster is named after its earliest article among those of the batch that founded it,
        # so an id differs from the one-run id only where an earlier article arrived in a later batch.
        with duckdb.connect(str(path), read_only=True) as connection:
            article_of = dict(connection.execute("select source_path, article_id from articles").fetchall())
            earliest = dict(connection.execute(
                "select source_path, row_number() over (order by published nulls last, article_id) from articles").fetchall())
        one_run_id = {paths: key for key, paths in one_run.items()}
        for key, paths in batched.items():
            first_batch = min(arrived[p] for p in paths)
            founders = [p for p in paths if arrived[p] == first_batch]
            assert key == f"{level}-{article_of[min(founders, key=earliest.__getitem__)]}"
            if min(paths, key=earliest.__getitem__) in founders:
                assert key == one_run_id[paths]


def _vector(*values: float) -> list[float]:
    vector = np.zeros(8)
    vector[: len(values)] = values
    return list(vector / np.linalg.norm(vector))


def _articles(ids: list[str]) -> pl.DataFrame:
    return pl.DataFrame({
        "article_id": ids, "title": [f"Report {i}" for i in ids], "lede": ["harbour dredging vote"] * len(ids),
        "published": [date(2024, 3, 1 + n) for n in range(len(ids))], "outlet": [f"outlet-{i}" for i in ids],
        "first_seen_at": [datetime(2024, 3, 10)] * len(ids),
    })


def test_articles_that_bridge_two_stories_merge_them_and_the_old_id_resolves(tmp_path: Path) -> None:
    # a and b: one topic, two stories (cosine 0.3); c1, c2 sit between them (cosine 0.81 to each), so that
    # the average similarity of all four reaches a story's.
    bridge = _vector(1.3, 0.954)
    vectors = {"a": _vector(1.0), "b": _vector(0.3, 0.954), "c1": bridge, "c2": bridge}
    frame = lambda ids: pl.DataFrame({"article_id": ids, "embedding": [vectors[i] for i in ids]},  # noqa: E731
                                     schema={"article_id": pl.String, "embedding": pl.List(pl.Float32)})
    articles = _articles(list(vectors))
    no_entities = pl.DataFrame(schema={"article_id": pl.String, "canonical_name": pl.String, "label": pl.String,
                                       "mentions": pl.Int64})
    previous = pl.DataFrame(schema={"article_id": pl.String, "story_id": pl.String, "topic_id": pl.String})

    def assignment(grouping: topics.Grouping) -> pl.DataFrame:
        return grouping.story_articles.join(grouping.stories.select("story_id", "topic_id"), on="story_id").select(
            "article_id", "story_id", "topic_id")

    first = topics.group_articles(frame(["a", "b"]), articles, no_entities, previous)
    assert sorted(first.stories["story_id"]) == ["story-a", "story-b"] and first.topics["topic_id"].to_list() == ["topic-a"]
    second = topics.group_articles(frame(list(vectors)), articles, no_entities, assignment(first))
    assert second.stories["story_id"].to_list() == ["story-a"]
    assert second.merges.rows() == [("story", "story-b", "story-a")]
    # The one-batch grouping of the same articles: the same story, under the same id.
    at_once = topics.group_articles(frame(list(vectors)), articles, no_entities, previous)
    assert at_once.story_articles.equals(second.story_articles) and at_once.merges.height == 0

    path = tmp_path / "w.duckdb"
    with backend_for(path).connect() as connection:
        backend_of(connection).apply_schema(connection, PROJECT_ROOT / "sql", 8, "test")
        empty_similarity = pl.DataFrame(schema=stories_schema())
        no_signatures = pl.DataFrame(schema={"article_id": pl.String, "period": pl.Date, "grouping_signature": pl.UInt64, "similarity_signature": pl.UInt64})

        def replace(grouping: topics.Grouping, run_id: str) -> None:
            ids = grouping.story_articles["article_id"].to_list()
            with transaction(connection):
                replace_groups(connection, ids, ids, empty_similarity, grouping.stories, grouping.story_articles,
                               grouping.topics, grouping.merges, no_signatures, run_id)

        for grouping, run_id in ((first, "run-1"), (second, "run-2")):
            replace(grouping, run_id)
        resolved = dict(connection.execute(
            "select old_id, current_id from cluster_id_map where level = 'story'").fetchall())
        assert resolved == {"story-a": "story-a", "story-b": "story-a"}
        assert connection.execute("select run_id from cluster_merges").fetchall() == [("run-2",)]
        # The same grouping again leaves the same rows and records no merge twice.
        before = connection.execute("select * from story_articles order by all").fetchall()
        replace(second, "run-3")
        assert connection.execute("select * from story_articles order by all").fetchall() == before
        assert connection.execute("select count(*) from stories").fetchone() == (1,)
        assert connection.execute("select count(*) from cluster_merges").fetchone() == (1,)


def stories_schema() -> dict:
    from tasks.stories import ARTICLE_SIMILARITY_SCHEMA

    return ARTICLE_SIMILARITY_SCHEMA


def _tree_of(blocks: list[int], inside: list[float], between: float) -> np.ndarray:
    """An average-linkage tree over groups of `blocks` articles, each group `inside` similar within, every
    pair across groups `between` similar."""
    from scipy.cluster.hierarchy import linkage

    group = np.repeat(np.arange(len(blocks)), blocks)
    similarity = np.where(group[:, None] == group[None, :], np.array(inside)[group][:, None], between)
    distances = 1.0 - similarity
    return linkage(distances[np.triu_indices(len(group), k=1)], method="average")


@pytest.mark.parametrize(("blocks", "inside", "between", "topics_expected"), [
    ([4, 4], [0.9, 0.9], 0.4, 2),   # each group far closer inside than to the other: two subjects
    ([4, 4], [0.45, 0.45], 0.4, 1),  # loose groups about as close to each other as inside: one subject
    ([4, 4], [0.9, 0.9], 0.7, 1),   # as close as a story's articles: never split (stories nest in topics)
    ([2, 6], [0.9, 0.9], 0.4, 1),   # a pair is too small to count as a subject of its own
    ([4, 4], [0.9, 0.9], 0.1, 2),   # below the topic cut: apart whatever the ratio
])
def test_topics_split_where_two_groups_are_far_less_close_than_each_inside(
    blocks: list[int], inside: list[float], between: float, topics_expected: int
) -> None:
    from tasks.topics import split_topics

    labels = split_topics(_tree_of(blocks, inside, between), topic_min=0.2, story_min=0.6, ratio=0.65, min_articles=3)
    assert len(set(labels.tolist())) == topics_expected
    assert labels[0] == labels[blocks[0] - 1]  # a group is never cut inside


@pytest.mark.parametrize(("first", "rest", "between", "topics_expected"), [
    ({"Barack Obama": 0.4}, {"Michelle Obama": 0.3}, 0.45, 2),  # two clear subjects: two topics
    ({"Michelle Obama": 0.4}, {"Michelle Obama": 0.3}, 0.45, 1),  # one subject, two sides of it
    ({"Chelsea": 0.1}, {"Premier League": 0.15}, 0.45, 1),  # a league's clubs: no clear subject either side
    ({"Barack Obama": 0.4}, {"Michelle Obama": 0.3, "Barack Obama": 0.25}, 0.45, 1),  # he is named much on both sides
    ({"Barack Obama": 0.4}, {"Michelle Obama": 0.3}, 0.7, 1),  # as close as a story's articles: stories nest
    ({"Elvis": 0.4}, {"Elvis Presley": 0.3}, 0.45, 1),  # maybe one subject under two names
])
def test_a_branch_about_another_subject_is_a_topic_of_its_own(
    first: dict[str, float], rest: dict[str, float], between: float, topics_expected: int
) -> None:
    import scipy.sparse as sp

    from tasks.topics import detach_subjects, split_topics

    blocks = [4, 8]  # close enough that relative closeness alone keeps them together
    tree = _tree_of(blocks, [0.55, 0.55], between)
    names = sorted(set(first) | set(rest))
    shares = np.array([[first.get(name, 0.0) for name in names]] * blocks[0]
                      + [[rest.get(name, 0.0) for name in names]] * blocks[1])
    together = split_topics(tree, topic_min=0.2, story_min=0.6, ratio=0.65, min_articles=3)
    assert len(set(together.tolist())) == 1
    labels = detach_subjects(tree, together, sp.csr_matrix(shares), story_min=0.6, min_articles=3, names=names)
    assert len(set(labels.tolist())) == topics_expected
    assert len(set(labels[:blocks[0]].tolist())) == len(set(labels[blocks[0]:].tolist())) == 1


def test_topic_terms_are_what_a_cluster_is_about_not_how_news_is_written() -> None:
    from tasks.topics import distinctive_terms

    terms = distinctive_terms({
        "a": "Mr Blair said Labour would win. Mr Blair told voters Labour had a plan, according to aides.",
        "b": "Mr Brown said the budget was sound. The budget, Mr Brown told MPs, would cut the deficit.",
        "c": "The striker scored twice. The striker said the club would win the league, Dr Smith says.",
    })
    assert terms["a"][:2] == ["blair", "labour"] and terms["b"][:2] == ["brown", "budget"]
    assert not {"mr", "said", "told", "according", "dr", "says"} & {t for ts in terms.values() for t in ts}


def test_each_period_is_grouped_from_its_own_articles_alone() -> None:
    # Two periods of near-identical articles (one story if they shared a period) with shared entities: the
    # grouping of both periods at once equals each period grouped alone, labels included, and no cluster
    # spans two periods.
    rng = np.random.default_rng(7)
    base = rng.normal(size=8)
    ids = [f"a{i}" for i in range(6)]
    vectors = pl.DataFrame({"article_id": ids, "embedding": [list(base + rng.normal(scale=0.05, size=8)) for _ in ids]},
                           schema={"article_id": pl.String, "embedding": pl.List(pl.Float32)})
    articles = _articles(ids).with_columns(period=pl.Series([date(2024, 3, 4)] * 3 + [date(2024, 3, 11)] * 3))
    entities = pl.DataFrame({"article_id": ids, "canonical_name": ["Harbour Board"] * 6, "label": ["ORG"] * 6,
                             "mentions": [2, 1, 3, 1, 2, 2]})
    previous = pl.DataFrame(schema={"article_id": pl.String, "story_id": pl.String, "topic_id": pl.String})
    both = topics.group_articles(vectors, articles, entities, previous)
    alone = [topics.group_articles(vectors, articles.filter(pl.col("period") == day), entities, previous)
             for day in (date(2024, 3, 4), date(2024, 3, 11))]
    assert both.stories.height == 2 and both.topics.height == 2
    for table in ("topics", "stories", "story_articles"):
        assert getattr(both, table).equals(pl.concat([getattr(g, table) for g in alone]).sort(getattr(both, table).columns[0]))
    # Without periods the six are one story.
    assert topics.group_articles(vectors, articles.drop("period"), entities, previous).stories.height == 1


def test_a_run_regroups_only_the_periods_it_changed_and_equals_grouping_them_all(
        mixed_run: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from flows.derived import GROUPING_INPUTS_KEY, derive_stories
    from storage.connection import in_transaction
    from storage.loads import delete_articles
    from tasks.settings import Settings

    path = tmp_path / "w.duckdb"
    shutil.copy(mixed_run, path)
    settings = Settings(warehouse=path, grouping_period="week")
    grouped: list[int] = []
    group_articles = topics.group_articles

    def counting(vectors: pl.DataFrame, *args: object, **kwargs: object) -> topics.Grouping:
        grouped.append(vectors.height)
        return group_articles(vectors, *args, **kwargs)

    monkeypatch.setattr(topics, "group_articles", counting)

    def state(connection: duckdb.DuckDBPyConnection) -> tuple:
        members = connection.execute("select list(article_id order by article_id) from story_articles "
                                     "group by story_id order by 1").fetchall()
        in_topics = connection.execute("select list(sa.article_id order by sa.article_id) from story_articles sa "
                                       "join stories s using (story_id) group by s.topic_id order by 1").fetchall()
        labels = connection.execute("select label, n_articles, first_seen from stories order by all").fetchall()
        similarity = connection.execute("select * exclude (original_article_id, original_basis) "
                                        "from article_similarity order by all").fetchall()
        return members, in_topics, labels, similarity

    with backend_for(path).connect() as connection:
        # Dates over four weeks, two articles a week or so: several periods.
        connection.execute("update articles set published = date '2024-03-04' + cast(hash(article_id) % 28 as integer)")
        n_articles = connection.execute("select count(*) from articles").fetchone()[0]
        derive_stories(connection, settings, "r1")
        assert grouped[-1] == n_articles
        periods = connection.execute("select count(distinct period) from article_signatures").fetchone()[0]
        assert periods >= 3
        doomed, moved = connection.execute(
            "select first(article_id order by article_id), last(article_id order by article_id) from articles").fetchone()
        in_transaction(connection, lambda c: delete_articles(c, [doomed]))
        connection.execute("update articles set published = published + 60 where article_id = ?", [moved])
        derive_stories(connection, settings, "r2")
        assert 0 < grouped[-1] < n_articles - 1  # the changed periods only
        incremental = state(connection)
        derive_stories(connection, settings, "r3")  # nothing changed since: nothing regrouped
        assert len(grouped) == 2 or grouped[-1] == 0
        connection.execute("delete from warehouse_meta where key = ?", [GROUPING_INPUTS_KEY])
        derive_stories(connection, settings, "r4")  # every period from scratch
        assert grouped[-1] == n_articles - 1
        assert state(connection) == incremental
