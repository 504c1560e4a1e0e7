"""Whole-page text: what a naive scraper keeps of a web page (`BeautifulSoup.get_text()`, `html-text`,
`lynx -dump`, "select all, copy"): the article amid menus, cookie banners, "Most read" lists, footers and
link lists, one block per line.

1. `is_whole_page`: many of the lines are short labels (menus, links, buttons: under 40 characters, no
   sentence end), a large share of them; and (in `article_lines`) some labels stand above the story, as a
   site's header does. Extractor output, clean text and an article with a long list or table do not pass.
2. Each line gets jusText's context-free class (Pomikálek 2011), read on text lines instead of HTML blocks:
   its length and its density of stopwords (jusText's stoplists; the page's language is the stoplist its
   words hit most) make it good, near-good, short or bad.
3. The story is the stretch of the page where text outweighs furniture: the maximum-sum run of line
   weights (as in Finn et al.'s body-text extraction): characters of good text for, a fixed cost per
   label, notices (cookies, privacy, rights, comment forms, newsletter boxes) against whatever their
   length, table rows and list items
   (several numbers, tab-joined cells, a number or bullet in front, a shared separator) weightless. The headline (a line restating the page's title)
   moves its start up to just under it; weightless lines at its ends widen it (a closing table).
4. Under the headline, the stretch starts at its first line that is no label or notice (a byline, a share
   panel go). A link-box or comments header ("Most read", "2 comments") below 90% of the stretch's text ends it;
   so does a listing of other stories (3+ date lines below half of its text: headline, author, date, excerpt).
5. Inside the stretch, a run of 6+ labels (a share panel) goes unless most of them are phrases with
   stopwords (a list of the story's), and the labels at its two ends go; so does a link box ("Most read in
   world news" and its headlines) up to the story's next sentence.
Lines are judged as the blocks they were cut from: a scraper that puts each text node on its own line cuts a
sentence at its links, and a piece that starts in lower case (or follows one ending on a stopword) rejoins it.
Everything outside the stretch goes. `Signals` switches each of these off for bench/cleaning.py's ablation.
"""


from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache

from tasks.cleaning.metadata import DATE_HINT
from tasks.cleaning.related import RELATED_HEADER
from tasks.cleaning.rule import Example, LineContext, Rule
from tasks.cleaning.text import Line, ends_sentence, restates_title

FAMILY = "whole_page"

# jusText's defaults (justext.core), on characters of a line.
LENGTH_LOW = 70
LENGTH_HIGH = 200
STOPWORDS_LOW = 0.30
STOPWORDS_HIGH = 0.32
# A whole page: at least this many label lines (short, no sentence end), being this share of its lines.
PAGE_MIN_LABELS = 30
PAGE_MIN_LABEL_SHARE = 0.35
LABEL_MAX_CHARS = 40
PAGE_MIN_HEAD_LABELS = 1  # below the title line, above the story's stretch: a site's header
# This many label lines in a row inside the article's stretch are a panel of links, not the story, unless
# this share of them are phrases with stopwords ("A licence for the spoil at sea"): a list of the story's.
LABEL_RUN = 6
PHRASE_SHARE = 0.5
# This many short lines in a row with the same separator are a list of the story's ("Path A: ...").
LIST_RUN = 3
# A line of this many words ending on a stopword is cut mid-sentence ("...besides the fact that").
FRAGMENT_MIN_WORDS = 3
# The page's stoplist must cover this share of its words (a page in a language without one covers few).
STOPLIST_MIN_HITS = 0.1
# An ideographic, kana or hangul character counts as 1 + CJK_EXTRA characters of a line's length (a word's worth).
CJK_EXTRA = 1


