"""Entity canonicalisation rules, each on short made-up mentions (spaCy's part is tested end to end)."""

from __future__ import annotations

import re

import polars as pl
import pytest

from tasks.entities import (
    ENTITY_SCHEMA,
    MENTION_SCHEMA,
    EntityIndex,
    NamedMentions,
    canonicalise_entities,
    decide_genders,
    entity_id_for,
    find_entity,
    is_office_fragment,
    is_title_only,
    named_mentions,
    normalise_surface,
    people_in_articles,
    resolve_full_names,
    short_name_entity,
    split_runs,
)


def mentions(*items: tuple[str, str, str]) -> pl.DataFrame:
    """(article_id, surface, spaCy label) -> mention rows, one paragraph per article, placed one after another."""
    rows, offsets = [], {}
    for article, surface, label in items:
        start = offsets.get(article, 0)
        offsets[article] = start + len(surface) + 1
        rows.append({"article_id": article, "paragraph_id": f"{article}-0000", "start_char": start,
                     "end_char": start + len(surface), "surface": surface, "label": label})
    return pl.DataFrame(rows, schema=MENTION_SCHEMA)


NO_KNOWN = pl.DataFrame(schema=ENTITY_SCHEMA)


def resolve(frame: pl.DataFrame, known: pl.DataFrame = NO_KNOWN) -> tuple[pl.DataFrame, dict[tuple[str, str], str]]:
    """(entities, {(article, surface): canonical name})."""
    entities, resolved = canonicalise_entities(frame, known)
    names = dict(zip(entities["entity_id"], entities["canonical_name"]))
    return entities, {(a, s): names[e] for a, s, e in resolved.select("article_id", "surface", "entity_id").rows()}


@pytest.mark.parametrize(
    ("surface", "name"),
    [
        ("Secretary of State John Kerry", "John Kerry"),
        ("Sec. Kerry", "Kerry"),
        ("Secretary Kerry", "Kerry"),
        ("U.S. Secretary of State John Kerry", "John Kerry"),
        ("Russian Foreign Minister Sergei Lavrov", "Sergei Lavrov"),
        ("President Putin's", "Putin"),
        ("Crimea’s", "Crimea"),
        ("the Russian Federation", "Russia"),  # a nationality is kept when no office follows it
        ("Russian Orthodox Church", "Russian Orthodox Church"),
        ("U.S.", "United States"),
        ("EU", "European Union"),
    ],
)
def test_normalise_strips_titles_and_possessives(surface: str, name: str) -> None:
    assert normalise_surface(surface) == name


def test_offices_alone_are_not_entities() -> None:
    assert is_title_only("Sec") and is_title_only("Secretary") and is_title_only("President")
    assert not is_title_only("Kerry")
    text = "Secretary of State John Kerry met Foreign Minister Sergei Lavrov."
    assert is_office_fragment(text, text.index("State"), text.index("State") + 5)
    assert not is_office_fragment(text, text.index("John"), text.index("John") + 10)


def test_lone_surname_joins_full_name_in_same_article() -> None:
    _, names = resolve(mentions(("a", "John Kerry", "PERSON"), ("a", "Kerry", "PERSON"), ("a", "Sec. Kerry", "PERSON")))
    assert names[("a", "Kerry")] == names[("a", "Sec. Kerry")] == "John Kerry"


def test_lone_surname_joins_the_only_full_name_in_the_corpus() -> None:
    _, names = resolve(mentions(("a", "Jay Carney", "PERSON"), ("b", "Carney", "PERSON")))
    assert names[("b", "Carney")] == "Jay Carney"


def test_people_sharing_a_surname_stay_apart() -> None:
    frame = mentions(
        ("a", "George Bush", "PERSON"), ("a", "Bush", "PERSON"),
        ("b", "Jeb Bush", "PERSON"), ("b", "Bush", "PERSON"),
        ("c", "Bush", "PERSON"),
    )
    entities, names = resolve(frame)
    assert names[("a", "Bush")] == "George Bush"
    assert names[("b", "Bush")] == "Jeb Bush"
    assert names[("c", "Bush")] not in {"George Bush", "Jeb Bush"}  # ambiguous in the corpus
    assert {"George Bush", "Jeb Bush"} <= set(entities["canonical_name"])


