"""Run the rulebook over one article (or a batch) and build the result: kept paragraphs with their
section headings, every removed span with its rule's name, and the metadata the remnants carried."""

from __future__ import annotations

import re
from collections import defaultdict
from pathlib import PurePosixPath

import polars as pl

from tasks.cleaning import rulebook
from tasks.cleaning.batch import recurring_lines
from tasks.cleaning.metadata import AGENCY_ALTERNATION, MARKDOWN_LINK, normalise_agency, publisher_from_url, rank_languages
from tasks.cleaning.markup import MARKDOWN_HEADING
from tasks.cleaning.related import opens_block
from tasks.cleaning.rule import Check, LineContext
from tasks.cleaning.tables import PROSE_RUN, is_figure_row, is_row_label
from tasks.cleaning.text import (
    CleanedArticle,
    Line,
    RemovedSpan,
    ends_sentence,
    kept_text,
    looks_like_body,
    normalise_space,
    split_lines,
    word_count,
)
from tasks.cleaning.urls import restore_inner_urls

DATELINE = re.compile(
    rf"^(?P<place>[A-Z][A-Z .,'’-]{{1,40}}?[A-Z.])\s*(?:\((?i:(?P<agency>{AGENCY_ALTERNATION}))\))?\s*[—–-]{{1,2}}\s+(?=\S)"
    rf"|^(?P<place2>[A-Z][a-z]+(?:[ -][A-Z][a-z]+){{0,2}})\s*(?:\((?i:(?P<agency2>{AGENCY_ALTERNATION}))\))?\s*(?::|[—–]|--)\s+(?=[A-Z“\"])"
)


def _active(checks: tuple[Check, ...], disabled: frozenset[str]) -> tuple[Check, ...]:
    return tuple(check for check in checks if check.rule.name not in disabled)


def _first_match(checks: tuple[Check, ...], text: str, ctx: LineContext) -> Check | None:
    return next((check for check in checks if check(text, ctx)), None)


# A first line shorter than this, left in the body, is a headline, whatever dash follows its first word.
HEADLINE_MAX_WORDS = 12


def _record_dateline(line: Line, article: CleanedArticle) -> None:
    """The first paragraph's dateline ("MIAMI (Reuters) —") as metadata; it stays in the text."""
    offset = len(line.text) - len(line.text.lstrip())
    match = DATELINE.match(line.text[offset:])
    if match:
        place = (match.group("place") or match.group("place2") or "").strip(" ,")
        agency = match.group("agency") or match.group("agency2")
        if place and word_count(place) <= 4 and article.dateline is None:  # not over a dateline line's
            article.dateline = place
            if agency:
                article.wire_source = article.wire_source or normalise_agency(agency)


def _mark_section_headings(lines: list[Line], article: CleanedArticle) -> None:
    """A short line without closing punctuation between two paragraphs of text is a section heading."""
    kept = [line for line in lines if not line.blank and not line.reason]
    for before, line, after in zip(kept, kept[1:], kept[2:]):
        text = kept_text(line)
        unquoted = text.strip("'‘’\"“”")
        if (
            word_count(text) <= 8
            and unquoted[:1].isupper()
            and not ends_sentence(unquoted)
            and not unquoted.endswith((",", "—", "-"))
            and ends_sentence(kept_text(before))
            and looks_like_body(kept_text(after))
        ):
            line.heading = True
            article.section_headings.append(text)


def _paragraph_mode(blocks: list[list[Line]]) -> str:
    """'blank' when blank lines separate paragraphs (lines inside a block are one paragraph),
    'line' when every line is its own paragraph (the extractor put one paragraph per line)."""
    lines = [line for block in blocks for line in block]
    if not lines:
        return "blank"
    in_multi = sum(len(block) for block in blocks if len(block) > 1)
    if in_multi <= len(lines) / 2:
        return "blank"
    # Hard-wrapped text: many lines of similar, moderate length inside blocks.
    lengths = [len(line.stripped) for line in lines]
    wrapped = sum(1 for n in lengths if 40 <= n <= 100) / len(lengths)
    return "blank" if wrapped >= 0.8 else "line"


