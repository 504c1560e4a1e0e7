"""Extract named entities from paragraphs with spaCy and resolve them to canonical entities."""

from __future__ import annotations

import hashlib
import re
from collections import Counter, defaultdict
from functools import lru_cache
from typing import TYPE_CHECKING

import polars as pl
from rapidfuzz import fuzz

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
ENTITY_SCHEMA = {
    "entity_id": pl.String,
    "canonical_name": pl.String,
    "label": pl.String,
    "aliases": pl.List(pl.String),
}

# Honorifics and offices that precede a name ("Secretary of State John Kerry", "Sec. Kerry").
TITLE_WORDS = re.compile(
    r"^(?:(?:U\.S\.|US|Russian|British|French|German|Ukrainian|Chinese|former|then|acting|interim|deputy|vice|"
    r"Secretary(?: of State| General)?|Sec\.|President|Prime Minister|PM|Foreign Minister|Foreign Secretary|"
    r"Minister|Chancellor|Senator|Sen\.|Representative|Rep\.|Governor|Gov\.|General|Gen\.|Mr\.?|Mrs\.?|Ms\.?|"
    r"Dr\.?|Prof\.?|Sir|Dame|Lord|Lady|King|Queen|Prince|Princess|Pope|Judge|Justice|Mayor|Ambassador|"
    r"Chairman|Chairwoman|Director|Spokesman|Spokeswoman|press secretary)\s+)+",
    re.I,
)
POSSESSIVE = re.compile(r"(?:'s|’s|'|’)$")
# Common short forms of places and organisations that no string-similarity rule can join.
KNOWN_ALIASES = {
    "u.s.": "United States", "us": "United States", "u.s.a.": "United States", "usa": "United States",
    "united states of america": "United States", "america": "United States",
    "u.k.": "United Kingdom", "uk": "United Kingdom", "britain": "United Kingdom", "great britain": "United Kingdom",
    "eu": "European Union", "e.u.": "European Union", "u.n.": "United Nations", "un": "United Nations",
    "uae": "United Arab Emirates", "u.a.e.": "United Arab Emirates",
}


@lru_cache(maxsize=2)
def load_nlp(model: str) -> "Language":
    """spaCy with only the components NER needs (tok2vec + ner): the parser and tagger cost time."""
    import spacy

    nlp = spacy.load(model, exclude=["parser", "tagger", "lemmatizer", "attribute_ruler", "senter"])
    return nlp


def extract_mentions(paragraphs: pl.DataFrame, model: str, batch_size: int = 64) -> pl.DataFrame:
    """Every named-entity mention in the paragraphs, with offsets into `paragraphs.text`."""
    nlp = load_nlp(model)
    rows: list[dict[str, object]] = []
    keys = paragraphs.select("article_id", "paragraph_id").rows()
    for (article_id, paragraph_id), doc in zip(keys, nlp.pipe(paragraphs["text"].to_list(), batch_size=batch_size)):
        for ent in doc.ents:
            if ent.label_ not in KEPT_LABELS:
                continue
            rows.append(
                {
                    "article_id": article_id,
                    "paragraph_id": paragraph_id,
                    "start_char": ent.start_char,
                    "end_char": ent.end_char,
                    "surface": ent.text,
                    "label": ent.label_,
                }
            )
    return pl.DataFrame(rows, schema=MENTION_SCHEMA)


def normalise_surface(surface: str) -> str:
    """Strip titles, possessives, leading articles and stray punctuation from a mention."""
    name = " ".join(surface.split())
    name = POSSESSIVE.sub("", name)
    name = re.sub(r"^the\s+", "", name, flags=re.I)
    stripped = TITLE_WORDS.sub("", name)
    name = stripped if stripped else name
    name = name.strip(" ,;:-–—\"'“”‘’()")
    return KNOWN_ALIASES.get(name.casefold(), name)


def entity_id_for(canonical_name: str, label: str) -> str:
    return hashlib.sha256(f"{label}\x1f{canonical_name}".encode("utf-8")).hexdigest()[:16]


def _label_family(label: str) -> str:
    return "PLACE" if label in PLACE_LABELS else label


def _same_person(a: str, b: str) -> bool:
    """Transliteration variants of one full name ("Sergey Lavrov" / "Sergei Lavrov"), never two
    different people who share a surname."""
    ta, tb = a.split(), b.split()
    if len(ta) < 2 or len(tb) < 2 or len(ta) != len(tb):
        return False
    return fuzz.ratio(ta[-1], tb[-1]) >= 85 and fuzz.ratio(ta[0], tb[0]) >= 70 and fuzz.ratio(a, b) >= 85


