"""Quote extraction, speaker attribution and quote linking, each rule on short made-up paragraphs."""

from __future__ import annotations

import re

import numpy as np
import polars as pl

from tasks.paragraphs import text_hash
from tasks.quotes import (
    QUOTE_SCHEMA, _ArticleSoFar, _Mention, _paragraph_quotes, embed_and_link, extract_quotes, find_quote_spans,
    is_same_statement, link_quotes, quote_texts,
)

# Made-up entities: name -> (entity_id, canonical label).
PEOPLE = {
    "Jay Carney": ("carney", "PERSON"), "Carney": ("carney", "PERSON"),
    "John Kerry": ("kerry", "PERSON"), "Kerry": ("kerry", "PERSON"),
    "Sergei Lavrov": ("lavrov", "PERSON"), "Lavrov": ("lavrov", "PERSON"),
    "Putin": ("putin", "PERSON"), "Oleksandr Turchynov": ("turchynov", "PERSON"), "Cara Diemont": ("diemont", "PERSON"),
    "U.S.": ("us", "GPE"), "Russia": ("russia", "GPE"), "Kremlin": ("kremlin", "ORG"), "London": ("london", "GPE"),
}


def article_frames(paragraphs: tuple[str, ...], people: dict[str, tuple[str, str]]) -> tuple[pl.DataFrame, pl.DataFrame, pl.DataFrame]:
    """One article ("a") of these paragraphs: its paragraphs, its mentions (every occurrence of a name of
    `people`: name -> (entity_id, label), longest names first) and those entities."""
    paras = pl.DataFrame({
        "article_id": ["a"] * len(paragraphs),
        "paragraph_id": [f"a-{i:04d}" for i in range(len(paragraphs))],
        "position": list(range(len(paragraphs))),
        "text": list(paragraphs),
    })
    rows = []
    for i, text in enumerate(paragraphs):
        taken: set[int] = set()
        for name in sorted(people, key=len, reverse=True):  # longest first: "John Kerry" before "Kerry"
            for match in re.finditer(rf"(?<!\w){re.escape(name)}(?!\w)", text):
                if taken & set(range(match.start(), match.end())):
                    continue
                taken |= set(range(match.start(), match.end()))
                entity_id, label = people[name]
                rows.append({"article_id": "a", "paragraph_id": f"a-{i:04d}", "start_char": match.start(),
                             "end_char": match.end(), "surface": name, "label": label, "entity_id": entity_id})
    mentions = pl.DataFrame(rows, schema={"article_id": pl.String, "paragraph_id": pl.String, "start_char": pl.Int32,
                                          "end_char": pl.Int32, "surface": pl.String, "label": pl.String,
                                          "entity_id": pl.String})
    entities = pl.DataFrame({"entity_id": [v[0] for v in people.values()], "label": [v[1] for v in people.values()]}).unique()
    return paras, mentions, entities


def run(*paragraphs: str) -> list[dict]:
    """Statements (fragments left out) of one article made of these paragraphs; mentions are every
    occurrence of a PEOPLE name."""
    return [q for q in run_all(*paragraphs) if q["kind"] != "fragment"]


def run_all(*paragraphs: str) -> list[dict]:
    """Every quote row, fragments included, of one article made of these paragraphs (no parse: direct
    quotes only)."""
    paras, mentions, entities = article_frames(paragraphs, PEOPLE)
    quotes = extract_quotes(paras, mentions, entities)
    assert quotes.schema == pl.Schema(QUOTE_SCHEMA)
    for row in quotes.iter_rows(named=True):  # offsets point at the quoted words
        assert paragraphs[int(row["paragraph_id"][-4:])][row["start_char"]:row["end_char"]] == row["text"]
    # The embedding step encodes quotes before entities are known: it must foresee every one.
    direct = quotes.filter(pl.col("kind") == "direct")["text"].to_list()
    assert set(direct) <= set(quote_texts(paras)["text"].to_list())
    return quotes.to_dicts()


def test_speaker_named_after_the_quote() -> None:
    [quote] = run('"Russia has violated its commitments. It has violated international law," Carney said.')
    assert quote["text"] == "Russia has violated its commitments. It has violated international law"
    assert (quote["speaker_entity_id"], quote["verb"], quote["attribution"]) == ("carney", "said", "after")


def test_inverted_attribution_with_title() -> None:
    [quote] = run("“All of us would like to see actions, not words,” added Secretary of State John Kerry, who left.")
    assert (quote["speaker_entity_id"], quote["verb"]) == ("kerry", "added")


