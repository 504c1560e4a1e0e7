"""Other stories: link boxes ("Related", "Most read", "Leia também") with their headlines, headlines of
other stories in capitals or of the title's series, short bulleted headline lists, listings of cut-off
excerpts, and teasers between two link-box headers. Each check requires the shape of a list of links
(a header, headline case, a shared cut length), not just one short line."""

from __future__ import annotations

import re
from collections.abc import Callable

from rapidfuzz import fuzz

from tasks.cleaning.metadata import DATE_HINT
from tasks.cleaning.rule import Example, LineContext, Rule
from tasks.cleaning.text import (
    Line,
    ends_statement,
    fold,
    is_all_caps,
    is_headline,
    looks_like_body,
    word_count,
)

FAMILY = "related"

# A header that opens a block of links to other stories, alone or followed by one headline.
RELATED_HEADER = re.compile(
    r"^(?:related(?: post| posts| content| stories| articles| coverage| links)?|see more|see also|read more|read also|"
    r"also read|more on this|watch|listen|don'?t miss|recommended(?: for you)?|trending(?: now)?|most (?:read|popular|viewed)"
    r"(?: in [\w ]{1,30})?|popular on [\w .]{1,30}|more from [\w .]{1,40}|you (?:may|might) also like|top stories|"
    r"partner news|explore further|tags|latest news|more stories|editor'?s picks?|"
    # Tag and category headers (see TAG_HEADER).
    r"tagged(?: with)?|topics|filed under|categor(?:y|ies|ias|ías)|catégories|kategorien|etiquetas|temas|schlagwörter|"
    # The same headers in the languages news sites most often write them in (pt, es, fr, de, it, ko),
    # after an optional site name ("Entermedia 주요뉴스": its top stories).
    r"leia (?:também|mais)|veja (?:também|mais)|saiba mais|lea (?:también|más)|leer más|ver más|lire aussi|à lire aussi|"
    r"voir aussi|lesen sie auch|mehr zum thema|leggi anche|(?:[\w-]{1,20} )?(?:주요\s?뉴스|관련\s?기사|많이 본 뉴스))"
    r"\s*(?P<rest>[:|].*|\.{2,}|…)?$",
    re.I,
)
# Express-style related links end with a tag in brackets: "... [VIDEO]", "... [INSIGHT]".
BRACKET_TAG_HEADLINE = re.compile(r"\w[^\[\]]*\s\[[A-Z][A-Z ]{2,20}\]\s*\|?\s*$")
# A list item's mark (matched up to its text, so that `BULLET.sub("", line)` leaves the item).
BULLET = re.compile(r"^\s*[-*•·▪]\s+(?=\S)")
# A teaser as an extractor joins a link's headline and its standfirst: "Historic church on the verge of
# destruction  The church is in ruins ..." (two spaces where the two elements met: matched on the raw line).
GLUED_TEASER = re.compile(r"^[^.!?]{10,120}[^\s.!?:;,]  +[A-Z\"“].{10,}$")
# Tag and category headers: the keyword links under them are the site's index, not the story; only keywords
# continue their block.
TAG_HEADER = re.compile(r"^(?:tags|tagged(?: with)?|topics|filed under|categor(?:y|ies|ias|ías)|catégories|kategorien|"
                        r"etiquetas|temas|schlagwörter)\b", re.I)
TAG_MAX_WORDS = 6
# A line of keyword links: 4+ short items (1-6 words) between commas, pipes or middle dots, no sentence end.
KEYWORD_LIST = re.compile(r"^[^.!?,|·]{1,60}(?:\s*[,|·]\s*[^.!?,|·]{1,60}){3,}$")


def is_keyword_list(text: str) -> bool:
    return bool(KEYWORD_LIST.match(text)) and all(1 <= word_count(item) <= TAG_MAX_WORDS for item in re.split(r"[,|·]", text))


# A note about the story set after it ("Editor's note: ...").
EDITORS_NOTE = re.compile(r"^(?:editor'?s'?|editorial)\s+note\b", re.I)

RELATED_LINKS = Rule("related_links", FAMILY, "Links to other stories: link-box headers and the headlines under "
                     "them, and headline-shaped lines that can only be other stories (capitals, the title's series, "
                     "bulleted headline lists after the story, same-length excerpt listings).")


@RELATED_LINKS.check("line", removes=("See also", "Read more: Harbour Seals Move North", "Most read in local news",
                                      "Leia também", "Categorias", "Filed under: Harbour, Ferries"),
                     keeps=("Read more about the plan on the council's website, the mayor said on Monday.",), where="body")
def link_box_header(text: str, ctx: LineContext) -> bool:
    """A link box's header ("Related", "You may also like…", "Read more: <headline>"), in several languages."""
    return word_count(text) <= 25 and bool(RELATED_HEADER.match(text))


