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

NAVIGATION_RULE = Rule("navigation", FAMILY, "Labels of the page's links and buttons and gallery counters, alone on "
                       "a line: fixed labels, never a sentence.")


@NAVIGATION_RULE.check("line", removes=("Next Story", "Advertisement", "Share this article", "Print", "Back to top"),
                       keeps=("Print media lost readers again this year, the survey found.",), where="body")
def navigation_label(text: str, ctx: LineContext) -> bool:
    """A line that is exactly one of the usual link or button labels."""
    return bool(NAVIGATION.match(text))


@NAVIGATION_RULE.check("line", removes=("Image 3 of 12", "Photo 2 of 9"),
                       keeps=("Photo 3 of 12 shows the flooded quay, which reopened on Friday.",), where="body")
def gallery_counter(text: str, ctx: LineContext) -> bool:
    """A gallery's position counter: "Image 3 of 12"."""
    return bool(GALLERY.match(text))
