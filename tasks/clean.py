"""Clean one article's text: remove scraper/extractor remnants, keep every removed span with its reason,
and record the metadata those remnants carry (title, authors, date, URL, dateline, wire agency).

The cleaner works on the decoded text and never rewrites article words: it only decides, line by line
and span by span, what is furniture. Every removed span keeps its character offsets into the input, so
the input can be rebuilt from the kept text plus `removed`.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import date
from functools import lru_cache
from pathlib import PurePosixPath
from urllib.parse import urlparse

import polars as pl
from rapidfuzz import fuzz

# ---------------------------------------------------------------------------------------------
# Vocabulary shared by several rules
# ---------------------------------------------------------------------------------------------

# Wire agencies, keyed by how they appear in datelines and source lines.
WIRE_AGENCIES: dict[str, str] = {
    "ap": "AP",
    "associated press": "AP",
    "the associated press": "AP",
    "reuters": "Reuters",
    "thomson reuters": "Reuters",
    "afp": "AFP",
    "agence france-presse": "AFP",
    "agence france presse": "AFP",
    "upi": "UPI",
    "bloomberg": "Bloomberg",
    "pti": "PTI",
    "ians": "IANS",
    "ani": "ANI",
    "xinhua": "Xinhua",
    "dpa": "dpa",
    "efe": "EFE",
    "ansa": "ANSA",
    "tass": "TASS",
    "itar-tass": "TASS",
    "kyodo": "Kyodo",
    "yonhap": "Yonhap",
    "aap": "AAP",
    "pa": "PA",
    "press association": "PA",
    "cnn wire": "CNN Wire",
}
_AGENCY_ALTERNATION = "|".join(sorted((re.escape(k) for k in WIRE_AGENCIES), key=len, reverse=True))

SOCIAL_NETWORKS = r"(?:twitter|x|facebook|instagram|linkedin|threads|bluesky|mastodon|tiktok|youtube)"

# Words that make a "name" an organisation, a role or a timestamp rather than a person.
_NOT_NAME_WORDS = {
    "news", "press", "staff", "agency", "agencies", "times", "post", "reuters", "associated", "wire",
    "correspondent", "editor", "editors", "reporter", "reporters", "writer", "desk", "team", "bureau",
    "hours", "hour", "ago", "minutes", "minute", "updated", "published", "posted", "min", "read",
    "twitter", "facebook", "instagram", "email", "share", "comments", "follow", "contributor",
    "online", "daily", "herald", "journal", "tribune", "media", "network", "service", "services",
    "the", "and", "on", "at", "of", "for", "with", "from", "by", "this", "report", "story",
}
_NAME_PARTICLES = {"de", "da", "del", "della", "der", "den", "van", "von", "bin", "ibn", "al", "el", "la", "le", "du", "dos", "di"}

TERMINAL_PUNCTUATION = tuple('.!?…"”’\')]:;')
_MONTHS = (
    r"(?:jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|aug(?:ust)?|"
    r"sep(?:t(?:ember)?)?|oct(?:ober)?|nov(?:ember)?|dec(?:ember)?)"
)

# ---------------------------------------------------------------------------------------------
# Line and span patterns, one per family of remnant. The family name lands in removed_spans.reason.
# ---------------------------------------------------------------------------------------------

MARKDOWN_LINK = re.compile(r"\[([^\]]*)\]\([^)]*\)")
BYLINE = re.compile(r"^(?:by|BY|By)\s*[:\-–—]?\s+(?P<names>\S.*)$")
URL_LABEL = re.compile(
    r"^(?:original|source|canonical|article|story)?\s*(?:url|link)\s*:\s*(?P<url><?https?://\S+?>?)?\s*$", re.I
)
BARE_URL = re.compile(r"^<?(?P<url>https?://[^\s<>]+)>?$")
SOURCE_LINE = re.compile(r"^\(?\s*source\s*:\s*(?P<source>[^()]{1,60}?)\s*\)?\s*\.?$", re.I)
INLINE_SOURCE = re.compile(r"\s*\(\s*source\s*:\s*(?P<source>[^()]{1,60}?)\s*\)\s*$", re.I)
CONTRIBUTED = re.compile(
    r"^(?:[—–-]+\s*)?(?P<names>[A-Z].{1,300}?)\s+(?:also\s+)?contributed"
    r"(?:\s+(?:reporting|research|to\s+this\s+(?:report|story|article)|from\s+[^.]+))*\s*\.?$"
)
REPORTING_BY = re.compile(
    r"^(?:\(?\s*)?(?:additional\s+)?(?:reporting|writing|editing|compiled|research)\s+by\s+.{2,300}$", re.I
)
SOCIAL_FOLLOW = re.compile(rf"^(?:follow|reach|find)\b.{{0,300}}\bon\s+{SOCIAL_NETWORKS}\b.*$", re.I)
# A closing "Follow him on Twitter @handle." after a sentence of text (an author's blurb): the prompt goes,
# the sentence stays.
INLINE_SOCIAL_FOLLOW = re.compile(
    rf"(?<=[.!?\"”’])\s+(?P<prompt>(?i:follow)\s+(?:(?i:him|her|them|us|me)|[A-Z][\w'’.-]+(?:\s+[A-Z][\w'’.-]+){{0,3}})"
    rf"\s+(?i:on)\s+(?i:{SOCIAL_NETWORKS})\b(?:\s+\S+){{0,40}}?)\s*$"
)
# A note about the story set after it ("Editor's note: ...").
EDITORS_NOTE = re.compile(r"^(?:editor'?s'?|editorial)\s+note\b", re.I)
FOLLOW_LINK = re.compile(r"^(?:follow|more)\b.{0,120}\bhttps?://\S+.{0,120}$", re.I)
# Newsletter and subscription prompts speak to the reader; a story about subscriptions does not.
NEWSLETTER_TOPIC = re.compile(r"\b(?:newsletters?|inbox|subscri(?:be|bing|ption)|sign(?:ing)?[ -]up)\b", re.I)
READER_ADDRESS = re.compile(r"\b(?:you|your|our|us|sign|join|click|tap|get|delivered|free|thanks?)\b", re.I)
INLINE_CLICK_TO_TWEET = re.compile(r"\s*Click To Tweet\s*$")
COMMENT_PROMPT = re.compile(
    r"^(?:post|leave|add|view|show|read|join)(?: a| your| the)? (?:comments?|discussion)\b.{0,30}$"
    r"|^(?:tell us what you think|have your say)\b.{0,30}$|\bcomments? (?:are|is) (?:closed|moderated)\b"
    r"|^note: .{0,60}\bcomments?\b"
    # A notice to commenters, in the languages news sites most often write one in ("ATENÇÃO: Comentários
    # … não serão aprovados", "Attention : les commentaires …").
    r"|^(?:aten[çc][ãa]o|atenci[óo]n|attention|aviso|nota|hinweis|achtung|avviso)\s*[:!–-].{0,200}?"
    r"\b(?:coment[aá]rios?|commentaires?|kommentare?|commenti|comments?)\b",
    re.I,
)
# A header that opens a block of links to other stories, alone or followed by one headline.
RELATED_HEADER = re.compile(
    r"^(?:related(?: post| posts| content| stories| articles| coverage| links)?|see more|see also|read more|read also|"
    r"also read|more on this|watch|listen|don'?t miss|recommended(?: for you)?|trending(?: now)?|most (?:read|popular|viewed)"
    r"(?: in [\w ]{1,30})?|popular on [\w .]{1,30}|more from [\w .]{1,40}|you (?:may|might) also like|top stories|"
    r"partner news|explore further|tags|latest news|more stories|editor'?s picks?|"
    # The same headers in the languages news sites most often write them in (pt, es, fr, de, it, ko),
    # after an optional site name ("Entermedia 주요뉴스": its top stories).
    r"leia (?:também|mais)|veja (?:também|mais)|saiba mais|lea (?:también|más)|leer más|ver más|lire aussi|à lire aussi|"
    r"voir aussi|lesen sie auch|mehr zum thema|leggi anche|(?:[\w-]{1,20} )?(?:주요\s?뉴스|관련\s?기사|많이 본 뉴스))"
    r"\s*(?P<rest>[:|].*|\.{2,}|…)?$",
    re.I,
)
# Express-style related links end with a tag in brackets: "... [VIDEO]", "... [INSIGHT]".
BRACKET_TAG_HEADLINE = re.compile(r"\[[A-Z][A-Z ]{2,20}\]\s*\|?\s*$")
# A list item's mark (matched up to its text, so that `BULLET.sub("", line)` leaves the item).
BULLET = re.compile(r"^\s*[-*•·▪]\s+(?=\S)")
MARKUP_LEFTOVER = re.compile(r"^[-*•]?\s*[a-z0-9]+(?:-[a-z0-9]+){2,}$")
# An ad slot's or layout's class name: "above-phone", "landscape-tablet", "sidebar-desktop".
LAYOUT_CLASS = re.compile(
    r"^[-*•]?\s*(?:[a-z0-9]+-)+?(?:phone|tablet|desktop|mobile|portrait|landscape|sidebar|leaderboard|mpu)"
    r"(?:-[a-z0-9]+)*$|^[-*•]?\s*(?:phone|tablet|desktop|mobile|portrait|landscape|sidebar|leaderboard|mpu)(?:-[a-z0-9]+)+$"
)
PUBLISHED_LABEL = re.compile(r"^(?:first |last )?(?:published|posted|updated|publicado|date)(?: on| at)?\s*[:\-]?\s*", re.I)
APP_PROMPT = re.compile(
    r"^(?:click here|tap here|download|get)\b.{0,80}\b(?:app|newsletter)\b.{0,40}$"
    r"|^(?:sign up|subscribe)\b.{0,120}$"
    r"|^thanks? (?:you )?for signing up!?.*$",
    re.I,
)
NAVIGATION = re.compile(
    r"^(?:next story|previous story|next article|previous article|read more|read next|related(?: articles| stories| content)?|"
    r"advertisement|sponsored(?: content)?|share this(?: article| story)?|back to top|back to gallery|comments?|"
    r"you may also like|don'?t miss|most popular|more from .{1,40}|recommended(?: for you)?|trending(?: now)?|"
    r"skip to (?:main )?content|print|email|share|tweet)\s*:?\s*$",
    re.I,
)
GALLERY = re.compile(r"^(?:image|photo|picture|slide)\s+\d+\s+(?:of|/)\s+\d+\s*$", re.I)
UPDATE_NOTE = re.compile(
    r"^[—–\-*\s]*(?:this (?:story|article|post|report) (?:was|has been) (?:updated|corrected)|"
    r"updated|last updated|correction|update)\b\s*:?\s*(?P<note>.*)$",
    re.I,
)
# AP's story slug ("BC-EU--Britain-Brexit-Election, 1st Ld-Writethru"): wire metadata, not text.
WIRE_SLUG = re.compile(r"^BC-[A-Z]{2,}(?:-{1,2}[\w'’]+)+(?:,\s*[\w -]{1,40})?$")
# The line Reuters closes every story with.
STANDARDS_FOOTER = re.compile(r"^Our Standards:\s*The Thomson Reuters Trust Principles\.?$", re.I)
COPYRIGHT = re.compile(r"^(?:©|\(c\)|copyright\b).{0,200}$", re.I)
CONTACT = re.compile(r"^(?:write to|contact|email)\s+.{1,80}\s+at\s+\S+@\S+.*$", re.I)
CAPTION_MARKER = re.compile(
    r"^(?:photo|image|picture|pictured|caption|file photo|above|below|top|left|right)\s*[:|]"
    r"|\((?:photo|image|picture)\s*:.{1,80}\)\s*$"
    r"|\((?:photo |image )?credits?\s*:.{1,80}\)\s*$"
    r"|\([A-Z][\w.&-]*(?: [A-Z][\w.&-]*)?(?:/[\w.&’' -]{2,40}){1,3}\)\s*$"  # "(NASA/JPL-Caltech)", "(AP Photo/Ann Lee)"
    r"|\b(?:photos?|images?|pictures?)\s*(?:©|by\s+[A-Z]|courtesy\b|credit\b)"
    r"|\b(?:AP|AFP|Reuters|Getty|EPA|Bloomberg)\s*(?:Photo|Images)\b"
    r"|\bREUTERS/[A-Z]"
    r"|^[^,\"“”]{2,80},\s*(?:left|right|center|centre|top|bottom|front|rear|second from (?:left|right)|"
    r"far (?:left|right)|foreground|background)\s*(?:,|and\b)",
)
DATE_HINT = re.compile(
    rf"\b{_MONTHS}\.?\s+\d{{1,2}}(?:st|nd|rd|th)?,?\s+\d{{4}}\b|\b\d{{1,2}}(?:st|nd|rd|th)?\s+{_MONTHS}\.?,?\s+\d{{4}}\b"
    r"|\b\d{4}-\d{2}-\d{2}\b|\b\d{1,2}/\d{1,2}/\d{2,4}\b",
    re.I,
)
DATELINE = re.compile(
    rf"^(?P<place>[A-Z][A-Z .,'’-]{{1,40}}?[A-Z.])\s*(?:\((?i:(?P<agency>{_AGENCY_ALTERNATION}))\))?\s*[—–-]{{1,2}}\s+(?=\S)"
    rf"|^(?P<place2>[A-Z][a-z]+(?:[ -][A-Z][a-z]+){{0,2}})\s*(?:\((?i:(?P<agency2>{_AGENCY_ALTERNATION}))\))?\s*(?::|[—–]|--)\s+(?=[A-Z“\"])"
)
# "John KerryJohn KerryKerry calls out … MORE": a name glued to its own copy, then hover-card headlines.
BIO_HOVERCARD = re.compile(
    r"(?P<name>(?:[A-Z][\w.'’-]*\s){1,3}[A-Z][\w'’-]*?)(?P<spill>(?P=name)(?:[A-Z][\w'’-]+)?\s.{0,800}?\sMORE\b)"
)
# Same card, where the second copy is a longer form of the name: "Kristi NoemKristi Lynn NoemSouth Dakota …".
GLUED_HOVERCARD = re.compile(
    r"(?P<name>(?P<first>[A-Z][\w'’-]+)(?:\s[A-Z][\w.'’-]*){1,3}?[a-z])(?P<spill>(?P=first)[\w\s.'’-]{0,60}?[a-z][A-Z].{0,800}?\sMORE\b)"
)
MARKDOWN_HEADING = re.compile(r"^#{1,6}\s+(?P<text>.+?)\s*#*\s*$")
NEWSLETTER_NAME = re.compile(r"^[\w'’ ]{1,40}\bnewsletter$", re.I)
CALL_TO_ACTION = re.compile(r"^(?:sign up|subscribe|click here|tap here|register now|join now)\b", re.I)
# A sales offer: "Use the code GETPRO", "Join our Free Parlay Challenge".
# (A code in capitals or a named kind of code: "hackers use code hidden in images" is a story.)
PROMO_CODE = re.compile(
    r"\b(?i:use|enter|apply) (?i:the )?(?:(?i:promo(?:tional)?|coupon|discount|voucher) (?i:code)\b|(?i:code) [\"“']?[A-Z0-9]{4,}\b)"
)
JOIN_PROMPT = re.compile(r"^join (?:our|us)\b", re.I)


# ---------------------------------------------------------------------------------------------
# Results
# ---------------------------------------------------------------------------------------------


@dataclass
class RemovedSpan:
    start: int
    end: int
    text: str
    reason: str


@dataclass
class CleanedArticle:
    """What the cleaner keeps, what it removes, and the metadata found in the remnants."""

    paragraphs: list[str] = field(default_factory=list)
    paragraph_headings: list[str | None] = field(default_factory=list)  # the section heading before each paragraph
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
    language: str | None = None  # ISO 639-1 code of the body (py3langid), None when too short to tell

    @property
    def body(self) -> str:
        """Paragraphs separated by a blank line; a section heading sits on the line above its paragraph."""
        headings = self.paragraph_headings or [None] * len(self.paragraphs)
        return "\n\n".join(f"{h}\n{p}" if h else p for h, p in zip(headings, self.paragraphs))


@dataclass
class _Line:
    start: int
    end: int
    text: str  # the raw line, without its newline
    reason: str | None = None  # set when the whole line is removed
    heading: bool = False  # a section heading: kept in the body, attached to the next paragraph
    cuts: list[tuple[int, int, str]] = field(default_factory=list)  # (start, end, reason) in line coordinates

    @property
    def stripped(self) -> str:
        return normalise_space(self.text)

    @property
    def blank(self) -> bool:
        return not self.stripped


# ---------------------------------------------------------------------------------------------
# Small helpers
# ---------------------------------------------------------------------------------------------


def normalise_space(text: str) -> str:
    """Collapse runs of whitespace (including no-break spaces) to one space and strip the ends."""
    return " ".join(text.split())


def _word_count(text: str) -> int:
    return len(text.split())


def _ends_sentence(text: str) -> bool:
    return text.rstrip().endswith(TERMINAL_PUNCTUATION)


def _ends_statement(text: str) -> bool:
    return text.rstrip().endswith(tuple('.…"”’\')]:;'))


def _is_all_caps(text: str) -> bool:
    letters = [ch for ch in text if ch.isalpha()]
    return len(letters) >= 10 and all(ch.isupper() for ch in letters)


def _last_sentence(text: str) -> str:
    return re.split(r"(?<=[.!?])\s+(?=\S)", text.strip())[-1]


def _restates_title(line: str, title: str) -> bool:
    """A head line that repeats the title in other words: a longer or shorter form, or "Title | Site"."""
    line_fold, title_fold = _fold(line), _fold(title)
    if not line_fold or not title_fold or _ends_statement(line):  # a sentence of the story, not a headline
        return False
    if line_fold in title_fold and len(line_fold) >= 0.5 * len(title_fold):
        return True
    if title_fold in line_fold and len(title_fold) >= 0.5 * len(line_fold):
        return True
    shorter, longer = sorted((len(line_fold), len(title_fold)))
    return shorter >= 0.6 * longer and fuzz.token_sort_ratio(line_fold, title_fold) >= 80


def _fold(text: str) -> str:
    return re.sub(r"[\W_]+", " ", text.casefold()).strip()


def normalise_agency(name: str) -> str | None:
    """'reuters' -> 'Reuters', 'The Associated Press' -> 'AP'; None when it is not a known agency."""
    return WIRE_AGENCIES.get(normalise_space(name).strip(" .").casefold())


def is_person_name(candidate: str) -> bool:
    """A plausible personal name: 2-5 capitalised tokens, no digits, no organisation or time words."""
    tokens = candidate.replace("’", "'").split()
    if not 2 <= len(tokens) <= 5 or len(candidate) > 60 or any(ch.isdigit() for ch in candidate):
        return False
    for token in tokens:
        bare = token.strip(".,'")
        if bare.casefold() in _NOT_NAME_WORDS:
            return False
        if bare.casefold() in _NAME_PARTICLES:
            continue
        if not bare or not bare[0].isupper() or not re.fullmatch(r"[\w.'’-]+", token):
            return False
    return True


def extract_names(text: str) -> list[str]:
    """Personal names from a credit or byline fragment ("A and B in Moscow, C", "[A](#)")."""
    text = MARKDOWN_LINK.sub(r"\1", text)
    text = re.sub(r"https?://\S+|@\w+|\S+@\S+", " ", text)
    names: list[str] = []
    for part in re.split(r",|;|\band\b|&|\|", text):
        part = re.sub(r"\s+(?:in|from|at)\s+[A-Z][\w .'-]*$", "", part.strip())  # "X in Moscow"
        part = re.sub(r"^(?:by|with|and)\s+", "", part.strip(), flags=re.I).strip(" .:-–—")
        if not is_person_name(part):
            part = re.sub(r"^.*?\w['’]s?\s+", "", part)  # "Fox News’ Jessica Napoli" -> "Jessica Napoli"
        if is_person_name(part) and part not in names:
            names.append(part)
    return names


def names_in_follow_line(text: str) -> list[str]:
    """'Follow Lara Jakes on Twitter at: and Cassandra Vinograd at' -> both names."""
    text = re.sub(rf"^follow\b|\bon\s+{SOCIAL_NETWORKS}\b|\bat\b\s*:?", " , ", text, flags=re.I)
    return extract_names(text)


@lru_cache(maxsize=1)
def _dateparser():  # imported lazily: dateparser takes a second to import
    import dateparser

    return dateparser


def parse_date(text: str) -> date | None:
    """A calendar date from a short date line, or None. Requires day, month and year."""
    match = DATE_HINT.search(text)
    if not match:
        return None
    parsed = _dateparser().parse(
        match.group(0),
        languages=["en"],
        settings={"REQUIRE_PARTS": ["day", "month", "year"], "PREFER_DATES_FROM": "past"},
    )
    return parsed.date() if parsed else None


def publisher_from_url(url: str) -> str | None:
    host = urlparse(url).netloc.lower().split("@")[-1].split(":")[0]
    return host.removeprefix("www.") or None


def _split_lines(text: str) -> list[_Line]:
    lines: list[_Line] = []
    position = 0
    for raw_line in text.split("\n"):
        lines.append(_Line(position, position + len(raw_line), raw_line))
        position += len(raw_line) + 1
    return lines


# ---------------------------------------------------------------------------------------------
# The cleaner
# ---------------------------------------------------------------------------------------------


def _series_prefix(headline: str) -> str | None:
    """The part before " | " of a headline written as "<series or section> | <headline>"."""
    prefix, separator, rest = headline.partition(" | ")
    return prefix.strip().casefold() if separator and 1 <= _word_count(prefix) <= 8 and rest.strip() else None


def _same_series_as_title(line: str, title: str | None) -> bool:
    """A headline of another story in the title's series ("Milan Design Week 2018 | …"), not a sentence."""
    if not title or _ends_statement(line):
        return False
    title_prefix, line_prefix = _series_prefix(title), _series_prefix(line)
    if title_prefix is None or line_prefix is None or _fold(line) == _fold(title):
        return False
    # Outlets vary the series name's spelling a little ("Milan" / "Milano Design Week").
    return fuzz.ratio(title_prefix, line_prefix) >= 85


