"""Quotations, direct and reported, their speakers, and links between quotes of one statement in
different outlets.

A quote's `kind`:
- `direct`: words in quote marks that someone is given as saying;
- `indirect`: reported speech, the content clause of a verb of saying (`Kerry said the talks had
  failed`, `Lavrov told reporters that …`, `according to officials, …`), found from spaCy's dependency
  parse (tasks/quotes/speech.py), which is stored (`speech_clauses`) so quotes can be found again
  without parsing;
- `mixed`: reported speech with quoted words in it (`Kerry said he came in "good faith"`): one row for
  the clause, the quoted words inside it are not rows of their own;
- `fragment`: quoted words that are no statement (`called the talks "useful"`, a name in quote
  marks): kept apart, never linked, not counted as statements.
A clause whose words are nearly all in quote marks (`Mr Blair said: "I have …"`) is the direct quote's
attribution, not a row of its own.

Speakers of reported speech: the clause's subject, as the mention covering its head word (a PERSON,
ORG or GPE; else an unnamed source, null); "he"/"she" is the nearest named person that was a subject
before it (in the paragraph, else the two before), "it"/"they" the nearest organisation or place.
Direct quotes take the speaker of the clause that holds them where the parse gives one; else, in the
order they are tried:
- same sentence, after the quote: `"…," Carney said`, `"…," said Lavrov`, `"…," he told reporters`;
- same sentence, before the quote: `Kerry said he came in "good faith"`, `Simonovic told reporters "…"`;
- a quote with no attribution of its own continues the quote before it, in the same paragraph or at the
  start of the next one (`"…," Lavrov said. "…"`);
- "he"/"she"/"who" is the person who spoke (or else was named) just before: earlier in the paragraph,
  else in the one or two paragraphs before;
- a nominal subject ("the official", "a senior U.S. official") is an unnamed source: null speaker.
"""

from __future__ import annotations

import re
from bisect import bisect_left, bisect_right
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from itertools import groupby
from operator import itemgetter

import numpy as np
import polars as pl
from rapidfuzz import fuzz

from tasks.embed import Encoder, embed_texts, embedding_matrix, encode_texts, frame_blocks
from tasks.paragraphs import text_hash
from tasks.quotes.speech import CLAUSE_SCHEMA, parse_clauses

__all__ = ["CLAUSE_SCHEMA", "QUOTE_LINK_SCHEMA", "QUOTE_SCHEMA", "QUOTES_VERSION", "embed_and_link", "extract_quotes",
           "find_quote_spans", "link_quotes", "parse_clauses", "quote_texts"]

QUOTE_SCHEMA = {
    "quote_id": pl.String,
    "article_id": pl.String,
    "paragraph_id": pl.String,
    "start_char": pl.Int32,  # offsets of the quoted words (marks excluded) into paragraphs.text
    "end_char": pl.Int32,
    "text": pl.String,
    "is_partial": pl.Boolean,  # a fragment worked into the writer's sentence ("called the talks "useful"")
    "kind": pl.String,  # direct, indirect, mixed, fragment
    "speaker_entity_id": pl.String,
    "speaker_surface": pl.String,  # the words naming the speaker ("Kerry", "he", "the official")
    "verb": pl.String,
    "attribution": pl.String,  # after, before, continuation, pronoun, none
    "continues_quote_id": pl.String,
}
QUOTE_LINK_SCHEMA = {
    "quote_id_a": pl.String,  # quote_id_a < quote_id_b: each pair once
    "quote_id_b": pl.String,
    "article_id_a": pl.String,
    "article_id_b": pl.String,
    "cosine": pl.Float32,
    "word_similarity": pl.Float32,  # rapidfuzz token-set ratio / 100 (1.0: one quote's words contain the other's)
    "same_speaker": pl.Boolean,
}

# Quotes shorter than this are scare quotes or names ("useful", "back-door annexation"): fragments.
MIN_QUOTE_WORDS = 3
# What the stored quotes were found with: another version finds every stored article's quotes again
# (flows/derived.refresh_quotes, recorded in warehouse_meta as `quotes.version`).
QUOTES_VERSION = "2"
QUOTES_KEY = "quotes.version"
STATEMENT_KINDS = ("direct", "indirect", "mixed")
# A speech clause with at most this many words outside quote marks is the attribution of the quote it
# holds (`said: "…"`, `"…," he said` parsed as one clause), not reported speech of its own.
MAX_UNQUOTED_WORDS = 2
SPEECH_VERBS = (
    "said|says|say|told|tells|added|adds|warned|warns|asked|asks|stated|declared|noted|notes|explained|insisted|"
    "argued|wrote|writes|tweeted|replied|responded|continued|cautioned|vowed|claimed|stressed|emphasized|"
    "emphasised|urged|announced|acknowledged|admitted|conceded|suggested|recalled|remarked|joked|complained|"
    "concluded|commented|predicted|promised|reiterated|repeated|observed|assured|affirmed|reaffirmed|denied|"
    "confirmed|maintained|countered|quipped|testified|posted|called|describing|described|according to|"
    "saying|adding|telling|warning"
)
SPEECH_VERB = re.compile(rf"\b(?:{SPEECH_VERBS})\b", re.I)
PRONOUN = re.compile(r"^(?:he|she|who)$", re.I)
PREPOSITIONS = {"in", "of", "at", "from", "for", "with", "to", "on", "by", "about", "near"}
DETERMINERS = {"a", "an", "the", "one", "two", "three", "some", "another", "his", "her", "their", "its", "this",
               "that", "these", "those", "several", "many", "other", "senior"}
# Words between a speaker and the verb that do not change who speaks ("Lavrov, however, denied").
FILLER = re.compile(r"^(?:[\s,]|however|also|later|then|again|earlier|previously|reportedly|further|had|has|have|"
                    r"would|will|once)*$", re.I)
ABBREVIATION = re.compile(r"(?:\b[A-Z]|\b(?:Mr|Mrs|Ms|Dr|Sec|Gen|Sen|Rep|Gov|St|Jr|Sr|Lt|Col|Capt|Prof|No|vs)|"
                          r"\b(?:[A-Z]\.)+[A-Z])$")
