"""Acceptance of canonical entities and quotes on the five samples against shared/gold/seeds.json,
plus incremental canonicalisation over two runs."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import duckdb
import polars as pl
import pytest

from tasks.entities import find_entity
from tests.conftest import GOLD_FILE, SEEDS_DIR

pytestmark = pytest.mark.slow  # every test reads the real flow's warehouse (spaCy and the embedding model)

GOLD = json.loads(GOLD_FILE.read_text())


def entity_ids_for_form(con: duckdb.DuckDBPyConnection, entities: pl.DataFrame, form: str) -> set[str]:
    """Where a form is written in the article text: the entities of the mentions it covers. A form
    never written there (only in removed boilerplate, or not at all) is looked up as a reader would."""
    paragraphs = con.execute("select paragraph_id, text from paragraphs").fetchall()
    mentions = con.execute("select paragraph_id, start_char, end_char, entity_id from entity_mentions").pl()
    found: set[str] = set()
    for paragraph_id, text in paragraphs:
        for match in re.finditer(rf"(?<!\w){re.escape(form)}(?!\w)", text):
            covered = mentions.filter(
                (pl.col("paragraph_id") == paragraph_id) & (pl.col("start_char") < match.end())
                & (pl.col("end_char") > match.start())
            )
            found |= set(covered["entity_id"])
    if not found:
        entity_id = find_entity(entities, form)
        found = {entity_id} if entity_id else set()
    return found


def all_entities(con: duckdb.DuckDBPyConnection) -> pl.DataFrame:
    return con.execute("select entity_id, canonical_name, label, aliases, mention_count from entities").pl()


@pytest.mark.parametrize("group", GOLD["entities_same"], ids=[g[0] for g in GOLD["entities_same"]])
def test_gold_alias_groups_are_one_entity(con, group: list[str]) -> None:
    entities = all_entities(con)
    ids = {form: entity_ids_for_form(con, entities, form) for form in group}
    assert all(ids.values()), f"not found: {[f for f, i in ids.items() if not i]}"
    assert len(set().union(*ids.values())) == 1, {f: sorted(entities.filter(pl.col("entity_id").is_in(list(i)))["canonical_name"]) for f, i in ids.items()}


def test_gold_persons_are_person_entities(con) -> None:
    entities = all_entities(con)
    labels = dict(zip(entities["entity_id"], entities["label"]))
    not_person = [name for name in GOLD["entities_expected_persons"]
                  if labels.get(find_entity(entities, name) or "") != "PERSON"]
    assert not_person == []


def test_possessive_place_is_a_place(con) -> None:
    # "Crimea’s referendum": Crimea, a place, not an ORG of its own.
    entities = all_entities(con)
    [crimea] = entity_ids_for_form(con, entities, "Crimea’s")
    assert entities.filter(pl.col("entity_id") == crimea)["label"].item() in {"GPE", "LOC"}
    assert entities.filter(pl.col("canonical_name").str.contains("Crimea’s")).height == 0


def test_entities_keep_mention_counts(con) -> None:
    stale = con.execute(
        "select count(*) from entities e where mention_count <> "
        "(select count(*) from entity_mentions m where m.entity_id = e.entity_id)"
    ).fetchone()[0]
    assert stale == 0
    kerry = con.execute("select mention_count from entities where canonical_name = 'John Kerry'").fetchone()[0]
    assert kerry >= 30


def gold_quote_speakers(con: duckdb.DuckDBPyConnection) -> list[tuple[dict, list[str | None], str | None]]:
    """Each gold quote, the speakers of the extracted quotes containing it, and the gold speaker's entity."""
    entities = all_entities(con)
    results = []
    for gold in GOLD["quotes"]:
        rows = con.execute(
            "select q.speaker_entity_id from quotes q join articles a using (article_id) "
            "where a.source_path = ? and strpos(q.text, ?) > 0",
            [gold["file"], gold["quote"]],
        ).fetchall()
        expected = find_entity(entities, gold["speaker"]) if gold["speaker"] else None
        results.append((gold, [row[0] for row in rows], expected))
    return results


