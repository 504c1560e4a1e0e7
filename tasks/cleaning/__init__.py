"""The cleaner as a rulebook: one module per family of boilerplate, each rule a named object with its
checks and their examples; `rulebook` holds the order they run in, `engine` runs them.

    from tasks.cleaning import clean_text, clean_texts, clean_articles, RULES
"""

from __future__ import annotations

from tasks.cleaning.batch import recurring_lines
from tasks.cleaning.engine import (
    CLEANED_SCHEMA,
    REMOVED_SCHEMA,
    clean_articles,
    clean_text,
    clean_texts,
    removed_in_place,
)
from tasks.cleaning.metadata import (
    WIRE_AGENCIES,
    detect_language,
    extract_names,
    is_person_name,
    names_in_follow_line,
    normalise_agency,
    parse_date,
    publisher_from_url,
)
from tasks.cleaning.rule import Check, Example, Rule
from tasks.cleaning.rulebook import FAMILIES, ORDER, RULES, resolve_disabled
from tasks.cleaning.text import CleanedArticle, RemovedSpan, normalise_space

__all__ = [
    "CLEANED_SCHEMA", "FAMILIES", "ORDER", "REMOVED_SCHEMA", "RULES", "WIRE_AGENCIES", "Check", "CleanedArticle",
    "Example", "RemovedSpan", "Rule", "clean_articles", "clean_text", "clean_texts", "detect_language",
    "extract_names", "is_person_name", "names_in_follow_line", "normalise_agency", "normalise_space", "parse_date",
    "publisher_from_url", "recurring_lines", "removed_in_place", "resolve_disabled",
]