# ABBREVIATION is tried on this many characters before a full stop: its longest fixed alternative is 4
# characters (and a newline `$` may skip), and a run of initials ("U.S.A") matches as soon as its last
# "S.A" does. Searching the whole text before each stop made sentence splitting quadratic (271 s of a
# 1 MB paragraph's 377 s).
ABBREVIATION_REACH = 8
# Where a sentence ends: the lookbehind starts a match only at the first mark of a run ("!!!", "..."),
# and the possessive runs never backtrack (no shorter run can be followed by the space or end the
# lookahead needs), so a long run of marks costs its length once, not its square.
SENTENCE_END = re.compile(r"(?<![.!?])[.!?]++[\"”’)]*+(?=\s+[\"“(‘A-Z0-9]|\s*$)")
WORD = re.compile(r"\S+")
QUOTE_MARKS = {'"', "“", "”"}

# Quote links: the same statement in two outlets. Measured on the samples' quotes: different
# statements of one speaker reach cosine 0.69 but then share few words (token-set <= 0.59); a
# paraphrase of one statement ("Our partners also understand/realize …") is cosine 0.65, words 0.78.
LINK_WORDS = 0.9
LINK_COSINE = 0.8
SAME_SPEAKER_COSINE = 0.6
SAME_SPEAKER_WORDS = 0.6
SAME_SPEAKER_WORDS_ALONE = 0.8


def is_same_statement(cosine: float, words: float, same_speaker: bool) -> bool:
    """Same words, or a paraphrase close in meaning; with the same named speaker, a looser match."""
    if words >= LINK_WORDS or cosine >= LINK_COSINE:
        return True
    return same_speaker and ((cosine >= SAME_SPEAKER_COSINE and words >= SAME_SPEAKER_WORDS)
                             or words >= SAME_SPEAKER_WORDS_ALONE)


@dataclass
class _Span:
    start: int  # first quoted character (after the mark)
    end: int  # one past the last quoted character (the closing mark's index, or len(text))
    open_mark: int
    close_mark: int | None  # None: the quote runs on past the end of the paragraph


@dataclass
class _Mention:
    start: int
    end: int
    surface: str
    entity_id: str
    label: str  # the canonical entity's label


def find_quote_spans(text: str) -> list[_Span]:
    """Quoted stretches. Curly marks say which way they face; a straight mark toggles, unless its
    neighbours say otherwise (space before and a word after opens; a word before and a space or
    punctuation after closes), so that one missing mark does not turn the rest of the paragraph inside
    out. A quote that opens again before it closed ran on ("…club. "I've always…": news style opens
    each new paragraph of a long quote and closes only the last), as does one still open at the end."""
    spans: list[_Span] = []
    open_at: int | None = None
    for index, char in enumerate(text):
        if char not in QUOTE_MARKS:
            continue
        before = text[index - 1] if index else " "
        after = text[index + 1] if index + 1 < len(text) else " "
        opener_like = (before.isspace() or before in "([{—–-/") and not after.isspace()
        closer_like = not before.isspace() and (after.isspace() or after in ",.;:!?)]—–-'’")
        if char == "“":
            opens = True
        elif char == "”":
            opens = False
        elif open_at is None:
            opens = opener_like or not closer_like
        else:
            # `"…locker room, "Luck said`: a mark after a comma and a space closes the open quote (a new
            # quote never opens inside one; a run-on quote reopens after a sentence's end, not a comma).
            opens = opener_like and not closer_like and text[max(0, index - 2): index] not in {", ", ",\u00a0"}
        if opens:
            if open_at is not None and index - open_at > 1:
                spans.append(_Span(open_at + 1, index, open_at, None))
            open_at = index
        elif open_at is not None:
            spans.append(_Span(open_at + 1, index, open_at, index))
            open_at = None
    if open_at is not None and len(text) - open_at > 1:
        spans.append(_Span(open_at + 1, len(text), open_at, None))
    return spans


def _sentence_ends(text: str) -> list[int]:
    """Offsets just after each sentence-ending mark, skipping abbreviations ("U.S.", "Sec.", "V.")."""
    ends = []
    for match in SENTENCE_END.finditer(text):
        # Only the characters just before the mark can make it an abbreviation's (`\\b` still sees the
        # character before the window): the same answer as searching all of text[:start].
        if match.group().startswith(".") and ABBREVIATION.search(
            text, max(0, match.start() - ABBREVIATION_REACH), match.start()
        ):
            continue
        ends.append(match.end())
    return ends