def _holds_table(texts: list[str]) -> bool:
    """A block of lines that is a table (rows of figures, written without blank lines between them): its lines
    stay rows, not one paragraph of glued results."""
    return sum(map(is_figure_row, texts)) >= BLOCK_MIN_FIGURE_ROWS and sum(map(is_figure_row, texts)) >= 0.5 * len(texts)


def _attach_headings(items: list[tuple[bool, str]]) -> tuple[list[str], list[str | None]]:
    """Attach each section heading to the paragraph after it, and rejoin a paragraph split
    mid-sentence (by a removed caption, an ad, or a stray blank line) — never across a heading."""
    paragraphs: list[str] = []
    headings: list[str | None] = []
    pending: str | None = None
    for is_heading, text in items:
        if is_heading:
            if pending:  # two headings in a row: the first stands as a paragraph of its own
                paragraphs.append(pending)
                headings.append(None)
            pending = text
            continue
        if paragraphs and pending is None and not ends_sentence(paragraphs[-1]) and text[:1].islower():
            paragraphs[-1] = f"{paragraphs[-1]} {text}"
            continue
        paragraphs.append(text)
        headings.append(pending)
        pending = None
    if pending:
        paragraphs.append(pending)
        headings.append(None)
    return paragraphs, headings


def _remove(line: Line, check: Check) -> None:
    # The whole line goes: cuts made inside it earlier would be recorded twice (overlapping spans), and a
    # line marked as a heading earlier would still open a section of the body.
    line.reason, line.check = check.rule.name, check.name
    line.cuts = []
    line.heading = False


