"""Wire and rights furniture: source tags, AP story slugs, Reuters' standards footer and copyright
lines. Each has a fixed form that wire copy and publishers use, not a sentence of the story.

Also the head of wire copy as agencies send it: a headline, a byline alone on its line, then a dateline
line ("LONDON 1996-08-30", "MILWAUKEE, Wisconsin 1996-08-29") above the text. The byline's name goes to
the authors, the dateline's place and date to `dateline` and `published`; an article that opens so is
marked as wire copy (`LineContext.wire_copy`), which tells the cross-document and whole-page rules that
its short lines are the agency's tables, not a site's furniture."""

from __future__ import annotations

import re

from tasks.cleaning.metadata import DATE_HINT, normalise_agency, parse_date
from tasks.cleaning.rule import Example, LineContext, Rule
from tasks.cleaning.text import Line, word_count

FAMILY = "wire_and_rights"

# A date without its year, as datelines often give it ("Aug 30", "March 14").
_MONTH_DAY = r"(?:jan|feb|mar|apr|may|jun|jul|aug|sep|sept|oct|nov|dec)[a-z]*\.?\s+\d{1,2}"
# A dateline alone on its line: the place in capitals (up to four words), then its region ("Wisconsin",
# "Mich .") or the date or both; tokenised copy spaces its commas and stops (" , ", " .").
DATELINE_LINE = re.compile(
    r"^(?P<place>[A-Z][A-Z'’.&-]*(?:\s[A-Z][A-Z'’.&-]*){0,3})"
    r"(?P<region>\s?,\s?[A-Z][\w'’.&-]*(?:\s[A-Z][\w'’.&-]*){0,2}?)?"
    rf"(?:\s*,?\s+(?P<date>(?i:{DATE_HINT.pattern}|{_MONTH_DAY})))?\s*[.,]?$"
)

SOURCE_LINE = re.compile(r"^\(?\s*source\s*:\s*(?P<source>[^()]{1,60}?)\s*\)?\s*\.?$", re.I)
INLINE_SOURCE = re.compile(r"\s*\(\s*source\s*:\s*(?P<source>[^()]{1,60}?)\s*\)\s*$", re.I)
# AP's story slug ("BC-EU--Britain-Brexit-Election, 1st Ld-Writethru"): wire metadata, not text.
WIRE_SLUG = re.compile(r"^BC-[A-Z]{2,}(?:-{1,2}[\w'’]+)+(?:,\s*[\w -]{1,40})?$")
# The line Reuters closes every story with.
STANDARDS_FOOTER = re.compile(r"^Our Standards:\s*The Thomson Reuters Trust Principles\.?$", re.I)
COPYRIGHT = re.compile(r"^(?:©|\(c\)|copyright\b).{0,200}$", re.I)
RIGHTS_NOTICE = re.compile(
    r"\ball rights reserved\b|\bmay not be (?:re)?(?:published|reproduced|copied|redistributed|broadcast)\b"
    r"|^(?:for )?reprints?(?: rights| and permissions| & permissions)?\b", re.I)
# A press release's end mark, or a wire story's ("###", "-30-", "ENDS").
END_MARK = re.compile(r"^(?:#{3}|-\s*30\s*-|\(?ends?\)?|/ends|-\s*end\s*-|\*\*\*)\.?$", re.I)

WIRE_SLUG_RULE = Rule("wire_slug", FAMILY, "Wire routing marks: AP's story slug ('BC-EU--Harbour-Dredging, 1st "
                      "Ld-Writethru') and end marks ('###', '-30-', 'ENDS').")
STANDARDS_FOOTER_RULE = Rule("standards_footer", FAMILY, "Reuters' closing 'Our Standards' line.")
SOURCE_CREDIT = Rule("source_credit", FAMILY, "'(Source: agency)' alone on a line or closing one; the agency is kept "
                     "as the wire source.")
COPYRIGHT_RULE = Rule("copyright", FAMILY, "Rights and reprint notices: a line that starts with ©, (c) or 'Copyright', "
                      "or says 'all rights reserved' / 'may not be published' / 'reprints and permissions'.")


def _record_source(ctx: LineContext, source: str) -> None:
    ctx.article.wire_source = ctx.article.wire_source or normalise_agency(source) or source.strip().title()


@WIRE_SLUG_RULE.check("line", removes=("BC-EU--Harbour-Dredging, 1st Ld-Writethru",), keeps=("BC-Ferries is hiring.",))
def ap_slug(text: str, ctx: LineContext) -> bool:
    """'BC-<DESK>--<Words>' with an optional version note."""
    if WIRE_SLUG.match(text):
        ctx.article.wire_source = ctx.article.wire_source or "AP"
        return True
    return False