class _Paragraph:
    """A paragraph's text, quote spans, sentence ends and mentions (sorted by start), indexed once so that
    each quote's look-ups are bisections and dictionary reads, not scans of the whole paragraph: a
    paragraph of n characters has O(n) quotes and mentions, and a scan per quote made one 1 MB
    paragraph cost minutes. Answers are those of the plain scans they replace."""

    def __init__(self, text: str, mentions: Sequence[_Mention], spans: Sequence[_Span]) -> None:
        self.text, self.mentions, self.spans = text, mentions, spans
        self.ends = _sentence_ends(text)
        self._opens = [span.open_mark for span in spans]
        self._starts = [m.start for m in mentions]
        self._by_end: dict[int, _Mention] = {}
        for mention in mentions:
            self._by_end.setdefault(mention.end, mention)  # the first one, as a scan in order finds
        self._people: list[_Mention] | None = None
        # the parse's named subjects outside reported content (None: no parse; see `_paragraph_quotes`)
        self.named_subjects: list[_Mention] | None = None
        self.speaking: frozenset[int] = frozenset()  # start offsets of the named subjects of verbs of saying
        self._subjects: dict[tuple[int, int], tuple[str | None, _Mention | None]] = {}
        self._first_verbs: dict[int, re.Match[str] | None] = {}

    def outside(self, position: int) -> bool:
        """Not inside any quote span. Spans are ordered and meet at most at a mark, so only the last
        span opening at or before `position` can hold it."""
        index = bisect_right(self._opens, position) - 1
        return index < 0 or position > self.spans[index].end

    def sentence_start(self, position: int) -> int:
        """The last sentence end at or before `position` (0: the paragraph's start)."""
        index = bisect_right(self.ends, position)
        return self.ends[index - 1] if index else 0

    def sentence_end_after(self, position: int) -> int | None:
        """The first sentence end after `position`."""
        index = bisect_right(self.ends, position)
        return self.ends[index] if index < len(self.ends) else None

    def mention_ending_at(self, position: int) -> _Mention | None:
        return self._by_end.get(position)

    def mentions_from(self, position: int) -> Iterator[_Mention]:
        """Mentions starting at or after `position`, in order."""
        for index in range(bisect_left(self._starts, position), len(self.mentions)):
            yield self.mentions[index]

    def _index_people(self) -> None:
        self._people = [m for m in self.mentions if m.label == "PERSON" and self.outside(m.start)]
        self._people_ends = [m.end for m in self._people]
        self._people_starts = [m.start for m in self._people]
        # Mentions from spaCy never overlap, so ends rise with starts; made-up ones may nest, and
        # then `people_before` filters instead of bisecting.
        self._ends_rise = all(a <= b for a, b in zip(self._people_ends, self._people_ends[1:]))
        self._last_speaking: list[int] = []  # per person: index of the last speaking one up to it, or -1
        last = -1
        for index, mention in enumerate(self._people):
            if _is_speaking(self.text, mention):
                last = index
            self._last_speaking.append(last)

    def people_before(self, end: int) -> tuple[list[_Mention], int]:
        """(persons outside quotes ending at or before `end`, index in it of the last speaking one or -1)."""
        if self._people is None:
            self._index_people()
        assert self._people is not None
        if self._ends_rise:
            count = bisect_right(self._people_ends, end)
            return self._people[:count], self._last_speaking[count - 1] if count else -1
        people = [m for m in self._people if m.end <= end]
        speaking = [i for i, m in enumerate(people) if _is_speaking(self.text, m)]
        return people, speaking[-1] if speaking else -1

    def first_person_from(self, people: list[_Mention], position: int) -> _Mention:
        """The first of `people` (a prefix of this paragraph's persons, or filtered from it) starting at or
        after `position`; one must."""
        if self._ends_rise:
            return people[bisect_left(self._people_starts, position, 0, len(people))]
        return next(m for m in people if m.start >= position)

    def subject_speaker(self, start: int, end: int) -> tuple[str | None, _Mention | None]:
        """`_subject_speaker` of text[start:end], remembered: the quotes of one long sentence share it."""
        key = (start, end)
        if key not in self._subjects:
            self._subjects[key] = _subject_speaker(self.text, start, end, self)
        return self._subjects[key]

    def first_speech_verb(self, start: int) -> re.Match[str] | None:
        """The first speech verb from `start` that is outside quotes and not a participle, remembered per
        sentence (each participle quote of a sentence asks for it)."""
        if start not in self._first_verbs:
            self._first_verbs[start] = next(
                (v for v in SPEECH_VERB.finditer(self.text, start)
                 if self.outside(v.start()) and not v.group().lower().endswith("ing")), None)
        return self._first_verbs[start]


def _clean_quote(text: str, start: int, end: int) -> tuple[int, int]:
    """Trim spaces and the trailing comma that belongs to the attribution ("…," he said)."""
    while start < end and text[start].isspace():
        start += 1
    while end > start and (text[end - 1].isspace() or text[end - 1] == ","):
        end -= 1
    return start, end


def _quotations(text: str, spans: Sequence[_Span], min_words: int = MIN_QUOTE_WORDS) -> Iterator[tuple[int, _Span, int, int]]:
    """(index in `spans`, span, start, end) of each quoted stretch of at least `min_words` words (shorter
    ones are fragments); start and end trimmed of spaces and the attribution's comma."""
    for index, span in enumerate(spans):
        start, end = _clean_quote(text, span.start, span.end)
        if len(text[start:end].split()) >= min_words:
            yield index, span, start, end


def quote_texts(paragraphs: pl.DataFrame) -> pl.DataFrame:
    """The distinct texts (`text_sha256`, `text`) that `extract_quotes` will find in these paragraphs:
    they depend on the paragraph text alone, so the embedding step can encode them in the same pass as
    the paragraphs while entities are still being found."""
    found: dict[str, str] = {}
    for text in paragraphs["text"].to_list():
        for _, _, start, end in _quotations(text, find_quote_spans(text)):
            found.setdefault(text_hash(text[start:end]), text[start:end])
    return pl.DataFrame({"text_sha256": list(found), "text": list(found.values())},
                        schema={"text_sha256": pl.String, "text": pl.String})


def _subject_speaker(
    text: str, phrase_start: int, phrase_end: int, para: _Paragraph
) -> tuple[str | None, _Mention | None]:
    """The speaker named by the words before a speech verb: the mention that ends the phrase
    ("Foreign Ministry spokesman Evgeny Perebiynis"), a pronoun, or a nominal (no entity)."""
    phrase = text[phrase_start:phrase_end]
    # Cut at a relative clause: "Kerry, who was in London," speaks, not London.
    who = re.search(r",?\s+who\b", phrase)
    if who and phrase[who.end():].strip(" ,") and not re.fullmatch(r",?\s+who\s*", phrase[who.start():]):
        phrase = phrase[: who.start()]
    stripped = phrase.rstrip()
    while True:  # drop fillers at the end: "Lavrov, however,"
        trimmed = re.sub(r"(?:,|\s)+(?:however|also|later|then|again|earlier|reportedly|further)?[\s,]*$", "", stripped)
        if trimmed == stripped:
            break
        stripped = trimmed
    end = phrase_start + len(stripped)
    last_word = stripped.split()[-1] if stripped.split() else ""
    mention = para.mention_ending_at(end)
    if mention is not None:
        # "a spokesman for the Kremlin", "one woman in the Cabinet": the name is not the speaker.
        lead = [w.lower() for w in text[phrase_start: mention.start].split()]
        while lead and lead[-1] in {"the", "a", "an"}:
            lead.pop()
        if not (len(lead) >= 2 and lead[-1] in PREPOSITIONS):
            return mention.surface, mention
    if PRONOUN.match(last_word):
        return last_word, None
    # An apposition: "Oleksandr Turchynov, Ukraine's acting president, said".
    for comma in re.finditer(r",\s", stripped):
        named = para.mention_ending_at(phrase_start + comma.start())
        rest = stripped[comma.end():]
        if named is not None and named.label in {"PERSON", "ORG"} and len(rest.split()) <= 8 and "," not in rest:
            return named.surface, named
    if mention is not None:
        return " ".join(stripped.split()[-8:]), None
    # A nominal subject: the last few words, for the record ("the official", "a senior U.S. official"),
    # when they look like one; otherwise there is no subject to record.
    words = stripped.split(",")[-1].split()
    # Capitalised words are kept for `_named_speaker` (a surname NER missed), which drops them unless
    # they name one of the article's people.
    if words and (words[0].lower() in DETERMINERS or words[0][:1].isupper()) and len(words) <= 8:
        return " ".join(words), None
    return None, None


