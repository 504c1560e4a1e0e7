"""Extract named entities from paragraphs with spaCy and resolve them to canonical entities."""

from __future__ import annotations

import hashlib
import re
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from functools import lru_cache
from itertools import product
from typing import TYPE_CHECKING, Any

import polars as pl
from rapidfuzz import fuzz

from tasks.frames import differing_rows
from tasks.teams import team_names

if TYPE_CHECKING:
    from spacy.language import Language

# Entity types worth canonicalising; numbers, dates and quantities are left out.
KEPT_LABELS = {"PERSON", "ORG", "GPE", "LOC", "NORP", "FAC", "EVENT", "LAW", "PRODUCT", "WORK_OF_ART"}
PLACE_LABELS = {"GPE", "LOC"}

MENTION_SCHEMA = {
    "article_id": pl.String,
    "paragraph_id": pl.String,
    "start_char": pl.Int32,
    "end_char": pl.Int32,
    "surface": pl.String,
    "label": pl.String,
}
# spaCy's mentions as found, with the word before each (evidence for its label); stored as raw_mentions.
RAW_MENTION_SCHEMA = {**MENTION_SCHEMA, "word_before": pl.String}
ENTITY_SCHEMA = {
    "entity_id": pl.String,
    "canonical_name": pl.String,
    "label": pl.String,
    "aliases": pl.List(pl.String),
}

# Honorifics and offices that precede a name ("Secretary of State John Kerry", "Sec. Kerry"). A
# nationality counts only in front of an office ("Russian Foreign Minister"), so that "Russian
# Federation" keeps its first word.
_OFFICES = (
    r"(?:former|then|acting|interim|deputy|vice|assistant|"
    r"Secretary(?: of State| General|-General)?|Sec\.|President|Prime Minister|PM|Foreign Minister|"
    r"Foreign Secretary|Minister|Chancellor|Senator|Sen\.|Representative|Rep\.|Governor|Gov\.|General|Gen\.|"
    r"Mr\.?|Mrs\.?|Ms\.?|Dr\.?|Prof\.?|Sir|Dame|Lord|Lady|King|Queen|Prince|Princess|Pope|Judge|Justice|Mayor|"
    r"Ambassador|Chairman|Chairwoman|Director|Spokesman|Spokeswoman|press secretary|Rabbi|Rev\.?|Reverend|Bishop|"
    r"Archbishop|Cardinal|Sheikh|Imam)"
)
_NATIONALITY = r"(?:U\.S\.|US|U\.K\.|UK|American|Russian|British|French|German|Ukrainian|Chinese|EU)"
TITLE_WORDS = re.compile(rf"^(?:{_NATIONALITY}\s+(?={_OFFICES}\s))?(?:{_OFFICES}\s+)+", re.I)
POSSESSIVE = re.compile(r"(?:'s|’s|'|’)$")
# Common short forms of places and organisations that no string-similarity rule can join.
KNOWN_ALIASES = {
    "u.s.": "United States", "us": "United States", "u.s.a.": "United States", "usa": "United States",
    "united states of america": "United States", "america": "United States",
    "u.k.": "United Kingdom", "uk": "United Kingdom", "britain": "United Kingdom", "great britain": "United Kingdom",
    "eu": "European Union", "e.u.": "European Union", "u.n.": "United Nations", "un": "United Nations",
    "uae": "United Arab Emirates", "u.a.e.": "United Arab Emirates", "russian federation": "Russia",
}
# "Secretary of State": spaCy often tags the last word of an office as an ORG or GPE of its own.
OFFICE_OF = re.compile(r"\b(?:Secretary|Minister|Ministers|Secretary-General|Commissioner)\s+(?:of\s+|for\s+)(?:the\s+)?$")
# Words that mark the name after them as a place: "in Crimea", "across Ukraine".
PLACE_PREPOSITIONS = {"in", "into", "across", "throughout", "near", "inside", "around"}
# Words that mark the name after them as a person: "Mr Ash", "Secretary Kerry".
PERSON_PREFIXES = {"mr", "mr.", "mrs", "mrs.", "ms", "ms.", "dr", "dr.", "sir", "dame", "prof", "prof.", "president",
                   "senator", "sen.", "sec.", "secretary", "minister", "spokesman", "spokeswoman", "rabbi", "rev."}
# Honorifics that say whether a person is a man or a woman: "Mrs. Obama" beside Barack and Michelle Obama
# is her. A name's gender is learnt from the corpus itself (see `_genders`), never from a list of names.
HONORIFIC_GENDER = {
    "mr": "m", "mr.": "m", "sir": "m", "lord": "m", "king": "m", "prince": "m",
    "mrs": "f", "mrs.": "f", "ms": "f", "ms.": "f", "miss": "f", "dame": "f", "lady": "f", "queen": "f",
    "princess": "f",
}
# Share of a person's gendered honorifics that must agree before the gender is taken as known.
GENDER_MIN_AGREEMENT = 0.8
# People sharing a surname are given genders jointly (2^n ways) up to this many; beyond, none is decided.
GENDER_FAMILY_MAX = 8
# Suffixes that turn a place into its people or adjective: Crimea -> Crimean, Ukraine -> Ukrainian.
DEMONYM_SUFFIXES = ("n", "an", "ian", "ean", "ese", "i", "ish")


# The small English model's NER has a tok2vec of its own; the shared `tok2vec` feeds the parser alone.
NER_PIPES = ("ner",)


@lru_cache(maxsize=2)
def load_nlp(model: str) -> "Language":
    """spaCy with the components NER and reported speech need (ner; tok2vec + parser, which
    tasks/quotes/speech.py runs in a pass of its own); the tagger and lemmatizer are left out."""
    import spacy

    nlp = spacy.load(model, exclude=["tagger", "lemmatizer", "attribute_ruler", "senter"])
    return nlp


def is_title_only(surface: str) -> bool:
    """"Sec", "Secretary", "President": an office without a name is not an entity."""
    text = " ".join(surface.split())
    return any(TITLE_WORDS.fullmatch(text + tail) for tail in (" ", ". "))


# What a mention's label checks read before it (the office before it, the word before it): this many
# characters, not the whole text before it, which made a long paragraph's mentions cost its length each.
LOOK_BEHIND_CHARS = 200


def is_office_fragment(text: str, start: int, end: int) -> bool:
    """The last word of an office ("State" in "Secretary of State John Kerry"), not an organisation."""
    return " " not in text[start:end].strip() and bool(OFFICE_OF.search(text, max(0, start - LOOK_BEHIND_CHARS), start))


def extract_mentions(paragraphs: pl.DataFrame, model: str, batch_size: int = 64) -> pl.DataFrame:
    """Every named-entity mention in the paragraphs, with offsets into `paragraphs.text`, and the word
    before each mention (`word_before`, evidence for its label)."""
    nlp = load_nlp(model)
    rows: list[dict[str, object]] = []
    keys = paragraphs.select("article_id", "paragraph_id").rows()
    texts = paragraphs["text"].to_list()
    # spaCy's vocabulary keeps every new word it meets unless the docs are made in a memory zone: without
    # one, a long run's memory grows with the corpus's vocabulary. Nothing here outlives the zone.
    # NER alone: the shared tok2vec and the parser feed nothing it reads (the same mentions, ~40% faster).
    disabled = [name for name in nlp.pipe_names if name not in NER_PIPES]
    with nlp.memory_zone():
        for (article_id, paragraph_id), text, doc in zip(keys, texts, nlp.pipe(texts, batch_size=batch_size, disable=disabled)):
            for ent in doc.ents:
                if ent.label_ not in KEPT_LABELS:
                    continue
                if is_title_only(ent.text) or is_office_fragment(text, ent.start_char, ent.end_char):
                    continue
                before = text[max(0, ent.start_char - LOOK_BEHIND_CHARS): ent.start_char].split()
                rows.append(
                    {
                        "article_id": article_id,
                        "paragraph_id": paragraph_id,
                        "start_char": ent.start_char,
                        "end_char": ent.end_char,
                        "surface": ent.text,
                        "label": ent.label_,
                        "word_before": before[-1].casefold() if before else "",
                    }
                )
    return pl.DataFrame(rows, schema=RAW_MENTION_SCHEMA)