def clean_text(text: str, recurring: frozenset[str] = frozenset(), disabled: frozenset[str] = frozenset()) -> CleanedArticle:
    """Clean one decoded article. Pure: the same text always gives the same result.

    `recurring`: normalised lines that recur across the batch (see `recurring_lines`); such a line is
    site furniture even when no rule names it. `disabled`: names of rules not to run
    (`rulebook.resolve_disabled`)."""
    article = CleanedArticle()
    lines = split_lines(text)
    content = [line for line in lines if not line.blank]
    if not content:
        return article
    title_checks, heading_checks, line_checks, head_checks, inline_checks, block_checks = (
        _active(checks, disabled) for checks in (rulebook.TITLE_CHECKS, rulebook.HEADING_CHECKS, rulebook.LINE_CHECKS,
                                                 rulebook.HEAD_CHECKS, rulebook.INLINE_CHECKS, rulebook.BLOCK_CHECKS)
    )
    ctx = LineContext(article, lines, recurring=recurring)

    # The title: the first non-blank line, by the extractors' convention.
    ctx.index = lines.index(content[0])
    if check := _first_match(title_checks, content[0].stripped, ctx):
        _remove(content[0], check)

    # body_after[i]: some line after line i reads like article text (so line i is not in the tail).
    body_after = [False] * len(lines)
    for index in range(len(lines) - 2, -1, -1):
        body_after[index] = body_after[index + 1] or looks_like_body(lines[index + 1].stripped)

    previous_reason: str | None = None
    for index, line in enumerate(lines):
        if line.blank or line.reason:
            continue
        ctx.index = index
        stripped = line.stripped
        # Markdown headings after the title are section headings; the '#' marker is markup.
        if heading := _first_match(heading_checks, stripped, ctx):
            line.heading = True
            # Measured on the raw line: its inner whitespace may differ from `stripped` ("##  A  B").
            marker = re.match(r"\s*#{1,6}\s+", line.text)
            line.cuts.append((0, marker.end() if marker else 0, heading.rule.name, heading.name))
            ctx.previous_kept = line
            continue
        line_text = normalise_space(MARKDOWN_LINK.sub(r"\1", stripped)) if "](" in stripped else stripped
        ctx.in_tail = not body_after[index] or previous_reason == "url_footer"
        check = _first_match(line_checks, line_text, ctx)
        reason = check.rule.name if check else None
        if reason in ("related_links", "navigation") and (opened := opens_block(line_text)):
            # A bare header ("You may also like…") opens a block; "Read more: <headline>" is one link.
            ctx.in_related_block = opened
        previous_reason = reason
        if check is None and ctx.in_head:
            check = _first_match(head_checks, line_text, ctx)
        if check:
            _remove(line, check)
            continue
        if ctx.in_head and looks_like_body(stripped):
            ctx.in_head = False
        for inline in inline_checks:
            line.cuts.extend((start, end, inline.rule.name, inline.name) for start, end in inline(line, ctx))
        # The dateline stays in the text (it opens the story's first sentence). A short first line of the input
        # is a headline the title check left ("PRESS DIGEST - Indonesian newspapers - August 30 ."), not a dateline.
        if ctx.previous_kept is None and not (line is content[0] and word_count(stripped) < HEADLINE_MAX_WORDS):
            _record_dateline(line, article)
        if not kept_text(line):
            line.reason, line.check = (line.cuts[0][2], line.cuts[0][3]) if line.cuts else ("empty", None)
            line.cuts = []
            continue
        ctx.previous_kept = line

    for block in block_checks:
        for line in block(lines, ctx):
            _remove(line, block)
    if "url_footer" not in disabled:
        restore_inner_urls(lines, article)
    # The markdown headings that no block check removed, then the headings told by their place.
    article.section_headings = [MARKDOWN_HEADING.match(line.stripped).group("text")  # type: ignore[union-attr]
                                for line in lines if line.heading]
    _mark_section_headings(lines, article)
    _build_paragraphs(lines, article)

    for line in lines:
        if line.reason and not line.blank:
            article.removed.append(RemovedSpan(line.start, line.end, line.text, line.reason, line.check))
        for start, end, reason, check_name in line.cuts:
            article.removed.append(RemovedSpan(line.start + start, line.start + end, line.text[start:end], reason, check_name))
    article.removed.sort(key=lambda span: span.start)
    if article.url:
        article.publisher = publisher_from_url(article.url)
    _detect_language(article)
    return article


# An article with fewer words of prose than this is read whole, and what the detector says of it counts
# only from this probability on: tables of names and figures read as any language, but a short text in a
# language that capitalises its nouns (German) has few runs of lower-case words and is still told.
LANGUAGE_MIN_PROSE_WORDS = 5
LANGUAGE_MIN_CONFIDENCE = 0.5


def _detect_language(article: CleanedArticle) -> None:
    """The language of the article's prose: its text paragraphs with a run of lower-case words. Tables and
    lists of names and figures ("Hajduk 2 Proleter ( Z ) 0", "Donovan Bailey ( Canada ) , Frankie") read as
    any language to a detector: an article with too little prose is read whole, and has no language (None)
    unless the detector is sure of it. The article alone decides: what shares its batch or folder must not
    (the same file gives the same article however the files are batched or sharded)."""
    prose = "\n\n".join(text for text, kind in zip(article.paragraphs, article.paragraph_kinds)
                         if kind == "text" and PROSE_RUN.search(text))
    if word_count(prose) >= LANGUAGE_MIN_PROSE_WORDS:
        ranked = rank_languages(prose)
        article.language = ranked[0][0] if ranked else None
    else:
        ranked = rank_languages(article.body)
        article.language = ranked[0][0] if ranked and ranked[0][1] >= LANGUAGE_MIN_CONFIDENCE else None