def test_subject_not_object_of_told() -> None:
    [quote] = run('"We want to see them talking to each other," Carney told Kerry in London.')
    assert quote["speaker_entity_id"] == "carney"


def test_speaker_named_before_the_quote() -> None:
    [quote] = run("After the talks, Lavrov said the proposals were unsatisfactory because of a “conflict between two states.”")
    assert (quote["speaker_entity_id"], quote["attribution"], quote["is_partial"]) == ("lavrov", "before", True)


def test_mixed_straight_and_curly_marks_and_a_second_quote_in_the_sentence_after() -> None:
    quotes = run('“We don’t know what Putin will decide,” Kerry told reporters. "I would say to him today: think again.”')
    assert [q["text"] for q in quotes] == ["We don’t know what Putin will decide", "I would say to him today: think again."]
    assert [q["speaker_entity_id"] for q in quotes] == ["kerry", "kerry"]
    assert quotes[1]["attribution"] == "continuation" and quotes[1]["continues_quote_id"] == quotes[0]["quote_id"]


def test_he_said_points_to_the_person_who_spoke_before_not_the_last_named() -> None:
    quotes = run(
        "Kerry said the next steps would depend on a decision by Putin after the vote.",
        '"That is a decision of enormous consequence," he told reporters.',
    )
    assert quotes[0]["speaker_entity_id"] == "kerry" and quotes[0]["attribution"] == "pronoun"
    assert quotes[0]["speaker_surface"] == "he"


def test_he_said_within_the_paragraph() -> None:
    [first, second] = run(
        'Lavrov said the region mattered. "It is more important than anything," he said. "I am sure of it."'
    )
    assert first["speaker_entity_id"] == second["speaker_entity_id"] == "lavrov"


def test_unnamed_sources_have_no_speaker_even_beside_a_named_country() -> None:
    [quote] = run('"We shared ideas about greater autonomy for the region," a senior U.S. official said.')
    assert quote["speaker_entity_id"] is None and "official" in quote["speaker_surface"]
    quotes = run('"We shared ideas about greater autonomy," the official said, "but they did not listen to us."')
    assert [q["speaker_entity_id"] for q in quotes] == [None, None]


def test_organisation_as_speaker() -> None:
    [quote] = run('"There are no plans to send troops anywhere," the Kremlin said.')
    assert quote["speaker_entity_id"] == "kremlin"


def test_apposition_names_the_speaker() -> None:
    [quote] = run("Oleksandr Turchynov, the acting president, said forces were “ready to intervene at any time.”")
    assert quote["speaker_entity_id"] == "turchynov"


def test_quote_running_on_into_the_next_paragraph() -> None:
    quotes = run(
        '"Neither we nor the international community will recognise the results," Kerry said. "We also remain '
        "concerned about the troops.",
        '"Right now we really need to hear a more declarative policy."',
    )
    assert [q["speaker_entity_id"] for q in quotes] == ["kerry", "kerry", "kerry"]
    assert quotes[2]["attribution"] == "continuation"


def test_unattributed_paragraph_quote_after_a_paragraph_without_quotes_has_no_speaker() -> None:
    quotes = run("Kerry arrived in London on Friday.", '"There will be a very serious series of steps on Monday."')
    assert quotes[0]["speaker_entity_id"] is None and quotes[0]["attribution"] == "none"


def test_scare_quotes_are_not_quotations() -> None:
    assert run('Lavrov called the talks "useful" and said there was no "common vision" between them.') == []


def test_quote_spans_straight_curly_and_unclosed() -> None:
    text = '“One two,” he said. "Three four" and “five'
    spans = find_quote_spans(text)
    assert [text[s.start:s.end] for s in spans] == ["One two,", "Three four", "five"]
    assert spans[-1].close_mark is None


def test_same_statement_rules() -> None:
    assert is_same_statement(cosine=0.3, words=0.95, same_speaker=False)  # same words
    assert is_same_statement(cosine=0.85, words=0.3, same_speaker=False)  # close paraphrase
    assert is_same_statement(cosine=0.65, words=0.78, same_speaker=True)  # looser paraphrase, same speaker
    assert not is_same_statement(cosine=0.65, words=0.78, same_speaker=False)
    assert not is_same_statement(cosine=0.69, words=0.41, same_speaker=True)  # another statement of one speaker