@dataclass(frozen=True)
class Signals:
    """The signals the article's stretch is found by, each switchable for bench/cleaning.py's ablation."""

    stopwords: bool = True  # jusText's stopword density (else sentence punctuation only)
    headline: bool = True  # the headline restating the page's title marks where the story starts
    furniture_words: bool = True  # cookie, privacy, rights notices, comment forms weigh against, whatever their length
    table_rows: bool = True  # table rows and list items weigh nothing (a results table is not a menu)
    short_sentences: bool = True  # a short line ending as a sentence costs less than a label
    soft_edges: bool = True  # the stretch widens over the weightless lines at its ends
    label_runs: bool = True  # runs of labels inside the stretch go
    lead_in: bool = True  # the stretch starts at its first line that is no label or furniture
    dated_teasers: bool = True  # 3+ date lines below most of the story's text: a listing of other stories
    link_boxes: bool = True  # a link box inside the story goes, up to the story's next sentence
    end_markers: bool = True  # a link-box or comments header below most of the story's text ends it
    fragments: bool = True  # a sentence cut into lines at its links is judged whole
    gate: bool = True  # only on whole pages (off: on every input, extractor output included)


SIGNALS = Signals()
_SENTENCE_END = tuple("。！？」』）")
_SHORT_SENTENCE_END = tuple(".!?…\"”。！？")
_WORD = re.compile(r"[^\W\d_]+")
_CJK = re.compile(r"[\u3040-\u30ff\u3400-\u9fff\uac00-\ud7af]")


@cache
def _stopword_languages() -> dict[str, tuple[str, ...]]:
    """Each stopword of jusText's stoplists and the languages it belongs to (loaded on first use)."""
    import justext

    languages: dict[str, list[str]] = {}
    for language in sorted(justext.get_stoplists()):
        for word in justext.get_stoplist(language):
            languages.setdefault(word, []).append(language)
    return {word: tuple(names) for word, names in languages.items()}


def page_stoplist(texts: list[str]) -> frozenset[str]:
    """The stoplist of the page's language: the one its words hit most (ties by name; empty for a script
    without a stoplist, such as Japanese)."""
    by_word = _stopword_languages()
    hits: dict[str, int] = {}
    for text in texts:
        for word in _WORD.findall(text.casefold()):
            for language in by_word.get(word, ()):
                hits[language] = hits.get(language, 0) + 1
    best = max(sorted(hits), key=lambda language: hits[language]) if hits else None
    words = sum(len(_WORD.findall(text)) for text in texts)
    if best is None or hits[best] < STOPLIST_MIN_HITS * words:  # Japanese, Chinese: no stoplist fits
        return frozenset()
    return frozenset(word for word, languages in by_word.items() if best in languages)


def _length(text: str) -> int:
    return len(text) + CJK_EXTRA * len(_CJK.findall(text))


def is_label(text: str) -> bool:
    """A menu item, link or button label: short and not a sentence."""
    return _length(text) <= LABEL_MAX_CHARS and not text.endswith(_SHORT_SENTENCE_END)


def is_whole_page(lines: list[Line]) -> bool:
    """Many short label lines, a large share of the page: a scraper's whole page, or an article with a long
    list or table in it (told apart by `article_lines`: a page has labels above its story too)."""
    texts = [line.stripped for line in lines if not line.blank]
    labels = sum(is_label(text) for text in texts)
    return labels >= PAGE_MIN_LABELS and labels >= PAGE_MIN_LABEL_SHARE * len(texts)


def line_class(text: str, stoplist: frozenset[str]) -> str:
    """jusText's context-free class of one line: 'good', 'neargood', 'short' or 'bad'."""
    length = _length(text)
    if length < LENGTH_LOW:
        return "short"
    words = _WORD.findall(text.casefold())
    if not stoplist:  # no stoplist for the language: sentences by their punctuation
        return "good" if length > LENGTH_HIGH or ends_sentence(text) or text.endswith(_SENTENCE_END) else "neargood"
    density = sum(word in stoplist for word in words) / len(words) if words else 0.0
    if density >= STOPWORDS_HIGH:
        return "good" if length > LENGTH_HIGH else "neargood"
    return "neargood" if density >= STOPWORDS_LOW else "bad"