def _mention_after_verb(text: str, verb_end: int, limit: int, para: _Paragraph) -> _Mention | None:
    """Inverted attribution ("added Kerry", "said Russian Foreign Minister Sergei Lavrov"): the first
    mention after the verb, with only capitalised title words between."""
    for mention in para.mentions_from(verb_end):
        if mention.start > limit:
            return None
        gap = text[verb_end: mention.start]
        if all(word[:1].isupper() or word in {"the", "of", "for", "and"} for word in gap.split()) and "," not in gap:
            return mention
        return None
    return None


def _attribute_after(text: str, span: _Span, limit: int, para: _Paragraph) -> tuple[str | None, str, _Mention | None] | None:
    """`"…," Carney said` / `"…," said Lavrov` / `"…," he told reporters`: (surface, verb, mention)."""
    if span.close_mark is None or text[span.close_mark - 1] == ".":
        return None  # `"… lightly." Ireland hooker Byrne admitted …`: after a full stop, a new sentence
    # Only a quote set off by punctuation ("…," he said / "…?" she asked) is attributed by what follows;
    # a fragment inside the writer's sentence ("will "respect the results" in Crimea and said") is not.
    # Unpunctuated, only a name or pronoun right after it counts ("…border" Kerry said).
    set_off = text[span.close_mark - 1] in ",.!?—" or text[span.close_mark + 1: span.close_mark + 2] == ","
    window_start = span.close_mark + 1
    window = text[window_start:limit]
    verb = SPEECH_VERB.search(window)
    if verb is None or len(window[: verb.start()].split()) > 10 or verb.group().lower().endswith("ing"):
        return None  # "…," X said: a participle here belongs to another clause
    subject_words = window[: verb.start()].split()
    if not set_off and not (0 < len(subject_words) <= 4 and subject_words[0][:1].isupper()):
        return None
    verb_start, verb_end = window_start + verb.start(), window_start + verb.end()
    if not text[window_start:verb_start].strip(" ,"):
        mention = _mention_after_verb(text, verb_end, limit, para)
        if mention is not None:
            return mention.surface, verb.group().lower(), mention
        after = text[verb_end:limit].split()
        if after and PRONOUN.match(after[0].strip(",.")):
            return after[0].strip(",."), verb.group().lower(), None
        if after and after[0].lower() in {"the", "a", "an"}:
            return " ".join(after[:4]).split(",")[0], verb.group().lower(), None
        return None
    surface, mention = para.subject_speaker(window_start, verb_start)
    return surface, verb.group().lower(), mention


def _attribute_before(
    text: str, span: _Span, floor: int, sentence_start: int, para: _Paragraph
) -> tuple[str | None, str, _Mention | None] | None:
    """`Kerry said he came in "good faith"` / `Simonovic told reporters there was "no sign …"`."""
    window = text[floor: span.open_mark]
    verbs = list(SPEECH_VERB.finditer(window))
    if not verbs:
        return None
    verb = verbs[-1]
    if verb.group().lower().endswith("ing"):
        # "The spokesman said it was "regrettable", adding that …" / "Blair warned them, saying "…"": a
        # participle shares the subject of the sentence: its first speech verb's, else its first name.
        verb_at = floor + verb.start()
        earlier = para.first_speech_verb(sentence_start)
        if earlier is not None and earlier.end() <= verb_at:
            surface, mention = para.subject_speaker(sentence_start, earlier.start())
            return surface, earlier.group().lower(), mention
        # The sentence's first six words (as text[sentence_start:verb_at].split()[:6] gives them, without
        # reading a long sentence whole for each quote in it).
        words = [word for word, _ in zip(WORD.finditer(text, sentence_start, verb_at), range(6))]
        leading = words[0].start() - sentence_start if words else verb_at - sentence_start
        first_words_end = sentence_start + len(" ".join(w.group() for w in words)) + leading
        named = None
        for m in para.mentions_from(sentence_start):
            if m.start >= first_words_end:
                break
            if m.label in {"PERSON", "ORG"} and para.outside(m.start):
                named = m
                break
        if named is not None:
            return named.surface, verb.group().lower(), named
        first = [w.group() for w in words[:1]]
        if first and PRONOUN.match(first[0]) and first[0].lower() != "who":
            return first[0], verb.group().lower(), None
        return None
    verb_start, verb_end = floor + verb.start(), floor + verb.end()
    if not text[floor:verb_start].strip(" ,"):
        mention = _mention_after_verb(text, verb_end, span.open_mark, para)
        return (mention.surface, verb.group().lower(), mention) if mention else None
    surface, mention = para.subject_speaker(floor, verb_start)
    return surface, verb.group().lower(), mention


def _is_speaking(text: str, mention: _Mention) -> bool:
    """A person followed by a speech verb ("Kerry said", "Lavrov, however, denied") or after one ("said Kerry")."""
    after = text[mention.end: mention.end + 40]
    verb = SPEECH_VERB.search(after)
    if verb and FILLER.match(after[: verb.start()]):
        return True
    # "Lovenduski, who conducted the study, said"
    if re.match(rf",\s+who\b[^.\"“”]*?,\s+(?:{SPEECH_VERBS})\b", text[mention.end: mention.end + 200], re.I):
        return True
    before = text[max(0, mention.start - 12): mention.start]
    return bool(re.search(rf"\b(?:{SPEECH_VERBS})\s+$", before, re.I))


def _resolve_pronoun(units: Sequence[tuple[_Paragraph, int]]) -> _Mention | None:
    """The person a "he said" points back to. `units`: (paragraph, end offset to search before), nearest
    first. In the nearest unit with a person: the last one who spoke, else the first one named in the
    last sentence naming one (the subject)."""
    for para, end in units:
        people, last_speaking = para.people_before(end)
        if not people:
            continue
        if last_speaking >= 0:
            return people[last_speaking]
        return para.first_person_from(people, para.sentence_start(people[-1].start))
    return None


