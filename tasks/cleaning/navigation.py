"""Site navigation: the labels of links and buttons (next story, share, print, back to top) and a
gallery's counters. Each is a whole line of a fixed label, which no article sentence is."""

from __future__ import annotations

import re

from tasks.cleaning.rule import LineContext, Rule

FAMILY = "navigation"

NAVIGATION = re.compile(
    r"^(?:next story|previous story|next article|previous article|read more|read next|related(?: articles| stories| content)?|"
    r"advertisement|sponsored(?: content)?|share this(?: article| story)?|back to top|back to gallery|comments?|"
    r"you may also like|don'?t miss|most popular|more from .{1,40}|recommended(?: for you)?|trending(?: now)?|"
    r"skip to (?:main )?content|print|email|share|tweet)\s*:?\s*$",
    re.I,
)
GALLERY = re.compile(r"^(?:image|photo|picture|slide)\s+\d+\s+(?:of|/)\s+\d+\s*$", re.I)
# A gallery's or a caption's controls: "Open gallery", "Enlarge this image", "Hide caption", "12 photos", "1 of 12".
GALLERY_CONTROL = re.compile(
    r"^(?:(?:open|close|view|launch|expand|see|show)(?: the)? (?:gallery|slideshow|image|images|photos?|pictures?)"
    r"(?: \(?\d+\)?)?|enlarge (?:this )?image|(?:hide|show|toggle) caption|caption|next image|previous image|"
    r"prev|next|close|\d+ (?:photos|images|pictures)|view \d+ (?:photos|images|pictures)|\d+ of \d+)\s*$",
    re.I,
)
# Share, print and text-size buttons flattened into one line: "Share Tweet Email Print", "Text size A A A".
TOOLBAR_WORD = re.compile(
    r"(?:share(?: this)?|tweet|e-?mail|print(?: this(?: article| page)?)?|facebook|twitter|x|whatsapp|linkedin|pinterest|"
    r"reddit|messenger|telegram|copy link|link|comments?|save|reprints?|permissions|text size|font size|resize|"
    r"a\+?-?|aa|[|•·/]|\d+)", re.I)
# A breadcrumb trail: 3+ short segments joined by >, », › or /  ("Home > News > World").
BREADCRUMB = re.compile(r"^[^>»›/]{1,30}(?:\s[>»›/]\s[^>»›/]{1,30}){2,}$")
# A menu of the site's sections on one line ("News Sport Business Opinion Culture").
SECTION_NAMES = {
    "home", "news", "world", "politics", "business", "sport", "sports", "entertainment", "opinion", "opinions",
    "lifestyle", "life", "tech", "technology", "science", "health", "travel", "culture", "video", "videos", "local",
    "national", "weather", "money", "markets", "arts", "books", "music", "film", "films", "tv", "style", "food",
    "education", "environment", "jobs", "obituaries", "more", "podcasts", "photos", "live", "latest", "us", "uk",
    "europe", "asia", "africa", "americas", "economy", "media", "fashion", "cars", "property", "games", "puzzles",
    "crosswords", "newsletters", "subscribe", "login", "log in", "sign in", "search", "menu",
}
_MENU_JOINERS = {"&", "and", "|", "•"}

NAVIGATION_RULE = Rule("navigation", FAMILY, "Labels of the page's links and buttons and gallery counters, alone on "
                       "a line: fixed labels, never a sentence.")


@NAVIGATION_RULE.check("line", removes=("Next Story", "Advertisement", "Share this article", "Print", "Back to top"),
                       keeps=("Print media lost readers again this year, the survey found.",), where="body")
def navigation_label(text: str, ctx: LineContext) -> bool:
    """A line that is exactly one of the usual link or button labels."""
    return bool(NAVIGATION.match(text))


@NAVIGATION_RULE.check("line", removes=("Open gallery", "Enlarge this image", "Hide caption", "12 photos", "1 of 12"),
                       keeps=("The gallery opens on Monday with twelve photos of the harbour.",), where="body")
def gallery_control(text: str, ctx: LineContext) -> bool:
    """A gallery's or a caption's button label alone on a line (open, close, enlarge, next, "12 photos")."""
    return bool(GALLERY_CONTROL.match(text))


@NAVIGATION_RULE.check("line", removes=("Share Tweet Email Print", "Facebook | Twitter | WhatsApp | Email",
                                        "Text size A A A", "Reprints & Permissions"),
                       keeps=("Share prices fell.", "Print and email records show the board knew."), where="body")
def toolbar_line(text: str, ctx: LineContext) -> bool:
    """A line made only of share, print, e-mail, comment and text-size button labels (2+ of them)."""
    words = re.findall(r"copy link|text size|font size|print this (?:article|page)|share this|\S+", text.replace("&", " "), re.I)
    return len(words) >= 2 and all(TOOLBAR_WORD.fullmatch(word) for word in words) \
        and any(not re.fullmatch(r"[|•·/]|\d+|a\+?-?|aa", word, re.I) for word in words)


@NAVIGATION_RULE.check("line", removes=("Home > News > World", "News » Local » Harbour", "Home / Sport / Football"),
                       keeps=("Ticket prices rose from 1/2 to 3/4 of a pound.", "The score was 2 > 1 > 0 at half time, said the coach."),
                       where="head")
def breadcrumb(text: str, ctx: LineContext) -> bool:
    """A trail of 3+ short capitalised segments (1-3 words) joined by >, », › or /."""
    if not BREADCRUMB.match(text):
        return False
    segments = [s.strip() for s in re.split(r"\s[>»›/]\s", text)]
    return all(1 <= len(s.split()) <= 3 and s[:1].isupper() for s in segments)


@NAVIGATION_RULE.check("line", removes=("News Sport Business Opinion Culture Lifestyle", "Home | News | Sport | Weather | More"),
                       keeps=("Sport and business news", "Business news, sport and weather are on page two of the paper."),
                       where="head")
def section_menu(text: str, ctx: LineContext) -> bool:
    """A line of 4+ words that are nearly all the names of a site's sections: its menu."""
    words = [w for w in re.findall(r"log in|sign in|[\w&|•]+", text.casefold()) if w not in _MENU_JOINERS]
    return len(words) >= 4 and not text.rstrip().endswith((".", "!", "?")) \
        and sum(word in SECTION_NAMES for word in words) >= 0.9 * len(words)


@NAVIGATION_RULE.check("line", removes=("Image 3 of 12", "Photo 2 of 9"),
                       keeps=("Photo 3 of 12 shows the flooded quay, which reopened on Friday.",), where="body")
def gallery_counter(text: str, ctx: LineContext) -> bool:
    """A gallery's position counter: "Image 3 of 12"."""
    return bool(GALLERY.match(text))