def normalise_surface(surface: str, strip_titles: bool = True) -> str:
    """Strip titles, possessives, leading articles and stray punctuation from a mention."""
    name = " ".join(surface.split())
    name = POSSESSIVE.sub("", name)
    name = re.sub(r"^the\s+", "", name, flags=re.I)
    stripped = TITLE_WORDS.sub("", name) if strip_titles else name
    name = stripped if stripped else name
    name = name.strip(" ,;:-–—\"'“”‘’()")
    return KNOWN_ALIASES.get(name.casefold(), name)


def entity_id_for(canonical_name: str, label: str) -> str:
    return hashlib.sha256(f"{_label_family(label)}\x1f{canonical_name}".encode("utf-8")).hexdigest()[:16]


def _label_family(label: str) -> str:
    return "PLACE" if label in PLACE_LABELS else label


def _surname(name: str) -> str:
    return name.split()[-1].casefold()


def _same_person(a: str, b: str) -> bool:
    """Transliteration variants of one full name ("Sergey Lavrov" / "Sergei Lavrov"), never two
    different people who share a surname."""
    ta, tb = a.split(), b.split()
    if len(ta) < 2 or len(tb) < 2 or len(ta) != len(tb):
        return False
    return fuzz.ratio(ta[-1], tb[-1]) >= 85 and fuzz.ratio(ta[0], tb[0]) >= 70 and fuzz.ratio(a, b) >= 85


MIDDLE_INITIALS = re.compile(r"(?:[A-Z]\.?){1,3}")


# A person's full name as ((first, last), middle initials, whether a middle name is spelled out).
NameParts = tuple[tuple[str, str], str, bool]


def _name_parts(name: str) -> NameParts | None:
    """((first, last), middle initials, whether a middle name is spelled out) of a person's full name:
    "George W. Bush" -> (("george", "bush"), "W", False), "Hillary Rodham Clinton" -> (..., "R", True),
    "John Kerry" -> (..., "", False). None for one word, a lower-case particle ("Ruud van Nistelrooy"), or
    more than three middle words."""
    tokens = name.split()
    middle = tokens[1:-1]
    # (a span that says a name twice, "Erland Johnsen Norwegian Erland Johnsen", has no middle name)
    if (len(tokens) < 2 or len(middle) > 3 or not all(token[:1].isupper() for token in middle)
            or {tokens[0].casefold(), tokens[-1].casefold()} & {token.casefold() for token in middle}):
        return None
    initials = [token.replace(".", "") if MIDDLE_INITIALS.fullmatch(token) else token[0] for token in middle]
    spelled = any(not MIDDLE_INITIALS.fullmatch(token) for token in middle)
    return (tokens[0].casefold(), tokens[-1].casefold()), "".join(initials), spelled


def _demonym_of(name: str, demonyms: set[str]) -> bool:
    """"Crimea" when "Crimean" is used as a people/adjective (NORP): evidence that a name is a place."""
    stems = {name, name[:-1]} if len(name) > 3 else {name}
    return any(stem + suffix in demonyms for stem in stems for suffix in DEMONYM_SUFFIXES)


# A lone word tagged otherwise is a surname only where full names ending in it appear in at least this
# share of the articles that name it alone: news introduce people by full name ("Sergei Lavrov ...
# Lavrov"; a sports page may say only "Mutu" where an earlier report said "Adrian Mutu"), while one odd
# span ("Older Samsung phones", "Champions Chelsea", "ofNew Labour") must not make a person of a name
# that 37, 18 or 169 articles use alone (wikiref150; BBC for Labour).
SURNAME_MIN_FULL_NAME_SHARE = 0.25


def decide_families(
    names: list[str], labels: list[str], words_before: list[str], known: pl.DataFrame, articles: list[str],
) -> tuple[dict[str, str], dict[str, Counter[str]]]:
    """One label family per name (folded) across the corpus, from spaCy's votes plus evidence that
    fixes the small model's usual mistakes:
    - a lone word that is the surname of a full PERSON name is that person ("Lavrov" tagged ORG),
      unless it is mostly tagged as a place ("Washington") or such full names are rare beside it
      (`SURNAME_MIN_FULL_NAME_SHARE`);
    - a name whose demonym is used ("Crimean") or that follows "in"/"across" is a place, not an ORG;
    - a name after "Mr", "Ms", "Dr", "Secretary" is a person;
    - a place name that the corpus shows playing (after a score or "beat", never after "in") is a team, an
      organisation (`tasks.teams.team_names`).
    Returns (family per folded name, raw label counts per folded name)."""
    votes: dict[str, Counter[str]] = defaultdict(Counter)
    raw_labels: dict[str, Counter[str]] = defaultdict(Counter)
    for name, label, before in zip(names, labels, words_before):
        key = name.casefold()
        votes[key][_label_family(label)] += 1
        raw_labels[key][label] += 1
        if before in PLACE_PREPOSITIONS:
            votes[key]["PLACE"] += 1
        elif before in PERSON_PREFIXES:
            votes[key]["PERSON"] += 2
    for row in known.iter_rows(named=True):
        # Stored entities outvote one batch's noise, so a name keeps its label across runs.
        for alias in {row["canonical_name"], *(row["aliases"] or [])}:
            votes[alias.casefold()][_label_family(row["label"])] += 3
            raw_labels[alias.casefold()][row["label"]] += 1

    family = {key: counts.most_common(1)[0][0] for key, counts in votes.items()}
    surnames = {
        key.split()[-1] for key, fam in family.items() if fam == "PERSON" and len(key.split()) > 1
    }
    # Per lone word that ends a full person name: the articles naming it alone, and those giving a full name.
    naming: dict[str, set[str]] = defaultdict(set)
    introducing: dict[str, set[str]] = defaultdict(set)
    for name, article in zip(names, articles):
        key = name.casefold()
        if " " not in key and key in surnames:
            naming[key].add(article)
        elif family.get(key) == "PERSON" and " " in key and key.split()[-1] in surnames:
            introducing[key.split()[-1]].add(article)
    for row in known.iter_rows(named=True):
        if row["label"] == "PERSON" and " " in row["canonical_name"]:
            introducing[_surname(row["canonical_name"])].add("\x00known")  # a stored person counts as one article
    demonyms = {key for key, counts in votes.items() if counts["NORP"]}
    for key, counts in votes.items():
        total = sum(counts.values())
        mostly_place = counts["PLACE"] * 2 >= total
        introduced = len(introducing[key]) >= SURNAME_MIN_FULL_NAME_SHARE * len(naming[key])
        if " " not in key and key in surnames and not mostly_place and introduced:
            family[key] = "PERSON"
        elif family[key] in {"ORG", "NORP", "PRODUCT", "FAC"} and key not in demonyms and _demonym_of(key, demonyms):
            family[key] = "PLACE"
    for key in team_names(names, words_before, PLACE_PREPOSITIONS, lambda name: _demonym_of(name, demonyms)):
        if family.get(key) == "PLACE":
            family[key] = "ORG"
    return family, raw_labels


def _label_in_family(raw: Counter[str], fam: str) -> str:
    """The most used spaCy label within the chosen family (GPE vs LOC); the family itself otherwise."""
    inside = [(count, label) for label, count in raw.items() if _label_family(label) == fam]
    return max(inside)[1] if inside else ("GPE" if fam == "PLACE" else fam)


# Where a mention is cut in two: the first part's end and the second's start (offsets into its surface)
# and their labels (None: the mention's own).
Cut = tuple[int, int, str | None, str | None]


def _split_mentions(mentions: pl.DataFrame, cut: Callable[[dict[str, Any]], Cut | None]) -> pl.DataFrame:
    """Every mention that `cut` cuts becomes two (the second has no word before it); the frame itself
    when none is."""
    rows: list[dict[str, object]] = []
    changed = False
    for row in mentions.iter_rows(named=True):
        where = cut(row)
        if where is None:
            rows.append(row)
            continue
        head_end, tail_start, head_label, tail_label = where
        surface, start = row["surface"], row["start_char"]
        rows.append({**row, "end_char": start + head_end, "surface": surface[:head_end],
                     "label": head_label or row["label"]})
        rows.append({**row, "start_char": start + tail_start, "surface": surface[tail_start:],
                     "label": tail_label or row["label"], "word_before": ""})
        changed = True
    return pl.DataFrame(rows, schema=mentions.schema) if changed else mentions


