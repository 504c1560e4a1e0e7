"""Markup left in the text: CSS class names of ad slots and layout boxes, and the `#` of Markdown
headings. No sentence is written in kebab-case, so these lines cannot be article text."""

from __future__ import annotations

import re

from tasks.cleaning.rule import Example, LineContext, Rule
from tasks.cleaning.text import Line

FAMILY = "markup"

MARKUP_LEFTOVER = re.compile(r"^[-*•]?\s*[a-z0-9]+(?:-[a-z0-9]+){2,}$")
# An ad slot's or layout's class name: "above-phone", "landscape-tablet", "sidebar-desktop".
LAYOUT_CLASS = re.compile(
    r"^[-*•]?\s*(?:[a-z0-9]+-)+?(?:phone|tablet|desktop|mobile|portrait|landscape|sidebar|leaderboard|mpu)"
    r"(?:-[a-z0-9]+)*$|^[-*•]?\s*(?:phone|tablet|desktop|mobile|portrait|landscape|sidebar|leaderboard|mpu)(?:-[a-z0-9]+)+$"
)
MARKDOWN_HEADING = re.compile(r"^#{1,6}\s+(?P<text>.+?)\s*#*\s*$")
# Raw HTML left in the text: known tags (with their attributes) and comments; CMS shortcodes ("[caption id=…]");
# entities that stand for a space. (Other entities stand for characters: cutting them would change words.)
HTML_TAG = re.compile(
    r"</?(?:p|br|div|span|a|img|strong|em|b|i|u|ul|ol|li|h[1-6]|iframe|script|style|figure|figcaption|blockquote|table|"
    r"tbody|thead|tr|td|th|section|article|header|footer|nav|source|video|audio|noscript|hr|sup|sub|small|center|font)"
    r"\b(?:\s[^<>]{0,500})?/?>|<!--.{0,500}?-->",
    re.I,
)
SHORTCODE = re.compile(
    r"\[/?(?:caption|embed|gallery|video|audio|playlist|tweet|youtube|vimeo|instagram|soundcloud|pullquote|"
    r"vc_\w+|et_pb_\w+|fusion_\w+|av_\w+|contact-form-7)\b[^\[\]]{0,300}\]",  # lower case, as CMSs write them
)
SPACE_ENTITY = re.compile(r"&(?:nbsp|ensp|emsp|thinsp|zwnj|zwj|shy|#160|#xa0|#8203);", re.I)

MARKUP = Rule("markup", FAMILY, "Markup that is not prose: class names of ad slots and layouts, raw HTML tags, CMS "
              "shortcodes and space entities, Markdown heading marks (the words inside stay).")


@MARKUP.check("line", removes=("above-phone", "- related-article-list", "sidebar-desktop"),
              keeps=("Forty-five", "A well-to-do family", "The state-of-the-art port opens next week"))
def class_name_line(text: str, ctx: LineContext) -> bool:
    """A line that is one lower-case hyphenated token of 3+ parts, or a layout class name."""
    return bool(MARKUP_LEFTOVER.match(text) or LAYOUT_CLASS.match(text))


@MARKUP.check("line", removes=("Our Standards: The Thomson Reuters Trust Principles.\n0 : 0",),
              keeps=(Example("2-1", "body"), Example("{story}\n\n2-1", "document", "2-1")))
def letterless_furniture(text: str, ctx: LineContext) -> bool:
    """After the story, a line without a letter (a widget's "0 : 0") right after a removed line: part of the
    furniture around it. (Letterless lines in or right after the story, a score, stay.)"""
    previous = next((line for line in reversed(ctx.lines[:ctx.index]) if not line.blank), None)
    return ctx.in_tail and previous is not None and previous.reason is not None and previous.reason != "title" \
        and not re.search(r"[^\W\d_]", text)


@MARKUP.check("inline", where="body",
              removes=('<p>The board voted on Monday.</p>', '[caption id="attachment_12" align="alignright"]Dredgers[/caption]',
                       "The board&nbsp;voted on Monday.", '<div class="ad-slot"></div>', "<!-- ad -->"),
              keeps=("The vote was 5 < 7, and the board said the margin > expected.", "[Updated] The board voted again.",
                     "AT&T and Procter & Gamble sponsor the regatta."))
def html_and_shortcodes(line: Line, ctx: LineContext) -> list[tuple[int, int]]:
    """Raw HTML tags and comments, CMS shortcodes and space entities inside a line (the words between stay)."""
    return sorted(match.span() for pattern in (HTML_TAG, SHORTCODE, SPACE_ENTITY) for match in pattern.finditer(line.text))


@MARKUP.check("heading", removes=("## What happens next",), keeps=("#MeToo marches went on",), where="body")
def heading_marker(text: str, ctx: LineContext) -> bool:
    """The `#` marks of a Markdown heading after the title (the heading itself is kept as a section heading)."""
    return bool(MARKDOWN_HEADING.match(text))
