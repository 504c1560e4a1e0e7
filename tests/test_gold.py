"""End-to-end acceptance on the five samples against the hand annotation in tests/data/seeds_gold.json (a copy of shared/gold/seeds.json)."""

from __future__ import annotations

import json
from datetime import date

import pytest

from tests.conftest import GOLD_FILE

GOLD = json.loads(GOLD_FILE.read_text())
ARTICLES = sorted(GOLD["articles"].items())


def article_row(con, source_path: str) -> dict:
    cursor = con.execute("select * from articles where source_path = ?", [source_path])
    names = [d[0] for d in cursor.description]
    row = cursor.fetchone()
    assert row is not None, f"{source_path} not loaded"
    return dict(zip(names, row))


@pytest.mark.parametrize(("source_path", "gold"), ARTICLES, ids=[name for name, _ in ARTICLES])
def test_body_and_metadata_match_gold(con, source_path: str, gold: dict) -> None:
    article = article_row(con, source_path)
    body = article["body"]
    for boilerplate in gold["boilerplate"]:
        assert boilerplate not in body, f"boilerplate survived: {boilerplate!r}"
    for text in gold["body_must_contain"]:
        assert text in body, f"article text lost: {text!r}"
    assert article["n_paragraphs"] == gold["n_body_paragraphs"]
    assert len(body.split("\n\n")) == gold["n_body_paragraphs"]
    for key in ("title", "subtitle", "url", "dateline", "wire_source"):
        assert article[key] == gold[key], key
    assert article["authors"] == gold["authors"]
    assert article["contributors"] == gold["contributors"]
    expected_date = date.fromisoformat(gold["published"]) if gold["published"] else None
    assert article["published"] == expected_date
    if "title_occurrences_in_body" in gold:
        assert body.count(gold["title"]) == gold["title_occurrences_in_body"]


def _paragraph_id(con, source_path: str, substring: str) -> str:
    rows = con.execute(
        "select p.paragraph_id from paragraphs p join articles a using (article_id) "
        "where a.source_path = ? and strpos(p.text, ?) > 0",
        [source_path, substring],
    ).fetchall()
    assert len(rows) == 1, f"{substring!r} should be in exactly one paragraph of {source_path}"
    return rows[0][0]


@pytest.mark.parametrize("pair", GOLD["similar_pairs"], ids=[p[0][1][:40] for p in GOLD["similar_pairs"]])
def test_gold_similar_pairs_are_linked(con, pair) -> None:
    (file_a, text_a), (file_b, text_b) = pair
    a, b = sorted([_paragraph_id(con, file_a, text_a), _paragraph_id(con, file_b, text_b)])
    row = con.execute(
        "select cosine from paragraph_similarity where paragraph_id_a = ? and paragraph_id_b = ?", [a, b]
    ).fetchone()
    assert row is not None, f"not linked: {text_a!r} / {text_b!r}"


def test_no_link_within_one_article(con) -> None:
    assert con.execute("select count(*) from paragraph_similarity where article_id_a = article_id_b").fetchone()[0] == 0
    assert con.execute("select count(*) from paragraph_similarity").fetchone()[0] > 0


def test_entities_and_mentions_are_loaded(con) -> None:
    persons = {row[0] for row in con.execute("select canonical_name from entities where label = 'PERSON'").fetchall()}
    assert {"John Kerry", "Vladimir Putin", "David Cameron"} <= persons
    bad_offsets = con.execute(
        "select count(*) from entity_mentions m join paragraphs p using (paragraph_id) "
        "where substr(p.text, m.start_char + 1, m.end_char - m.start_char) <> m.surface"
    ).fetchone()[0]
    assert bad_offsets == 0
    # "Kerry" alone in an article that names John Kerry is the same entity.
    kerry_ids = {row[0] for row in con.execute(
        "select distinct m.entity_id from entity_mentions m where m.surface in ('Kerry', 'John Kerry')"
    ).fetchall()}
    assert len(kerry_ids) == 1


def test_removed_spans_trace_back_to_raw_text(con) -> None:
    mismatches = con.execute(
        "select count(*) from removed_spans r join article_sources s using (article_id) "
        "where substr(s.raw_text, r.start_char + 1, r.end_char - r.start_char) <> r.text"
    ).fetchone()[0]
    assert mismatches == 0
    reasons = {row[0] for row in con.execute("select distinct reason from removed_spans").fetchall()}
    assert {"bio_hovercard", "credit", "caption", "url_footer", "title_repeat", "social_prompt"} <= reasons


def test_embeddings_have_model_dimension(con) -> None:
    dims = con.execute("select distinct len(embedding) from paragraphs").fetchall()
    assert dims == [(384,)]
