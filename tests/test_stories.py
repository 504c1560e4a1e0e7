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