def _build_paragraphs(lines: list[Line], article: CleanedArticle) -> None:
    """Paragraphs: blocks of kept lines; a removed line or a heading also ends a block."""
    blocks: list[list[Line]] = [[]]
    for line in lines:
        if line.blank or line.reason or line.heading:
            if blocks[-1]:
                blocks.append([])
            if line.heading:
                blocks[-1].append(line)
                blocks.append([])
            continue
        blocks[-1].append(line)
    blocks = [block for block in blocks if block]
    mode = _paragraph_mode([block for block in blocks if not block[0].heading])
    items: list[tuple[bool, str]] = []  # (is_heading, text)
    for block in blocks:
        texts = [kept_text(line) for line in block]
        if block[0].heading:
            items.append((True, texts[0]))
        elif mode == "blank" and not _holds_table(texts):
            items.append((False, normalise_space(" ".join(texts))))
        else:
            items.extend((False, text) for text in texts)
    article.paragraphs, article.paragraph_headings = _attach_headings([item for item in items if item[1]])
    article.paragraph_kinds = ["text"] * len(article.paragraphs)
    _group_rows(article)


# A table or a list flattened by the extractor into one short line per cell or item: this many rows or more,
# each of at most ROW_MAX_WORDS words and none a sentence of the story, is kept as one block of kind "table"
# (or "list" when every row carries a bullet), not as dozens of paragraphs of one or two words.
BLOCK_MIN_ROWS = 8
ROW_MAX_WORDS = 8
# Rows of figures (tasks/cleaning/tables.py) say "table" sooner: two of them, with the short labels between
# them ("Division one", "W L PCT GB"), are a table of results or standings.
BLOCK_MIN_FIGURE_ROWS = 2
_ROW_BULLET = re.compile(r"^[-*•·▪–]\s")


def _is_row(paragraph: str, heading: str | None) -> bool:
    return heading is None and "\n" not in paragraph and (is_figure_row(paragraph) or (
        word_count(paragraph) <= ROW_MAX_WORDS
        and not (word_count(paragraph) >= 4 and paragraph.rstrip().endswith((".", "!", "?")))))


def _run_of_rows(texts: list[str], headings: list[str | None], index: int) -> int:
    """Where the run of rows starting at `index` ends: short rows, rows of figures, and above a row of figures
    the labels, headers and wrapped halves of rows that `is_row_label` allows ("W D L G / F G / A P")."""
    end = index
    while end < len(texts):
        if _is_row(texts[end], headings[end]):
            end += 1
        elif headings[end] is None and "\n" not in texts[end] and is_row_label(texts[end]) \
                and end + 1 < len(texts) and headings[end + 1] is None and is_figure_row(texts[end + 1]):
            end += 1
        else:
            break
    return end


def _group_rows(article: CleanedArticle) -> None:
    """Runs of BLOCK_MIN_ROWS+ short rows, or of rows holding BLOCK_MIN_FIGURE_ROWS+ rows of figures, become
    one paragraph each, its rows joined by a line break; so does a row of figures alone that is no sentence
    ("Wigan 42 Bradford Bulls 36" under "Result of the semifinal :")."""
    paragraphs, headings, kinds = [], [], []
    index = 0
    texts = article.paragraphs
    while index < len(texts):
        end = _run_of_rows(texts, article.paragraph_headings, index)
        rows = texts[index:end]
        lone_row = len(rows) == 1 and is_figure_row(rows[0]) and not ends_sentence(rows[0])
        if len(rows) >= BLOCK_MIN_ROWS or sum(map(is_figure_row, rows)) >= BLOCK_MIN_FIGURE_ROWS or lone_row:
            paragraphs.append("\n".join(rows))
            headings.append(None)
            kinds.append("list" if all(_ROW_BULLET.match(row) for row in rows) else "table")
            index = end
            continue
        paragraphs.append(texts[index])
        headings.append(article.paragraph_headings[index])
        kinds.append("text")
        index += 1
    article.paragraphs, article.paragraph_headings, article.paragraph_kinds = paragraphs, headings, kinds