# What each class of line weighs in the search for the article's stretch: characters of text for and
# against, and a fixed cost for every label line (a menu of thirty short items outweighs a paragraph).
SHORT_COST = 45
SHORT_SENTENCE_COST = 5
NEARGOOD_WEIGHT = 0.5
BAD_WEIGHT = 0.5


# The page's own furniture, whatever its length: cookie and privacy notices, rights lines.
FURNITURE_WORDS = re.compile(
    r"\bcookies?\b|privacy (?:policy|settings|overview)|©|\ball rights reserved\b|"
    # comment forms and newsletter boxes
    r"email address will not be published|required fields are marked|save my name, email|"
    r"(?:sign up|subscribe) (?:for|to) (?:our|the) (?:\w+ )?newsletter|personal data|data protection", re.I)
# A row of a table or a results list: several numbers, many of the line's tokens ("Palm Bay 18 22 13 17 — 70").
_NUMBER = re.compile(r"^\W*\d[\d.,:/%-]*\W*$")


_NUMBERED = re.compile(r"^(?:\d{1,3}[).]|[-•*·▪])\s+\S")


def is_row(text: str) -> bool:
    """A table's row (several numbers) or a numbered or bulleted list's item ("12) Roger Waters – The Wall")."""
    if _NUMBERED.match(text):
        return True
    tokens = DATE_HINT.sub(" ", text).split()  # a date's day and year are not a row's figures (a source list)
    numbers = sum(bool(_NUMBER.match(token)) for token in tokens)
    return numbers >= 2 and numbers >= 0.2 * len(tokens)


# A list item's shape: the first separator inside it ("England (Group A): 10th appearance" -> ":"; not a
# bracket: "Category (32)" lists are archive menus).
_SEPARATOR = re.compile(r"\w[^\w\s]*?\s*([:–—=])")


def list_items(texts: list[str]) -> list[bool]:
    """Lines in a run of LIST_RUN+ short lines that share their first inner separator: the items of a list
    or a table in the story ("1a etapa: 10 de março – Interlagos"); menus' labels have none."""
    shapes = []
    for text in texts:
        separator = _SEPARATOR.search(text) if _length(text) < LENGTH_LOW else None
        shapes.append(separator.group(1) if separator else None)
    items = [False] * len(texts)
    index = 0
    while index < len(texts):
        end = index
        while end < len(texts) and shapes[end] is not None and shapes[end] == shapes[index]:
            end += 1
        if end - index >= LIST_RUN:
            items[index:end] = [True] * (end - index)
        index = max(end, index + 1)
    return items


def line_value(text: str, cls: str, signals: Signals) -> float:
    """What a line weighs for (text) or against (furniture) the article's stretch."""
    length = _length(text)
    if signals.furniture_words and FURNITURE_WORDS.search(text):
        return -max(length, SHORT_COST)
    if signals.table_rows and is_row(text):
        return 0.0
    if signals.short_sentences and cls == "short" and text.endswith(_SHORT_SENTENCE_END):
        return -SHORT_SENTENCE_COST  # a short sentence or question, not a label
    return {"good": length, "neargood": NEARGOOD_WEIGHT * length, "short": -SHORT_COST}.get(cls, -BAD_WEIGHT * length)


def best_run(values: list[float], first: int = 0) -> tuple[int, int]:
    """The contiguous run [start, end) of the largest sum starting at `first` or later (the first such run:
    deterministic)."""
    best, best_span = float("-inf"), (first, first)
    total, start = 0.0, first
    for index in range(first, len(values)):
        if total <= 0:
            total, start = 0.0, index
        total += values[index]
        if total > best:
            best, best_span = total, (start, index + 1)
    return best_span


# The site's name after the headline in a page's <title>: "Headline | Site", "Headline - Site".
_TITLE_SEPARATOR = re.compile(r"\s+(?:[|–—-]|::)\s+")