def test_transliteration_variants_merge_by_fuzzy_match() -> None:
    frame = mentions(("a", "Sergei Lavrov", "PERSON"), ("a", "Sergei Lavrov", "PERSON"), ("b", "Sergey Lavrov", "PERSON"),
                     ("c", "Sergei Ivanov", "PERSON"))
    _, names = resolve(frame)
    assert names[("b", "Sergey Lavrov")] == "Sergei Lavrov"  # the more frequent spelling is canonical
    assert names[("c", "Sergei Ivanov")] == "Sergei Ivanov"


def test_surname_of_a_known_person_is_a_person_whatever_spacy_says() -> None:
    frame = mentions(
        ("a", "Sergei Lavrov", "PERSON"), ("a", "Lavrov", "ORG"), ("a", "Lavrov", "ORG"), ("a", "Lavrov", "GPE"),
        ("b", "Lavrov", "ORG"), ("b", "Lavrov", "PERSON"),
    )
    entities, names = resolve(frame)
    assert names[("a", "Lavrov")] == names[("b", "Lavrov")] == "Sergei Lavrov"
    assert entities.filter(pl.col("canonical_name") == "Sergei Lavrov")["label"].to_list() == ["PERSON"]
    assert entities.height == 1


def test_one_odd_person_span_does_not_make_a_person_of_an_organisation() -> None:
    # "Older Samsung phones ..." tagged PERSON once: Samsung, named alone in eight articles, stays a company.
    frame = mentions(("a", "Older Samsung", "PERSON"), *[(article, "Samsung", "ORG") for article in "abcdefgh"])
    entities, names = resolve(frame)
    assert names[("a", "Samsung")] == names[("b", "Samsung")] == "Samsung"
    assert entities.filter(pl.col("canonical_name") == "Samsung")["label"].to_list() == ["ORG"]


def test_a_surname_used_alone_in_later_reports_stays_the_person() -> None:
    # A sports page says "Adrian Mutu" once and only "Mutu" (tagged ORG) in its follow-ups; "Mr Ebbers" is a man.
    frame = mentions(("a", "Adrian Mutu", "PERSON"), ("b", "Mutu", "ORG"), ("c", "Mutu", "ORG"),
                     ("d", "Bernard Ebbers", "PERSON"), *[(article, "Mr Ebbers", "ORG") for article in "efghi"])
    _, names = resolve(frame)
    assert names[("b", "Mutu")] == names[("c", "Mutu")] == "Adrian Mutu"
    assert names[("f", "Mr Ebbers")] == "Bernard Ebbers"


def test_gendered_honorifics_tell_people_sharing_a_surname_apart() -> None:
    frame = mentions(
        # Articles naming one of them in full teach the genders; "Mr. Obama" in b is the other Obama.
        *[("a", "Michelle Obama", "PERSON"), ("a", "Mrs. Obama", "PERSON"), ("a", "Mrs. Obama", "PERSON")] * 3,
        ("b", "Michelle Obama", "PERSON"), ("b", "Mr. Obama", "PERSON"),
        ("c", "Barack Obama", "PERSON"), ("c", "Mr Obama", "PERSON"),
        # Both named in full: the honorific decides.
        ("d", "Barack Obama", "PERSON"), ("d", "Michelle Obama", "PERSON"), ("d", "Mrs Obama", "PERSON"),
        ("d", "Mr. Obama", "PERSON"), ("d", "Obama", "PERSON"),
        # Only he is named in full, yet "Mrs. Obama" is her.
        ("e", "Barack Obama", "PERSON"), ("e", "Mrs. Obama", "PERSON"),
    )
    _, names = resolve(frame)
    assert names[("a", "Mrs. Obama")] == names[("d", "Mrs Obama")] == names[("e", "Mrs. Obama")] == "Michelle Obama"
    assert names[("b", "Mr. Obama")] == names[("c", "Mr Obama")] == names[("d", "Mr. Obama")] == "Barack Obama"
    assert names[("d", "Obama")] == "Obama"  # no honorific, both named: ambiguous