def _name_key(word: str) -> str:
    return re.sub(r"(?:'s|’s)$", "", word.strip(",.")).casefold()


def _people_by_name(paragraph_ids: Sequence[str], by_paragraph: dict[str, list[_Mention]]) -> dict[str, str]:
    """Surname (and single-word name) -> person entity, for the people an article names; a surname
    two people share is left out."""
    found: dict[str, set[str]] = {}
    for paragraph_id in paragraph_ids:
        for mention in by_paragraph.get(paragraph_id, []):
            if mention.label == "PERSON":
                found.setdefault(_name_key(mention.surface.split()[-1]), set()).add(mention.entity_id)
    return {name: next(iter(ids)) for name, ids in found.items() if len(ids) == 1}


# Labels of the entities a quote may be given to: people, organisations, countries.
SPEAKER_LABELS = {"PERSON", "ORG", "GPE"}


@dataclass(frozen=True)
class _Attribution:
    """Who a quote is given to, and how that was found (`QUOTE_SCHEMA`'s columns of the same names)."""

    attribution: str  # after, before, continuation, pronoun, none
    speaker_entity_id: str | None = None
    speaker_surface: str | None = None
    verb: str | None = None
    continues_quote_id: str | None = None


@dataclass
class _ArticleSoFar:
    """What a quote may point back to in its article, as its paragraphs are read in order."""

    people: dict[str, str]  # surname -> the one person the article names by it (`_people_by_name`)
    paragraphs: list[_Paragraph] = field(default_factory=list)  # read so far: where "he" may point back to
    # the previous paragraph's last quote (None: it had none) and whether that paragraph ended inside it
    last_quote: tuple[str, _Attribution] | None = None
    last_quote_open_ended: bool = False
    # per paragraph read, the mentions that were the subject of a clause (from the parse), in order
    subjects: list[list[_Mention]] = field(default_factory=list)

    def read(self, para: _Paragraph, quotes: list[tuple[str, _Attribution]], subjects: list[_Mention] | None = None) -> None:
        """`para` done, its quotes (id, attribution) found."""
        self.paragraphs.append(para)
        self.subjects.append(subjects or [])
        spans = para.spans
        self.last_quote = quotes[-1] if quotes else None
        ran_on = bool(spans) and spans[-1].close_mark is None and spans[-1].end == len(para.text)
        self.last_quote_open_ended = bool(quotes) and ran_on


def _named_speaker(surface: str | None, mention: _Mention | None, article_people: dict[str, str]) -> str | None:
    """The entity an attribution names: its mention's, if a speaker's label; else, for a short
    capitalised name NER missed here ("Ms Diemont says"), the person the article names by it elsewhere."""
    if mention is not None:
        return mention.entity_id if mention.label in SPEAKER_LABELS else None
    if (surface and len(surface.split()) <= 3 and all(word[:1].isupper() for word in surface.split())
            and not PRONOUN.match(surface)):
        return article_people.get(_name_key(surface.split()[-1]))
    return None


def _pronoun_speaker(pronoun: str, para: _Paragraph, span: _Span, earlier: list[_Paragraph]) -> str | None:
    """The person a "he"/"she"/"who" before or after a quote is (`_resolve_pronoun`), looked for before the
    quote, then in the two paragraphs before; "added Kerry, who said …": the person just before."""
    if pronoun.lower() == "who":
        people, _ = para.people_before(span.open_mark)
        resolved = people[-1] if people else None
    else:
        resolved = _resolve_pronoun([(para, span.open_mark), *((p, len(p.text)) for p in reversed(earlier[-2:]))])
    return resolved.entity_id if resolved else None


def _continuation(
    para: _Paragraph, span: _Span, paragraph_quotes: list[tuple[str, _Attribution]], article: _ArticleSoFar
) -> _Attribution:
    """A quote with no attribution of its own goes on with the quote before it: the paragraph's last one,
    or the previous paragraph's last quote when this paragraph opens with a quote (or that one ran on)."""
    before = paragraph_quotes[-1] if paragraph_quotes else None
    if before is None and article.last_quote is not None and (
            not para.text[: span.open_mark].strip() or article.last_quote_open_ended):
        before = article.last_quote
    if before is None:
        return _Attribution("none")
    quote_id, said = before
    return _Attribution("continuation", said.speaker_entity_id, said.speaker_surface, None, quote_id)


def _attribute(
    para: _Paragraph, index: int, paragraph_quotes: list[tuple[str, _Attribution]], article: _ArticleSoFar
) -> _Attribution:
    """Who speaks the paragraph's quote `index`: as the words after it say (up to the sentence's end or
    the next quote), else those before it (from the sentence's start or the last quote); a pronoun is the
    person it points back to; a quote with neither goes on with the one before."""
    text, spans, span = para.text, para.spans, para.spans[index]
    next_open = spans[index + 1].open_mark if index + 1 < len(spans) else len(text)
    sentence_end = para.sentence_end_after(span.end + 1)
    found = _attribute_after(text, span, next_open if sentence_end is None else min(sentence_end, next_open), para)
    how = "after"
    if found is None:
        sentence_start = para.sentence_start(span.open_mark)
        previous_close = spans[index - 1].end + 1 if index else 0
        found = _attribute_before(text, span, max(sentence_start, previous_close), sentence_start, para)
        how = "before"
    if found is None:
        return _continuation(para, span, paragraph_quotes, article)
    surface, verb, mention = found
    if mention is None and surface and PRONOUN.match(surface):
        if para.named_subjects is not None and surface.lower() in PRONOUN_LABELS:
            # The parse knows the subjects: the nearest named one before the quote.
            before = [m for m in para.named_subjects if m.end <= span.open_mark]
            resolved = _nearest_subject(PRONOUN_LABELS[surface.lower()], before, article, para.speaking)
            if resolved is not None:
                return _Attribution("pronoun", resolved.entity_id, surface, verb)
        return _Attribution("pronoun", _pronoun_speaker(surface, para, span, article.paragraphs), surface, verb)
    speaker = _named_speaker(surface, mention, article.people)
    if speaker is None and mention is None and surface and surface.split()[0].lower() not in DETERMINERS:
        surface = None  # capitalised words that name no one the article knows ("When", "Cambridge"): no speaker
    return _Attribution(how, speaker, surface, verb)


