"""The people behind the story: bylines, contribution credits, contact lines and the politicians'
hover-cards that extractors glue into sentences. The names they carry are kept as metadata."""

from __future__ import annotations

import re

from tasks.cleaning.calls_to_action import INLINE_SOCIAL_FOLLOW
from tasks.cleaning.metadata import (
    MARKDOWN_LINK,
    add_names,
    extract_names,
    is_person_name,
    names_in_follow_line,
    normalise_agency,
)
from tasks.cleaning.rule import Example, LineContext, Rule
from tasks.cleaning.text import Line, word_count
from tasks.cleaning.wire import dateline_line

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
# "John KerryJohn KerryKerry calls out … MORE": a name glued to its own copy (or one space after it, as
# another extractor spaces it), then hover-card headlines.
BIO_HOVERCARD = re.compile(
    r"(?P<name>(?:[A-Z][\w.'’-]*\s){1,3}[A-Z][\w'’-]*?)(?P<spill>(?P=name)(?:[A-Z][\w'’-]+)?\s.{0,800}?\sMORE\b)"
    # With a space between the copies, the second must be glued to the card's first headline word.
    r"|(?P<name2>(?:[A-Z][\w.'’-]*\s){1,3}[A-Z][\w'’-]*?)\s(?P<spill2>(?P=name2)[A-Z][\w'’-]*\s.{0,800}?\sMORE\b)"
)
# Same card, where the second copy is a longer form of the name: "Kristi NoemKristi Lynn NoemSouth Dakota …".
GLUED_HOVERCARD = re.compile(
    r"(?P<name>(?P<first>[A-Z][\w'’-]+)(?:\s[A-Z][\w.'’-]*){1,3}?[a-z])\s?(?P<spill>(?P=first)[\w\s.'’-]{0,60}?[a-z][A-Z].{0,800}?\sMORE\b)"
)

BYLINE_RULE = Rule("byline", FAMILY, "'By <names>' before the story, or wire copy's name alone above its dateline "
                   "line; the names (or the wire agency) are kept as metadata, and a 'By' line without a personal name "
                   "or agency stays.")
CREDIT = Rule("credit", FAMILY, "'X contributed to this report' and 'Reporting by X; Editing by Y' lines; the names "
              "are kept as contributors.")
CONTACT_RULE = Rule("contact", FAMILY, "How to reach the author or the publisher: a line with an e-mail address and a "
                    "word of contact, the site's address footer (phone, company number, P.O. box), or wire copy's "
                    "'-- <desk> <phone>' sign-off.")
# The publisher's address footer: labelled numbers (phone, fax, company or tax number, P.O. box) in a line of
# segments ("Jaraguá do Sul - SC - CNPJ: 83.102.459/0001-23 - Rua … - Fone: (047) 2106-8000").
ADDRESS_LABEL = re.compile(r"\b(?:tel|tele(?:fone|phone)|phone|fone|fax|cnpj|vat(?: no)?|p\.?\s?o\.? box|caixa postal|"
                           r"apartado|postfach)\b\.?\s*:?\s*[(+]?\d", re.I)
SEGMENT_SEPARATOR = re.compile(r"\s[-–|•·]\s")
AUTHOR_BIO = Rule("author_bio", FAMILY, "The author's one-line bio closing the page, recognised by the follow prompt "
                  "that ends it ('… is out now. Follow him on Twitter @handle.'); the names go to the authors.")
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


@BYLINE_RULE.check(
    "line",
    removes=(Example("HARBOUR BOARD ORDERS DREDGING .\n\nNora Quay\n\nPORTSEA 2031-03-14\n\n{story}", "document", "Nora Quay"),
             Example("Harbour board orders dredging\n\nNora Quay\n\nPORTSEA, Maine\n\n{story}", "document", "Nora Quay")),
    keeps=(Example("Harbour board orders dredging\n\nNora Quay\n\n{story}", "document", "Nora Quay"),
           Example("Harbour board orders dredging\n\nWORLD NEWS\n\nPORTSEA 2031-03-14\n\n{story}", "document",
                   "WORLD NEWS")),
)
def name_above_dateline(text: str, ctx: LineContext) -> bool:
    """Wire copy's byline: a personal name alone on a line, before the story, right above a dateline line
    ("Larry Fine" over "NEW YORK 1996-08-30")."""
    if not ctx.in_head or ctx.previous_kept is not None or text.isupper() or not is_person_name(text):
        return False
    following = next((line for line in ctx.lines[ctx.index + 1:] if not line.blank), None)
    if following is None or dateline_line(following.stripped) is None:
        return False
    add_names(ctx.article.authors, [text])
    return True


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