def _classify_line(line: str, article: CleanedArticle, in_tail: bool = True) -> str | None:
    """The remnant family of a whole line (and the metadata it carries), or None for article text."""
    words = _word_count(line)
    folded = _fold(line)
    if article.title and folded == _fold(article.title):
        return "title_repeat"
    if NAVIGATION.match(line) or GALLERY.match(line):
        return "navigation"
    if words <= 25 and (RELATED_HEADER.match(line) or BRACKET_TAG_HEADLINE.search(line)):
        return "related_links"
    if MARKUP_LEFTOVER.match(line) or LAYOUT_CLASS.match(line):
        return "markup"
    if 8 <= words <= 25 and _is_all_caps(line) and not _ends_statement(line):
        return "related_links"  # a headline of another story in capitals; section headings are shorter
    if in_tail and words <= 25 and _same_series_as_title(line, article.title):
        return "related_links"  # "Opinion | <another headline>" after the story: a teaser of the series
    if words <= 4 and NEWSLETTER_NAME.match(line):
        return "newsletter_prompt"
    if words <= 50 and '"' not in line and "“" not in line and CALL_TO_ACTION.match(_last_sentence(line)) \
            and re.search(r"\b(?:newsletter|subscri\w+|issues|inbox)\b", line, re.I):
        return "newsletter_prompt"  # a promotion whose last sentence sends the reader to sign up
    if words <= 15 and (label := PUBLISHED_LABEL.match(line)) and (published := parse_date(line)):
        if "updated" in label.group(0).casefold():
            article.updated = article.updated or published
        else:
            article.published = article.published or published
        return "date_line"
    if words <= 8 and (match := DATE_HINT.search(line)) and len(match.group(0)) >= 0.5 * len(line.strip(" ,.|-")) \
            and (published := parse_date(line)):
        article.published = article.published or published
        return "date_line"
    if match := URL_LABEL.match(line):
        if match.group("url") and not article.url:
            article.url = match.group("url").strip("<>")
        return "url_footer"
    if in_tail and (match := BARE_URL.match(line)):
        # A bare URL after the last paragraph is a footer; inside the article it may be content.
        article.url = article.url or match.group("url")
        return "url_footer"
    if WIRE_SLUG.match(line):
        article.wire_source = article.wire_source or "AP"
        return "wire_slug"
    if STANDARDS_FOOTER.match(line):
        return "standards_footer"
    if match := SOURCE_LINE.match(line):
        article.wire_source = article.wire_source or normalise_agency(match.group("source")) or match.group("source").strip().title()
        return "source_credit"
    if words <= 60 and (match := CONTRIBUTED.match(line)):
        names = extract_names(match.group("names"))
        if names:
            article.contributors.extend(n for n in names if n not in article.contributors)
            return "credit"
    if words <= 60 and REPORTING_BY.match(line):
        body = re.sub(r"^\W*(?:additional\s+)?(?:reporting|writing|editing|compiled|research)\s+by\s+", "", line, flags=re.I)
        body = re.sub(r"(?:writing|editing|compiled|research)\s+by\s+", ", ", body, flags=re.I).rstrip(")")
        article.contributors.extend(n for n in extract_names(body) if n not in article.contributors)
        return "credit"
    if words <= 40 and SOCIAL_FOLLOW.match(line):
        article.authors.extend(n for n in names_in_follow_line(line) if n not in article.authors)
        return "social_prompt"
    if words <= 30 and '"' not in line and "“" not in line and NEWSLETTER_TOPIC.search(line) and READER_ADDRESS.search(line):
        return "newsletter_prompt"
    if (words <= 80 and PROMO_CODE.search(line)) or (words <= 12 and JOIN_PROMPT.match(line) and not _ends_sentence(line)):
        return "promo"
    if words <= 30 and (APP_PROMPT.match(line) or FOLLOW_LINK.match(line)):
        return "social_prompt"
    if words <= 30 and COMMENT_PROMPT.search(line):
        return "comment_prompt"
    if words <= 40 and (CONTACT.match(line) or (re.search(r"\S+@\S+\.\w+", line) and re.search(
            r"\b(?:reach|reached|contact|e-?mail|write to|tips?)\b", line, re.I))):
        return "contact"
    if words <= 40 and COPYRIGHT.match(line):
        return "copyright"
    if words <= 25 and (match := UPDATE_NOTE.match(line)) and not _ends_sentence_is_body(line):
        note = re.sub(r"^(?:at|on)\s+", "", match.group("note").strip())
        article.updated_note = article.updated_note or (note or None)
        article.updated = article.updated or parse_date(note)
        return "update_note"
    if words <= 40 and '"' not in line and "“" not in line and CAPTION_MARKER.search(line):
        return "caption"
    return None