def test_link_quotes_across_articles_only() -> None:
    quotes = pl.DataFrame({
        "quote_id": ["a-q1", "a-q2", "b-q1"],
        "article_id": ["a", "a", "b"],
        "text": ["Our partners also understand that this would be a counterproductive measure",
                 "Our partners also understand that this would be a counterproductive measure indeed",
                 "Our partners also realize that sanctions are counterproductive"],
        "speaker_entity_id": ["lavrov", "lavrov", "lavrov"],
    })
    vectors = np.eye(3, 4, dtype=np.float32)
    vectors[2] = vectors[0] * 0.7 + np.array([0, 0, 0, 0.714], dtype=np.float32)  # cosine 0.7 to a-q1
    existing = pl.DataFrame({"quote_id": ["c-q1"], "article_id": ["c"], "text": ["Something else entirely was said here"],
                             "speaker_entity_id": ["kerry"], "embedding": [[0.0, 0.0, 0.0, 1.0]]},
                            schema_overrides={"embedding": pl.Array(pl.Float32, 4)})
    links = link_quotes(quotes, vectors, existing)
    pairs = set(zip(links["quote_id_a"], links["quote_id_b"]))
    assert ("a-q1", "b-q1") in pairs
    assert not any(a.split("-")[0] == b.split("-")[0] for a, b in pairs)
    assert not any("c-q1" in pair for pair in pairs)


def test_stored_quotes_read_in_blocks_give_the_links_of_one_read() -> None:
    rng = np.random.default_rng(3)
    statements = [f"statement number {n} was made about the budget and the war today" for n in range(40)]
    stored = pl.DataFrame({
        "quote_id": [f"s{n}-q" for n in range(120)], "article_id": [f"s{n}" for n in range(120)],
        "text": [statements[n % 40] for n in range(120)], "speaker_entity_id": [None] * 120,
    })
    base = rng.normal(size=(40, 8)).astype(np.float32)
    stored_vectors = base[np.arange(120) % 40] + rng.normal(scale=0.05, size=(120, 8)).astype(np.float32)
    stored_vectors /= np.linalg.norm(stored_vectors, axis=1, keepdims=True)
    stored = stored.with_columns(embedding=pl.Series(stored_vectors, dtype=pl.Array(pl.Float32, 8)))
    new = stored.head(10).with_columns(quote_id=pl.col("quote_id") + "-new", article_id=pl.col("article_id") + "-new")
    vectors = stored_vectors[:10]
    whole = link_quotes(new.drop("embedding"), vectors, stored)
    blocks = link_quotes(new.drop("embedding"), vectors, stored.iter_slices(7))
    assert whole.height >= 30  # each new quote matches its three stored copies
    assert blocks.sort("quote_id_a", "quote_id_b").drop("cosine").equals(whole.sort("quote_id_a", "quote_id_b").drop("cosine"))


def test_quote_reopened_before_closing_runs_on_and_keeps_its_speaker() -> None:
    # A long quote re-opened for its next part without being closed (paragraphs joined by an extractor).
    quotes = run('Lavrov told reporters: "We will respect the vote of the people. "I am sure of it, as '
                 'sure as anything." Kerry arrived in London later that evening.')
    assert [q["text"] for q in quotes] == ["We will respect the vote of the people.", "I am sure of it, as sure as anything."]
    assert [q["speaker_entity_id"] for q in quotes] == ["lavrov", "lavrov"]
    assert not any("Kerry arrived" in q["text"] for q in quotes)


def test_a_stray_closing_mark_does_not_turn_the_paragraph_inside_out() -> None:
    quotes = run('it ends here." Then Kerry said the talks were "very in-depth and constructive" on Friday.')
    assert [q["text"] for q in quotes] == ["very in-depth and constructive"]
    assert quotes[0]["speaker_entity_id"] == "kerry"


def test_a_name_inside_a_prepositional_phrase_is_not_the_speaker() -> None:
    [quote] = run('"We have no plans to send troops anywhere," a spokesman for the Kremlin said.')
    assert quote["speaker_entity_id"] is None and "spokesman" in quote["speaker_surface"]


def test_participle_takes_the_subject_of_the_sentence() -> None:
    [quote] = run('Kerry warned his supporters against complacency, saying "it is a fight for the future of our country".')
    assert (quote["speaker_entity_id"], quote["verb"]) == ("kerry", "warned")
    # No speaker and worked into the writer's sentence: a fragment, not a statement.
    [quote] = run_all('Russia has moved troops to the border, prompting officials to respond with "a very serious series of steps".')
    assert quote["speaker_entity_id"] is None and quote["kind"] == "fragment"


