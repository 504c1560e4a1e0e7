"""Reading metadata out of remnants: personal names in bylines and credits, wire agencies, calendar
dates, the publisher behind a URL. Rules call these when the line they remove carries metadata."""

from __future__ import annotations

import re
from datetime import date
from functools import lru_cache
from urllib.parse import urlparse

from tasks.cleaning.text import normalise_space

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
AGENCY_ALTERNATION = "|".join(sorted((re.escape(k) for k in WIRE_AGENCIES), key=len, reverse=True))

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

MONTHS = (
    r"(?:jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|aug(?:ust)?|"
    r"sep(?:t(?:ember)?)?|oct(?:ober)?|nov(?:ember)?|dec(?:ember)?)"
)
DATE_HINT = re.compile(
    rf"\b{MONTHS}\.?\s+\d{{1,2}}(?:st|nd|rd|th)?,?\s+\d{{4}}\b|\b\d{{1,2}}(?:st|nd|rd|th)?\s+{MONTHS}\.?,?\s+\d{{4}}\b"
    r"|\b\d{4}-\d{2}-\d{2}\b|\b\d{1,2}/\d{1,2}/\d{2,4}\b",
    re.I,
)
MARKDOWN_LINK = re.compile(r"\[([^\]]*)\]\([^)]*\)")


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


def add_names(target: list[str], names: list[str]) -> None:
    target.extend(n for n in names if n not in target)


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


def detect_language(text: str) -> str | None:
    """ISO 639-1 code of a text (py3langid: deterministic, and ~8x faster than langdetect with the same
    answers on news text); None for text too short to tell (under 5 words)."""
    ranked = rank_languages(text)
    return ranked[0][0] if ranked else None


@lru_cache(maxsize=1)
def _language_identifier():  # imported and loaded lazily: the model takes a moment to load
    from py3langid.langid import MODEL_FILE, LanguageIdentifier

    return LanguageIdentifier.from_model_file(MODEL_FILE, norm_probs=True)


def rank_languages(text: str, top: int = 3) -> list[tuple[str, float]]:
    """The `top` likeliest languages of a text with their probabilities (they sum to 1 over all languages);
    empty for text too short to tell (under 5 words)."""
    if len(text.split()) < 5:
        return []
    ranked = _language_identifier().rank(text[:800])  # enough to tell; the cost grows with the length
    return [(str(language), float(probability)) for language, probability in ranked[:top]]