def _ends_sentence_is_body(line: str) -> bool:
    """An update-note lookalike that is really a sentence of the story ("Updated figures show ...")."""
    return _word_count(line) > 8 and not re.search(r"\d", line)


def _head_rules(line: str, article: CleanedArticle) -> str | None:
    """Rules that only apply before the first paragraph of article text: bylines and date lines."""
    words = _word_count(line)
    if words <= 15 and (match := BYLINE.match(line)):
        names_text = match.group("names")
        agency = normalise_agency(MARKDOWN_LINK.sub(r"\1", names_text))
        if agency:
            article.wire_source = article.wire_source or agency
            return "byline"
        names = extract_names(names_text)
        if names:
            article.authors.extend(n for n in names if n not in article.authors)
            return "byline"
    starts_with_date = bool((match := DATE_HINT.search(line)) and match.start() == 0)
    if (words <= 12 or (starts_with_date and words <= 20)) and (published := parse_date(line)):
        if not re.search(r"[.!?]\s+\S", line):  # a date line, not a sentence that mentions a date
            article.published = article.published or published
            return "date_line"
    return None


def _closes_article(later: list[_Line], name: str) -> bool:
    """No article text follows, other than more sentences about `name` ("Ascom is headquartered in ...")."""
    return all(line.stripped.startswith(name + " ") for line in later if not line.blank and _looks_like_body(line.stripped))