def test_gold_quotes_are_found_with_their_speakers(con) -> None:
    results = gold_quote_speakers(con)
    missing = [gold["quote"] for gold, found, _ in results if len(found) != 1]
    assert missing == [], "each gold quote should be exactly one extracted quote"
    right = [gold["quote"] for gold, found, expected in results if found == [expected]]
    wrong = [(gold["quote"][:40], gold["speaker"]) for gold, found, expected in results if found != [expected]]
    assert len(right) >= 11, f"{len(right)}/{len(results)} speakers right; wrong: {wrong}"


def test_our_partners_quotes_are_linked(con) -> None:
    def quote_id(source_path: str, text: str) -> str:
        rows = con.execute(
            "select q.quote_id from quotes q join articles a using (article_id) "
            "where a.source_path = ? and strpos(q.text, ?) > 0",
            [source_path, text],
        ).fetchall()
        assert len(rows) == 1, (source_path, text)
        return rows[0][0]

    a, b = sorted([
        quote_id("003_1c3b16d0d3a6d11a.txt", "Our partners also understand that this would be a counterproductive measure"),
        quote_id("004_83edbdfcffbfdd56.txt", "Our partners also realize that sanctions are counterproductive"),
    ])
    row = con.execute("select same_speaker from quote_links where quote_id_a = ? and quote_id_b = ?", [a, b]).fetchone()
    assert row is not None and row[0]


def test_quotes_and_links_are_consistent(con) -> None:
    assert con.execute(
        "select count(*) from quotes q join paragraphs p using (paragraph_id) "
        "where substr(p.text, q.start_char + 1, q.end_char - q.start_char) <> q.text"
    ).fetchone()[0] == 0
    assert con.execute("select count(*) from quote_links where article_id_a = article_id_b").fetchone()[0] == 0
    # Unnamed sources stay unnamed: no quote given to "the official" has a speaker.
    assert con.execute(
        "select count(*) from quotes where speaker_surface ilike '%official%' and speaker_entity_id is not null"
    ).fetchone()[0] == 0


def test_example_queries_run(con) -> None:
    queries = Path(__file__).resolve().parent.parent / "sql" / "queries"
    speakers = con.execute((queries / "top_speakers_per_outlet.sql").read_text()).pl()
    assert "John Kerry" in set(speakers["speaker"])
    shared = con.execute((queries / "shared_quotes.sql").read_text()).pl()
    assert shared.height >= 3 and (shared["outlets"] >= 2).all()


def test_canonicalisation_is_incremental(run_flow, tmp_path: Path) -> None:
    """Two runs (three articles, then the other two) give the same entity groups and link quotes
    across runs; entities the second run touches keep their ids."""
    raw = tmp_path / "raw"
    raw.mkdir()
    files = sorted(SEEDS_DIR.glob("*.txt"))
    for path in files[:3]:
        shutil.copy(path, raw / path.name)
    warehouse = tmp_path / "newsdag.duckdb"
    run_flow(raw, warehouse)
    with duckdb.connect(str(warehouse), read_only=True) as first:
        before = dict(first.execute("select canonical_name, entity_id from entities where label = 'PERSON'").fetchall())
    for path in files[3:]:
        shutil.copy(path, raw / path.name)
    run_flow(raw, warehouse)
    with duckdb.connect(str(warehouse), read_only=True) as second:
        entities = all_entities(second)
        for group in GOLD["entities_same"]:
            ids = set().union(*(entity_ids_for_form(second, entities, form) for form in group))
            assert len(ids) == 1, group
        after = dict(zip(entities["canonical_name"], entities["entity_id"]))
        assert before["John Kerry"] == after["John Kerry"]
        assert before["Sergei Lavrov"] == after["Sergei Lavrov"]
        linked_across_runs = second.execute(
            "select count(*) from quote_links l join articles a on a.article_id = l.article_id_a "
            "join articles b on b.article_id = l.article_id_b where a.run_id <> b.run_id"
        ).fetchone()[0]
        assert linked_across_runs >= 1
        assert second.execute("select count(*) from quotes where speaker_entity_id not in "
                              "(select entity_id from entities)").fetchone()[0] == 0