def title_lines(texts: list[str]) -> list[int]:
    """The lines after the first (the page's <title>) that restate it, or its part before the site's name:
    the article's headline, and its echoes."""
    title = texts[0] if texts else ""
    titles = dict.fromkeys([title, _TITLE_SEPARATOR.split(title)[0]])
    return [index for index, text in enumerate(texts[1:], start=1)
            if _length(text) <= 3 * LENGTH_HIGH and any(restates_title(text, form) for form in titles if form)]


def story_stretch(values: list[float], headlines: list[int]) -> tuple[int, int]:
    """The run of most text; when the headline is printed above it, from the headline on (a lede, a table
    under it); when the headline is printed only below a run that is not the story (a cookie notice, a
    teaser list), the run of most text after it."""
    start, end = best_run(values)
    above = [index for index in headlines if index < start]
    if above:
        start = above[-1] + 1
    elif headlines and headlines[0] >= end:
        start, end = best_run(values, headlines[0] + 1)
    return start, end


def widen_over_soft_lines(start: int, end: int, soft: list[bool], headlines: list[int]) -> tuple[int, int]:
    """The story's first and last lines may weigh nothing (a table, a closing short sentence): the stretch
    goes on over lines that are no labels, and over a lone label (a table's caption) followed by one; up
    to the headline, not over it."""
    while end < len(soft) and (soft[end] or (end + 1 < len(soft) and soft[end + 1])):
        end += 1
    while start > 0 and soft[start - 1] and start - 1 not in headlines:
        start -= 1
    return start, end


# What opens the furniture under a story: a link box's header (tasks/cleaning/related.py), a comment widget.
COMMENTS_HEADER = re.compile(r"^(?:\d+\s+)?(?:comments?|responses?|replies)\b|^(?:leave|post|add|write) a (?:reply|comment)\b|"
                             r"^join the (?:conversation|discussion)\b|^show comments\b", re.I)
# A header that ends the stretch stands where this share of its text lies above it (not a box mid-story).
END_MARKER_MIN_SHARE = 0.9
TEASER_DATES = 3
BOX_MAX_LINES = 20
TEASER_MIN_SHARE = 0.5
TEASER_HEAD_LINES = 2


def is_end_marker(text: str) -> bool:
    header = RELATED_HEADER.match(text)
    return is_label(text) and (bool(header and not header.group("rest")) or bool(COMMENTS_HEADER.match(text)))


def cut_at_end_marker(start: int, end: int, texts: list[str], values: list[float]) -> int:
    """The stretch ends at the first link-box or comments header below most of its text."""
    total = sum(max(value, 0.0) for value in values[start:end])
    above = 0.0
    for index in range(start, end):
        above += max(values[index], 0.0)
        if above >= END_MARKER_MIN_SHARE * total and is_end_marker(texts[index]):
            return index
    return end


# A teaser's date line: a short line that is mostly a date, or "3 hours ago".
_AGO = re.compile(r"^\d{1,2}\s+(?:min(?:ute)?s?|hours?|days?|weeks?)\s+ago$", re.I)


def is_date_line(text: str) -> bool:
    date = DATE_HINT.search(text)
    return bool(_AGO.match(text)) or (len(text.split()) <= 8 and date is not None
                                      and len(date.group(0)) >= 0.5 * len(text.strip(" ,.|-")))


def cut_at_dated_teasers(start: int, end: int, texts: list[str], values: list[float]) -> int:
    """A listing of other stories under the story (headline, author, date, excerpt, again and again): the
    stretch ends above the first of TEASER_DATES+ date lines below most of its text, and above the short
    lines (the teaser's headline and author) right over that date."""
    total = sum(max(value, 0.0) for value in values[start:end])
    dates = [index for index in range(start, end) if is_date_line(texts[index])]
    above = 0.0
    for index in range(start, end):
        above += max(values[index], 0.0)
        if index in dates and above >= TEASER_MIN_SHARE * total \
                and sum(date >= index for date in dates) >= TEASER_DATES:
            cut = index
            while cut > start and index - cut < TEASER_HEAD_LINES and values[cut - 1] < -SHORT_SENTENCE_COST:
                cut -= 1
            return cut
    return end


