"""The cleaner's data: the result of cleaning one article, the lines it is made of, and the small
text measures every rule shares (word counts, sentence ends, folding for comparison)."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date

from rapidfuzz import fuzz


@dataclass
class RemovedSpan:
    start: int
    end: int
    text: str
    reason: str  # the rule's name
    check: str | None = None  # which of the rule's checks removed it (for benchmarks; not stored)


@dataclass
class CleanedArticle:
    """What the cleaner keeps, what it removes, and the metadata found in the remnants."""

    paragraphs: list[str] = field(default_factory=list)
    paragraph_headings: list[str | None] = field(default_factory=list)  # the section heading before each paragraph
    # "text", or "table"/"list" for a run of short rows kept as one block (its rows joined by a line break)
    paragraph_kinds: list[str] = field(default_factory=list)
    removed: list[RemovedSpan] = field(default_factory=list)
    title: str | None = None
    subtitle: str | None = None
    authors: list[str] = field(default_factory=list)
    contributors: list[str] = field(default_factory=list)
    published: date | None = None
    updated_note: str | None = None
    url: str | None = None
    publisher: str | None = None
    dateline: str | None = None
    wire_source: str | None = None
    section_headings: list[str] = field(default_factory=list)
    updated: date | None = None  # the last-updated date, when a remnant gives one
    language: str | None = None  # ISO 639-1 code of the prose (py3langid), None when there is too little to tell

    @property
    def body(self) -> str:
        """Paragraphs separated by a blank line; a section heading sits on the line above its paragraph."""
        headings = self.paragraph_headings or [None] * len(self.paragraphs)
        return "\n\n".join(f"{h}\n{p}" if h else p for h, p in zip(headings, self.paragraphs))


@dataclass
class Line:
    start: int
    end: int
    text: str  # the raw line, without its newline
    reason: str | None = None  # set when the whole line is removed: the rule's name
    check: str | None = None  # the check that removed it
    heading: bool = False  # a section heading: kept in the body, attached to the next paragraph
    cuts: list[tuple[int, int, str, str]] = field(default_factory=list)  # (start, end, rule, check) in line coordinates

    @property
    def stripped(self) -> str:
        return normalise_space(self.text)

    @property
    def blank(self) -> bool:
        return not self.stripped


def split_lines(text: str) -> list[Line]:
    lines: list[Line] = []
    position = 0
    for raw_line in text.split("\n"):
        lines.append(Line(position, position + len(raw_line), raw_line))
        position += len(raw_line) + 1
    return lines


TERMINAL_PUNCTUATION = tuple('.!?…"”’\')]:;')


def normalise_space(text: str) -> str:
    """Collapse runs of whitespace (including no-break spaces) to one space and strip the ends."""
    return " ".join(text.split())


def word_count(text: str) -> int:
    return len(text.split())


def ends_sentence(text: str) -> bool:
    return text.rstrip().endswith(TERMINAL_PUNCTUATION)


def ends_statement(text: str) -> bool:
    return text.rstrip().endswith(tuple('.…"”’\')]:;'))


def is_all_caps(text: str) -> bool:
    """Written in capitals: 10+ letters, at most 5% of them lower-case (an acronym's plural: "AMAs")."""
    letters = [ch for ch in text if ch.isalpha()]
    return len(letters) >= 10 and sum(ch.islower() for ch in letters) <= 0.05 * len(letters)


_QUOTES_AND_PUNCTUATION = "\"'“”‘’():,?!"


def is_headline(text: str) -> bool:
    """Headline case: 3-16 words, no closing full stop, nearly every later word of 4+ letters capitalised."""
    words = text.split()
    later = [w.strip(_QUOTES_AND_PUNCTUATION) for w in words[1:]]
    long_words = [w for w in later if len(w) >= 4]
    return 3 <= len(words) <= 16 and not text.endswith(".") and len(long_words) >= 2 \
        and sum(w[0].isupper() or w[0].isdigit() for w in long_words) >= 0.8 * len(long_words)


def last_sentence(text: str) -> str:
    return re.split(r"(?<=[.!?])\s+(?=\S)", text.strip())[-1]


def fold(text: str) -> str:
    return re.sub(r"[\W_]+", " ", text.casefold()).strip()


def looks_like_body(line: str) -> bool:
    """A line that reads like article text: long, or a sentence of a dozen words."""
    words = word_count(line)
    return words >= 40 or (words >= 12 and ends_sentence(line))


def kept_text(line: Line) -> str:
    text = line.text
    for start, end, *_ in sorted(line.cuts, reverse=True):
        text = text[:start] + " " + text[end:]
    return normalise_space(text)


def restates_title(line: str, title: str) -> bool:
    """A head line that repeats the title in other words: a longer or shorter form, or "Title | Site"."""
    line_fold, title_fold = fold(line), fold(title)
    if not line_fold or not title_fold or ends_statement(line):  # a sentence of the story, not a headline
        return False
    if line_fold in title_fold and len(line_fold) >= 0.5 * len(title_fold):
        return True
    if title_fold in line_fold and len(title_fold) >= 0.5 * len(line_fold):
        return True
    shorter, longer = sorted((len(line_fold), len(title_fold)))
    return shorter >= 0.6 * longer and fuzz.token_sort_ratio(line_fold, title_fold) >= 80