@RELATED_LINKS.check("line", removes=("Harbour Seals Are Moving North [VIDEO]",),
                     keeps=("The footage [VIDEO] was shown to the board on Monday.", "[CNET]"), where="body")
def bracket_tagged_headline(text: str, ctx: LineContext) -> bool:
    """A headline ending in a bracketed capital tag ("... [VIDEO]", "... [INSIGHT]"): another story's link. (A tag
    alone on a line, "[CNET]", credits the source of the quote above it.)"""
    return word_count(text) <= 25 and bool(BRACKET_TAG_HEADLINE.search(text))


@RELATED_LINKS.check("line", removes=("STORM DAMAGE FORCES CLOSURE OF THE OLD HARBOUR MARKET",),
                     keeps=("WHAT HAPPENS NEXT", "THE BOARD SAID THE WORK WOULD START IN MAY.",
                            "The board's plan, in capitals on the notice: DREDGE THE CHANNEL BEFORE THE STORMS COME"),
                     where="body")
def caps_headline(text: str, ctx: LineContext) -> bool:
    """A headline of another story in capitals (8-25 words, not a statement); section headings are shorter."""
    return 8 <= word_count(text) <= 25 and is_all_caps(text) and not ends_statement(text)


def _series_prefix(headline: str) -> str | None:
    """The part before " | " of a headline written as "<series or section> | <headline>"."""
    prefix, separator, rest = headline.partition(" | ")
    return prefix.strip().casefold() if separator and 1 <= word_count(prefix) <= 8 and rest.strip() else None


@RELATED_LINKS.check(
    "line",
    removes=(Example("Opinion | Harbour dredging\n\n{story}\n\nOpinion | Why the council must fund the ferries",
                     "document", "Opinion | Why the council must fund the ferries"),),
    keeps=(Example("Opinion | Harbour dredging\n\n{story}\n\nOpinion | The board was right to act.",
                   "document", "Opinion | The board was right to act."),),
)
def series_teaser(text: str, ctx: LineContext) -> bool:
    """After the story, a headline of another story in the title's series ("Opinion | <headline>")."""
    title = ctx.article.title
    if not ctx.in_tail or word_count(text) > 25 or not title or ends_statement(text):
        return False
    title_prefix, line_prefix = _series_prefix(title), _series_prefix(text)
    if title_prefix is None or line_prefix is None or fold(text) == fold(title):
        return False
    # Outlets vary the series name's spelling a little ("Milan" / "Milano Design Week").
    return fuzz.ratio(title_prefix, line_prefix) >= 85


@RELATED_LINKS.check(
    "line",
    removes=("You may also like\nHarbour Seals Are Moving North\nNew Ferry Timetable Starts in June",
             "Related: Harbour Seals Are Moving North\n- New Ferry Timetable Starts in June",
             "Tags\nharbour dredging, coastal gazette, ferry timetable, harbour seals, north beach, market hall",
             "Topics\nHarbour\nFerries"),
    keeps=(Example("Related stories\nHarbour Seals Are Moving North\n"
                   "The board met again on Tuesday to approve the contract for the dredging work.", "body",
                   "The board met again on Tuesday to approve the contract for the dredging work."),
           Example("Harbour board orders dredging\n\nCategorias\n\n05/10/2018 - Publicado por: Ana Souza\n\n{story}", "document",
                   "05/10/2018 - Publicado por: Ana Souza", taken_by="date_line")),
)
def related_block(text: str, ctx: LineContext) -> bool:
    """Lines under a link-box header: bullets and keyword lists, and after a bare header short headlines (or
    glued headline + teaser), until a line of article text (one ending in a full stop or a quote) resumes."""
    if not ctx.in_related_block:
        return False
    # After a one-link header ("Related: <headline>") only a bulleted list continues the block.
    if ctx.in_related_block == "keywords":  # under a tag header: keywords, a list of them or one a line
        if is_keyword_list(text) or (word_count(text) <= TAG_MAX_WORDS and not ends_statement(text)
                                     and not DATE_HINT.search(text)):  # a date line under it is the story's own
            return True
        ctx.in_related_block = False
        return False
    if BULLET.match(text) or is_keyword_list(text) or (ctx.in_related_block == "headlines" and (
            (word_count(text) <= 20 and not ends_statement(text)) or GLUED_TEASER.match(ctx.line.text.strip()))):
        return True
    ctx.in_related_block = False
    return False


def opens_block(text: str) -> str | bool:
    """What a related/navigation header line opens: "headlines" after a bare header, "bullets" after a
    one-link header ("Read more: <headline>"), False when the line is no header."""
    header = RELATED_HEADER.match(text)
    if not header:
        return False
    if TAG_HEADER.match(text):
        return "keywords"
    return "bullets" if (header.group("rest") or "").strip(" :|.…") else "headlines"