def drop_link_boxes(keep: list[bool], texts: list[str], start: int, end: int) -> None:
    """Inside the stretch, a link box ("Most read in world news" and its headlines) goes: its header and the
    lines under it up to the story's next sentence (a line of LENGTH_LOW+ characters ending as one), at most
    BOX_MAX_LINES."""
    index = start
    while index < end:
        if not is_end_marker(texts[index]):
            index += 1
            continue
        box_end = index + 1
        while box_end < min(end, index + 1 + BOX_MAX_LINES) and not (
                _length(texts[box_end]) >= LENGTH_LOW and texts[box_end].endswith(_SHORT_SENTENCE_END)):
            box_end += 1
        if box_end < end:  # the story goes on under the box
            keep[index:box_end] = [False] * (box_end - index)
        index = box_end


def drop_label_runs(keep: list[bool], labels: list[bool], start: int, end: int, phrases: list[bool]) -> None:
    """Inside the stretch, a run of LABEL_RUN+ label lines (a share panel, a link list) goes, unless most
    of them are phrases with stopwords (a list of the story's: "Writing a blog post"); and so do the labels
    at the stretch's two ends (a byline's "Share", a "Read more")."""
    index = start
    while index < end:
        run_end = index
        while run_end < end and labels[run_end]:
            run_end += 1
        if run_end - index >= LABEL_RUN and sum(phrases[index:run_end]) < PHRASE_SHARE * (run_end - index):
            keep[index:run_end] = [False] * (run_end - index)
        index = max(run_end, index + 1)
    while start < end and labels[start]:
        keep[start] = False
        start += 1
    while end > start and labels[end - 1]:
        keep[end - 1] = False
        end -= 1


# A sentence cut at an inline tag (a link, a bold word), as a scraper that puts every text node on its own
# line leaves it: the next piece starts in lower case or with punctuation, or this one ends on a stopword.
def continues_sentence(text: str) -> bool:
    return text[:1].islower() or text[:1] in tuple(",.;:)!?’”")


def fragment_groups(texts: list[str], stoplist: frozenset[str]) -> list[list[int]]:
    """The lines of a page grouped into the blocks they were cut from (a sentence split at its links); the
    title line stays alone."""
    groups: list[list[int]] = []
    for index, text in enumerate(texts):
        if groups and index > 1:
            previous = texts[index - 1]
            words = previous.split()
            if continues_sentence(text) or previous.endswith((",", "“", "(")) \
                    or (len(words) >= FRAGMENT_MIN_WORDS and words[-1] in stoplist):
                groups[-1].append(index)
                continue
        groups.append([index])
    return groups


def article_lines(texts: list[str], signals: Signals | None = None, cells: list[bool] | None = None) -> list[bool]:
    """For each line of a whole page, whether it belongs to the article. `cells`: the lines whose raw text
    holds a tab between words (a table's cells as a scraper joins them). Sentences cut at their links are
    judged whole (each of their lines gets the sentence's verdict)."""
    signals = signals or SIGNALS
    cells = cells or [False] * len(texts)
    stoplist = page_stoplist(texts) if signals.stopwords else frozenset()
    if not signals.fragments:
        return _article_lines(texts, signals, cells, stoplist)
    groups = fragment_groups(texts, stoplist)
    verdicts = _article_lines([" ".join(texts[index] for index in group) for group in groups], signals,
                              [any(cells[index] for index in group) for group in groups], stoplist)
    keep = [False] * len(texts)
    for group, kept in zip(groups, verdicts):
        for index in group:
            keep[index] = kept
    return keep