def split_person_place_runs(mentions: pl.DataFrame, family: dict[str, str]) -> pl.DataFrame:
    """"Lavrov assured Kerry Russia would not invade": spaCy runs a person and a place together.
    A PERSON mention whose last word is a known place and whose other words are a known person
    becomes two mentions."""

    def cut(row: dict[str, Any]) -> Cut | None:
        head, _, last = row["surface"].rpartition(" ")
        if (row["label"] == "PERSON" and head and family.get(last.casefold()) == "PLACE"
                and family.get(normalise_surface(head).casefold()) == "PERSON"):
            return len(head), len(head) + 1, None, "GPE"
        return None

    return _split_mentions(mentions, cut)


def split_person_runs(mentions: pl.DataFrame, family: dict[str, str]) -> pl.DataFrame:
    """"Barack Obama Michelle could provide", "President Barack Obama Barack Obama is": a caption or a
    link's text glued to the sentence makes spaCy run two people together. A PERSON mention that starts
    with a known full name of a person and goes on with another known person's name becomes two, when
    the run is rarer in the corpus than each part (so "Martin Luther King" stays whole beside "King"), or
    when it says one name twice."""
    seen = Counter(normalise_surface(surface).casefold() for surface in mentions["surface"].to_list())

    def cut(row: dict[str, Any]) -> Cut | None:
        if row["label"] != "PERSON":
            return None
        surface = row["surface"]
        words = list(re.finditer(r"\S+", surface))
        whole = seen[normalise_surface(surface).casefold()]
        for index in range(2, len(words)):
            head_end, tail_start = words[index - 1].end(), words[index].start()
            head_key = normalise_surface(surface[:head_end]).casefold()
            tail_key = normalise_surface(surface[tail_start:]).casefold()
            # (a name said twice in a row, "Jack Wilshere Jack Wilshere", is never one name)
            if (family.get(head_key) == "PERSON" and family.get(tail_key) == "PERSON"
                    and (whole < min(seen[head_key], seen[tail_key]) or head_key == tail_key)):
                return head_end, tail_start, None, None
        return None

    return _split_mentions(mentions, cut)


def split_hyphen_compounds(mentions: pl.DataFrame, family: dict[str, str]) -> pl.DataFrame:
    """"a U.S.-European Union contact group": spaCy tags the compound as one ORG. A mention joined by a
    hyphen whose parts are both names known on their own becomes two mentions."""
    label_of = {"PLACE": "GPE"}

    def cut(row: dict[str, Any]) -> Cut | None:
        surface = row["surface"]
        parts = re.fullmatch(r"(\S+?\.?)-(\S.*)", surface) if " " not in surface.split("-")[0] else None
        if parts is None:
            return None
        left, right = parts.group(1), parts.group(2)
        left_family = family.get(normalise_surface(left).casefold())
        right_family = family.get(normalise_surface(right).casefold())
        if left_family and right_family and len(left) >= 2 and len(right) >= 2:
            return len(left), len(left) + 1, label_of.get(left_family, left_family), label_of.get(right_family, right_family)
        return None

    return _split_mentions(mentions, cut)


def _titles_before(mentions: pl.DataFrame) -> list[str]:
    """The word before each mention, or the honorific it starts with ("Mr Ebbers": "mr"): evidence for its
    label. Not an upper-case word ("DR Congo") nor one before a long name ("Mr Brown's International
    Finance Facility")."""
    out = []
    for surface, before in zip(mentions["surface"].to_list(), mentions["word_before"].to_list()):
        words = surface.split()
        first = words[0] if words else ""
        titled = 2 <= len(words) <= 4 and first.casefold() in PERSON_PREFIXES and not first.isupper()
        out.append(first.casefold() if titled else before)
    return out


def _names(mentions: pl.DataFrame, family: dict[str, str] | None) -> list[str]:
    """Normalised names. Titles are stripped from PERSON mentions; from others only when what is left
    is a person ("Sec. Kerry" tagged ORG), so that "General Motors" and "Justice Department" stay whole."""
    people = {key for key, fam in (family or {}).items() if fam == "PERSON"}
    people |= {key.split()[-1] for key in people if " " in key}  # and their surnames
    names = []
    for surface, label in zip(mentions["surface"].to_list(), mentions["label"].to_list()):
        name = normalise_surface(surface, strip_titles=label == "PERSON")
        if label != "PERSON" and family is not None:
            stripped = normalise_surface(surface)
            if stripped.casefold() in people:
                name = stripped
        names.append(name)
    return names


def honorific_gender(surface: str, word_before: str) -> str | None:
    """"m" or "f" when the mention's own first word or the word before it is a gendered honorific
    ("Mrs. Obama", "Mr Blair"), else None."""
    words = surface.split()
    first = words[0].casefold() if len(words) > 1 else ""
    return HONORIFIC_GENDER.get(first) or HONORIFIC_GENDER.get(word_before)


def _genders(votes: dict[str, Counter[str]], families: list[set[str]]) -> dict[str, str]:
    """Each person's gender from the honorifics used for them (`votes`), where they agree.

    People who share a surname (`families`: sets of entity ids) are decided together: a "Mrs. Obama" in an
    article naming only Barack Obama in full is most likely another Obama. Of the ways to give the family's
    people a gender, the one taken explains the most votes (a vote is explained when its person, or another
    of the family, has that gender), then agrees with the most votes for the person themself; ties keep
    the gender unknown. One person alone: the gender GENDER_MIN_AGREEMENT of their votes agree on."""
    out: dict[str, str] = {}
    grouped = {entity_id for family in families for entity_id in family}
    for entity_id, counts in votes.items():
        gender, agreeing = counts.most_common(1)[0]
        if entity_id not in grouped and agreeing >= GENDER_MIN_AGREEMENT * sum(counts.values()):
            out[entity_id] = gender
    for family in families:
        people = sorted(e for e in family if votes.get(e))
        if not people or len(people) > GENDER_FAMILY_MAX:
            continue
        ranked: dict[tuple[int, int], list[tuple[str, ...]]] = defaultdict(list)
        for genders in product("fm", repeat=len(people)):
            present = set(genders)
            explained = sum(n for e in people for g, n in votes[e].items() if g in present)
            own = sum(votes[e][g] for e, g in zip(people, genders))
            ranked[(explained, own)].append(genders)
        best = ranked[max(ranked)]
        if len(best) == 1:
            out.update(zip(people, best[0]))
    return out


def _fitting(candidates: set[str], gender: str | None, gender_of: dict[str, str]) -> set[str]:
    """The candidates a mention's honorific allows: all without one, else those not known to be of the other gender."""
    return {c for c in candidates if gender is None or gender_of.get(c, gender) == gender}


def _acronyms(name: str) -> set[str]:
    """What a multi-word name's acronym may be: its capitals' initials, and the same with its own
    acronyms kept whole ("UK Independence Party": UIP, UKIP)."""
    words = [word for word in name.split() if word[0].isupper()]
    return {"".join(word[0] for word in words),
            "".join(word if word.isupper() and len(word) <= 4 else word[0] for word in words)}


# Entity resolution: `canonicalise_entities` runs the passes below in order, each named for what it
# decides. Between them travel the batch's mentions as names (`NamedMentions`) and the index of the
# entities they can resolve to (`EntityIndex`), which the passes grow.


@dataclass
class Entity:
    """An entity mentions can resolve to: one stored before this batch, or one the batch makes."""

    entity_id: str
    canonical_name: str
    label: str
    aliases: set[str]