def test_a_surname_ner_missed_is_found_among_the_article_people() -> None:
    # Only "Cara Diemont" is a mention (the helper tags whole names); "Ms Diemont" is not.
    quotes = run("Cara Diemont runs the centre.", '"Customers are getting used to the idea," Ms Diemont says.',
                 '"Customers are getting used to the idea," Ms Dimont says.')
    assert [q["speaker_entity_id"] for q in quotes] == ["diemont", None]


def test_pronoun_after_a_relative_clause_goes_to_the_subject() -> None:
    quotes = run("Lavrov, who met Kerry for six hours in London, said talks went well.",
                 '"Our partners also understand that this would be counterproductive," he said.')
    assert quotes[0]["speaker_entity_id"] == "lavrov"


def test_who_said_is_the_person_just_before() -> None:
    quotes = run("“All of us would like to see actions, not words,” added Kerry, who said Russia needs "
                 "“a more declarative policy on the troops” now.")
    assert [(q["speaker_entity_id"], q["speaker_surface"]) for q in quotes] == [("kerry", "Kerry"), ("kerry", "who")]


def test_quote_texts_are_known_from_the_text_alone_and_need_no_second_model_pass() -> None:
    paras = pl.DataFrame({"article_id": ["a", "b"], "paragraph_id": ["a-0000", "b-0000"], "position": [0, 0], "text": [
        'He called the talks "useful". "We will not accept this annexation at all," Kerry said.',
        '"We will not accept this annexation at all," the secretary said in London.',
    ]})
    texts = quote_texts(paras)
    assert texts["text"].to_list() == ["We will not accept this annexation at all"]  # once; no scare quote
    assert texts["text_sha256"].to_list() == [text_hash("We will not accept this annexation at all")]
    found = extract_quotes(paras, pl.DataFrame(schema={"article_id": pl.String, "paragraph_id": pl.String,
                                                       "start_char": pl.Int32, "end_char": pl.Int32, "surface": pl.String,
                                                       "label": pl.String, "entity_id": pl.String}),
                           pl.DataFrame(schema={"entity_id": pl.String, "label": pl.String}))
    vectors = texts.select("text_sha256", embedding=pl.lit([1.0, 0.0, 0.0, 0.0]).cast(pl.Array(pl.Float32, 4)))
    existing = pl.DataFrame(schema={"quote_id": pl.String, "article_id": pl.String, "text": pl.String,
                                    "speaker_entity_id": pl.String, "embedding": pl.Array(pl.Float32, 4)})
    # Every vector is given, so the (nonexistent) model is never loaded.
    embedded, links = embed_and_link(found, vectors, existing, model="no-such-model", dimension=4)
    statements = embedded.filter(pl.col("kind") != "fragment")
    assert statements["embedding"].to_list() == [[1.0, 0.0, 0.0, 0.0]] * 2
    assert embedded.filter(pl.col("kind") == "fragment")["text"].to_list() == ["useful"]  # kept, not embedded
    assert links.select("article_id_a", "article_id_b").rows() == [("a", "b")]


def test_an_article_read_so_far_carries_a_quote_that_ran_on_into_the_next_paragraph() -> None:
    first = '"Neither we nor the international community will recognise the results," Kerry said. "We also remain ' \
            "concerned about the troops."
    kerry = _Mention(first.index("Kerry"), first.index("Kerry") + 5, "Kerry", "kerry", "PERSON")
    article = _ArticleSoFar(people={"kerry": "kerry"})
    quotes = _paragraph_quotes("a", "a-0000", first, [kerry], article)
    assert [(q["attribution"], q["speaker_entity_id"]) for q in quotes] == [("after", "kerry"), ("continuation", "kerry")]
    assert article.last_quote is not None and article.last_quote[0] == quotes[-1]["quote_id"]
    assert article.last_quote_open_ended  # the paragraph ends inside the quote
    [running_on] = _paragraph_quotes("a", "a-0001", '"Right now we really need a more declarative policy."', [], article)
    assert running_on["continues_quote_id"] == quotes[-1]["quote_id"] and running_on["speaker_entity_id"] == "kerry"
    assert len(article.paragraphs) == 2 and not article.last_quote_open_ended