def _article_lines(texts: list[str], signals: Signals, cells: list[bool], stoplist: frozenset[str]) -> list[bool]:
    values = [line_value(text, line_class(text, stoplist), signals) for text in texts]
    if signals.table_rows:
        rows = [is_row(text) or item or cell for text, item, cell in zip(texts, list_items(texts), cells)]
        values = [0.0 if row else value for row, value in zip(rows, values)]
    else:
        rows = [False] * len(texts)
    headlines = title_lines(texts) if signals.headline else []
    start, end = story_stretch(values, headlines)
    labels = [is_label(text) and not row for text, row in zip(texts, rows)]
    phrases = [any(word in stoplist for word in _WORD.findall(text.casefold())) for text in texts]
    if signals.gate and sum(labels[1:start]) < PAGE_MIN_HEAD_LABELS:  # no header: an article with a long list
        return [True] * len(texts)
    if signals.soft_edges:
        soft = [not label and not FURNITURE_WORDS.search(text) for label, text in zip(labels, texts)]
        start, end = widen_over_soft_lines(start, end, soft, headlines)
    if signals.end_markers:
        end = cut_at_end_marker(start, end, texts, values)
    if signals.dated_teasers:
        end = cut_at_dated_teasers(start, end, texts, values)
    if signals.lead_in:
        while start < end and values[start] < -SHORT_SENTENCE_COST:  # under the headline: byline, share panel
            start += 1
    keep = [start <= index < end for index in range(len(texts))]
    if signals.label_runs:
        drop_label_runs(keep, labels, start, end, phrases)
    if signals.link_boxes:
        drop_link_boxes(keep, texts, start, end)
    return keep


PAGE_FURNITURE = Rule("page_furniture", FAMILY, "On whole-page text (30+ short label lines, some above the story: "
                      "menus, link lists), every line outside the story's stretch (the run of the page, from under "
                      "the headline, where stopword-dense sentences outweigh labels and notices), and the share "
                      "panels and link boxes inside it.")

_MENU = "\n".join(["Home", "News", "World", "Local", "Politics", "Business", "Climate", "Harbour", "Ferries",
                   "Weather", "Opinion", "Letters", "Obituaries", "Events", "Jobs", "Classifieds"])
_FOOTER = "\n".join(["About us", "Contact us", "Advertise with us", "Careers", "Privacy policy", "Terms of use",
                     "Cookie settings", "Accessibility", "Sitemap", "Follow us", "Facebook", "Instagram", "RSS"])
_COOKIES = "We use cookies to improve your experience on our site. By continuing to browse you accept our use of cookies."
_LONG_A = ("The harbour board voted on Monday to dredge the main channel before the autumn storms arrive, after a "
           "summer in which two fishing boats ran aground at low tide and the ferry was delayed on eleven days.")
_LONG_B = ("Fishermen said the work was overdue and that the board had been warned about the silt for years, but "
           "they welcomed the vote and said they would help the contractors with local knowledge of the channel.")
_TABLE = "Boats aground by month\nMarch 1 0\nJune 0 1\nAugust 1 1"
_NEEDS = "\n".join(["What the work needs", "Two dredgers from the port", "A licence for the spoil at sea",
                    "The quay closed for a week", "A survey of the wrecks", "Pilots on every tide", "Money from the state"])
_LONG_C = ("The board's chairman said the contractors would start at the harbour mouth in May and that the channel "
           "would stay open to the ferry on every high tide while the dredgers were at work in the summer months.")
_BOX = ("Most read in local news\nBACK AT LAST\nGrey seals are back on the north beach after ten years away\n"
        "ROOF TROUBLE\nOld market hall will shut for repairs, traders told\nNEW TIMES\nFerry adds two crossings a day")
_LONG_D = ("The cost of the work, about two million pounds, will be shared by the board and the county, which said "
           "on Tuesday that the channel was vital to the island's ferry and to the fishing fleet that lands there.")
_STORY = (f"{_LONG_A}\n\n{_NEEDS}\n\nWhat they said\n\n{_LONG_B}\n\n{_BOX}\n\n{_LONG_C}\n\n{_LONG_D}\n\n"
          f"{_TABLE}\n\nThe work starts in May.")