@dataclass
class EntityIndex:
    """Every entity a batch's mentions can resolve to, stored ones first, with look-ups by the parts of
    their names, so that a batch is compared with a few candidates, not with every stored entity."""

    raw_labels: dict[str, Counter[str]]  # spaCy's labels per folded name: what a new entity is labelled
    entities: dict[str, Entity] = field(default_factory=dict)
    by_alias: dict[tuple[str, str], str] = field(default_factory=dict)  # (family, folded alias) -> entity_id
    full_by_surname: defaultdict[str, set[str]] = field(default_factory=lambda: defaultdict(set))  # people with a full name
    # people with a full name by their first and last initials: the candidates for a fuzzy match
    full_by_initials: defaultdict[tuple[str, str], list[str]] = field(default_factory=lambda: defaultdict(list))
    lone_by_name: dict[str, str] = field(default_factory=dict)  # people named by one word only ("Obama")
    # people by (first, last) name: {entity_id: (middle initials, whether a middle name is spelled out)}
    by_first_last: defaultdict[tuple[str, str], dict[str, tuple[str, bool]]] = field(
        default_factory=lambda: defaultdict(dict))
    by_acronym: dict[str, str] = field(default_factory=dict)  # multi-word organisations and places by initials
    # What the batch returns: the entities a mention resolved to, or that it made or renamed.
    touched: set[str] = field(default_factory=set)

    @classmethod
    def of_known(cls, known: pl.DataFrame, raw_labels: dict[str, Counter[str]]) -> EntityIndex:
        """The stored entities (`known`), indexed; none touched yet."""
        index = cls(raw_labels)
        for row in known.iter_rows(named=True):
            index.entities[row["entity_id"]] = Entity(
                row["entity_id"], row["canonical_name"], row["label"], set(row["aliases"] or []))
            for alias in [row["canonical_name"], *(row["aliases"] or [])]:
                index.by_alias.setdefault((_label_family(row["label"]), alias.casefold()), row["entity_id"])
        for entity_id in index.entities:
            index._index_name(entity_id)
        return index

    def _index_name(self, entity_id: str) -> None:
        entity = self.entities[entity_id]
        name, label = entity.canonical_name, entity.label
        tokens = name.split()
        if label == "PERSON" and len(tokens) > 1:
            self.full_by_surname[_surname(name)].add(entity_id)
            self.full_by_initials[(tokens[0][0].casefold(), tokens[-1][0].casefold())].append(entity_id)
            parts = _name_parts(name)
            if parts is not None:
                self.by_first_last[parts[0]][entity_id] = parts[1:]
        elif label == "PERSON":
            self.lone_by_name.setdefault(name.casefold(), entity_id)
        elif _label_family(label) in {"ORG", "PLACE"} and len(tokens) > 1:
            for acronym in sorted(_acronyms(name)):
                self.by_acronym.setdefault(acronym, entity_id)

    def new_entity(self, name: str, fam: str) -> str:
        """The entity a name of this family makes, labelled as spaCy mostly labelled it; the same id
        (and nothing new) when that entity is already indexed."""
        label = _label_in_family(self.raw_labels[name.casefold()], fam)
        entity_id = entity_id_for(name, label)
        if entity_id not in self.entities:
            self.entities[entity_id] = Entity(entity_id, name, label, set())
            self.touched.add(entity_id)
            self._index_name(entity_id)
        return entity_id

    def give_full_name(self, lone_id: str, name: str) -> None:
        """A person known by one word ("Obama") is renamed by the full name ("Barack Obama"): the id stays."""
        del self.lone_by_name[_surname(name)]
        self.entities[lone_id].canonical_name = name
        self.touched.add(lone_id)
        self._index_name(lone_id)

    def resolve_to(self, entity_id: str, name: str) -> None:
        """A mention named `name` resolved to this entity."""
        self.entities[entity_id].aliases.add(name)
        self.touched.add(entity_id)

    def touched_frame(self) -> pl.DataFrame:
        """The touched entities (`ENTITY_SCHEMA`), each alias list with its canonical name."""
        return pl.DataFrame(
            [{"entity_id": e.entity_id, "canonical_name": e.canonical_name, "label": e.label,
              "aliases": sorted(e.aliases | {e.canonical_name})}
             for e in self.entities.values() if e.entity_id in self.touched],
            schema=ENTITY_SCHEMA,
        )


@dataclass(frozen=True)
class NamedMentions:
    """A batch's mentions as names, in the mentions' order: each one's normalised name, its article and
    its gendered honorific ("m", "f" or None); and the label family decided for each folded name."""

    names: list[str]
    articles: list[str]
    honorifics: list[str | None]
    family: dict[str, str]

    def is_person(self, name: str) -> bool:
        return self.family.get(name.casefold()) == "PERSON"


def split_runs(mentions: pl.DataFrame, known: pl.DataFrame) -> tuple[pl.DataFrame, dict[str, str]]:
    """Mentions in which spaCy ran two names together (a person and a place, two people, a hyphen
    compound) cut in two, as judged by a first vote on each name's label family. Returns (the mentions,
    that first vote)."""
    family, _ = decide_families(_names(mentions, None), mentions["label"].to_list(), _titles_before(mentions), known,
                                mentions["article_id"].to_list())
    split = split_hyphen_compounds(split_person_runs(split_person_place_runs(mentions, family), family), family)
    return split, family


def named_mentions(
    mentions: pl.DataFrame, known: pl.DataFrame, first_vote: dict[str, str]
) -> tuple[NamedMentions, dict[str, Counter[str]]]:
    """The mentions as names (titles stripped as `first_vote` says) and the label family of each name,
    voted again on the cut mentions. Returns (named mentions, spaCy's label counts per folded name)."""
    names = _names(mentions, first_vote)
    articles = mentions["article_id"].to_list()
    family, raw_labels = decide_families(names, mentions["label"].to_list(), _titles_before(mentions), known, articles)
    honorifics = [honorific_gender(surface, before) for surface, before in
                  zip(mentions["surface"].to_list(), mentions["word_before"].to_list())]
    return NamedMentions(names, articles, honorifics, family), raw_labels


@dataclass(frozen=True)
class MiddleNames:
    """Evidence that two full names with one first and last name are one person: every middle-initials
    variant of each (first, last), stored or new; and the names with a middle name spelled out that an
    article also gives without it ("Barack Hussein Obama ... Barack Obama"): only there is that evidence."""

    variants: dict[tuple[str, str], set[str]]
    named_beside_short: set[str]

    def same_person(self, name: str, parts: NameParts, other: tuple[str, bool], other_name: str) -> bool:
        """The same middle initials, or one without any when no two variants compete, the other's
        initials, or its spelled-out middle name seen beside the short form in an article."""
        first_last, middle, spelled = parts
        if middle == other[0]:
            return not (spelled and other[1])  # "Barack Hussein" and "Barack H.", not "John Paul" and "John Peter"
        if len(self.variants.get(first_last, set()) - {""}) > 1 or (middle and other[0]):
            return False
        longer, longer_spelled = (name, spelled) if middle else (other_name, other[1])
        return not longer_spelled or longer.casefold() in self.named_beside_short


def middle_names(batch: NamedMentions, person_names: Iterable[str], index: EntityIndex) -> MiddleNames:
    """`MiddleNames` of the batch's full person names (`person_names`) and the stored people."""
    variants: defaultdict[tuple[str, str], set[str]] = defaultdict(set)
    for name in [*person_names, *(e.canonical_name for e in index.entities.values() if e.label == "PERSON")]:
        parts = _name_parts(name)
        if parts is not None:
            variants[parts[0]].add(parts[1])
    short_in_article: set[tuple[str, tuple[str, str]]] = set()
    spelled_in_article: list[tuple[str, tuple[str, str], str]] = []
    for name, article in zip(batch.names, batch.articles):
        parts = _name_parts(name) if batch.is_person(name) else None
        if parts is not None and not parts[1]:
            short_in_article.add((article, parts[0]))
        elif parts is not None and parts[2]:
            spelled_in_article.append((article, parts[0], name.casefold()))
    return MiddleNames(variants, {name for article, key, name in spelled_in_article if (article, key) in short_in_article})


@dataclass
class Acronyms:
    """Where acronyms and the full names they spell meet: the articles naming each folded name, and the
    acronyms met without a full name yet."""

    articles_of: dict[str, set[str]]
    alone: set[tuple[str, str]] = field(default_factory=set)  # (family, acronym)

    def name_spelling(self, fam: str, acronym: str, index: EntityIndex) -> str | None:
        """An acronym joins the full name whose initials it spells ("NATO"); else it waits, alone."""
        target = index.by_acronym.get(acronym)
        if target is None:
            self.alone.add((fam, acronym))
        return target

    def acronym_spelt_by(self, fam: str, name: str, index: EntityIndex) -> str | None:
        """A full name joins the acronym met first (more often) when no other full name has yet and an
        article gives both ("the UK Independence Party (UKIP)"): two letters spell many names."""
        spelled = [(fam, a) for a in sorted(_acronyms(name)) if (fam, a) in self.alone
                   and self.articles_of[name.casefold()] & self.articles_of.get(a.casefold(), set())]
        if not spelled:
            return None
        self.alone.discard(spelled[0])
        return index.by_alias[(fam, spelled[0][1].casefold())]