def _looks_like_body(line: str) -> bool:
    words = _word_count(line)
    return words >= 40 or (words >= 12 and _ends_sentence(line))


def _cut_inline(line: _Line, article: CleanedArticle, first_body_line: bool) -> None:
    """Remnants glued inside a line of article text: bio hover-cards, source tags, datelines."""
    for match in BIO_HOVERCARD.finditer(line.text):
        line.cuts.append((match.start("spill"), match.end("spill"), "bio_hovercard"))
    if not line.cuts:
        for match in GLUED_HOVERCARD.finditer(line.text):
            line.cuts.append((match.start("spill"), match.end("spill"), "bio_hovercard"))
    if match := INLINE_CLICK_TO_TWEET.search(line.text):
        if match.start() > 0:
            line.cuts.append((match.start(), match.end(), "promo"))
    if match := INLINE_SOCIAL_FOLLOW.search(line.text):
        article.authors.extend(n for n in names_in_follow_line(match.group("prompt")) if n not in article.authors)
        line.cuts.append((match.start("prompt"), match.end("prompt"), "social_prompt"))
    if match := INLINE_SOURCE.search(line.text):
        if match.start() > 0:
            article.wire_source = article.wire_source or normalise_agency(match.group("source")) or match.group("source").strip().title()
            line.cuts.append((match.start(), match.end(), "source_credit"))
    if first_body_line:
        offset = len(line.text) - len(line.text.lstrip())
        match = DATELINE.match(line.text[offset:])
        if match:
            place = (match.group("place") or match.group("place2") or "").strip(" ,")
            agency = match.group("agency") or match.group("agency2")
            if place and _word_count(place) <= 4:
                article.dateline = place
                if agency:
                    article.wire_source = article.wire_source or normalise_agency(agency)
                # The dateline stays in the text (it is part of the story's first sentence).