def removed_in_place(text: str, article: CleanedArticle) -> str:
    """The input with every removed span marked where it was: `[-reason: text-]`. Everything outside
    the marks is what the cleaner kept, so the view is the whole input, nothing hidden or reordered."""
    pieces: list[str] = []
    position = 0
    for span in article.removed:
        pieces.append(text[position:span.start])
        pieces.append(f"[-{span.reason}: {span.text}-]")
        position = span.end
    pieces.append(text[position:])
    return "".join(pieces)


# ---------------------------------------------------------------------------------------------
# The pipeline step
# ---------------------------------------------------------------------------------------------

CLEANED_SCHEMA = {
    "article_id": pl.String,
    "title": pl.String,
    "subtitle": pl.String,
    "authors": pl.List(pl.String),
    "contributors": pl.List(pl.String),
    "published": pl.Date,
    "updated_note": pl.String,
    "url": pl.String,
    "publisher": pl.String,
    "dateline": pl.String,
    "wire_source": pl.String,
    "section_headings": pl.List(pl.String),
    "updated": pl.Date,
    "language": pl.String,
    "body": pl.String,
    "n_words": pl.Int64,
    "n_paragraphs": pl.Int64,
    # Each paragraph's kind, in body order ("text", "table", "list"): how `tasks.paragraphs` reads the body.
    "paragraph_kinds": pl.List(pl.String),
}
REMOVED_SCHEMA = {
    "article_id": pl.String,
    "start_char": pl.Int64,
    "end_char": pl.Int64,
    "text": pl.String,
    "reason": pl.String,
}


def clean_texts(texts: dict[str, str], disabled: frozenset[str] = frozenset()) -> dict[str, CleanedArticle]:
    """Clean a batch of decoded texts keyed by path: lines recurring across the documents of one folder
    count as furniture (see `recurring_lines`)."""
    folders: dict[str, list[str]] = defaultdict(list)
    for name in texts:
        folders[str(PurePosixPath(name).parent)].append(name)
    cleaned: dict[str, CleanedArticle] = {}
    for names in folders.values():
        recurring = recurring_lines(texts[name] for name in names)
        for name in names:
            cleaned[name] = clean_text(texts[name], recurring, disabled)
    return {name: cleaned[name] for name in texts}


def clean_articles(documents: pl.DataFrame, disabled: frozenset[str] = frozenset()) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Clean a batch of decoded documents (`article_id`, `text`), without the rules named in `disabled`.

    Returns the cleaned articles with their metadata, and every removed span with its reason.
    """
    article_rows: list[dict[str, object]] = []
    removed_rows: list[dict[str, object]] = []
    keys = documents["source_path"] if "source_path" in documents.columns else documents["article_id"]
    batch = clean_texts(dict(zip(keys.to_list(), documents["text"].to_list())), disabled)
    for key, article_id in zip(keys.to_list(), documents["article_id"].to_list()):
        cleaned = batch[key]
        body = cleaned.body
        article_rows.append(
            {
                "article_id": article_id,
                "title": cleaned.title,
                "subtitle": cleaned.subtitle,
                "authors": cleaned.authors,
                "contributors": cleaned.contributors,
                "published": cleaned.published,
                "updated_note": cleaned.updated_note,
                "url": cleaned.url,
                "publisher": cleaned.publisher,
                "dateline": cleaned.dateline,
                "wire_source": cleaned.wire_source,
                "section_headings": cleaned.section_headings,
                "updated": cleaned.updated,
                "language": cleaned.language,
                "body": body,
                "n_words": len(body.split()),
                "n_paragraphs": len(cleaned.paragraphs),
                "paragraph_kinds": cleaned.paragraph_kinds,
            }
        )
        removed_rows.extend(
            {"article_id": article_id, "start_char": s.start, "end_char": s.end, "text": s.text, "reason": s.reason}
            for s in cleaned.removed
        )
    return (
        pl.DataFrame(article_rows, schema=CLEANED_SCHEMA),
        pl.DataFrame(removed_rows, schema=REMOVED_SCHEMA),
    )