# A short bulleted list of other stories' headlines, left where a "Related" box stood after the story.
HEADLINE_LIST_ITEMS = range(1, 7)
def _is_afterword(line: Line) -> bool:
    return bool(EDITORS_NOTE.match(line.stripped)) or any(rule == "social_prompt" for _, _, rule, _ in line.cuts)


@RELATED_LINKS.check(
    "block",
    removes=("- Why Harbour Seals Are Moving North\n- New Ferry Timetable Starts in June\n- Council Approves Budget for Parks",
             "• 11 Fascinating Facts About Our Harbour Seals"),
    keeps=("- Why Harbour Seals Are Moving North\n- New Ferry Timetable Starts in June\n- Council Approves Budget for Parks"
           "\n\nThe board will meet again in May to review the costs of the dredging and the new quay.",
           Example("- the channel is dredged\n- the quay is rebuilt\n- the ferry timetable is restored", "tail")),
)
def headline_list(lines: list[Line], ctx: LineContext) -> list[Line]:
    """A run of 1-6 bulleted headlines after the story's last paragraph: a related-links box whose header the
    extractor dropped. Longer lists, and lists with story text after them, are kept (an editor's note or an
    author's blurb after the list is not story text)."""
    runs: list[list[Line]] = [[]]
    for line in lines:
        if line.blank:
            continue
        if line.reason is None and BULLET.match(line.stripped):
            runs[-1].append(line)
        elif runs[-1]:
            runs.append([])
    kept = [line for line in lines if not line.blank and line.reason is None]
    found: list[Line] = []
    for run in runs:
        if len(run) not in HEADLINE_LIST_ITEMS or kept[0] is run[0]:
            continue
        after = kept[kept.index(run[-1]) + 1:]
        if any(looks_like_body(line.stripped) and not _is_afterword(line) for line in after):
            continue
        if all(is_headline(BULLET.sub("", line.stripped)) for line in run):
            found.extend(run)
    return found


# Excerpts of other posts, which a listing cuts at a fixed length and marks with a detached or bracketed
# ellipsis: "... traçando um plano paralelo para …", "... the council said [...]". (A writer trailing off
# types it against the word: "somewhere...".)
TRUNCATED_EXCERPT = re.compile(r"(?:[\w,;]\s(?:…|\.\.\.)|\[(?:…|\.\.\.)\])$")
EXCERPT_MIN_WORDS = 15
# Cut at the same length: as many words, or lengths within 2% (sites cut at N words or N characters).
EXCERPT_CHAR_TOLERANCE = 0.02


def _same_cut_length(a: str, b: str) -> bool:
    return word_count(a) == word_count(b) or abs(len(a) - len(b)) <= EXCERPT_CHAR_TOLERANCE * max(len(a), len(b))


_EXCERPTS = (
    "The ferry company said on Friday that the new timetable would add two crossings a day from the ...",
    "Residents of the old town gathered on Saturday to protest against the plan to close the market ...",
)


@RELATED_LINKS.check(
    "block",
    removes=("\n\n".join(_EXCERPTS),),
    keeps=("The ferry company said on Friday that the new timetable would add two crossings a day ... or so it hoped.",),
)
def excerpt_listing(lines: list[Line], ctx: LineContext) -> list[Line]:
    """Two or more paragraphs cut off mid-sentence with an ellipsis at the same length: teasers from a listing
    of other posts (a writer trailing off does not stop at a fixed length). The stretch from the first to the
    last of them goes, shorter teasers included; the article's first paragraph never does."""
    kept = [line for line in lines if not line.blank and line.reason is None]
    cut = [line for line in kept[1:]
           if word_count(line.stripped) >= EXCERPT_MIN_WORDS and TRUNCATED_EXCERPT.search(line.stripped)]
    if len(cut) < 2:
        return []
    # The largest set of cut paragraphs sharing a length with one of them.
    same = max(([other for other in cut if _same_cut_length(line.stripped, other.stripped)] for line in cut), key=len)
    if len(same) < 2:
        return []
    return kept[kept.index(same[0]):kept.index(same[-1]) + 1]


# Teasers between two headers of link boxes ("Top stories" ... "Partner news"): one short sentence each.
BETWEEN_HEADERS_MAX_LINES = 8
BETWEEN_HEADERS_MAX_WORDS = 25
_MEDIA_HEADER = re.compile(r"^(?:watch|listen|tags)\b", re.I)


def lines_between(lines: list[Line], is_boundary: Callable[[Line], bool], fits: Callable[[Line], bool],
                  max_lines: int) -> list[Line]:
    """Kept lines between two boundary lines, when there are at most `max_lines` of them and each fits: a
    box's inner lines, whatever they say."""
    content = [line for line in lines if not line.blank]
    boundaries = [index for index, line in enumerate(content) if is_boundary(line)]
    found: list[Line] = []
    for first, second in zip(boundaries, boundaries[1:]):
        between = [line for line in content[first + 1:second] if line.reason is None]
        if 0 < len(between) <= max_lines and all(fits(line) for line in between):
            found.extend(between)
    return found