def test_a_word_glued_before_a_known_full_name_is_that_person() -> None:
    # A caption's "Photo" before the name must not make a second Samaras (which would leave "Samaras" ambiguous).
    frame = mentions(*[("a", "Antonis Samaras", "PERSON")] * 2, ("b", "Photo Antonis Samaras", "PERSON"),
                     ("c", "Samaras", "PERSON"))
    _, names = resolve(frame)
    assert names[("b", "Photo Antonis Samaras")] == names[("c", "Samaras")] == "Antonis Samaras"


def test_a_place_named_like_a_surname_stays_a_place() -> None:
    frame = mentions(("a", "Denzel Washington", "PERSON"), *[("b", "Washington", "GPE")] * 3)
    _, names = resolve(frame)
    assert names[("b", "Washington")] == "Washington"


def test_demonym_and_prepositions_make_a_place_of_a_mislabelled_org() -> None:
    frame = mentions(("a", "Crimea", "ORG"), ("a", "Crimea’s", "ORG"), ("b", "Crimea", "ORG"), ("b", "Crimea", "GPE"),
                     ("b", "Crimean", "NORP"))
    entities, names = resolve(frame)
    assert names[("a", "Crimea’s")] == "Crimea"
    assert entities["label"].to_list() != [] and entities.filter(pl.col("canonical_name") == "Crimea")["label"].item() == "GPE"


def test_short_forms_and_acronyms_join_full_names() -> None:
    frame = mentions(("a", "U.S.", "GPE"), ("a", "the United States", "GPE"), ("b", "EU", "ORG"),
                     ("b", "European Union", "ORG"), ("c", "North Atlantic Treaty Organization", "ORG"), ("c", "NATO", "ORG"))
    _, names = resolve(frame)
    assert names[("a", "U.S.")] == names[("a", "the United States")] == "United States"
    assert names[("b", "EU")] == "European Union"
    assert names[("c", "NATO")] == "North Atlantic Treaty Organization"


def test_person_and_place_run_together_are_split() -> None:
    # "Lavrov assured Kerry Russia would not invade": spaCy gives one PERSON "Kerry Russia".
    frame = mentions(("a", "John Kerry", "PERSON"), ("a", "Kerry", "PERSON"), ("a", "Russia", "GPE"),
                     ("a", "Russia", "GPE"), ("a", "Kerry Russia", "PERSON"))
    entities, resolved = canonicalise_entities(frame, NO_KNOWN)
    assert "Kerry Russia" not in set(entities["canonical_name"])
    names = dict(zip(entities["entity_id"], entities["canonical_name"]))
    split = resolved.filter(pl.col("start_char") >= frame["start_char"][-1])
    assert [(r["surface"], names[r["entity_id"]]) for r in split.iter_rows(named=True)] == [
        ("Kerry", "John Kerry"), ("Russia", "Russia")
    ]
    assert split["end_char"][0] - split["start_char"][0] == len("Kerry")


def test_lone_first_name_joins_the_full_name_it_starts_in_the_same_article() -> None:
    frame = mentions(
        ("a", "Michelle Obama", "PERSON"), ("a", "Michelle", "PERSON"), ("a", "Barack", "PERSON"),
        ("a", "Barack Obama", "PERSON"),
        ("b", "Michelle", "PERSON"),  # no full name in b: not guessed from another article
        ("c", "Michelle Obama", "PERSON"), ("c", "Michelle Robinson", "PERSON"), ("c", "Michelle", "PERSON"),
        ("d", "John Kerry", "PERSON"), ("d", "Kerry Washington", "PERSON"), ("d", "Kerry", "PERSON"),
    )
    _, names = resolve(frame)
    assert names[("a", "Michelle")] == "Michelle Obama" and names[("a", "Barack")] == "Barack Obama"
    assert names[("b", "Michelle")] == "Michelle"
    assert names[("c", "Michelle")] == "Michelle"  # two full names start with it: ambiguous
    assert names[("d", "Kerry")] == "John Kerry"  # a surname in the article comes before a first name


