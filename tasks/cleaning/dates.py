"""Dates printed as page furniture: publication date lines and update notes. The date is kept as
metadata; a sentence that mentions a date is never a date line."""

from __future__ import annotations

import re

from tasks.cleaning.metadata import DATE_HINT, parse_date
from tasks.cleaning.rule import LineContext, Rule
from tasks.cleaning.text import word_count

FAMILY = "dates"

PUBLISHED_LABEL = re.compile(r"^(?:first |last )?(?:published|posted|updated|publicado|date)(?: on| at)?\s*[:\-]?\s*", re.I)
UPDATE_NOTE = re.compile(
    r"^[—–\-*\s]*(?:this (?:story|article|post|report) (?:was|has been) (?:updated|corrected)|"
    r"updated|last updated|correction|update)\b\s*:?\s*(?P<note>.*)$",
    re.I,
)

DATE_LINE = Rule("date_line", FAMILY, "A short line that is a publication or update date (labelled, or mostly the "
                 "date itself, or a date line before the story); the date is kept as metadata.")
UPDATE_NOTE_RULE = Rule("update_note", FAMILY, "'This story was updated at …' / 'Correction: …' notes (up to 25 "
                        "words, not a sentence of the story); the note is kept as metadata.")


@DATE_LINE.check("line", removes=("Published: March 14, 2014", "Updated on 2014-03-15"),
                 keeps=("Published on March 14, 2014, the report said the harbour needed dredging every year.",))
def labelled_date(text: str, ctx: LineContext) -> bool:
    """Up to 15 words: 'Published/Posted/Updated/Date:' and a full date."""
    if word_count(text) > 15 or not (label := PUBLISHED_LABEL.match(text)) or not (published := parse_date(text)):
        return False
    date = DATE_HINT.search(text)
    if date and re.match(r",\s+[a-z]", text[date.end():]):  # "Published on <date>, the report said ...": a sentence
        return False
    if "updated" in label.group(0).casefold():
        ctx.article.updated = ctx.article.updated or published
    else:
        ctx.article.published = ctx.article.published or published
    return True


@DATE_LINE.check("line", removes=("March 14, 2014", "14 March 2014 | 10:32"),
                 keeps=("On March 14, 2014 the board met.",), where="body")
def short_date(text: str, ctx: LineContext) -> bool:
    """Up to 8 words, at least half of them (by length) a full date."""
    if word_count(text) > 8 or not (match := DATE_HINT.search(text)) \
            or len(match.group(0)) < 0.5 * len(text.strip(" ,.|-")) or not (published := parse_date(text)):
        return False
    ctx.article.published = ctx.article.published or published
    return True


@DATE_LINE.check("head", removes=("04/03/2030 - Publicado por: Ana Souza - Categoria: Cidade", "Friday 14 March 2014 10.32 GMT"),
                 keeps=("March 14, 2014. The board met. It voted to dredge.",), where="head")
def head_date(text: str, ctx: LineContext) -> bool:
    """Before the story: a short line (12 words, or 20 if it starts with the date) with a full date, not
    a sentence."""
    words = word_count(text)
    starts_with_date = bool((match := DATE_HINT.search(text)) and match.start() == 0)
    if (words <= 12 or (starts_with_date and words <= 20)) and (published := parse_date(text)):
        if not re.search(r"[.!?]\s+\S", text):  # a date line, not a sentence that mentions a date
            ctx.article.published = ctx.article.published or published
            return True
    return False


def _is_sentence_of_story(line: str) -> bool:
    """An update-note lookalike that is really a sentence of the story ("Updated figures show ...")."""
    return word_count(line) > 8 and not re.search(r"\d", line)


@UPDATE_NOTE_RULE.check("line", removes=("— This story was updated at 3:26 p.m.", "Correction: An earlier version misspelled the chairman's name."),
                        keeps=("Updated figures show the channel is silting up faster than the board expected.",))
def update_note(text: str, ctx: LineContext) -> bool:
    """Up to 25 words opening with 'Updated', 'Correction' or 'This story was updated'."""
    if word_count(text) > 25 or not (match := UPDATE_NOTE.match(text)) or _is_sentence_of_story(text):
        return False
    note = re.sub(r"^(?:at|on)\s+", "", match.group("note").strip())
    ctx.article.updated_note = ctx.article.updated_note or (note or None)
    ctx.article.updated = ctx.article.updated or parse_date(note)
    return True