def _is_link_box_header(line: Line) -> bool:
    header = RELATED_HEADER.match(line.stripped) if line.reason == "related_links" else None
    return bool(header) and not (header.group("rest") or "").strip(" :|.…") and not _MEDIA_HEADER.match(line.stripped)


@RELATED_LINKS.check(
    "block",
    removes=("Top stories\n\nThe ferry returns to the island after a year.\n\nSeals come back to the north beach.\n\n"
             "Partner news",),
    keeps=(Example("Watch\n\nThe ferry returns to the island after a year.\n\nListen", "tail",
                   "The ferry returns to the island after a year."),),
)
def link_box_teasers(lines: list[Line], ctx: LineContext) -> list[Line]:
    """Up to 8 one-sentence lines between two bare link-box headers ("Top stories" ... "Partner news"): the
    first box's teasers (a story's paragraphs are longer or more). Headers of embedded media ("Watch",
    "Listen") do not count: they may stand inside a story."""
    return lines_between(
        lines, _is_link_box_header,
        lambda line: word_count(line.stripped) <= BETWEEN_HEADERS_MAX_WORDS
        and not re.search(r"[.!?][\"”’]?\s+[A-Z]", line.stripped),
        BETWEEN_HEADERS_MAX_LINES,
    )


# A teaser as another extractor glues a link's headline to its standfirst without a space:
# "The 4 Best Vegan Spots In DetroitHoodline crunched the numbers ...".
GLUED_HEADLINE = re.compile(r"^(?P<headline>.{10,160}?[a-z]{2})(?=[A-Z](?:[a-z]|\s))")
GLUED_RUN_MIN = 3


def _glued_headline(text: str) -> bool:
    match = GLUED_HEADLINE.match(text)
    return bool(match) and is_headline(match.group("headline"))


@RELATED_LINKS.check(
    "block",
    removes=("The 4 Best Vegan Spots In DetroitHoodline crunched the numbers to find the top vegan spots.\n\n"
             "Say Cheese? Detroit's Top 3 Cheese ShopsWondering where to find the best cheese near you?\n\n"
             "Detroit's 5 Best Spots For DessertsNeed more desserts in your life? We found the best.",),
    keeps=("He posted the video on YouTube on Monday, where it was watched a million times by Friday.\n\n"
           "The board's PlayStation tournament raised money for the lifeboat crew and the harbour school.\n\n"
           "Her JavaScript course at the harbour library is full until the summer, the librarian said.",),
)
def glued_teaser_run(lines: list[Line], ctx: LineContext) -> list[Line]:
    """Three or more kept lines in a row, each opening with a headline-case title glued to a sentence without
    a space ("…In DetroitHoodline crunched …"): teasers of other stories. (A camel-case word in a sentence,
    "YouTube", follows no headline.)"""
    kept = [line for line in lines if not line.blank and line.reason is None]
    found: list[Line] = []
    run: list[Line] = []
    for line in [*kept, None]:
        if line is not None and _glued_headline(line.stripped):
            run.append(line)
            continue
        if len(run) >= GLUED_RUN_MIN:
            found.extend(run)
        run = []
    return found


TAIL_LIST_MIN = 3


@RELATED_LINKS.check(
    "block",
    removes=("Join our Free Parlay Challenge\n- Pats place Olszewski on IR New England's roster is re-shuffling\n"
             "- Playoff picture: Raiders in pursuit Breaking down the playoff picture after Sunday\n"
             "- Rams top Bears as offenses struggle Neither team could get much going on Sunday night",),
    keeps=("The board listed what comes next:\n- the channel is dredged\n- the quay is rebuilt\n- the ferries return",
           Example("© 2031 Coastal Gazette Ltd\n\nThe board listed what comes next:\n- the channel is dredged\n"
                   "- the quay is rebuilt\n- the ferries return", "tail", "- the channel is dredged")),
)
def list_after_furniture(lines: list[Line], ctx: LineContext) -> list[Line]:
    """A bulleted run of 3+ items that closes the page and follows removed furniture (a sign-up box, a promo)
    rather than story text: the site's list of other stories. A list the story introduces follows kept text."""
    content = [line for line in lines if not line.blank]
    end = len(content)
    while end and content[end - 1].reason is not None:
        end -= 1
    start = end
    while start and content[start - 1].reason is None and BULLET.match(content[start - 1].stripped):
        start -= 1
    if end - start < TAIL_LIST_MIN or start == 0 or content[start - 1].reason in (None, "title"):
        return []
    if not any(line.reason is None for line in content[:start]):
        return []  # the list is all the page keeps
    return content[start:end]