def canonicalise_entities(mentions: pl.DataFrame, known: pl.DataFrame) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Resolve mentions to canonical entities.

    `known`: entities already in the warehouse (`entity_id`, `canonical_name`, `label`, `aliases`);
    a new mention joins one of them when it names the same thing, so canonical names never move.
    Returns (entities touched by these mentions, mentions with `entity_id`).
    """
    if mentions.height == 0:
        return pl.DataFrame(schema=ENTITY_SCHEMA), mentions.with_columns(entity_id=pl.lit(None, dtype=pl.String))

    names = [normalise_surface(s) for s in mentions["surface"].to_list()]
    labels = mentions["label"].to_list()
    articles = mentions["article_id"].to_list()

    # Majority label per name: spaCy tags the same name differently in different sentences.
    label_votes: dict[str, Counter[str]] = defaultdict(Counter)
    for name, label in zip(names, labels):
        label_votes[name.casefold()][label] += 1
    for row in known.iter_rows(named=True):
        label_votes[row["canonical_name"].casefold()][row["label"]] += 3
    family = {name: _label_family(votes.most_common(1)[0][0]) for name, votes in label_votes.items()}

    # Canonical forms: known entities first, then the most frequent full forms in this batch.
    canonical: dict[tuple[str, str], tuple[str, str]] = {}  # (family, folded alias) -> (name, label)
    for row in known.iter_rows(named=True):
        fam = _label_family(row["label"])
        for alias in [row["canonical_name"], *(row["aliases"] or [])]:
            canonical[(fam, alias.casefold())] = (row["canonical_name"], row["label"])
    counts = Counter(zip((family[n.casefold()] for n in names), names))
    for (fam, name), _ in counts.most_common():
        key = (fam, name.casefold())
        if key in canonical or not name:
            continue
        target = None
        if fam == "PERSON":
            target = next((v for (f, alias), v in canonical.items() if f == fam and _same_person(name, v[0])), None)
        elif fam == "ORG" and name.isupper() and 2 <= len(name) <= 6:
            # An acronym joins the full name whose initials it spells ("EU" -> "European Union").
            target = next(
                (v for (f, alias), v in canonical.items()
                 if f in {"ORG", "PLACE"} and "".join(w[0] for w in v[0].split() if w[0].isupper()) == name),
                None,
            )
        if target is None and fam == "PERSON" and len(name.split()) == 1:
            continue  # lone surnames are resolved below, per article
        label = label_votes[name.casefold()].most_common(1)[0][0]
        canonical[key] = target or (name, label)

    # A lone surname joins the full name seen in the same article, else the only one in the corpus.
    full_by_article: dict[tuple[str, str], set[str]] = defaultdict(set)
    full_by_surname: dict[str, set[str]] = defaultdict(set)
    for (fam, alias), (name, _) in canonical.items():
        if fam == "PERSON" and len(name.split()) > 1:
            full_by_surname[name.split()[-1].casefold()].add(name)
    for name, article in zip(names, articles):
        if family[name.casefold()] == "PERSON" and len(name.split()) > 1:
            resolved = canonical.get(("PERSON", name.casefold()), (name, "PERSON"))[0]
            full_by_article[(article, resolved.split()[-1].casefold())].add(resolved)

    entity_ids: list[str | None] = []
    entities: dict[str, dict[str, object]] = {}
    for name, article in zip(names, articles):
        fam = family.get(name.casefold(), "")
        if not name or len(name) < 2:
            entity_ids.append(None)
            continue
        resolved = canonical.get((fam, name.casefold()))
        if resolved is None and fam == "PERSON":
            in_article = full_by_article.get((article, name.casefold()), set())
            in_corpus = full_by_surname.get(name.casefold(), set())
            choice = in_article if len(in_article) == 1 else in_corpus if len(in_corpus) == 1 else set()
            resolved = (next(iter(choice)), "PERSON") if choice else (name, "PERSON")
        if resolved is None:
            resolved = (name, label_votes[name.casefold()].most_common(1)[0][0])
        canonical_name, label = resolved
        entity_id = entity_id_for(canonical_name, _label_family(label) if _label_family(label) == "PLACE" else label)
        entity = entities.setdefault(
            entity_id, {"entity_id": entity_id, "canonical_name": canonical_name, "label": label, "aliases": set()}
        )
        entity["aliases"].add(name)  # type: ignore[union-attr]
        entity_ids.append(entity_id)

    for row in known.iter_rows(named=True):
        if row["entity_id"] in entities:
            entities[row["entity_id"]]["aliases"].update(row["aliases"] or [])  # type: ignore[union-attr]
            entities[row["entity_id"]]["label"] = row["label"]
    entity_frame = pl.DataFrame(
        [{**e, "aliases": sorted(e["aliases"])} for e in entities.values()],  # type: ignore[arg-type]
        schema=ENTITY_SCHEMA,
    )
    resolved_mentions = mentions.with_columns(entity_id=pl.Series(entity_ids, dtype=pl.String)).filter(
        pl.col("entity_id").is_not_null()
    )
    return entity_frame, resolved_mentions