_SHARE = "\n".join(["Facebook", "Twitter", "WhatsApp", "LinkedIn", "Pinterest", "Copy link"])
# Other stories listed under the story: headline, author, date and excerpt, again and again.
_TEASERS = "\n".join(
    f"{headline}\nBy {author}\nMarch {day}, 2031\n{excerpt}" for headline, author, day, excerpt in (
        ("Ferry timetable changes", "Anna Berg", 3, "The island ferry will add two crossings a day from June, the "
         "operator said on Friday, after passengers had complained for years about the long gaps between sailings."),
        ("Market hall to close", "Tom Hale", 2, "The old market hall will close for repairs in the autumn after "
         "inspectors found cracks in its roof, and the traders will move to a temporary site on the quay."),
        ("Seals return to the north beach", "Ruth Moss", 1, "Grey seals have returned to the north beach for the "
         "first time in a decade, rangers said, and visitors are asked to keep their dogs on a lead there.")))
_PAGE = (f"Harbour board orders dredging | Coastal Gazette\n\n{_COOKIES}\n\n{_MENU}\n\nHarbour board orders dredging\n\n"
         f"{_SHARE}\n\n{_STORY}\n\n{_TEASERS}\n\n{_FOOTER}")
# An extractor's output with a long list in it: many short lines, but not a whole page.
_LISTED = ("Harbour board orders dredging\n\n" + _LONG_A + "\n\nThe channel will be closed on these days:\n\n"
           + "\n".join(f"{day} {month}" for month in ("May", "June") for day in ("Monday", "Tuesday", "Wednesday",
                                                                             "Thursday", "Friday", "Saturday"))
           + "\n\n" + _LONG_B)

# A story ending in a long list of short lines (a cup draw), with no site header above it: not a whole page.
_DRAW = ("Harbour cup draw made\n\n" + _LONG_A + "\n\n" + _LONG_B + "\n\n"
         + "\n".join(f"{home} v {away}" for home in ("Northport", "Eastbay", "Seaham", "Westcliff", "Rockpool",
                                                      "Southsea") for away in ("Anchor", "Harbour", "Quay",
                                                                               "Lighthouse", "Ferry", "Pier")))

# A page whose story is a table of cells (tab-joined) and a bulleted list: rows, not labels.
_SPECS_TABLE = "\n".join(["Length \t48 m", "Beam \t11 m", "Draught \tUp to 3.2 m", "Engines \tTwo diesels",
                          "- Dredges to 14 metres", "- Pumps spoil ashore", "- Crew of nine", "- Built in Gdansk"])
_SPECS = (f"Harbour dredger Northern Star | Coastal Gazette\n\n{_MENU}\n\nHarbour dredger Northern Star\n\n{_LONG_A}\n\n"
          f"{_SPECS_TABLE}\n\n{_FOOTER}")


@PAGE_FURNITURE.check(
    "block",
    removes=(Example(_PAGE, "document", _MENU), Example(_PAGE, "document", _FOOTER),
             Example(_PAGE, "document", _COOKIES), Example(_PAGE, "document", _SHARE),
             Example(_PAGE, "document", _TEASERS)),
    keeps=(Example(_PAGE, "document", _STORY.split(_BOX)[0]), Example(_PAGE, "document", _STORY.split(_BOX)[1]), Example(_LISTED, "document", _LISTED.split("\n\n", 1)[1]),
           Example(_DRAW, "document", _DRAW.split("\n\n", 1)[1]), Example(_SPECS, "document", _SPECS_TABLE)),
)
def page_furniture(lines: list[Line], ctx: LineContext) -> list[Line]:
    """On a whole page, the kept lines outside the story's stretch, and the label runs and link boxes inside it.
    Wire copy (a dateline line under its headline) is no page: its short lines are the agency's tables."""
    if ctx.wire_copy or (SIGNALS.gate and not is_whole_page(lines)):
        return []
    content = [line for line in lines if not line.blank]
    keep = article_lines([line.stripped for line in content], cells=["\t" in line.text.strip() for line in content])
    return [line for line, kept in zip(content, keep) if not kept and not line.reason]
