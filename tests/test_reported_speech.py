"""Reported speech from the real dependency parse (spaCy's small English model): each rule with its
examples and the look-alikes it must leave alone; and an upgraded warehouse's quotes found again."""

from __future__ import annotations

import shutil
from pathlib import Path

import duckdb
import pytest

from tasks.entities import load_nlp
from tasks.quotes import QUOTES_KEY, QUOTES_VERSION, extract_quotes, parse_clauses
from tasks.settings import Settings
from tests.test_quotes import article_frames

# name -> (entity_id, label): every occurrence is a mention (longest names first)
PEOPLE = {"John Kerry": ("kerry", "PERSON"), "Kerry": ("kerry", "PERSON"), "Sergei Lavrov": ("lavrov", "PERSON"),
          "Lavrov": ("lavrov", "PERSON"), "Mr Blair": ("blair", "PERSON"), "Federer": ("federer", "PERSON"),
          "Henman": ("henman", "PERSON"), "Agassi": ("agassi", "PERSON"), "American": ("american", "NORP"),
          "Time Warner": ("timewarner", "ORG"), "Jack Ketsoyan": ("ketsoyan", "PERSON"),
          "Mutu": ("mutu", "ORG"), "Chelsea": ("chelsea", "ORG"), "Russia": ("russia", "GPE")}


@pytest.fixture(scope="module")
def nlp():
    return load_nlp(Settings().spacy_model)


def quotes_of(nlp, *paragraphs: str, statements_only: bool = True) -> list[dict]:
    """The quotes of one article made of these paragraphs, parsed for real; mentions from PEOPLE."""
    paras, mentions, entities = article_frames(paragraphs, PEOPLE)
    found = extract_quotes(paras, mentions, entities, parse_clauses(paras, nlp))
    for row in found.iter_rows(named=True):  # offsets point at the statement's words
        assert paragraphs[int(row["paragraph_id"][-4:])][row["start_char"]:row["end_char"]] == row["text"]
    return [q for q in found.to_dicts() if not statements_only or q["kind"] != "fragment"]


def test_a_verb_of_saying_reports_its_content_clause(nlp) -> None:
    [quote] = quotes_of(nlp, "Kerry said the talks had failed.")
    assert (quote["kind"], quote["text"], quote["speaker_entity_id"], quote["verb"]) == (
        "indirect", "the talks had failed", "kerry", "say")
    [quote] = quotes_of(nlp, "Lavrov told reporters that Russia would respect the vote.")
    assert (quote["text"], quote["speaker_entity_id"], quote["attribution"]) == (
        "Russia would respect the vote", "lavrov", "before")  # "that" is not the statement's


def test_the_speaker_after_the_statement(nlp) -> None:
    [quote] = quotes_of(nlp, "A demand for unpaid taxes is politically motivated, Time Warner claimed.")
    assert (quote["text"], quote["speaker_entity_id"], quote["attribution"]) == (
        "A demand for unpaid taxes is politically motivated", "timewarner", "after")


def test_according_to_names_the_source(nlp) -> None:
    [quote] = quotes_of(nlp, "According to officials, the plan was dropped in March.")
    assert (quote["text"], quote["speaker_entity_id"], quote["speaker_surface"]) == (
        "the plan was dropped in March", None, "officials")  # an unnamed source


def test_a_participle_and_a_relative_clause_take_the_subject_they_hang_from(nlp) -> None:
    quotes = quotes_of(nlp, "The demand is unfair, Time Warner claimed, adding that it paid the money in October.")
    assert [(q["text"], q["speaker_entity_id"]) for q in quotes] == [
        ("The demand is unfair", "timewarner"), ("it paid the money in October", "timewarner")]
    [quote] = quotes_of(nlp, "He is cared for by his physician, Jack Ketsoyan, who said he expects a full recovery.")
    assert (quote["text"], quote["speaker_entity_id"]) == ("he expects a full recovery", "ketsoyan")


@pytest.mark.parametrize("sentence", [
    "Ketsoyan did not say what Reid is being treated for.",  # negated
    "He declined to say whether he had offered to quit.",  # an infinitive
    "McManus and Magnier are said to believe that the bid undervalues the club.",  # a passive, no speaker
    "Kerry believes the talks had failed.",  # thinking is not saying
    "This confirms that the account holder is a non-taxpayer.",  # a document, not a source
    "The talks failed on Friday.",
])
def test_look_alikes_report_nothing(nlp, sentence: str) -> None:
    assert quotes_of(nlp, sentence) == []


def test_a_report_of_a_report_is_given_to_who_said_it(nlp) -> None:
    [quote] = quotes_of(nlp, "It claims Mr Blair said he would stand down before the next election.")
    assert (quote["text"], quote["speaker_entity_id"]) == ("he would stand down before the next election", "blair")


def test_reported_speech_with_quoted_words_is_one_mixed_quote(nlp) -> None:
    quotes = quotes_of(nlp, 'Kerry said he came to London in "good faith" and would talk again.', statements_only=False)
    assert [(q["kind"], q["text"], q["speaker_entity_id"]) for q in quotes] == [
        ("mixed", 'he came to London in "good faith" and would talk again', "kerry")]


def test_a_clause_all_in_quote_marks_is_the_direct_quote(nlp) -> None:
    quotes = quotes_of(nlp, 'Lavrov told reporters: "We will respect the expression of the will of the people."')
    assert [(q["kind"], q["text"], q["speaker_entity_id"]) for q in quotes] == [
        ("direct", "We will respect the expression of the will of the people.", "lavrov")]