@STANDARDS_FOOTER_RULE.check("line", removes=("Our Standards: The Thomson Reuters Trust Principles.",), keeps=("Our standards are high, the chairman said of the new quay and its builders.",))
def reuters_standards(text: str, ctx: LineContext) -> bool:
    """Exactly Reuters' footer line."""
    return bool(STANDARDS_FOOTER.match(text))


@SOURCE_CREDIT.check("line", removes=("( Source : reuters )", "Source: AFP"),
                     keeps=("Source: a harbour official who asked not to be named said the work would start in May, "
                            "weeks earlier than planned.",))
def source_line(text: str, ctx: LineContext) -> bool:
    """'(Source: <up to 60 characters>)' alone on a line."""
    match = SOURCE_LINE.match(text)
    if match:
        _record_source(ctx, match.group("source"))
        return True
    return False


@SOURCE_CREDIT.check("inline", removes=("The work starts in May, the board said. (Source: AFP)",), where="body",
                     keeps=("The board (source: its minutes) met twice in May to plan the work.",))
def source_tag(line: Line, ctx: LineContext) -> list[tuple[int, int]]:
    """'(Source: <agency>)' closing a line of text."""
    match = INLINE_SOURCE.search(line.text)
    if not match or match.start() == 0:
        return []
    _record_source(ctx, match.group("source"))
    return [(match.start(), match.end())]


@COPYRIGHT_RULE.check("line", removes=("© 2031 Coastal Gazette Ltd", "Copyright 2031 The Associated Press. All rights reserved."),
                      keeps=("Copyright lawyers said the case would take years to settle, and the board agreed "
                             "to wait for the ruling before it spent any more money on the port or the quay or the "
                             "ferries or anything else that the fishermen had asked for during the long meeting.",))
def copyright_line(text: str, ctx: LineContext) -> bool:
    """A rights notice of up to 40 words."""
    return word_count(text) <= 40 and bool(COPYRIGHT.match(text))


@COPYRIGHT_RULE.check("line", removes=("All rights reserved.", "This material may not be published, broadcast, rewritten or redistributed.",
                                       "For reprint rights: Coastal Gazette Syndication"),
                      keeps=("The board said the port's records may not be published until the inquiry ends, which angered "
                             "the fishermen who had asked to see them.",))
def rights_notice(text: str, ctx: LineContext) -> bool:
    """Up to 15 words: 'All rights reserved', 'may not be published/redistributed', 'Reprints & permissions'."""
    return word_count(text) <= 15 and bool(RIGHTS_NOTICE.search(text))


@WIRE_SLUG_RULE.check("line", removes=("###", "-30-", "ENDS"), keeps=("30", "The End"))
def end_mark(text: str, ctx: LineContext) -> bool:
    """A wire story's or press release's end mark alone on a line ("###", "-30-", "ENDS")."""
    return bool(END_MARK.match(text))


DATELINE_RULE = Rule("dateline", FAMILY, "A wire dateline alone on its line under the headline ('LONDON 1996-08-30', "
                     "'MILWAUKEE , Wisconsin 1996-08-29'): the place is kept as the dateline, the date as published.")


def dateline_line(text: str) -> tuple[str, str | None] | None:
    """The place and the date of a dateline line ("MILWAUKEE , Wisconsin 1996-08-29"), or None. The place is
    in capitals and comes with its region, its date, or both: a bare word in capitals is no dateline."""
    match = DATELINE_LINE.match(text)
    if not match or sum(ch.isalpha() for ch in match.group("place")) < 3:
        return None
    date = match.group("date")
    if date is None and match.group("region") is None:
        return None
    place = match.group("place") + re.sub(r"\s*,\s*", ", ", match.group("region") or "")
    return place.strip(" .,"), date


@DATELINE_RULE.check(
    "line",
    removes=(Example("PORTSEA 2031-03-14", "head"), Example("NORTH HARBOUR , Maine 2031-03-14", "head"),
             Example("PORTSEA, Maine", "head"), Example("PORTSEA, March 14", "head")),
    keeps=(Example("NEW JERSEY 14 10 1 61 61 29", "head", taken_by="subtitle"), Example("PORTSEA", "head"),
           Example("PORTSEA 2031-03-14", "body", taken_by="date_line"),
           Example("USA , Canada agree on the harbour", "head", taken_by="subtitle")),
)
def wire_dateline(text: str, ctx: LineContext) -> bool:
    """Before the story, a line that is only a dateline: a place in capitals with its region and/or a date."""
    if not ctx.in_head or ctx.previous_kept is not None or not (found := dateline_line(text)):
        return False
    place, date = found
    ctx.article.dateline = ctx.article.dateline or place
    ctx.article.published = ctx.article.published or (parse_date(date) if date else None)
    ctx.wire_copy = True
    return True