@AUTHOR_BIO.check(
    "line",
    removes=("Nora Quay's book about harbours is out now. Follow her on Twitter @noraquay.",
             "Nora Quay covers the port for the Gazette. Follow Nora Quay on Twitter @noraquay. Follow us on Facebook."),
    keeps=(Example("The chairman's statement is on the board's website. Follow us on Twitter @harbourboard.\n\n{story}",
                   "document", "The chairman's statement is on the board's website."),),
)
def closing_bio(text: str, ctx: LineContext) -> bool:
    """After the story (nothing like article text follows), a line of up to 60 words whose last sentences are
    a follow prompt: the author's blurb."""
    if not ctx.in_tail or word_count(text) > 60 or not (match := INLINE_SOCIAL_FOLLOW.search(text)):
        return False
    add_names(ctx.article.authors, names_in_follow_line(match.group("prompt")))
    return True


CONTACT_ALONE = re.compile(
    rf"^(?:e-?mail:?\s*)?<?[\w.+-]+@[\w-]+(?:\.[\w-]+)+>?$"  # an e-mail address
    rf"|^(?:https?://)?(?:www\.)?(?:twitter|x|facebook|instagram|linkedin|threads\.net|bsky|tiktok)\.(?:com|app)/@?[\w./-]+/?$"
    r"|^(?:twitter|x|instagram|threads|bluesky)?:?\s*@[A-Za-z0-9_]{2,30}$",  # a handle
    re.I,
)


@CONTACT_RULE.check("line", removes=("nora.quay@example.com", "https://twitter.com/noraquay", "@noraquay", "Twitter: @noraquay"),
                    keeps=("@noraquay said the board had voted, and the fishermen cheered on the quay that evening.",),
                    where="tail")
def contact_alone(text: str, ctx: LineContext) -> bool:
    """An e-mail address, a social-media profile URL or a handle alone on a line: how to reach the author."""
    return bool(CONTACT_ALONE.match(text))


# Wire copy's sign-off: the desk or reporter to call and the number ("-- Warsaw Newsroom +48 22 653 9700").
WIRE_SIGN_OFF = re.compile(r"^-{2}\s*[A-Z].{0,100}?(?P<phone>\+?\s?\(?\s?\d[\d\s()+/-]{5,}\d)\s*$")


@CONTACT_RULE.check("line", removes=("-- Portsea Newsroom +44 171 542 8062", "-- Nora Quay , Portsea newsroom ( 01 ) 555 0100",
                                     "-- Harbour desk Tel+44 171 542 8982 Fax +44 171 542 5017"),
                    keeps=("-- The board voted 12-3 to dredge the channel, the chairman said.", "-- Portsea 2 Eastbay 1"))
def wire_sign_off(text: str, ctx: LineContext) -> bool:
    """After the story, a line opening with '--' that ends in a phone number (7+ digits): the desk to call."""
    match = WIRE_SIGN_OFF.match(text) if ctx.in_tail and word_count(text) <= 25 else None
    return bool(match) and sum(ch.isdigit() for ch in match.group("phone")) >= 7


@CONTACT_RULE.check(
    "line",
    removes=("Harbour Road 1 - 1234 Port Town - Tel: (047) 2106-8000 - VAT 123456",
             "Jaraguá do Sul - SC - CNPJ: 83.102.459/0001-23 - Rua Walter Marquardt, 1111 - Fone: (047) 2106-8000"),
    keeps=(Example("Call the board - tel: 555 0100 - before noon.\n\n{story}", "document", "Call the board"),
           "The hotline (tel: 555 0100) is open every day - and the board - says it will stay open all year."),
)
def address_footer(text: str, ctx: LineContext) -> bool:
    """After the story, up to 60 words in 3+ segments (' - ', ' | ') with a labelled phone, fax, company
    number or P.O. box, and no sentence end."""
    return ctx.in_tail and word_count(text) <= 60 and bool(ADDRESS_LABEL.search(text)) \
        and len(SEGMENT_SEPARATOR.findall(text)) >= 2 and not text.rstrip().endswith((".", "!", "?"))


@BIO_HOVERCARD_RULE.check(
    "inline",
    removes=("Senator Jane DoeJane DoeDoe pushes new farm bill Critics say the bill is too costly MORE met farmers in Iowa.",
             "Governor Kristi NoemKristi Lynn NoemSouth Dakota governor signs bill MORE spoke on Monday about it.",
             "Rep. Jane Doe Jane DoeHarbour Valley: Doe pushes farm bill | Critics balk MORE met farmers in Iowa."),
    keeps=("Senator Jane Doe met farmers in Iowa on Monday and said MORE money was needed.",
           "Jane Doe Jane Doe said, as if the name were new, and laughed; MORE was to come.",), where="body",
)
def hovercard(line: Line, ctx: LineContext) -> list[tuple[int, int]]:
    """A name glued to its own copy, then the card's headlines up to 'MORE'."""
    spans = [m.span("spill") if m.group("spill") else m.span("spill2") for m in BIO_HOVERCARD.finditer(line.text)]
    return spans or [(m.start("spill"), m.end("spill")) for m in GLUED_HOVERCARD.finditer(line.text)]