def test_fragments_are_kept_apart(nlp) -> None:
    quotes = quotes_of(nlp, 'Critics attacked the show\'s "bullying" of housemates.', statements_only=False)
    assert [(q["kind"], q["text"]) for q in quotes] == [("fragment", "bullying")]
    # a speech verb inside a quote is the speaker's own words, not reported speech
    quotes = quotes_of(nlp, '"I would say the deal is a real eye-opener," Kerry said.')
    assert [(q["kind"], q["speaker_entity_id"]) for q in quotes] == [("direct", "kerry")]


def test_he_is_the_nearest_named_subject_not_the_last_speaker(nlp) -> None:
    quotes = quotes_of(nlp, '"It was a great start to the year," said Henman. Federer dropped a tight first set '
                            'but was content. "It was about getting used to the surface," he said.')
    assert [q["speaker_entity_id"] for q in quotes] == ["henman", "federer"]


def test_he_after_a_speaker_spacy_called_an_organisation(nlp) -> None:
    quotes = quotes_of(nlp, 'Mutu hit out at the club, saying: "Chelsea have destroyed me." He told the paper: '
                            '"I do not know what I am going to do."')
    assert [q["speaker_entity_id"] for q in quotes] == ["mutu", "mutu"]


def test_said_the_american_is_the_person_before(nlp) -> None:
    quotes = quotes_of(nlp, 'Agassi was delighted with the win. "I felt pretty good on the court," said the American.')
    assert [q["speaker_entity_id"] for q in quotes] == ["agassi"]


def test_the_company_is_the_organisation_the_story_named(nlp) -> None:
    quotes = quotes_of(nlp, "Time Warner posted a profit of $3.36bn. The company said it was unable to estimate "
                            "the amount it needed to set aside.")
    assert [(q["kind"], q["speaker_entity_id"]) for q in quotes] == [("indirect", "timewarner")]


def test_a_capitalised_word_that_names_no_one_is_no_speaker(nlp) -> None:
    [quote] = quotes_of(nlp, '"We will fight this decision all the way," Cambridge said.')
    assert quote["speaker_entity_id"] is None and quote["speaker_surface"] in (None, "Cambridge")
    [quote] = quotes_of(nlp, 'When asked, "we will not accept the result of the vote," was all he said.',
                        statements_only=False)
    assert quote["speaker_surface"] != "When"


def test_an_upgraded_warehouse_finds_its_quotes_again_as_a_fresh_run(run_flow, seed_run, tmp_path: Path) -> None:
    """A warehouse loaded before reported speech (no speech clauses, direct quotes only, no quotes
    version, the entities step recorded without it) gets, from its next run with nothing new to load,
    the quotes a fresh run stores; the run after changes nothing."""
    raw, fresh, _ = seed_run
    warehouse = tmp_path / "old.duckdb"
    shutil.copy(fresh, warehouse)
    columns = "quote_id, kind, text, speaker_entity_id, attribution, continues_quote_id"
    with duckdb.connect(str(warehouse)) as con:
        expected = con.execute(f"select {columns} from quotes order by quote_id").fetchall()
        assert any(row[1] == "indirect" for row in expected)
        con.execute("delete from speech_clauses")
        con.execute("delete from quotes where kind not in ('direct', 'fragment')")
        # An older newsdag stored fragments as quotes, embedded and linked to other outlets' quotes.
        assert any(row[1] == "fragment" for row in expected)
        con.execute("update quotes set kind = 'direct', embedding = (select any_value(embedding) from quotes "
                    "where embedding is not null) where kind = 'fragment'")
        con.execute("insert into quote_links select f.quote_id, q.quote_id, f.article_id, q.article_id, 0.9, 0.5, false "
                    "from quotes f, quotes q where f.quote_id < q.quote_id and f.article_id <> q.article_id "
                    "and f.is_partial and not q.is_partial limit 3")
        con.execute("delete from warehouse_meta where key = ?", [QUOTES_KEY])
        con.execute("delete from embedding_cache")  # reported speech was never embedded: encoded by the upgrade
        con.execute("update warehouse_meta set value = replace(value, ?, '') where key like 'derived.%'",
                    [f"; quotes {QUOTES_VERSION}"])
    run_flow(raw, warehouse)
    with duckdb.connect(str(warehouse), read_only=True) as con:
        assert con.execute(f"select {columns} from quotes order by quote_id").fetchall() == expected
        assert con.execute("select count(*) from speech_clauses").fetchone()[0] > 0
        assert con.execute("select value from warehouse_meta where key = ?", [QUOTES_KEY]).fetchone()[0] == QUOTES_VERSION
        links = con.execute("select * from quote_links order by all").fetchall()
        assert con.execute("select count(*) from quotes where kind = 'fragment' and embedding is not null").fetchone() == (0,)
    with duckdb.connect(str(fresh), read_only=True) as con:
        expected_links = con.execute("select * from quote_links order by all").fetchall()
    # the same pairs; cosines to float32 rounding (the upgrade encodes the statements in batches of its own)
    assert [row[:4] + row[5:] for row in links] == [row[:4] + row[5:] for row in expected_links]
    assert all(abs(a[4] - b[4]) < 1e-5 for a, b in zip(links, expected_links))


def test_a_statement_quoted_by_one_outlet_and_reported_by_another_is_linked(con) -> None:
    """Lavrov's "We will respect the expression of the will of the Crimean people …" (Reuters, quoted) and
    "Russia will respect the will of Crimeans in their referendum" (reported) are one statement."""
    kinds = con.execute(
        "select a.kind, b.kind from quote_links l join quotes a on a.quote_id = l.quote_id_a "
        "join quotes b on b.quote_id = l.quote_id_b").fetchall()
    assert any({"direct"} & {x, y} and {"indirect", "mixed"} & {x, y} for x, y in kinds)
    assert not any("fragment" in (x, y) for x, y in kinds)