def test_two_known_people_run_together_are_split() -> None:
    # A caption glued to the next sentence: "Barack Obama Michelle could provide ...".
    frame = mentions(("a", "Barack Obama", "PERSON"), ("a", "Michelle", "PERSON"), ("a", "Michelle", "PERSON"),
                     ("a", "Barack Obama Michelle", "PERSON"),
                     ("b", "Barack Obama", "PERSON"), ("b", "President Barack Obama Barack Obama", "PERSON"),
                     ("c", "Mary Ann Evans", "PERSON"),
                     # a name that is more than its parts: as common as they are, it stays whole
                     ("d", "Martin Luther King", "PERSON"), ("d", "King", "PERSON"), ("e", "Martin Luther", "PERSON"),
                     ("f", "Martin Luther King", "PERSON"))
    entities, resolved = canonicalise_entities(frame, NO_KNOWN)
    names = dict(zip(entities["entity_id"], entities["canonical_name"]))
    assert set(entities["canonical_name"]) == {"Barack Obama", "Michelle", "Mary Ann Evans", "Martin Luther King",
                                               "Martin Luther"}
    glued = resolved.filter(pl.col("article_id") == "a", pl.col("start_char") >= frame["start_char"][3])
    assert [(r["surface"], names[r["entity_id"]], r["end_char"] - r["start_char"]) for r in glued.iter_rows(named=True)] == [
        ("Barack Obama", "Barack Obama", 12), ("Michelle", "Michelle", 8)]
    assert resolved.filter(pl.col("article_id") == "b").height == 3


def test_hyphen_compound_of_known_names_is_split() -> None:
    frame = mentions(("a", "U.S.", "GPE"), ("a", "European Union", "ORG"), ("a", "U.S.-European Union", "ORG"))
    _, resolved = canonicalise_entities(frame, NO_KNOWN)
    assert resolved.filter(pl.col("surface").str.contains("-")).height == 0
    assert resolved.height == 4


def test_new_mentions_join_known_entities_and_keep_their_ids() -> None:
    known = pl.DataFrame(
        [{"entity_id": "known-kerry", "canonical_name": "John Kerry", "label": "PERSON", "aliases": ["John Kerry", "Kerry"]},
         {"entity_id": "known-obama", "canonical_name": "Obama", "label": "PERSON", "aliases": ["Obama"]}],
        schema=ENTITY_SCHEMA,
    )
    frame = mentions(("x", "Kerry", "ORG"), ("x", "Secretary Kerry", "PERSON"), ("y", "Barack Obama", "PERSON"),
                     ("y", "Obama", "PERSON"))
    entities, resolved = canonicalise_entities(frame, known)
    assert set(resolved["entity_id"]) == {"known-kerry", "known-obama"}
    renamed = entities.filter(pl.col("entity_id") == "known-obama").row(0, named=True)
    # The lone-surname entity takes the full name; rows keep pointing to the same id.
    assert renamed["canonical_name"] == "Barack Obama" and "Obama" in renamed["aliases"]


def test_entity_ids_are_stable_and_places_share_one_family() -> None:
    assert entity_id_for("Crimea", "GPE") == entity_id_for("Crimea", "LOC")
    assert entity_id_for("Crimea", "GPE") != entity_id_for("Crimea", "ORG")
    assert re.fullmatch(r"[0-9a-f]{16}", entity_id_for("John Kerry", "PERSON"))


