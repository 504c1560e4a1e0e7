"""The people behind the story: bylines, contribution credits, contact lines and the politicians'
hover-cards that extractors glue into sentences. The names they carry are kept as metadata."""

from __future__ import annotations

import re

from tasks.cleaning.metadata import MARKDOWN_LINK, add_names, extract_names, normalise_agency
from tasks.cleaning.rule import LineContext, Rule
from tasks.cleaning.text import Line, word_count

FAMILY = "authors"

BYLINE = re.compile(r"^(?:by|BY|By)\s*[:\-–—]?\s+(?P<names>\S.*)$")
CONTRIBUTED = re.compile(
    r"^(?:[—–-]+\s*)?(?P<names>[A-Z].{1,300}?)\s+(?:also\s+)?contributed"
    r"(?:\s+(?:reporting|research|to\s+this\s+(?:report|story|article)|from\s+[^.]+))*\s*\.?$"
)
REPORTING_BY = re.compile(
    r"^(?:\(?\s*)?(?:additional\s+)?(?:reporting|writing|editing|compiled|research)\s+by\s+.{2,300}$", re.I
)
CONTACT = re.compile(r"^(?:write to|contact|email)\s+.{1,80}\s+at\s+\S+@\S+.*$", re.I)
# "John KerryJohn KerryKerry calls out … MORE": a name glued to its own copy, then hover-card headlines.
BIO_HOVERCARD = re.compile(
    r"(?P<name>(?:[A-Z][\w.'’-]*\s){1,3}[A-Z][\w'’-]*?)(?P<spill>(?P=name)(?:[A-Z][\w'’-]+)?\s.{0,800}?\sMORE\b)"
)
# Same card, where the second copy is a longer form of the name: "Kristi NoemKristi Lynn NoemSouth Dakota …".
GLUED_HOVERCARD = re.compile(
    r"(?P<name>(?P<first>[A-Z][\w'’-]+)(?:\s[A-Z][\w.'’-]*){1,3}?[a-z])(?P<spill>(?P=first)[\w\s.'’-]{0,60}?[a-z][A-Z].{0,800}?\sMORE\b)"
)

BYLINE_RULE = Rule("byline", FAMILY, "'By <names>' before the story; the names (or the wire agency) are kept as "
                   "metadata, and a 'By' line without a personal name or agency stays.")
CREDIT = Rule("credit", FAMILY, "'X contributed to this report' and 'Reporting by X; Editing by Y' lines; the names "
              "are kept as contributors.")
CONTACT_RULE = Rule("contact", FAMILY, "How to reach the author: a line with an e-mail address and a word of contact.")
BIO_HOVERCARD_RULE = Rule("bio_hovercard", FAMILY, "A politician's hover-card glued into a sentence after the name "
                          "('John KerryKerry calls out … MORE'): the name is written twice without a space, which "
                          "prose never does.")


@BYLINE_RULE.check("head", removes=("By Nora Quay", "By [Nora Quay](#) and Tom Reed", "By Reuters"),
                   keeps=("By Monday", "By 3 Hours Ago"), where="head")
def byline(text: str, ctx: LineContext) -> bool:
    """A short 'By …' line naming people or a wire agency, before the story."""
    match = BYLINE.match(text) if word_count(text) <= 15 else None
    if not match:
        return False
    names_text = match.group("names")
    agency = normalise_agency(MARKDOWN_LINK.sub(r"\1", names_text))
    if agency:
        ctx.article.wire_source = ctx.article.wire_source or agency
        return True
    names = extract_names(names_text)
    if names:
        add_names(ctx.article.authors, names)
        return True
    return False


@CREDIT.check("line", removes=("Anna Berg in Oslo and Li Wei contributed to this report.", "— Tom Reed contributed reporting."),
              keeps=("Fishermen contributed to the fund.",))
def contributed_line(text: str, ctx: LineContext) -> bool:
    """'<names> contributed (to this report)' with at least one personal name."""
    match = CONTRIBUTED.match(text) if word_count(text) <= 60 else None
    if not match:
        return False
    names = extract_names(match.group("names"))
    if names:
        add_names(ctx.article.contributors, names)
        return True
    return False


@CREDIT.check("line", removes=("Reporting by Sam Hill; Editing by Jo Park", "(Additional reporting by Sam Hill)"),
              keeps=("The reporting by the Gazette was accurate, the board conceded on Monday.",))
def reporting_by(text: str, ctx: LineContext) -> bool:
    """'Reporting/Writing/Editing by …' (up to 60 words); the names become contributors."""
    if word_count(text) > 60 or not REPORTING_BY.match(text):
        return False
    body = re.sub(r"^\W*(?:additional\s+)?(?:reporting|writing|editing|compiled|research)\s+by\s+", "", text, flags=re.I)
    body = re.sub(r"(?:writing|editing|compiled|research)\s+by\s+", ", ", body, flags=re.I).rstrip(")")
    add_names(ctx.article.contributors, extract_names(body))
    return True


@CONTACT_RULE.check("line", removes=("Write to Nora Quay at nora.quay@example.com", "Got a tip? Email tips@example.com"),
                    keeps=("The board's address, board@example.com, was flooded with complaints, officials said.",))
def contact_line(text: str, ctx: LineContext) -> bool:
    """Up to 40 words: 'Write to/Contact X at <e-mail>', or an e-mail address with 'reach', 'contact', 'tips'."""
    return word_count(text) <= 40 and bool(CONTACT.match(text) or (re.search(r"\S+@\S+\.\w+", text) and re.search(
        r"\b(?:reach|reached|contact|e-?mail|write to|tips?)\b", text, re.I)))


@BIO_HOVERCARD_RULE.check(
    "inline",
    removes=("Senator Jane DoeJane DoeDoe pushes new farm bill Critics say the bill is too costly MORE met farmers in Iowa.",
             "Governor Kristi NoemKristi Lynn NoemSouth Dakota governor signs bill MORE spoke on Monday about it."),
    keeps=("Senator Jane Doe met farmers in Iowa on Monday and said MORE money was needed.",), where="body",
)
def hovercard(line: Line, ctx: LineContext) -> list[tuple[int, int]]:
    """A name glued to its own copy, then the card's headlines up to 'MORE'."""
    spans = [(m.start("spill"), m.end("spill")) for m in BIO_HOVERCARD.finditer(line.text)]
    return spans or [(m.start("spill"), m.end("spill")) for m in GLUED_HOVERCARD.finditer(line.text)]
