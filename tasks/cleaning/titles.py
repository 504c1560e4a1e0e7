"""The title and its echoes: the extractors' title line, the same title printed again, and the
standfirst under it. The title and subtitle are kept as metadata, not in the body."""

from __future__ import annotations

from tasks.cleaning.authors import BYLINE
from tasks.cleaning.markup import MARKDOWN_HEADING
from tasks.cleaning.metadata import is_person_name
from tasks.cleaning.rule import Example, LineContext, Rule
from tasks.cleaning.text import Line, ends_sentence, fold, is_all_caps, is_headline, restates_title, word_count
from tasks.cleaning.urls import BARE_URL
from tasks.cleaning.wire import dateline_line

FAMILY = "titles"

TITLE = Rule("title", FAMILY, "The first line, when it stands alone and reads as a headline (or stands over wire "
             "copy's dateline line): the extractors put the page title there; it is kept as the article's title.")
TITLE_REPEAT = Rule("title_repeat", FAMILY, "The title printed again (exactly anywhere, or restated before the "
                    "story): a copy of metadata already kept.")
SUBTITLE = Rule("subtitle", FAMILY, "The standfirst right under the title (not a sentence of the story: no closing "
                "punctuation); kept as the article's subtitle.")


@TITLE.check(
    "title",
    removes=(Example("Harbour board orders dredging\n\n{story}", "document", "Harbour board orders dredging"),
             Example("# Harbour board orders dredging\n{story}", "document", "# Harbour board orders dredging"),
             Example("Harbour Board Orders Dredging of the Channel\n{story}", "document",
                     "Harbour Board Orders Dredging of the Channel"),
             Example("SAILING - HARBOUR BOARD ORDERS DREDGING .\n\n{story}", "document",
                     "SAILING - HARBOUR BOARD ORDERS DREDGING ."),
             Example("Harbour board orders dredging .\n\nPORTSEA 2031-03-14\n\n{story}", "document",
                     "Harbour board orders dredging .")),
    keeps=(Example("The harbour board voted to dredge.\n\n{story}", "document", "The harbour board voted to dredge."),
           Example("The board met on Monday\nand voted to dredge the channel.\n\n{story}", "document",
                   "The board met on Monday"),
           Example("The Harbour Board Orders Dredging\nafter the storms, the chairman said.\n\n{story}",
                   "document", "The Harbour Board Orders Dredging")),
)
def first_line_title(text: str, ctx: LineContext) -> bool:
    """A Markdown heading as the first line, or a short first line standing alone without a full stop
    (not a byline or a URL) followed by more text; or, with the story right under it (pages copied
    without the blank line), a first line in headline case above a line that opens a sentence of its own."""
    heading = MARKDOWN_HEADING.match(text)
    if heading:
        ctx.article.title = heading.group("text").strip()
        return True
    lines, index = ctx.lines, ctx.index
    next_line = lines[index + 1] if index + 1 < len(lines) else None
    content_lines = sum(1 for line in lines if not line.blank)
    # Without a blank line, the first line may be a sentence broken across two lines: only headline case
    # above a line that opens with a capital says it is a title.
    headline_over_story = next_line is not None and not next_line.blank and is_headline(text) \
        and next_line.stripped[:1].isupper()
    standing_alone = next_line is None or next_line.blank
    # A full stop ends a sentence, except after a headline in capitals or over wire copy's byline and dateline
    # (copy tokenised for NLP ends its headlines with " .": "Jones Medical completes acquisition .").
    if (standing_alone or headline_over_story) and word_count(text) <= 30 \
            and (not text.endswith(".") or is_all_caps(text) or _over_dateline(lines, index)) \
            and not BYLINE.match(text) and not BARE_URL.match(text) and content_lines > 1:
        ctx.article.title = text
        return True
    return False


def _over_dateline(lines: list[Line], index: int) -> bool:
    """The next non-blank line, or the one after it under a byline, is a wire dateline line."""
    following = [line.stripped for line in lines[index + 1:] if not line.blank][:2]
    return bool(following) and (dateline_line(following[0]) is not None or (
        len(following) == 2 and is_person_name(following[0]) and dateline_line(following[1]) is not None))


@TITLE_REPEAT.check(
    "line",
    removes=(Example("Harbour board orders dredging", "body"),),
    keeps=(Example("Harbour board orders dredging before the storms, the chairman said on Monday.", "body"),),
)
def exact_title_repeat(text: str, ctx: LineContext) -> bool:
    """A line equal to the title once case and punctuation are set aside."""
    return bool(ctx.article.title) and fold(text) == fold(ctx.article.title)


@TITLE_REPEAT.check(
    "head",
    removes=(Example("Harbour board orders dredging | Coastal Gazette", "head"),
             Example("Harbour Board Orders Dredging of Main Channel", "head"),
             Example("Harbour board orders dredging\n\nHarbour board orders dredging of main channel\n\nby Nora Quay\n\n"
                     "{story}", "document", "Harbour board orders dredging of main channel")),
    keeps=(Example("Harbour board orders dredging, the chairman said.", "head"),
           Example("SAILING - HARBOUR BOARD ORDERS DREDGING .\n\nHarbour board orders dredging\n\nof the main channel on "
                   "Monday .\n\n{story}", "document", "Harbour board orders dredging\n")),
)
def restated_title(text: str, ctx: LineContext) -> bool:
    """Before the story, a headline-like line that restates the title (longer, shorter, or "Title | Site"), and
    is not the first half of a sentence that the next line continues in lower case."""
    following = next((line.stripped for line in ctx.lines[ctx.index + 1:] if not line.blank), "")
    continued = following[:1].islower() and not BYLINE.match(following)  # "by Jeff Foust" continues nothing
    return bool(ctx.article.title) and restates_title(text, ctx.article.title) and not continued  # type: ignore[arg-type]


@SUBTITLE.check(
    "head",
    removes=(Example("Fishermen say the work is overdue after two boats ran aground", "head"),),
    keeps=(Example("Fishermen say the work is overdue after two boats ran aground.", "head"),),
)
def standfirst(text: str, ctx: LineContext) -> bool:
    """The first line after the title, 5-40 words, not ending as a sentence, before anything else is kept."""
    article, lines, index = ctx.article, ctx.lines, ctx.index
    stripped = ctx.line.stripped
    following = next((later for later in lines[index + 1:] if not later.blank), None)
    if article.title and ctx.previous_kept is None and article.subtitle is None \
            and all(line.reason in ("title", "title_repeat") for line in lines[:index] if not line.blank) \
            and 5 <= word_count(stripped) <= 40 and not ends_sentence(stripped) \
            and following is not None and not following.stripped[:1].islower():
        article.subtitle = stripped
        return True
    return False