def _kept_text(line: _Line) -> str:
    text = line.text
    for start, end, _ in sorted(line.cuts, reverse=True):
        text = text[:start] + " " + text[end:]
    return normalise_space(text)


def _paragraph_mode(blocks: list[list[_Line]]) -> str:
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
        if paragraphs and pending is None and not _ends_sentence(paragraphs[-1]) and text[:1].islower():
            paragraphs[-1] = f"{paragraphs[-1]} {text}"
            continue
        paragraphs.append(text)
        headings.append(pending)
        pending = None
    if pending:
        paragraphs.append(pending)
        headings.append(None)
    return paragraphs, headings


def clean_text(text: str, recurring: frozenset[str] = frozenset()) -> CleanedArticle:
    """Clean one decoded article. Pure: the same text always gives the same result.

    `recurring`: normalised lines that recur across the batch (see `recurring_lines`); such a line is
    site furniture even when no rule names it."""
    article = CleanedArticle()
    lines = _split_lines(text)
    content = [line for line in lines if not line.blank]
    if not content:
        return article

    # Title: a Markdown heading, or a short first line standing alone (the extractors' convention).
    first = content[0]
    first_index = lines.index(first)
    next_line = lines[first_index + 1] if first_index + 1 < len(lines) else None
    heading = MARKDOWN_HEADING.match(first.stripped)
    if heading:
        article.title = heading.group("text").strip()
        first.reason = "title"
    elif (next_line is None or next_line.blank) and _word_count(first.stripped) <= 30 and not first.stripped.endswith(".") \
            and not BYLINE.match(first.stripped) and not BARE_URL.match(first.stripped) and len(content) > 1:
        article.title = first.stripped
        first.reason = "title"

    # body_after[i]: some line after line i reads like article text (so line i is not in the tail).
    body_after = [False] * len(lines)
    for index in range(len(lines) - 2, -1, -1):
        body_after[index] = body_after[index + 1] or _looks_like_body(lines[index + 1].stripped)

    in_head = True
    previous_kept: _Line | None = None
    previous_reason: str | None = None
    in_related_block: str | bool = False  # False, or what continues the block: "headlines" or "bullets"
    about_name: str | None = None  # the issuer whose closing self-description was found
    for index, line in enumerate(lines):
        if line.blank or line.reason:
            continue
        stripped = line.stripped
        # Markdown headings after the title are section headings; the '#' marker is markup.
        if heading_match := MARKDOWN_HEADING.match(stripped):
            line.heading = True
            # Measured on the raw line: its inner whitespace may differ from `stripped` ("##  A  B").
            marker_end = re.match(r"\s*#{1,6}\s+", line.text).end()  # type: ignore[union-attr]
            line.cuts.append((0, marker_end, "markup"))
            article.section_headings.append(heading_match.group("text"))
            previous_kept = line
            continue
        line_text = normalise_space(MARKDOWN_LINK.sub(r"\1", stripped)) if "](" in stripped else stripped
        in_tail = not body_after[index] or previous_reason == "url_footer"
        reason = _classify_line(line_text, article, in_tail)
        if reason is None and about_name and line_text.startswith(about_name + " "):
            reason = "about_block"  # the issuer's self-description goes on ("Ascom is headquartered in ...")
        if reason is None and recurring and _recurring_key(line_text) in recurring:
            reason = "recurring"
            if about := SELF_DESCRIPTION.match(line_text):
                if _closes_article(lines[index + 1:], about.group("name")):
                    reason, about_name = "about_block", about.group("name")
                elif _word_count(line_text) > RECURRING_MAX_WORDS:
                    reason = None  # recurring only as a closing self-description, and this one does not close
        if reason is None and in_related_block:
            # Lines under a "Related" / "Read more" header: bullets and headlines, until article text resumes.
            # Headlines may end in "?" or "!"; a sentence of the story ends in a full stop or a quote.
            # After a one-link header ("Related: <headline>") only a bulleted list continues the block.
            if BULLET.match(line_text) or (in_related_block == "headlines" and (
                    (_word_count(line_text) <= 20 and not _ends_statement(line_text)) or GLUED_TEASER.match(line.text.strip()))):
                reason = "related_links"
            else:
                in_related_block = False
        if reason in ("related_links", "navigation"):
            header = RELATED_HEADER.match(line_text)
            # A bare header ("You may also like…") opens a block; "Read more: <headline>" is one link.
            if header:
                in_related_block = "bullets" if (header.group("rest") or "").strip(" :|.…") else "headlines"
        previous_reason = reason
        if reason is None and in_head and article.title and _restates_title(line_text, article.title):
            reason = "title_repeat"
        if reason is None and in_head:
            reason = _head_rules(line_text, article)
            # Subtitle: the line right after the title that does not end as a sentence.
            following = next((later for later in lines[index + 1:] if not later.blank), None)
            if reason is None and article.title and previous_kept is None and article.subtitle is None \
                    and all(l.reason in ("title", "title_repeat") for l in lines[:index] if not l.blank) \
                    and 5 <= _word_count(stripped) <= 40 and not _ends_sentence(stripped) \
                    and following is not None and not following.stripped[:1].islower():
                article.subtitle = stripped
                reason = "subtitle"
        if reason:
            line.reason = reason
            continue
        if in_head and _looks_like_body(stripped):
            in_head = False
        _cut_inline(line, article, first_body_line=previous_kept is None)
        if not _kept_text(line):
            line.reason = line.cuts[0][2] if line.cuts else "empty"
            line.cuts = []
            continue
        previous_kept = line

    _mark_headline_lists(lines)
    _mark_excerpt_listings(lines)
    _mark_lines_between_link_headers(lines)
    _mark_newsletter_widgets(lines)
    _restore_inner_urls(lines, article)
    _mark_section_headings(lines, article)

    # Paragraphs: blocks of kept lines; a removed line or a heading also ends a block.
    blocks: list[list[_Line]] = [[]]
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
        texts = [_kept_text(line) for line in block]
        if block[0].heading:
            items.append((True, texts[0]))
        elif mode == "blank":
            items.append((False, normalise_space(" ".join(texts))))
        else:
            items.extend((False, text) for text in texts)
    article.paragraphs, article.paragraph_headings = _attach_headings([item for item in items if item[1]])

    for line in lines:
        if line.reason and not line.blank:
            article.removed.append(RemovedSpan(line.start, line.end, line.text, line.reason))
        for start, end, reason in line.cuts:
            article.removed.append(RemovedSpan(line.start + start, line.start + end, line.text[start:end], reason))
    article.removed.sort(key=lambda span: span.start)
    if article.url:
        article.publisher = publisher_from_url(article.url)
    article.language = detect_language(article.body)
    return article


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
# Evidence beyond one file
# ---------------------------------------------------------------------------------------------