def _same_first_and_last(name: str, index: EntityIndex, middles: MiddleNames) -> str | None:
    """The same first and last name, with a middle name or without ("George W. Bush" and "George Bush"),
    when only one person fits: "George Bush" beside both George W. and George H. W. Bush stays apart,
    and so do those two."""
    parts = _name_parts(name)
    if parts is None:
        return None
    fits = [c for c, other in index.by_first_last.get(parts[0], {}).items()
            if middles.same_person(name, parts, other, index.entities[c].canonical_name)]
    return fits[0] if len(fits) == 1 else None


def _transliteration_of(name: str, index: EntityIndex) -> str | None:
    """A person whose full name is a spelling of this one ("Sergey Lavrov" / "Sergei Lavrov")."""
    tokens = name.split()
    candidates = index.full_by_initials.get((tokens[0][0].casefold(), tokens[-1][0].casefold()), [])
    return next((c for c in candidates if _same_person(name, index.entities[c].canonical_name)), None)


def _name_after_a_glued_word(name: str, index: EntityIndex) -> str | None:
    """A known full name with a word glued in front ("Photo Antonis Samaras", a caption's leftover):
    that person, not another one sharing the surname (not a particle's tail: "Robin van Persie" is not
    "Van Persie")."""
    tokens = name.split()
    return next((index.by_alias[("PERSON", " ".join(tokens[k:]).casefold())] for k in range(1, len(tokens) - 1)
                 if tokens[k][:1].isupper() and ("PERSON", " ".join(tokens[k:]).casefold()) in index.by_alias), None)


def _lone_surname_renamed(name: str, index: EntityIndex) -> str | None:
    """A lone-surname entity from earlier ("Obama") takes the full name when it is the only one."""
    lone = index.lone_by_name.get(_surname(name))
    if lone is None or index.full_by_surname.get(_surname(name)):
        return None
    index.give_full_name(lone, name)
    return lone


def _person_with_full_name(name: str, index: EntityIndex, middles: MiddleNames) -> str | None:
    """The indexed person a full name is, by the first rule that finds one."""
    return (_same_first_and_last(name, index, middles) or _transliteration_of(name, index)
            or _name_after_a_glued_word(name, index) or _lone_surname_renamed(name, index))


def _entity_of_name(fam: str, name: str, index: EntityIndex, middles: MiddleNames, acronyms: Acronyms) -> str | None:
    """The indexed entity a name joins, by the kind of name it is; None: none, it makes its own."""
    if fam == "PERSON":
        return _person_with_full_name(name, index, middles)
    if fam in {"ORG", "PLACE"} and name.isupper() and 2 <= len(name) <= 6:
        return acronyms.name_spelling(fam, name, index)
    if fam in {"ORG", "PLACE"} and len(name.split()) > 1:
        return acronyms.acronym_spelt_by(fam, name, index)
    return None


def resolve_full_names(batch: NamedMentions, index: EntityIndex) -> None:
    """Every name but a lone person's (those are resolved per mention, `short_name_entity`) joins an
    indexed entity or makes one, in `index.by_alias`: full names and other multi-word or non-person
    names, most frequent first so that the usual spelling becomes the canonical one."""
    counts = Counter((batch.family[n.casefold()], n) for n in batch.names if len(n) >= 2)
    middles = middle_names(batch, (n for (fam, n) in counts if fam == "PERSON"), index)
    articles_of: defaultdict[str, set[str]] = defaultdict(set)
    for name, article in zip(batch.names, batch.articles):
        articles_of[name.casefold()].add(article)
    acronyms = Acronyms(articles_of)
    for (fam, name), _ in counts.most_common():
        key = (fam, name.casefold())
        if key in index.by_alias or (fam == "PERSON" and len(name.split()) == 1):
            continue
        index.by_alias[key] = _entity_of_name(fam, name, index, middles, acronyms) or index.new_entity(name, fam)


@dataclass(frozen=True)
class PeopleInArticles:
    """The people each article names in full, by (article, folded surname) and (article, folded first name)."""

    by_surname: dict[tuple[str, str], set[str]]
    by_first_name: dict[tuple[str, str], set[str]]


def people_in_articles(batch: NamedMentions, index: EntityIndex) -> PeopleInArticles:
    """`PeopleInArticles` of the batch, once its full names are resolved."""
    by_surname: defaultdict[tuple[str, str], set[str]] = defaultdict(set)
    by_first_name: defaultdict[tuple[str, str], set[str]] = defaultdict(set)
    for name, article in zip(batch.names, batch.articles):
        if batch.is_person(name) and len(name.split()) > 1:
            entity = index.by_alias[("PERSON", name.casefold())]
            by_surname[(article, _surname(name))].add(entity)
            by_first_name[(article, name.split()[0].casefold())].add(entity)
    return PeopleInArticles(by_surname, by_first_name)


def decide_genders(batch: NamedMentions, index: EntityIndex, people: PeopleInArticles) -> dict[str, str]:
    """Each person's gender ("m", "f"; `_genders`), from the honorifics of the mentions that resolve to
    them without doubt: a full name, or a lone surname beside the only full name with that surname in
    its article."""
    votes: defaultdict[str, Counter[str]] = defaultdict(Counter)
    for name, article, gender in zip(batch.names, batch.articles, batch.honorifics):
        if gender is None or not batch.is_person(name):
            continue
        if len(name.split()) > 1:
            votes[index.by_alias[("PERSON", name.casefold())]][gender] += 1
        elif len(in_article := people.by_surname.get((article, name.casefold()), set())) == 1:
            votes[next(iter(in_article))][gender] += 1
    return _genders(votes, [family for family in index.full_by_surname.values() if len(family) > 1])


def short_name_entity(
    name: str, article: str, gender: str | None, index: EntityIndex, people: PeopleInArticles,
    gender_of: dict[str, str],
) -> str:
    """The person a lone name (a surname or a first name) is: the full name with that surname in the
    same article, else the full name it starts in the same article ("Michelle" beside "Michelle Obama":
    news name family members and celebrities by first name), else the only full name with that surname
    in the corpus; a gendered honorific rules out the people known to be of the other gender. Unknown or
    ambiguous ("Kerry" beside two Kerrys): a lone-name entity of its own."""
    key = name.casefold()
    in_article = _fitting(people.by_surname.get((article, key), set()), gender, gender_of)
    first_name_of = people.by_first_name.get((article, key), set())
    surname_of = index.full_by_surname.get(key, set())
    in_corpus = _fitting(surname_of, gender, gender_of)
    if len(in_article) == 1:
        return next(iter(in_article))
    if not in_article and len(first_name_of) == 1:
        return next(iter(first_name_of))
    if not in_article and len(in_corpus) == 1:
        return next(iter(in_corpus))
    entity_id = index.by_alias.get(("PERSON", key))
    if entity_id is None or entity_id in surname_of:
        return index.lone_by_name.get(key) or index.new_entity(name, "PERSON")
    return entity_id


def mention_entities(
    batch: NamedMentions, index: EntityIndex, people: PeopleInArticles, gender_of: dict[str, str]
) -> list[str | None]:
    """Each mention's entity, in order (None: a name under two characters): a lone person's name by
    `short_name_entity`, any other by the name's entity. Marks the entities as touched."""
    entity_ids: list[str | None] = []
    for name, article, gender in zip(batch.names, batch.articles, batch.honorifics):
        if len(name) < 2:
            entity_ids.append(None)
            continue
        fam = batch.family[name.casefold()]
        if fam == "PERSON" and len(name.split()) == 1:
            entity_id = short_name_entity(name, article, gender, index, people, gender_of)
        else:
            entity_id = index.by_alias[(fam, name.casefold())]
        index.resolve_to(entity_id, name)
        entity_ids.append(entity_id)
    return entity_ids