@dataclass(frozen=True)
class _Clause:
    """A row of speech.CLAUSE_SCHEMA: a verb of saying with its subject and content, or (verb None) a
    sentence's named subject."""

    verb: str | None
    verb_start: int
    verb_end: int
    subject_start: int | None
    subject_end: int | None
    head_start: int | None
    head_end: int | None
    content_start: int | None
    content_end: int | None


# Pronoun subjects of a speech clause, and the labels of the named subjects they may point back to.
PRONOUN_LABELS = {"he": {"PERSON"}, "she": {"PERSON"}, "it": {"ORG", "GPE"}, "they": {"ORG", "GPE"}}
WORD_CHARS = re.compile(r"\w+")
# Nouns by which a story refers back to an organisation it has named ("the company said").
ORGANISATION_NOUNS = {"company", "firm", "group", "organisation", "organization", "institute", "bank", "club",
                      "union", "agency", "ministry", "department", "corporation", "studio", "network"}


def _head_mention(para: _Paragraph, clause: _Clause) -> _Mention | None:
    """The mention covering the subject's head word ("Perebiynis" of "spokesman Evgeny Perebiynis"; not
    "Kremlin" of "a spokesman for the Kremlin", whose head is "spokesman")."""
    if clause.head_start is None or clause.head_end is None:
        return None
    for mention in para.mentions:
        if mention.start <= clause.head_start and mention.end >= clause.head_end:
            return mention
        if mention.start > clause.head_start:
            break
    return None


def _nearest_subject(labels: set[str], before: list[_Mention], article: _ArticleSoFar,
                     speaking: frozenset[int] = frozenset()) -> _Mention | None:
    """The last named subject with one of `labels` among `before` (this paragraph's, up to the pronoun),
    for "he"/"she" also one who spoke whatever spaCy labelled them (a surname alone is often an ORG:
    "Mutu has hit out at the club, saying … He told …"; `speaking`: start offsets of the subjects of
    verbs of saying); else in the two paragraphs before."""
    for mention in reversed(before):
        if mention.label in labels or ("PERSON" in labels and mention.start in speaking):
            return mention
    for candidates in reversed(article.subjects[-2:]):
        for mention in reversed(candidates):
            if mention.label in labels:
                return mention
    return None


def _unquoted_words(text: str, start: int, end: int, spans: Sequence[_Span], skip: tuple[int, int]) -> tuple[int, bool]:
    """(words of text[start:end] outside quote marks and outside `skip` (the clause's own verb and subject),
    whether any of it is quoted)."""
    inside = [(max(start, s.open_mark), min(end, (s.close_mark if s.close_mark is not None else s.end) + 1))
              for s in spans if s.open_mark < end and (s.close_mark if s.close_mark is not None else s.end) >= start]
    quoted = any(a < b for a, b in inside)
    words = 0
    for word in WORD_CHARS.finditer(text, start, end):
        if any(a <= word.start() < b for a, b in inside) or skip[0] <= word.start() < skip[1]:
            continue
        words += 1
    return words, quoted


def _clause_attribution(para: _Paragraph, clause: _Clause, position: int, article: _ArticleSoFar,
                        subjects_before: list[_Mention]) -> _Attribution:
    """Who speaks a clause: its subject's mention, a pronoun's nearest fitting named subject, or an unnamed
    source (null). `position`: where the statement starts (before or after the verb)."""
    assert clause.subject_start is not None and clause.subject_end is not None
    surface = para.text[clause.subject_start: clause.subject_end]
    how = "before" if clause.verb_start < position else "after"
    head = para.text[clause.head_start: clause.head_end].lower() if clause.head_start is not None else ""
    if head in PRONOUN_LABELS:
        resolved = _nearest_subject(PRONOUN_LABELS[head], subjects_before, article, para.speaking)
        if resolved is None and head in {"he", "she"}:
            person = _resolve_pronoun([(para, clause.verb_start), *((p, len(p.text)) for p in reversed(article.paragraphs[-2:]))])
            resolved = person
        return _Attribution("pronoun", resolved.entity_id if resolved else None, surface, clause.verb)
    mention = _head_mention(para, clause)
    if mention is not None and mention.label == "NORP" and surface.split()[0].lower() == "the":
        # "said the American": a person named by a nationality, the person the story is about
        resolved = _nearest_subject({"PERSON"}, subjects_before, article, para.speaking)
        return _Attribution(how, resolved.entity_id if resolved else None, surface, clause.verb)
    if mention is None and head in ORGANISATION_NOUNS and surface.split()[0].lower() in {"the", "its"}:
        # "the company said": the organisation the writer's sentences last had as subject
        resolved = _nearest_subject({"ORG"}, subjects_before, article)
        return _Attribution(how, resolved.entity_id if resolved else None, surface, clause.verb)
    if mention is None and not surface[:1].isupper():
        return _Attribution(how, None, surface, clause.verb)
    return _Attribution(how, _named_speaker(surface if mention is None else mention.surface, mention, article.people),
                        surface if mention is None else mention.surface, clause.verb)