def test_find_entity_looks_names_up_like_a_reader() -> None:
    entities = pl.DataFrame(
        [{"entity_id": "k", "canonical_name": "John Kerry", "label": "PERSON", "aliases": ["John Kerry", "Kerry"]},
         {"entity_id": "o", "canonical_name": "Obama", "label": "PERSON", "aliases": ["Obama"]},
         {"entity_id": "u", "canonical_name": "United States", "label": "GPE", "aliases": ["United States"]}],
        schema=ENTITY_SCHEMA,
    )
    assert find_entity(entities, "Sec. Kerry") == "k"
    assert find_entity(entities, "Secretary of State John Kerry") == "k"
    assert find_entity(entities, "US") == "u"
    assert find_entity(entities, "Barack Obama") == "o"  # only the surname was ever written
    assert find_entity(entities, "Michelle Bachelet") is None


def test_no_mentions_gives_empty_frames() -> None:
    entities, resolved = canonicalise_entities(pl.DataFrame(schema=MENTION_SCHEMA), NO_KNOWN)
    assert entities.height == 0 and resolved.height == 0 and "entity_id" in resolved.columns


def test_titles_are_kept_in_organisation_names_but_stripped_from_mislabelled_people() -> None:
    frame = mentions(("a", "General Motors", "ORG"), ("a", "Justice Department", "ORG"), ("b", "John Kerry", "PERSON"),
                     ("b", "Secretary Kerry", "ORG"))
    _, names = resolve(frame)
    assert names[("a", "General Motors")] == "General Motors"
    assert names[("a", "Justice Department")] == "Justice Department"
    assert names[("b", "Secretary Kerry")] == "John Kerry"


def test_a_name_after_mr_or_ms_is_a_person() -> None:
    frame = mentions(("a", "Ash", "GPE"), ("a", "Linford Christie", "ORG"))
    frame = frame.with_columns(word_before=pl.Series(["mr", "sprinter"]))
    entities, _ = resolve(frame)
    labels = dict(zip(entities["canonical_name"], entities["label"]))
    assert labels["Ash"] == "PERSON"
    assert labels["Linford Christie"] == "ORG"  # no evidence either way: spaCy's label stands


def test_a_full_name_with_or_without_a_middle_name_is_one_person_when_only_one_fits() -> None:
    frame = mentions(("a", "George W. Bush", "PERSON"), ("a", "George W. Bush", "PERSON"), ("b", "George Bush", "PERSON"),
                     ("c", "Barack H. Obama", "PERSON"), ("d", "Barack Obama", "PERSON"), ("d", "Barack Obama", "PERSON"),
                     # a middle name spelled out: the same person only if an article gives both forms
                     ("e", "Jerry Lee Lewis", "PERSON"), ("f", "Jerry Lewis", "PERSON"),
                     ("g", "Barack Hussein Obama", "PERSON"), ("g", "Barack Obama", "PERSON"),
                     ("h", "John Paul Smith", "PERSON"), ("i", "John Peter Smith", "PERSON"),
                     # a span that says the name twice has no middle name
                     ("j", "Erland Johnsen Norwegian Erland Johnsen", "PERSON"), ("j", "Erland Johnsen", "PERSON"))
    _, names = resolve(frame)
    assert names[("b", "George Bush")] == "George W. Bush"
    assert names[("c", "Barack H. Obama")] == names[("g", "Barack Hussein Obama")] == "Barack Obama"
    assert names[("e", "Jerry Lee Lewis")] != names[("f", "Jerry Lewis")]
    assert names[("h", "John Paul Smith")] != names[("i", "John Peter Smith")]
    assert names[("j", "Erland Johnsen")] == "Erland Johnsen"
    # Two Bushes with other initials: each stays himself, and the bare name fits neither.
    frame = mentions(("a", "George W. Bush", "PERSON"), ("a", "George W. Bush", "PERSON"), ("b", "George Bush", "PERSON"),
                     ("c", "George H. W. Bush", "PERSON"))
    _, names = resolve(frame)
    assert len({names[("a", "George W. Bush")], names[("b", "George Bush")], names[("c", "George H. W. Bush")]}) == 3


def test_a_name_said_twice_in_a_row_is_two_mentions() -> None:
    # A caption glued to the sentence it captions: "Jack Wilshere Jack Wilshere scored ...".
    frame = mentions(("a", "Jack Wilshere", "PERSON"), ("a", "Jack Wilshere Jack Wilshere", "PERSON"))
    entities, resolved = canonicalise_entities(frame, NO_KNOWN)
    assert set(entities["canonical_name"]) == {"Jack Wilshere"}
    assert resolved.height == 3