def canonicalise_entities(mentions: pl.DataFrame, known: pl.DataFrame) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Resolve mentions to canonical entities.

    `known`: entities already in the warehouse (`entity_id`, `canonical_name`, `label`, `aliases`);
    a new mention joins one of them when it names the same thing. Known entities keep their
    `entity_id`; one may be renamed (a lone surname "Obama" becomes "Barack Obama" when the full name
    appears), which moves no row since every row points to the id.
    Returns (entities touched by these mentions, mentions with `entity_id`).
    """
    out_columns = [*MENTION_SCHEMA, "entity_id"]
    if mentions.height == 0:
        return pl.DataFrame(schema=ENTITY_SCHEMA), mentions.with_columns(
            entity_id=pl.lit(None, dtype=pl.String)
        ).select(out_columns)
    if "word_before" not in mentions.columns:
        mentions = mentions.with_columns(word_before=pl.lit(""))

    mentions, first_vote = split_runs(mentions, known)
    batch, raw_labels = named_mentions(mentions, known, first_vote)
    index = EntityIndex.of_known(known, raw_labels)
    resolve_full_names(batch, index)
    people = people_in_articles(batch, index)
    entity_ids = mention_entities(batch, index, people, decide_genders(batch, index, people))
    resolved_mentions = (
        mentions.with_columns(entity_id=pl.Series(entity_ids, dtype=pl.String))
        .filter(pl.col("entity_id").is_not_null())
        .select(out_columns)
    )
    return index.touched_frame(), resolved_mentions


# Part of what a warehouse's entities were resolved with: a newsdag whose rules above resolve a corpus
# differently bumps it, and the next run resolves every stored mention again.
RESOLUTION_VERSION = "7"
# A mention as resolved: its span and spaCy's label, the entity it joined and that entity's label.
RESOLVED_KEY = ["article_id", "paragraph_id", "start_char", "end_char", "surface", "label", "entity_id", "entity_label"]


def resolve_corpus(raw_mentions: pl.DataFrame) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Every mention of a corpus resolved at once, from nothing known: what a fresh run over the same
    articles gives. A batch resolves against the entities stored before it, so what it decides depends
    on the order articles arrived in; this does not (sorted first, so that ties between equally common
    spellings break the same way). Returns (entities with `mention_count`, mentions with `entity_id`)."""
    ordered = raw_mentions.select(list(RAW_MENTION_SCHEMA)).sort("article_id", "paragraph_id", "start_char", "end_char")
    entity_frame, resolved = canonicalise_entities(ordered, pl.DataFrame(schema=ENTITY_SCHEMA))
    counts = resolved.group_by("entity_id").agg(mention_count=pl.len().cast(pl.Int32))
    entity_frame = (entity_frame.join(counts, on="entity_id", how="inner").sort("entity_id"))
    return entity_frame, resolved.sort("article_id", "paragraph_id", "start_char")


def with_entity_labels(mentions: pl.DataFrame, entity_frame: pl.DataFrame) -> pl.DataFrame:
    """`mentions` with `entity_label`, the label of the entity each joined (quotes read it: a speaker is
    a PERSON, ORG or GPE)."""
    labels = entity_frame.select("entity_id", pl.col("label").alias("entity_label"))
    return mentions.join(labels, on="entity_id", how="left").select(RESOLVED_KEY)


def articles_resolved_differently(stored: pl.DataFrame, settled: pl.DataFrame) -> list[str]:
    """Articles with a mention that differs between two resolutions (`RESOLVED_KEY` columns): a span,
    the entity it joined, or that entity's label. Only these articles' mentions and quotes change."""
    differing = differing_rows(stored.select(RESOLVED_KEY), settled.select(RESOLVED_KEY), RESOLVED_KEY)
    return sorted(differing["article_id"].unique().to_list())


# --- Partitions: the mentions that can change each other's resolution (issue 31) ---
#
# canonicalise_entities relates two names only through: the same folded name (votes, aliases, the split
# passes' look-ups and counts); a full name and its surname when the full name can be a person's (the
# surname pass, full/lone names, middle names, glued words, genders); an acronym and the names it spells;
# a name and its demonym; transliterations (`_same_person`, within first/last initials); and, inside one
# article, a lone name and a full name starting with it (`PeopleInArticles.by_first_name`). Each mention
# gets keys for these (`form_keys`, `article_edges`, `transliteration_bucket`); mentions joined by a key,
# an edge or a transliteration are in one partition. Every rule looks up only names of its own partition
# and the order of names inside one is the corpus order restricted to it, so resolving any union of
# partitions gives those mentions exactly what `resolve_corpus` over everything gives them
# (tests/test_entities_partitioned.py). A name's keys are a superset wherever a vote decides (any piece
# spaCy's runs may be cut into, both title-stripped and not, "could be a person" from any hint): merging
# too much only costs time.

# Part of what stored partitions were computed with: another key scheme rebuilds them.
PARTITION_VERSION = "1"
# What a mention's keys depend on besides its article: its form.
FORM_COLUMNS = ["surface", "label", "person_before"]
FORM_KEY_SCHEMA = {"surface": pl.String, "label": pl.String, "person_before": pl.Boolean, "key": pl.String}
FORM_NAME_SCHEMA = {"surface": pl.String, "label": pl.String, "person_before": pl.Boolean, "name": pl.String,
                    "bucket": pl.String}
EDGE_SCHEMA = {"article_id": pl.String, "key_a": pl.String, "key_b": pl.String}
_HYPHEN_COMPOUND = re.compile(r"(\S+?\.?)-(\S.*)")  # as split_hyphen_compounds cuts
_ANY_LABEL = ""  # a hyphen compound's part: labelled after its family, so any label


def with_person_before(raw_mentions: pl.DataFrame) -> pl.DataFrame:
    """`raw_mentions` with `person_before`: the word before is a person's title ("Mr", "Secretary"), a
    vote for PERSON (`decide_families`), so part of the mention's form."""
    return raw_mentions.with_columns(person_before=pl.col("word_before").is_in(sorted(PERSON_PREFIXES)))


def _run_pieces(surface: str, label: str) -> set[tuple[str, str]]:
    """Every (piece, label) the split passes may cut a mention into, whatever the votes decide: each
    cut that may happen is taken (`split_runs`)."""
    pieces = {(surface, label)}
    head, _, last = surface.rpartition(" ")
    if label == "PERSON" and head:  # split_person_place_runs
        pieces |= {(head, label), (last, "GPE")}
    for piece, piece_label in list(pieces):  # split_person_runs: any word boundary after the second word
        if piece_label == "PERSON":
            words = list(re.finditer(r"\S+", piece))
            for index in range(2, len(words)):
                pieces |= {(piece[:words[index - 1].end()], piece_label), (piece[words[index].start():], piece_label)}
    for piece, _ in list(pieces):  # split_hyphen_compounds
        parts = _HYPHEN_COMPOUND.fullmatch(piece) if " " not in piece.split("-")[0] else None
        if parts is not None:
            pieces |= {(parts.group(1), _ANY_LABEL), (parts.group(2), _ANY_LABEL)}
    return pieces


def form_names(surface: str, label: str, person_before: bool) -> dict[str, tuple[bool, bool]]:
    """Every name a mention of this form may take or look up, each with (may be voted a person, may be
    voted a people/adjective NORP)."""
    return {name: (person or person_before, norp) for name, (person, norp) in _piece_names(surface, label).items()}


@lru_cache(maxsize=1 << 16)
def _piece_names(surface: str, label: str) -> dict[str, tuple[bool, bool]]:
    """`form_names` before the word in front is counted (a form's names, met once per distinct surface)."""
    names: dict[str, tuple[bool, bool]] = {}

    def add(name: str, person: bool, norp: bool) -> None:
        was = names.get(name, (False, False))
        names[name] = (was[0] or person, was[1] or norp)

    for piece, piece_label in _run_pieces(surface, label):
        words = piece.split()
        titled = 2 <= len(words) <= 4 and words[0].casefold() in PERSON_PREFIXES  # (`_titles_before`)
        person = piece_label in {"PERSON", _ANY_LABEL} or titled
        norp = piece_label in {"NORP", _ANY_LABEL}
        add(normalise_surface(piece), person, norp)
        if piece_label != "PERSON":
            add(normalise_surface(piece, strip_titles=False), person, norp)
    head, _, last = surface.rpartition(" ")
    if label == "PERSON" and head:
        add(last, False, False)  # split_person_place_runs looks the last word up as it is
    return names


