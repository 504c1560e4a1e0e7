"""Sports teams named after places, told apart by how the corpus itself uses the name (issue 33).

The small spaCy model tags clubs and county sides as places ("Somerset", "Notts County", "Cincinnati"): in
sports copy they play, they are not somewhere. The corpus shows it where a name follows a figure (a row of a
results or standings table: "Hajduk 2 Proleter 0", a standings row after the previous row's points) or a
verb of winning ("Leicestershire beat Somerset"). A name that spaCy calls a place and that the corpus shows
so in at least half of its mentions (and twice or more) is a team, an organisation, unless the corpus also
shows it as a place: a mention after "in", "across" (`PLACE_PREPOSITIONS` in tasks/entities.py), or a
demonym of it in use ("Romanian": a country's national side is a place to CoNLL and to readers alike).
People who win ("Sampras beat Novak 6-3") and golfers in a leaderboard stay people: spaCy tags them PERSON."""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable, Iterable

# A figure: a score, a count, a standings column ("2", "1-0", ".556", "12").
_FIGURE = re.compile(r"^\W*(?:\d[\d.,:/%-]*|\.\d+)\W*$")
# Words before a side that has just been beaten or played: "beat Somerset", "drew with Essex", "lost to Kent".
WIN_WORDS = frozenset({"beat", "beating", "defeated", "defeating", "thrashed", "edged", "routed", "downed"})
TEAM_MIN_MENTIONS = 2
TEAM_MIN_SHARE = 0.5


def is_team_evidence(word_before: str) -> bool:
    """The word before a mention says it is a side in a result or a table row."""
    return word_before in WIN_WORDS or bool(_FIGURE.match(word_before))


def team_names(names: Iterable[str], words_before: Iterable[str], place_words: frozenset[str] | set[str],
               is_place_by_demonym: Callable[[str], bool]) -> set[str]:
    """The folded names the corpus shows to be teams: TEAM_MIN_MENTIONS+ mentions after a figure or a win word,
    TEAM_MIN_SHARE of the name's mentions or more, none after a place preposition (`place_words`), and no
    demonym of the name in use. The caller applies it to names it would otherwise call places."""
    mentions: Counter[str] = Counter()
    evidence: Counter[str] = Counter()
    placed: set[str] = set()
    for name, before in zip(names, words_before):
        key = name.casefold()
        mentions[key] += 1
        if before in place_words:
            placed.add(key)
        elif is_team_evidence(before):
            evidence[key] += 1
    return {
        key for key, count in evidence.items()
        if count >= TEAM_MIN_MENTIONS and count >= TEAM_MIN_SHARE * mentions[key] and key not in placed
        and not is_place_by_demonym(key)
    }