def test_an_acronym_and_its_full_name_meet_whichever_is_more_common() -> None:
    frame = mentions(("a", "UKIP", "ORG"), ("a", "UKIP", "ORG"), ("b", "UKIP", "ORG"), ("b", "UK Independence Party", "ORG"),
                     # two full names spelling one acronym: only the first joins it
                     ("c", "CPS", "ORG"), ("c", "CPS", "ORG"), ("c", "Crown Prosecution Service", "ORG"),
                     ("c", "Crown Prosecution Service", "ORG"), ("c", "Child Protection Service", "ORG"),
                     # and only where an article gives both
                     ("d", "GP", "ORG"), ("d", "GP", "ORG"), ("e", "Greek Parliament", "ORG"))
    _, names = resolve(frame)
    assert names[("b", "UK Independence Party")] == names[("a", "UKIP")] == "UKIP"
    assert names[("c", "Crown Prosecution Service")] == "CPS"
    assert names[("c", "Child Protection Service")] == "Child Protection Service"
    assert names[("e", "Greek Parliament")] == "Greek Parliament"


# Each pass of canonicalise_entities on its own, in the order it runs them.


def full_names_resolved(frame: pl.DataFrame, known: pl.DataFrame = NO_KNOWN) -> tuple[NamedMentions, EntityIndex]:
    """The passes up to and including `resolve_full_names`, as canonicalise_entities runs them."""
    split, first_vote = split_runs(frame.with_columns(word_before=pl.lit("")), known)
    batch, raw_labels = named_mentions(split, known, first_vote)
    index = EntityIndex.of_known(known, raw_labels)
    resolve_full_names(batch, index)
    return batch, index


def test_split_runs_cuts_a_person_and_a_place_by_a_first_vote() -> None:
    frame = mentions(("a", "John Kerry", "PERSON"), ("a", "Kerry", "PERSON"), ("a", "Russia", "GPE"),
                     ("a", "Kerry Russia", "PERSON")).with_columns(word_before=pl.lit(""))
    split, first_vote = split_runs(frame, NO_KNOWN)
    assert first_vote["kerry"] == "PERSON" and first_vote["russia"] == "PLACE"
    assert split.select("surface", "label").rows()[-2:] == [("Kerry", "PERSON"), ("Russia", "GPE")]


def test_named_mentions_strip_titles_and_keep_honorifics() -> None:
    frame = mentions(("a", "Secretary of State John Kerry", "PERSON"), ("a", "Mrs. Obama", "PERSON"),
                     ("a", "Crimea’s", "GPE")).with_columns(word_before=pl.lit(""))
    batch, raw_labels = named_mentions(frame, NO_KNOWN, {})
    assert batch.names == ["John Kerry", "Obama", "Crimea"]
    assert batch.honorifics == [None, "f", None]
    assert batch.family == {"john kerry": "PERSON", "obama": "PERSON", "crimea": "PLACE"}
    assert raw_labels["crimea"] == {"GPE": 1}


def test_entity_index_of_known_entities_finds_them_by_the_parts_of_their_names() -> None:
    known = pl.DataFrame(
        [{"entity_id": "kerry", "canonical_name": "John Kerry", "label": "PERSON", "aliases": ["Kerry"]},
         {"entity_id": "obama", "canonical_name": "Obama", "label": "PERSON", "aliases": []},
         {"entity_id": "nato", "canonical_name": "North Atlantic Treaty Organization", "label": "ORG", "aliases": []},
         {"entity_id": "crimea", "canonical_name": "Crimea", "label": "GPE", "aliases": ["Crimea’s"]}],
        schema=ENTITY_SCHEMA,
    )
    index = EntityIndex.of_known(known, {})
    assert index.by_alias[("PERSON", "kerry")] == index.by_alias[("PERSON", "john kerry")] == "kerry"
    assert index.by_alias[("PLACE", "crimea’s")] == "crimea"  # places share one family
    assert index.full_by_surname == {"kerry": {"kerry"}} and index.full_by_initials == {("j", "k"): ["kerry"]}
    assert index.by_first_last == {("john", "kerry"): {"kerry": ("", False)}}
    assert index.lone_by_name == {"obama": "obama"} and index.by_acronym == {"NATO": "nato"}
    assert index.touched_frame().height == 0  # nothing resolved to them yet