def name_keys(name: str, person: bool, norp: bool) -> set[str]:
    """The keys of one name: "n:" its folded self (and its surname if it may be a person's full name);
    "a:" the acronym it is, "A:" those it spells; "s:" the stem a demonym is made of, "S:" the stems its
    demonym would have. An upper-case key is passive (`PASSIVE`): names sharing one meet only through a
    name with the active key ("NATO" joins what spells it; two names that spell "JS" do not meet)."""
    key = name.casefold()
    keys = {"n:" + key, "S:" + key}
    if len(key) > 3:
        keys.add("S:" + key[:-1])
    if person and len(name.split()) > 1:
        keys |= {"n:" + key.split()[-1], "n:" + _surname(name)}
    if norp:
        keys |= {"s:" + key[:-len(suffix)] for suffix in DEMONYM_SUFFIXES if key.endswith(suffix)}
    if name.isupper() and 2 <= len(name) <= 6:
        keys.add("a:" + name)
    if len(name.split()) > 1:
        keys |= {"A:" + acronym for acronym in _acronyms(name) if acronym}
    return keys


# A passive key's prefix -> the active one it meets: by_acronym and `Acronyms.alone` are only read for a
# name that is an acronym, `_demonym_of` only for a demonym that is used.
PASSIVE = {"A:": "a:", "S:": "s:"}
ACTIVE = {active: passive for passive, active in PASSIVE.items()}


def keys_to_look_up(keys: Iterable[str]) -> list[str]:
    """The keys whose forms a walk from these keys reaches: an active key's and its passive twin's, only
    the active twin's of a passive key."""
    out: set[str] = set()
    for key in keys:
        prefix, rest = key[:2], key[2:]
        if prefix in PASSIVE:
            out.add(PASSIVE[prefix] + rest)
        else:
            out.add(key)
            if prefix in ACTIVE:
                out.add(ACTIVE[prefix] + rest)
    return sorted(out)


def transliteration_bucket(name: str) -> str | None:
    """The names `_transliteration_of` may compare with this one share this: first and last initials
    (as `EntityIndex.full_by_initials`) and the number of words (`_same_person`)."""
    tokens = name.split()
    if len(tokens) < 2:
        return None
    return f"{tokens[0][0].casefold()}\x1f{tokens[-1][0].casefold()}\x1f{len(tokens)}"


def form_keys(forms: pl.DataFrame) -> tuple[pl.DataFrame, pl.DataFrame]:
    """For distinct forms (`FORM_COLUMNS`): their keys (`FORM_KEY_SCHEMA`) and the full names they may
    give a person, with their transliteration bucket (`FORM_NAME_SCHEMA`)."""
    key_rows: list[tuple[str, str, bool, str]] = []
    name_rows: list[tuple[str, str, bool, str, str]] = []
    for surface, label, person_before in forms.select(FORM_COLUMNS).unique().rows():
        keys: set[str] = set()
        for name, (person, norp) in form_names(surface, label, person_before).items():
            keys |= name_keys(name, person, norp)
            bucket = transliteration_bucket(name) if person else None
            if bucket is not None:
                name_rows.append((surface, label, person_before, name, bucket))
        key_rows.extend((surface, label, person_before, key) for key in sorted(keys))
    return (pl.DataFrame(key_rows, schema=FORM_KEY_SCHEMA, orient="row"),
            pl.DataFrame(name_rows, schema=FORM_NAME_SCHEMA, orient="row").unique())


def article_edges(raw_mentions: pl.DataFrame) -> pl.DataFrame:
    """Per article, a lone name and a full name that starts with it ("Michelle" beside "Michelle Obama"):
    the lone one may join that person (`short_name_entity`), so their keys meet (`EDGE_SCHEMA`)."""
    names_of: defaultdict[str, set[str]] = defaultdict(set)
    for article, surface, label in raw_mentions.select("article_id", "surface", "label").unique().rows():
        names_of[article] |= set(_piece_names(surface, label))
    rows = []
    for article, names in names_of.items():
        lone = {name.casefold() for name in names if len(name.split()) == 1}
        rows.extend((article, "n:" + first, "n:" + name.casefold()) for name in names
                    if len(name.split()) > 1 and (first := name.split()[0].casefold()) in lone)
    return pl.DataFrame(rows, schema=EDGE_SCHEMA, orient="row").unique()


def transliterations(names: list[str], others: list[str]) -> list[tuple[str, str]]:
    """Pairs (name, other) of one bucket that `_same_person` takes for spellings of one name."""
    return [(name, other) for name in names for other in others if name != other and _same_person(name, other)]


class _Union:
    """Union-find over keys; a set's name is its smallest key (the same whatever the order of unions)."""

    def __init__(self) -> None:
        self.parent: dict[str, str] = {}

    def find(self, key: str) -> str:
        root = self.parent.setdefault(key, key)
        while root != self.parent[root]:
            root = self.parent[root]
        while key != root:
            self.parent[key], key = root, self.parent[key]
        return root

    def union(self, a: str, b: str) -> None:
        ra, rb = self.find(a), self.find(b)
        if ra != rb:
            self.parent[max(ra, rb)] = min(ra, rb)


def mention_partitions(raw_mentions: pl.DataFrame) -> pl.Series:
    """Each raw mention's partition (its smallest key), computed in memory over these mentions."""
    forms = with_person_before(raw_mentions)
    keys, names = form_keys(forms)
    union = _Union()
    active = {key for key in keys["key"].to_list() if key[:2] not in PASSIVE}
    first_key: dict[tuple[str, str, bool], str] = {}
    for surface, label, person_before, key in keys.sort("surface", "label", "person_before", "key").rows():
        form = (surface, label, person_before)
        twin = PASSIVE[key[:2]] + key[2:] if key[:2] in PASSIVE else key
        if twin in active:  # (every form has an active key: "n:" its own name)
            union.union(first_key.setdefault(form, twin), twin)
    for _, key_a, key_b in article_edges(raw_mentions).rows():
        union.union(key_a, key_b)
    for _, bucket_names in names.group_by("bucket"):
        distinct = sorted(set(bucket_names["name"].to_list()))
        for name, other in transliterations(distinct, distinct):
            union.union("n:" + name.casefold(), "n:" + other.casefold())
    return pl.Series("partition", [union.find(first_key[form]) for form in
                                   forms.select(FORM_COLUMNS).rows()], dtype=pl.String)


def resolve_partitions(raw_mentions: pl.DataFrame) -> tuple[pl.DataFrame, pl.DataFrame]:
    """`resolve_corpus`, one partition at a time (what the partitions claim: the same result)."""
    parts = raw_mentions.with_columns(mention_partitions(raw_mentions))
    results = [resolve_corpus(part.drop("partition")) for _, part in parts.group_by("partition")]
    if not results:
        return resolve_corpus(raw_mentions)
    entity_frame = pl.concat([entity for entity, _ in results]).sort("entity_id")
    mentions = pl.concat([mentions for _, mentions in results]).sort("article_id", "paragraph_id", "start_char")
    return entity_frame, mentions


def find_entity(entities: pl.DataFrame, name: str) -> str | None:
    """The entity a name refers to, as a reader would look it up: the same alias (after titles and
    possessives are stripped), else the one person whose full name or surname it matches."""
    aliases = [
        (row["entity_id"], {a.casefold() for a in [row["canonical_name"], *(row["aliases"] or [])]})
        for row in entities.iter_rows(named=True)
    ]
    # The name as written first ("General Motors"), then without titles ("Sec. Kerry" -> "Kerry").
    for wanted in dict.fromkeys([normalise_surface(name, strip_titles=False).casefold(), normalise_surface(name).casefold()]):
        exact = {entity_id for entity_id, names in aliases if wanted in names}
        if len(exact) == 1:
            return exact.pop()
        if exact:
            return None
    wanted = normalise_surface(name).casefold()
    people = entities.filter(pl.col("label") == "PERSON")
    matches = {
        row["entity_id"] for row in people.iter_rows(named=True)
        if _same_person(wanted, row["canonical_name"].casefold())
        or (len(wanted.split()) > 1 and row["canonical_name"].casefold() == _surname(wanted))
        or (" " not in wanted and _surname(row["canonical_name"]) == wanted)
    }
    return matches.pop() if len(matches) == 1 else None