def _paragraph_quotes(
    article_id: str, paragraph_id: str, text: str, mentions: Sequence[_Mention], article: _ArticleSoFar,
    clauses: Sequence[_Clause] = (),
) -> list[dict[str, object]]:
    """The paragraph's quotes (`QUOTE_SCHEMA` rows), each with its speaker; `article` reads the paragraph.
    `clauses`: the paragraph's speech clauses and named subjects from the parse (none: direct quotes only,
    attributed from the words around them)."""
    spans = find_quote_spans(text)
    para = _Paragraph(text, mentions, spans)
    # Where "he"/"it" may point back to: the named subjects of the writer's sentences, not those of what
    # someone is reported to have said (`Parry admits Gerrard will have the final say. He told …`: Parry).
    contents = [(c.content_start, c.content_end) for c in clauses if c.verb is not None and c.content_start is not None]
    named_subjects = sorted(
        (m for m in (_head_mention(para, c) for c in clauses) if m is not None and m.label in SPEAKER_LABELS
         and para.outside(m.start) and not any(a <= m.start < b for a, b in contents)),
        key=lambda m: m.start)
    para.named_subjects = named_subjects if clauses else None
    para.speaking = frozenset(m.start for m in (_head_mention(para, c) for c in clauses if c.verb is not None) if m is not None)
    # Speech clauses outside quote marks ("I would say …" inside a quote is the speaker's own words), each
    # reported speech (indirect or mixed) or the attribution of the quote it holds.
    reported: list[tuple[_Clause, str]] = []
    attributing: list[_Clause] = []
    for clause in clauses:
        if clause.verb is None or clause.content_start is None or clause.content_end is None or not para.outside(clause.verb_start):
            continue
        own = (min(clause.verb_start, clause.subject_start or clause.verb_start),
               max(clause.verb_end, clause.subject_end or clause.verb_end))
        words, quoted = _unquoted_words(text, clause.content_start, clause.content_end, spans, own)
        if quoted and words <= MAX_UNQUOTED_WORDS:
            attributing.append(clause)
        elif words >= MIN_QUOTE_WORDS or quoted:
            reported.append((clause, "mixed" if quoted else "indirect"))
    items: list[tuple[int, str, object]] = [(c.content_start or 0, "clause", (c, k)) for c, k in reported]
    items += [(start, "quote", (index, span, start, end)) for index, span, start, end in _quotations(text, spans, 1)]
    rows: list[dict[str, object]] = []
    found: list[tuple[str, _Attribution]] = []
    for position, what, item in sorted(items, key=lambda entry: entry[0]):
        subjects_before = [m for m in named_subjects if m.end <= position]
        if what == "clause":
            clause, kind = item  # type: ignore[misc]
            start, end = clause.content_start, clause.content_end
            said = _clause_attribution(para, clause, start, article, subjects_before)
            partial = False
        else:
            index, span, start, end = item  # type: ignore[misc]
            if any(c.content_start <= start and end <= c.content_end for c, k in reported if k == "mixed"):
                continue  # quoted words of a mixed statement: its row holds them
            holder = next((c for c in attributing if c.content_start < end and start < c.content_end), None)
            said = _attribute(para, index, found, article)
            if said.attribution == "none" and para.named_subjects is not None:
                said = _introduced_by_colon(para, span) or said
            if holder is not None:
                from_clause = _clause_attribution(para, holder, start, article, subjects_before)
                if from_clause.speaker_entity_id is not None or said.speaker_entity_id is None:
                    said = from_clause
            quoted = text[start:end]
            partial = bool(quoted[:1].islower()) or (span.open_mark > 0 and text[span.open_mark - 1].isalpha())
            short = len(quoted.split()) < MIN_QUOTE_WORDS
            kind = "fragment" if short or (partial and said.attribution == "none") else "direct"
        quote_id = f"{paragraph_id}-q{start}"
        rows.append({
            "quote_id": quote_id,
            "article_id": article_id,
            "paragraph_id": paragraph_id,
            "start_char": start,
            "end_char": end,
            "text": text[start:end],
            "is_partial": partial,
            "kind": kind,
            "speaker_entity_id": said.speaker_entity_id,
            "speaker_surface": said.speaker_surface,
            "verb": said.verb,
            "attribution": said.attribution,
            "continues_quote_id": said.continues_quote_id,
        })
        if kind != "fragment":
            found.append((quote_id, said))
    _run_on_takes_the_next_speaker(text, rows)
    article.read(para, found, named_subjects)
    return rows


def _introduced_by_colon(para: _Paragraph, span: _Span) -> _Attribution | None:
    """`Mr Dean is confident though: "I think …"`: a quote after a colon is said by the named subject of
    the words before the colon (no verb of saying needed)."""
    sentence_start = para.sentence_start(span.open_mark)
    if not para.text[sentence_start: span.open_mark].rstrip().endswith(":"):
        return None
    named = [m for m in para.named_subjects or () if sentence_start <= m.start and m.end <= span.open_mark]
    if not named:
        return None
    return _Attribution("before", named[-1].entity_id, named[-1].surface, None)


def _run_on_takes_the_next_speaker(text: str, rows: list[dict[str, object]]) -> None:
    """`"A. "B," explains Mr Dean`: a quote reopened with no attribution of its own and no words between
    it and the next one is the same speaker's (the attribution comes after the last part)."""
    for row, after in zip(rows[::-1][1:], rows[::-1]):
        if (row["kind"] == "direct" and row["attribution"] == "none" and after["kind"] == "direct"
                and after["speaker_surface"] is not None
                and not text[int(row["end_char"]): int(after["start_char"])].strip(" \"“”,")):
            row.update(attribution="after", speaker_entity_id=after["speaker_entity_id"],
                       speaker_surface=after["speaker_surface"], verb=after["verb"])


def extract_quotes(
    paragraphs: pl.DataFrame, mentions: pl.DataFrame, entities: pl.DataFrame, clauses: pl.DataFrame | None = None
) -> pl.DataFrame:
    """Every quotation in the paragraphs, direct or reported, with its speaker (a canonical entity where
    one is named).

    `mentions`: resolved entity mentions (`paragraph_id`, `start_char`, `end_char`, `surface`,
    `entity_id`); `entities`: at least the entities those mentions point to (`entity_id`, `label`);
    `clauses`: the paragraphs' speech clauses (speech.CLAUSE_SCHEMA; None: direct quotes only).
    """
    labels = dict(zip(entities["entity_id"].to_list(), entities["label"].to_list()))
    by_paragraph: dict[str, list[_Mention]] = {}
    for row in mentions.sort("start_char").iter_rows(named=True):
        by_paragraph.setdefault(row["paragraph_id"], []).append(
            _Mention(row["start_char"], row["end_char"], row["surface"], row["entity_id"], labels.get(row["entity_id"], row["label"]))
        )
    clauses_by_paragraph: dict[str, list[_Clause]] = {}
    if clauses is not None and clauses.height:
        fields = [name for name in _Clause.__dataclass_fields__]
        for paragraph_id, *values in clauses.select("paragraph_id", *fields).iter_rows():
            clauses_by_paragraph.setdefault(paragraph_id, []).append(_Clause(*values))
    rows: list[dict[str, object]] = []
    ordered = paragraphs.select("article_id", "paragraph_id", "text", "position").sort("article_id", "position")
    # Grouped in Python: a Polars group per article costs milliseconds, more than finding its quotes.
    for article_id, group in groupby(ordered.iter_rows(), key=itemgetter(0)):
        article_paragraphs = [(paragraph_id, text) for _, paragraph_id, text, _ in group]
        article = _ArticleSoFar(_people_by_name([paragraph_id for paragraph_id, _ in article_paragraphs], by_paragraph))
        for paragraph_id, text in article_paragraphs:
            rows.extend(_paragraph_quotes(article_id, paragraph_id, text, by_paragraph.get(paragraph_id, []), article,
                                          clauses_by_paragraph.get(paragraph_id, ())))
    return pl.DataFrame(rows, schema=QUOTE_SCHEMA)