# Lines that recur across this many documents of one folder are furniture (menus, footers, prompts).
RECURRING_MIN_DOCUMENTS = 3
# Only short lines, or lines outside the article text (head or tail), count: a long paragraph shared by
# several articles is more likely the same wire copy reprinted than site furniture.
RECURRING_MAX_WORDS = 15
# Two documents sharing more than this share of their story lines are copies of one story; they count once.
NEAR_COPY_OVERLAP = 0.5
# A press release's closing self-description of its issuer ("Ascom is a global solutions provider ..."),
# repeated word for word in the issuer's other releases. Two distinct documents suffice as evidence: it must
# also close the story and describe its subject, which wire copy shared by two stories does not.
SELF_DESCRIPTION = re.compile(
    r"^(?P<name>[A-Z][\w&.'’-]*(?: [A-Z][\w&.'’-]*){0,4})(?: \([^)]{1,40}\))?,? (?:is|are) (?:a|an|the|one of the)\b"
)
ABOUT_MIN_DOCUMENTS = 2
ABOUT_LAST_PARAGRAPHS = 3


def _recurring_key(line: str) -> str:
    """A line as compared across documents: case, spacing and digits do not matter ("3 comments")."""
    return re.sub(r"\d+", "0", _fold(line))


def _candidate_lines(text: str) -> tuple[set[str], set[str], set[str]]:
    """The story lines of one document (lines that read like article text), the lines that may count
    as furniture (short ones, and any in the head or tail), and the self-descriptions among its last
    paragraphs."""
    lines = [normalise_space(line) for line in text.split("\n")]
    # Line 1 is the title; lines without a letter (rules "___", scores "2-1") are not evidence of anything.
    lines = [line for line in lines[1:] if re.search(r"[^\W\d_]", line)]
    body = [index for index, line in enumerate(lines) if _looks_like_body(line)]
    first, last = (body[0], body[-1]) if body else (len(lines), -1)
    candidates = {
        _recurring_key(line)
        for index, line in enumerate(lines)
        if _word_count(line) <= RECURRING_MAX_WORDS or index < first or index > last
    }
    about = {_recurring_key(lines[index]) for index in body[-ABOUT_LAST_PARAGRAPHS:] if SELF_DESCRIPTION.match(lines[index])}
    return {_recurring_key(lines[index]) for index in body}, candidates | about, about


