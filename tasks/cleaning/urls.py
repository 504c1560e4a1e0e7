"""URLs as footers: 'Original url: …' labels, and a bare URL after the last paragraph. The URL is kept
as metadata; a bare URL between kept lines (a list of sources or products) is content."""

from __future__ import annotations

import re

from tasks.cleaning.rule import Example, LineContext, Rule
from tasks.cleaning.text import CleanedArticle, Line

FAMILY = "urls"

URL_LABEL = re.compile(
    r"^(?:original|source|canonical|article|story)?\s*(?:url|link)\s*:\s*(?P<url><?https?://\S+?>?)?\s*$", re.I
)
BARE_URL = re.compile(r"^<?(?P<url>https?://[^\s<>]+)>?$")

URL_FOOTER = Rule("url_footer", FAMILY, "The page's own address printed as a footer ('Original url:', or a bare URL "
                  "after the story); kept as the article's URL.")


@URL_FOOTER.check("line", removes=("Original url: https://example.com/harbour", "Link:"),
                  keeps=("The link: a map of the channel shows where the boats ran aground.",), where="body")
def url_label(text: str, ctx: LineContext) -> bool:
    """'(Original/Source) URL:' or 'Link:' with or without the URL."""
    match = URL_LABEL.match(text)
    if not match:
        return False
    if match.group("url") and not ctx.article.url:
        ctx.article.url = match.group("url").strip("<>")
    return True


@URL_FOOTER.check("line", removes=("<https://example.com/2014/03/14/harbour-dredging>",),
                  keeps=(Example("https://example.com/harbour-map", "body"),))
def tail_url(text: str, ctx: LineContext) -> bool:
    """A bare URL after the last paragraph (inside the article it may be content)."""
    match = BARE_URL.match(text) if ctx.in_tail else None
    if not match:
        return False
    ctx.article.url = ctx.article.url or match.group("url")
    return True


@URL_FOOTER.check("head", removes=(Example("https://example.com/2014/03/14/harbour-dredging", "head"),),
                  keeps=(Example("https://example.com/harbour-map", "body"),))
def url_under_title(text: str, ctx: LineContext) -> bool:
    """Before the story, a bare URL (the page's own address printed under its title)."""
    match = BARE_URL.match(text) if ctx.previous_kept is None else None
    if not match:
        return False
    ctx.article.url = ctx.article.url or match.group("url")
    return True


def restore_inner_urls(lines: list[Line], article: CleanedArticle) -> None:
    """A bare URL after the story is a footer only when nothing kept follows it; between kept lines (a list
    of products, sources or links) it is part of the article."""
    kept_after = False
    for line in reversed(lines):
        if line.blank:
            continue
        if line.check == "tail_url" and kept_after and (match := BARE_URL.match(line.stripped)):
            line.reason = line.check = None
            if article.url == match.group("url"):
                article.url = None
        elif line.reason is None:
            kept_after = True
    if article.url is None:  # the URL recorded came from a line now kept: take the footer's
        footers = (BARE_URL.match(line.stripped) for line in lines if line.reason == "url_footer")
        article.url = next((match.group("url") for match in footers if match), None)
