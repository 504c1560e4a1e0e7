"""Tables flattened into lines: results, standings, market prices, one row a line ("NEW JERSEY 14 10 1 61 61 29",
"Pohang 3 Ulsan 2 ( halftime 1-0 )"). A row is data: no rule may take it for furniture because it recurs
(two standings tables share their rows' shape and often their figures), and the paragraph splitter keeps a run
of rows, with the short labels between them ("EASTERN DIVISION", "W L PCT GB"), as one `table` paragraph."""

from __future__ import annotations

import re

from tasks.cleaning.metadata import DATE_HINT
from tasks.cleaning.text import word_count

# A figure: a number, a score or a ratio ("61", "1-0", ".556", "4/5", "12.5%", "2,000"), brackets around it allowed.
FIGURE = re.compile(r"^\W*(?:\d[\d.,:/%-]*|\.\d+)\W*$")
# Three lower-case words in a row: prose ("The champion defeated the Chilean 6-4 4-6 7-6 6-2 ."), which a row of a table
# rarely has ("Queen of South 3 2 0 1 5 4 6", "C. Lewis 80 not out").
PROSE_RUN = re.compile(r"(?:\b[a-z][a-z'’-]*[ ,]+){2}[a-z][a-z'’-]*\b")

ROW_MIN_FIGURES = 2
ROW_MIN_FIGURE_SHARE = 0.2
ROW_MAX_WORDS = 100  # a golf leaderboard's line holds several players' cards


def figures(text: str) -> int:
    """How many of the line's tokens are figures (a date's day and year are not)."""
    return sum(bool(FIGURE.match(token)) for token in DATE_HINT.sub(" ", text).split())


def is_figure_row(text: str) -> bool:
    """A table's row: two or more figures, a fifth of its tokens or more, and no run of prose."""
    words = word_count(text)
    found = figures(text)
    return words <= ROW_MAX_WORDS and found >= ROW_MIN_FIGURES and found >= ROW_MIN_FIGURE_SHARE * words \
        and not PROSE_RUN.search(text)


def is_data_row(text: str) -> bool:
    """A row no cross-document evidence may remove: three figures or more ("NEW YORK 74 59 .556 -"); a
    counter like "Image 1 of 5" or "3 hours ago" has fewer."""
    return is_figure_row(text) and figures(text) >= 3


def is_row_label(text: str) -> bool:
    """A short line that may stand between a table's rows: a section label ("Men 's singles , second round"), a
    header ("W L PCT GB") or a row wrapped over two lines; up to 15 words, no prose run, no sentence end."""
    return word_count(text) <= 15 and not PROSE_RUN.search(text) and not text.rstrip().endswith((".", "!", "?"))