def recurring_lines(texts: Iterable[str], min_documents: int = RECURRING_MIN_DOCUMENTS) -> frozenset[str]:
    """Normalised lines found in at least `min_documents` distinct documents of a batch.

    Deterministic (depends only on the set of texts). Near-copies of one story (more than half their
    lines shared) count as one document, so a story filed twice does not lose its own paragraphs. An
    issuer's closing self-description counts from `ABOUT_MIN_DOCUMENTS`."""
    texts = list(texts)
    documents, candidates, abouts = zip(*(_candidate_lines(text) for text in texts)) if texts else ((), (), ())
    about_keys = set().union(*abouts)
    holders: dict[str, list[int]] = defaultdict(list)
    for index, keys in enumerate(candidates):
        for key in keys:
            holders[key].append(index)
    recurring: set[str] = set()
    for key, indices in holders.items():
        needed = min(min_documents, ABOUT_MIN_DOCUMENTS) if key in about_keys else min_documents
        if len(indices) < needed:
            continue
        distinct: list[int] = []
        for index in indices:
            if all(_overlap(documents[index], documents[other]) <= NEAR_COPY_OVERLAP for other in distinct):
                distinct.append(index)
            if len(distinct) >= needed:
                recurring.add(key)
                break
    return frozenset(recurring)


def _overlap(a: set[str], b: set[str]) -> float:
    return len(a & b) / min(len(a), len(b)) if a and b else 0.0


def detect_language(text: str) -> str | None:
    """ISO 639-1 code of a text (py3langid: deterministic, and ~8x faster than langdetect with the same
    answers on news text); None for text too short to tell (under 5 words)."""
    if _word_count(text) < 5:
        return None
    import py3langid

    language, _ = py3langid.classify(text[:800])  # enough to tell; the cost grows with the length
    return str(language)


# A short bulleted list of other stories' headlines, left where a "Related" box stood after the story.
HEADLINE_LIST_ITEMS = range(3, 7)
_QUOTES_AND_PUNCTUATION = "\"'“”‘’():,?!"


def _is_headline(text: str) -> bool:
    """Headline case: 3-16 words, no closing full stop, nearly every later word of 4+ letters capitalised."""
    words = text.split()
    later = [w.strip(_QUOTES_AND_PUNCTUATION) for w in words[1:]]
    long_words = [w for w in later if len(w) >= 4]
    return 3 <= len(words) <= 16 and not text.endswith(".") and len(long_words) >= 2 \
        and sum(w[0].isupper() or w[0].isdigit() for w in long_words) >= 0.8 * len(long_words)


def _is_afterword(line: _Line) -> bool:
    return bool(EDITORS_NOTE.match(line.stripped)) or any(reason == "social_prompt" for *_, reason in line.cuts)


def _mark_headline_lists(lines: list[_Line]) -> None:
    """A run of 3-6 bulleted headlines after the story's last paragraph is a related-links box whose header
    the extractor dropped. Longer lists, and lists with story text after them, are kept; an editor's note
    or an author's blurb (a line that closed with a social prompt) after the list is not story text."""
    runs: list[list[_Line]] = [[]]
    for line in lines:
        if line.blank:
            continue
        if line.reason is None and BULLET.match(line.stripped):
            runs[-1].append(line)
        elif runs[-1]:
            runs.append([])
    kept = [line for line in lines if not line.blank and line.reason is None]
    for run in runs:
        if len(run) not in HEADLINE_LIST_ITEMS or kept[0] is run[0]:
            continue
        after = kept[kept.index(run[-1]) + 1:]
        if any(_looks_like_body(line.stripped) and not _is_afterword(line) for line in after):
            continue
        if all(_is_headline(BULLET.sub("", line.stripped)) for line in run):
            for line in run:
                line.reason = "related_links"


# A teaser as an extractor joins a link's headline and its standfirst: "Historic church on the verge of
# destruction  The church is in ruins ..." (two spaces where the two elements met: matched on the raw line).
GLUED_TEASER = re.compile(r"^[^.!?]{10,120}[^\s.!?:;,]  +[A-Z\"“].{10,}$")
# Teasers between two headers of link boxes ("Top stories" ... "Partner news"): one short sentence each.
BETWEEN_HEADERS_MAX_LINES = 8
BETWEEN_HEADERS_MAX_WORDS = 25
_MEDIA_HEADER = re.compile(r"^(?:watch|listen|tags)\b", re.I)


def _mark_between(lines: list[_Line], is_boundary: Callable[[_Line], bool], fits: Callable[[_Line], bool],
                  max_lines: int, reason: str) -> None:
    """Kept lines between two boundary lines take `reason` when there are at most `max_lines` of them
    and each fits: a box's inner lines, whatever they say."""
    content = [line for line in lines if not line.blank]
    boundaries = [index for index, line in enumerate(content) if is_boundary(line)]
    for first, second in zip(boundaries, boundaries[1:]):
        between = [line for line in content[first + 1:second] if line.reason is None]
        if 0 < len(between) <= max_lines and all(fits(line) for line in between):
            for line in between:
                line.reason = reason


