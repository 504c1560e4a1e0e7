"""Photo captions and credits left as lines: '(AP Photo/Ann Lee)', 'REUTERS/…', 'Photo: …', 'X, left,
and Y …'. Quoted speech is never a caption."""

from __future__ import annotations

import re

from tasks.cleaning.rule import LineContext, Rule
from tasks.cleaning.text import word_count

FAMILY = "captions"

CAPTION_MARKER = re.compile(
    r"^(?i:photo|image|picture|pictured|caption|file photo|above|below|top|left|right)\s*[:|]"
    r"|\((?i:photo|image|picture)\s*:.{1,80}\)\s*$"
    r"|\((?i:(?:photo |image )?credits?)\s*:.{1,80}\)\s*$"
    r"|\([A-Z][\w.&-]*(?: [A-Z][\w.&-]*)?(?:/[\w.&’' -]{2,40}){1,3}\)\s*$"  # "(NASA/JPL-Caltech)", "(AP Photo/Ann Lee)"
    r"|\b(?:photos?|images?|pictures?)\s*(?:©|by\s+[A-Z]|courtesy\b|credit\b)"
    r"|\b(?:AP|AFP|Reuters|Getty|EPA|Bloomberg)\s*(?:Photo|Images)\b"
    r"|\bREUTERS/[A-Z]"
    r"|^[^,\"“”]{2,80},\s*(?:left|right|center|centre|top|bottom|front|rear|second from (?:left|right)|"
    r"far (?:left|right)|foreground|background)\s*(?:,|and\b)",
)

CAPTION = Rule("caption", FAMILY, "A photo caption or credit left as a line (a credit mark, 'Photo:', or "
               "'<name>, left, …'), up to 40 words and never quoted speech.")


@CAPTION.check("line", removes=("The mayor, left, speaks with reporters at City Hall on Tuesday.",
                                "Boats in the harbour on Monday. (AP Photo/Ann Lee)", "Harbour workers on Monday. REUTERS/Ann Lee",
                                "Photo: Coastal Gazette", "Dredgers at work (Photo: Ann Lee)"),
               keeps=('"The channel is closed, left and right," the skipper said on Monday at the quay.',), where="body")
def caption_line(text: str, ctx: LineContext) -> bool:
    """Up to 40 words, no quotation marks, and a caption or photo-credit marker."""
    return word_count(text) <= 40 and '"' not in text and "“" not in text and bool(CAPTION_MARKER.search(text))