def link_quotes(
    quotes: pl.DataFrame, quote_vectors: np.ndarray, existing: pl.DataFrame | Iterable[pl.DataFrame] = ()
) -> pl.DataFrame:
    """Pairs of quotes from different articles that report the same statement.

    `quotes` (with `quote_vectors`, unit-length, one row each) are this batch's; `existing` are quotes
    already stored, outside the batch's articles, with their `embedding` (a frame, or frames read a
    block at a time). Linked when the words are the same (token-set ratio, so a longer quote
    containing a shorter one counts), when the meanings are close (cosine), or, for quotes given to
    the same speaker, when they are fairly close.
    """
    if quotes.height == 0:
        return pl.DataFrame(schema=QUOTE_LINK_SCHEMA)
    pairs: dict[tuple[str, str], dict[str, object]] = {}
    _link_to_pool(quotes, quote_vectors, quotes, quote_vectors, pairs)
    for block in frame_blocks(existing):
        block = block.filter(pl.col("embedding").is_not_null())
        if block.height:
            _link_to_pool(quotes, quote_vectors, block, embedding_matrix(block["embedding"]), pairs)
    return pl.DataFrame(list(pairs.values()), schema=QUOTE_LINK_SCHEMA)


def _link_to_pool(
    quotes: pl.DataFrame, vectors: np.ndarray, pool: pl.DataFrame, pool_vectors: np.ndarray,
    pairs: dict[tuple[str, str], dict[str, object]],
) -> None:
    """Add to `pairs` the links between `quotes` and the quotes of `pool` (which may be `quotes` itself)."""
    within = pool is quotes
    ids, articles = quotes["quote_id"].to_list(), quotes["article_id"].to_list()
    texts, speakers = quotes["text"].to_list(), quotes["speaker_entity_id"].to_list()
    pool_ids, pool_articles = pool["quote_id"].to_list(), pool["article_id"].to_list()
    pool_texts, pool_speakers = pool["text"].to_list(), pool["speaker_entity_id"].to_list()
    for i, j, cosine in _candidate_pairs(vectors, pool_vectors):
        if articles[i] == pool_articles[j] or (within and j <= i):
            continue
        same_speaker = speakers[i] is not None and speakers[i] == pool_speakers[j]
        words = fuzz.token_set_ratio(texts[i], pool_texts[j], processor=_fold) / 100
        if min(len(texts[i].split()), len(pool_texts[j].split())) < 5:
            # Token sets of a few words match too easily: compare the short quotes whole.
            words = min(words, fuzz.ratio(texts[i], pool_texts[j], processor=_fold) / 100)
        if not is_same_statement(cosine, words, same_speaker):
            continue
        a, b = sorted([(ids[i], articles[i]), (pool_ids[j], pool_articles[j])])
        pairs[(a[0], b[0])] = {
            "quote_id_a": a[0], "quote_id_b": b[0], "article_id_a": a[1], "article_id_b": b[1],
            "cosine": cosine, "word_similarity": words, "same_speaker": same_speaker,
        }


def _candidate_pairs(
    vectors: np.ndarray, pool_vectors: np.ndarray, min_cosine: float = 0.4, block: int = 20_000
) -> list[tuple[int, int, float]]:
    """(row, pool row, cosine) for every pair with a cosine of at least `min_cosine`: quotes further apart in
    meaning are not worth comparing word by word. The pool is scored a block at a time, so memory
    stays bounded as the warehouse's quotes grow."""
    found: list[tuple[int, int, float]] = []
    for offset in range(0, pool_vectors.shape[0], block):
        cosines = vectors @ pool_vectors[offset:offset + block].T
        rows, columns = np.nonzero(cosines >= min_cosine)
        found.extend((int(i), int(j) + offset, float(cosines[i, j])) for i, j in zip(rows, columns))
    return found


def _fold(text: str) -> str:
    """Compare words, not typography: curly apostrophes, dashes and case differ between outlets."""
    return re.sub(r"[^\w\s']", " ", text.replace("’", "'")).casefold()


def embed_and_link(
    found: pl.DataFrame,
    vectors: pl.DataFrame,
    existing: pl.DataFrame | Iterable[pl.DataFrame],
    model: str,
    dimension: int,
    device: str = "cpu",
    batch_size: int = 256,
    encode: Encoder = encode_texts,
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Give this batch's quotes their embeddings and link them to each other and to the stored ones.

    `vectors` (`text_sha256`, `embedding`) are the embeddings the paragraph pass already made for the
    quote texts (see `quote_texts`); a quote missing from it is encoded here, by `encode`. `existing`: stored quotes
    (`quote_id`, `article_id`, `text`, `speaker_entity_id`, `embedding`). Returns (quotes with
    `embedding`, quote links)."""
    array_type = pl.Array(pl.Float32, dimension)
    # Fragments are no statements: not embedded, never linked.
    fragments = found.filter(pl.col("kind") == "fragment").with_columns(embedding=pl.lit(None, dtype=array_type))
    found = found.filter(pl.col("kind") != "fragment")
    if found.height == 0:
        return fragments, pl.DataFrame(schema=QUOTE_LINK_SCHEMA)
    hashed = found.with_columns(text_sha256=pl.col("text").map_elements(text_hash, return_dtype=pl.String))
    known = embed_texts(hashed, vectors, model, dimension, device, batch_size, encode)
    embedded = hashed.join(known, on="text_sha256", how="left", maintain_order="left").drop("text_sha256")
    links = link_quotes(embedded, embedding_matrix(embedded["embedding"]), existing)
    return pl.concat([embedded, fragments.cast(embedded.schema)]).sort("quote_id"), links