def test_resolve_full_names_joins_spellings_acronyms_and_renames_a_lone_surname() -> None:
    known = pl.DataFrame([{"entity_id": "known-obama", "canonical_name": "Obama", "label": "PERSON", "aliases": ["Obama"]}],
                         schema=ENTITY_SCHEMA)
    frame = mentions(("a", "Sergei Lavrov", "PERSON"), ("a", "Sergei Lavrov", "PERSON"), ("b", "Sergey Lavrov", "PERSON"),
                     ("b", "Lavrov", "PERSON"), ("c", "North Atlantic Treaty Organization", "ORG"), ("c", "NATO", "ORG"),
                     ("d", "Barack Obama", "PERSON"))
    _, index = full_names_resolved(frame, known)
    lavrov = index.by_alias[("PERSON", "sergei lavrov")]
    assert index.by_alias[("PERSON", "sergey lavrov")] == lavrov and index.entities[lavrov].canonical_name == "Sergei Lavrov"
    assert ("PERSON", "lavrov") not in index.by_alias  # lone names are resolved per mention, later
    assert index.by_alias[("ORG", "nato")] == index.by_alias[("ORG", "north atlantic treaty organization")]
    assert index.by_alias[("PERSON", "barack obama")] == "known-obama"
    assert index.entities["known-obama"].canonical_name == "Barack Obama" and "known-obama" in index.touched


def test_decide_genders_from_honorifics_of_people_named_in_full() -> None:
    frame = mentions(("a", "Michelle Obama", "PERSON"), ("a", "Mrs. Obama", "PERSON"),
                     ("b", "Barack Obama", "PERSON"), ("b", "Mr Obama", "PERSON"),
                     ("c", "Barack Obama", "PERSON"), ("c", "Michelle Obama", "PERSON"))
    batch, index = full_names_resolved(frame)
    michelle, barack = index.by_alias[("PERSON", "michelle obama")], index.by_alias[("PERSON", "barack obama")]
    people = people_in_articles(batch, index)
    assert people.by_surname[("a", "obama")] == {michelle} and people.by_first_name[("a", "michelle")] == {michelle}
    assert people.by_surname[("c", "obama")] == {michelle, barack}
    assert decide_genders(batch, index, people) == {michelle: "f", barack: "m"}


def test_short_name_entity_looks_in_the_article_then_the_corpus() -> None:
    frame = mentions(("a", "John Kerry", "PERSON"), ("a", "Kerry Washington", "PERSON"), ("a", "Kerry", "PERSON"),
                     ("b", "Michelle Obama", "PERSON"), ("b", "Michelle", "PERSON"), ("c", "Kerry", "PERSON"))
    batch, index = full_names_resolved(frame)
    people = people_in_articles(batch, index)
    kerry, michelle = index.by_alias[("PERSON", "john kerry")], index.by_alias[("PERSON", "michelle obama")]
    assert short_name_entity("Kerry", "a", None, index, people, {}) == kerry  # a surname before a first name
    assert short_name_entity("Michelle", "b", None, index, people, {}) == michelle
    assert short_name_entity("Kerry", "c", None, index, people, {}) == kerry  # the only Kerry in the corpus
    assert short_name_entity("Kerry", "c", "f", index, people, {kerry: "m"}) not in {kerry, michelle}
    lavrov = short_name_entity("Lavrov", "c", None, index, people, {})
    assert index.entities[lavrov].canonical_name == "Lavrov" and index.lone_by_name["lavrov"] == lavrov