def _is_link_box_header(line: _Line) -> bool:
    header = RELATED_HEADER.match(line.stripped) if line.reason == "related_links" else None
    return bool(header) and not (header.group("rest") or "").strip(" :|.…") and not _MEDIA_HEADER.match(line.stripped)


def _mark_lines_between_link_headers(lines: list[_Line]) -> None:
    """Lines between two bare headers of link boxes ("Top stories", "Partner news") are the first box's
    teasers, when there are few of them and each is one short sentence (a story's paragraphs are longer
    or more). Headers of embedded media ("Watch", "Listen") do not count: they may stand inside a story."""
    _mark_between(
        lines, _is_link_box_header,
        lambda line: _word_count(line.stripped) <= BETWEEN_HEADERS_MAX_WORDS
        and not re.search(r"[.!?][\"”’]?\s+[A-Z]", line.stripped),
        BETWEEN_HEADERS_MAX_LINES, "related_links",
    )


# A sign-up box's lines between its other lines ("Pick Six Newsletter" / <pitch> / "Thanks for signing up!" /
# "Sorry!" / "There was an error processing your subscription."): the box, whatever they say.
WIDGET_GAP_LINES = 3
WIDGET_GAP_WORDS = 20


def _mark_newsletter_widgets(lines: list[_Line]) -> None:
    """Up to three short lines between two newsletter prompts belong to the same sign-up box."""
    _mark_between(lines, lambda line: line.reason == "newsletter_prompt",
                  lambda line: _word_count(line.stripped) <= WIDGET_GAP_WORDS, WIDGET_GAP_LINES, "newsletter_prompt")


# Excerpts of other posts, which a listing cuts at a fixed length and marks with a detached or bracketed
# ellipsis: "... traçando um plano paralelo para …", "... the council said [...]". (A writer trailing off
# types it against the word: "somewhere...".)
TRUNCATED_EXCERPT = re.compile(r"(?:[\w,;]\s(?:…|\.\.\.)|\[(?:…|\.\.\.)\])$")
EXCERPT_MIN_WORDS = 15
# Cut at the same length: as many words, or lengths within 2% (sites cut at N words or N characters).
EXCERPT_CHAR_TOLERANCE = 0.02


def _same_cut_length(a: str, b: str) -> bool:
    return _word_count(a) == _word_count(b) or abs(len(a) - len(b)) <= EXCERPT_CHAR_TOLERANCE * max(len(a), len(b))


def _mark_excerpt_listings(lines: list[_Line]) -> None:
    """Two or more paragraphs cut off mid-sentence with an ellipsis at the same length are teasers from a
    listing of other posts (a writer trailing off does not stop at a fixed length); the stretch from the first
    to the last of them is the listing, shorter teasers that needed no cut included. The article's first
    paragraph is never part of it."""
    kept = [line for line in lines if not line.blank and line.reason is None]
    cut = [line for line in kept[1:]
           if _word_count(line.stripped) >= EXCERPT_MIN_WORDS and TRUNCATED_EXCERPT.search(line.stripped)]
    if len(cut) < 2:
        return
    # The largest set of cut paragraphs sharing a length with one of them.
    same = max(([other for other in cut if _same_cut_length(line.stripped, other.stripped)] for line in cut), key=len)
    if len(same) < 2:
        return
    for line in kept[kept.index(same[0]):kept.index(same[-1]) + 1]:
        line.reason = "related_links"


def _restore_inner_urls(lines: list[_Line], article: CleanedArticle) -> None:
    """A bare URL is a footer only when nothing kept follows it; between kept lines (a list of
    products, sources or links) it is part of the article."""
    kept_after = False
    for line in reversed(lines):
        if line.blank:
            continue
        if line.reason == "url_footer" and kept_after and (match := BARE_URL.match(line.stripped)):
            line.reason = None
            if article.url == match.group("url"):
                article.url = None
        elif line.reason is None:
            kept_after = True
    if article.url is None:  # the URL recorded came from a line now kept: take the footer's
        footers = (BARE_URL.match(line.stripped) for line in lines if line.reason == "url_footer")
        article.url = next((match.group("url") for match in footers if match), None)


def _mark_section_headings(lines: list[_Line], article: CleanedArticle) -> None:
    """A short line without closing punctuation between two paragraphs of text is a section heading."""
    kept = [line for line in lines if not line.blank and not line.reason]
    for before, line, after in zip(kept, kept[1:], kept[2:]):
        text = _kept_text(line)
        unquoted = text.strip("'‘’\"“”")
        if (
            _word_count(text) <= 8
            and unquoted[:1].isupper()
            and not _ends_sentence(unquoted)
            and not unquoted.endswith((",", "—", "-"))
            and _ends_sentence(_kept_text(before))
            and _looks_like_body(_kept_text(after))
        ):
            line.heading = True
            article.section_headings.append(text)


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
}
REMOVED_SCHEMA = {
    "article_id": pl.String,
    "start_char": pl.Int64,
    "end_char": pl.Int64,
    "text": pl.String,
    "reason": pl.String,
}


def clean_texts(texts: dict[str, str]) -> dict[str, CleanedArticle]:
    """Clean a batch of decoded texts keyed by path: lines recurring across the documents of one folder
    count as furniture (see `recurring_lines`)."""
    folders: dict[str, list[str]] = defaultdict(list)
    for name in texts:
        folders[str(PurePosixPath(name).parent)].append(name)
    cleaned: dict[str, CleanedArticle] = {}
    for names in folders.values():
        recurring = recurring_lines(texts[name] for name in names)
        for name in names:
            cleaned[name] = clean_text(texts[name], recurring)
    return {name: cleaned[name] for name in texts}


def clean_articles(documents: pl.DataFrame) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Clean a batch of decoded documents (`article_id`, `text`).

    Returns the cleaned articles with their metadata, and every removed span with its reason.
    """
    article_rows: list[dict[str, object]] = []
    removed_rows: list[dict[str, object]] = []
    keys = documents["source_path"] if "source_path" in documents.columns else documents["article_id"]
    batch = clean_texts(dict(zip(keys.to_list(), documents["text"].to_list())))
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
