"""Teams named after places (tasks/teams.py, used by tasks/entities.decide_families): the corpus shows a name
playing (after a score in a results table, after "beat") and never being somewhere."""

from __future__ import annotations

import polars as pl

from tasks.entities import decide_families
from tasks.teams import team_names

KNOWN = pl.DataFrame(schema={"canonical_name": pl.String, "label": pl.String, "aliases": pl.List(pl.String)})


def _families(mentions: list[tuple[str, str, str]]) -> dict[str, str]:
    names, labels, before = (list(column) for column in zip(*mentions))
    family, _ = decide_families(names, labels, before, KNOWN, [f"a{n}" for n in range(len(names))])
    return family


def test_a_place_that_plays_is_a_team() -> None:
    # "Leicestershire beat Somerset by an innings", "Hajduk 2 Somerset 0", a standings row after "12".
    family = _families([("Somerset", "GPE", "beat"), ("Somerset", "GPE", "2"), ("Somerset", "GPE", "12"),
                        ("Somerset", "GPE", "against")])
    assert family["somerset"] == "ORG"


def test_a_place_also_named_as_a_place_stays_a_place() -> None:
    family = _families([("Portsea", "GPE", "beat"), ("Portsea", "GPE", "2"), ("Portsea", "GPE", "in")])
    assert family["portsea"] == "PLACE"
    # A country whose demonym the corpus uses: its national side is the country.
    family = _families([("Romania", "GPE", "beat"), ("Romania", "GPE", "1"), ("Romanian", "NORP", "the")])
    assert family["romania"] == "PLACE"


def test_people_who_win_and_places_mentioned_once_are_not_teams() -> None:
    family = _families([("Pete Sampras", "PERSON", "beat"), ("Pete Sampras", "PERSON", "1")])
    assert family["pete sampras"] == "PERSON"
    assert team_names(["Eastbay"], ["beat"], {"in"}, lambda name: False) == set()  # one mention is no evidence
    # Mostly named in prose: the few results do not outweigh it.
    names = ["Eastbay"] * 5
    assert team_names(names, ["beat", "2", "visited", "said", "of"], {"in"}, lambda name: False) == set()