# spaCy refuses a text longer than nlp.max_length (1,000,000 characters) in one call, and its memory
# grows with the text: a longer paragraph is tagged in pieces of at most this many characters, cut after
# a sentence where one ends in the piece's second half, else at whitespace (a name cut in two at a
# piece's edge is the cost, only in such paragraphs: news paragraphs stay under 2,200 characters in
# wikiref150 and BBC).
SPACY_CHUNK_CHARS = 20_000
# Characters spaCy is given in one batch of pieces: one batch of pieces of 100,000 characters each (a
# 1 MB paragraph) held 2.8 GB; an ordinary batch of 64 paragraphs is about 40,000 characters.
SPACY_BATCH_CHARS = 40_000


def _pieces(text: str, limit: int) -> list[tuple[int, str]]:
    """(offset, piece) covering `text`, each at most `limit` characters, cut after whitespace where possible."""
    pieces, start = [], 0
    while start < len(text):
        stop = min(len(text), start + limit)
        if stop < len(text):
            sentence = text.rfind(". ", start + limit // 2, stop - 1)
            cut = sentence + 1 if sentence >= 0 else max(text.rfind(" ", start, stop), text.rfind("\n", start, stop))
            stop = cut + 1 if cut > start else stop
        pieces.append((start, text[start:stop]))
        start = stop
    return pieces


def extract_mentions_in_chunks(
    paragraphs: pl.DataFrame, model: str, batch_size: int = 64, chunk_chars: int = SPACY_CHUNK_CHARS
) -> pl.DataFrame:
    """`extract_mentions`, with paragraphs longer than `chunk_chars` tagged in pieces (offsets still
    into the whole paragraph)."""
    chunk_chars = min(chunk_chars, load_nlp(model).max_length)
    long = paragraphs.filter(pl.col("text").str.len_chars() > chunk_chars)
    if long.height == 0:
        return extract_mentions(paragraphs, model, batch_size)
    short = paragraphs.filter(pl.col("text").str.len_chars() <= chunk_chars)
    rows = []
    for article_id, paragraph_id, text in long.select("article_id", "paragraph_id", "text").iter_rows():
        for offset, piece in _pieces(text, chunk_chars):
            rows.append({"article_id": article_id, "paragraph_id": f"{paragraph_id}\x00{offset}", "text": piece})
    pieces = extract_mentions(pl.DataFrame(rows, schema={"article_id": pl.String, "paragraph_id": pl.String,
                                                         "text": pl.String}), model,
                              max(1, min(batch_size, SPACY_BATCH_CHARS // chunk_chars)))
    parts = pieces["paragraph_id"].str.split_exact("\x00", 1)
    offset = parts.struct.field("field_1").cast(pl.Int64)
    pieces = pieces.with_columns(
        paragraph_id=parts.struct.field("field_0"),
        start_char=(pl.col("start_char").cast(pl.Int64) + offset).cast(pieces.schema["start_char"]),
        end_char=(pl.col("end_char").cast(pl.Int64) + offset).cast(pieces.schema["end_char"]),
    )
    return pl.concat([extract_mentions(short, model, batch_size), pieces]).sort("paragraph_id", "start_char")


@dataclass(frozen=True)
class PartitionGraph:
    """Reads of the recorded partitions (storage/state.py) that `partitions_reached` walks."""

    forms_with_keys: Callable[[list[str]], pl.DataFrame]  # keys -> forms having any (FORM_COLUMNS)
    keys_of_forms: Callable[[pl.DataFrame], list[str]]  # forms -> their keys and first-name edges' other ends
    names_of_forms: Callable[[pl.DataFrame], pl.DataFrame]  # forms -> (name, bucket) they may give a person
    names_in_buckets: Callable[[list[str]], pl.DataFrame]  # buckets -> every recorded (name, bucket) in them


def partitions_reached(seed_keys: set[str], seed_names: pl.DataFrame, graph: PartitionGraph) -> pl.DataFrame:
    """The forms (`FORM_COLUMNS`) of every partition that a seed key or name (those of the changed
    mentions, before and after the change) belongs to now: keys lead to the forms having them, forms to
    their keys, full names to their transliterations."""
    forms = pl.DataFrame(schema={column: FORM_KEY_SCHEMA[column] for column in FORM_COLUMNS})
    seen_keys: set[str] = set()
    seen_names: set[str] = set()
    frontier, names = set(seed_keys), seed_names.select("name", "bucket").unique()
    while frontier or names.height:
        names = names.filter(~pl.col("name").is_in(sorted(seen_names)))
        seen_names |= set(names["name"].to_list())
        if names.height:
            others = graph.names_in_buckets(sorted(set(names["bucket"].to_list())))
            for (bucket,), group in names.group_by("bucket"):
                in_bucket = others.filter(pl.col("bucket") == bucket)["name"].to_list()
                frontier |= {"n:" + other.casefold() for _, other in transliterations(group["name"].to_list(), in_bucket)}
        frontier -= seen_keys
        seen_keys |= frontier
        new_forms = (graph.forms_with_keys(keys_to_look_up(frontier)) if frontier else forms.clear()).join(
            forms, on=FORM_COLUMNS, how="anti")
        forms = pl.concat([forms, new_forms.select(FORM_COLUMNS)])
        frontier = set(graph.keys_of_forms(new_forms)) - seen_keys if new_forms.height else set()
        names = graph.names_of_forms(new_forms) if new_forms.height else names.clear()
    return forms


def partition_records(raw_mentions: pl.DataFrame, digests: pl.DataFrame) -> tuple[pl.DataFrame, pl.DataFrame]:
    """What is recorded for these articles' raw mentions: their forms with the article's digest
    (`digests`: `article_id`, `mentions`, `digest`), and their first-name edges."""
    forms = (with_person_before(raw_mentions).select("article_id", *FORM_COLUMNS).unique()
             .join(digests, on="article_id", how="inner")
             .select("article_id", "mentions", "digest", *FORM_COLUMNS).sort("article_id", *FORM_COLUMNS))
    return forms, article_edges(raw_mentions)


def seeds_of(raw_mentions: pl.DataFrame, forms: pl.DataFrame, edges: pl.DataFrame) -> tuple[set[str], pl.DataFrame]:
    """The keys and full names (`name`, `bucket`) of changed mentions: `raw_mentions` as they are now,
    `forms` and first-name `edges` as they were recorded."""
    every_form = pl.concat([with_person_before(raw_mentions).select(FORM_COLUMNS), forms.select(FORM_COLUMNS)])
    keys, names = form_keys(every_form)
    now_edges = article_edges(raw_mentions)
    seeds = set(keys["key"].to_list())
    for frame in (edges, now_edges):
        seeds |= set(frame["key_a"].to_list()) | set(frame["key_b"].to_list())
    return seeds, names.select("name", "bucket").unique()


def stored_beside_partitions(stored: pl.DataFrame, raw_of_articles: pl.DataFrame, dirty_raw: pl.DataFrame) -> pl.DataFrame:
    """Of the stored mentions (`stored`, `RESOLVED_KEY`) of articles that have a re-resolved raw mention
    (`dirty_raw`), those that come from another raw mention of theirs (`raw_of_articles`; a stored
    mention lies inside the raw mention it was cut from, and raw mentions do not overlap): they belong to
    no re-resolved partition and stay as they are."""
    span = ["paragraph_id", "start_char", "end_char"]
    clean_raw = (raw_of_articles.select(span).join(dirty_raw.select(span), on=span, how="anti")
                 .rename({"start_char": "_start", "end_char": "_end"}))
    rows = stored.select(RESOLVED_KEY).with_row_index("_row")
    inside = (rows.join(clean_raw, on="paragraph_id", how="inner")
              .filter((pl.col("_start") <= pl.col("start_char")) & (pl.col("end_char") <= pl.col("_end"))))
    return rows.filter(pl.col("_row").is_in(inside["_row"].implode())).drop("_row")


def name_seeds(names: Iterable[str]) -> tuple[set[str], pl.DataFrame]:
    """Keys and full names (`name`, `bucket`) of bare names (an entity's, which a batch changed): every
    key such a name may have."""
    keys: set[str] = set()
    rows = []
    for name in names:
        keys |= name_keys(name, True, True)
        if (bucket := transliteration_bucket(name)) is not None:
            rows.append((name, bucket))
    return keys, pl.DataFrame(rows, schema={"name": pl.String, "bucket": pl.String}, orient="row")
