"""Evidence beyond one file: lines that recur across the documents of a batch (menus, footers, prompts
no rule names) and an issuer's closing self-description repeated in its press releases."""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterable

from tasks.cleaning.rule import Example, LineContext, Rule
from tasks.cleaning.tables import is_data_row
from tasks.cleaning.text import Line, fold, looks_like_body, normalise_space, word_count

FAMILY = "batch"

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


def recurring_key(line: str) -> str:
    """A line as compared across documents: case, spacing and digits do not matter ("3 comments")."""
    return re.sub(r"\d+", "0", fold(line))


def _candidate_lines(text: str) -> tuple[set[str], set[str], set[str]]:
    """The story lines of one document (lines that read like article text), the lines that may count
    as furniture (short ones, and any in the head or tail), and the self-descriptions among its last
    paragraphs."""
    lines = [normalise_space(line) for line in text.split("\n")]
    # Line 1 is the title; lines without a letter (rules "___", scores "2-1") are not evidence of anything.
    lines = [line for line in lines[1:] if re.search(r"[^\W\d_]", line)]
    body = [index for index, line in enumerate(lines) if looks_like_body(line)]
    first, last = (body[0], body[-1]) if body else (len(lines), -1)
    candidates = {
        recurring_key(line)
        for index, line in enumerate(lines)
        if word_count(line) <= RECURRING_MAX_WORDS or index < first or index > last
    }
    about = {recurring_key(lines[index]) for index in body[-ABOUT_LAST_PARAGRAPHS:] if SELF_DESCRIPTION.match(lines[index])}
    return {recurring_key(lines[index]) for index in body}, candidates | about, about


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


def _closes_article(later: list[Line], name: str) -> bool:
    """No article text follows, other than more sentences about `name` ("Ascom is headquartered in ...")."""
    return all(line.stripped.startswith(name + " ") for line in later if not line.blank and looks_like_body(line.stripped))


RECURRING = Rule("recurring", FAMILY, "A short line (or one outside the story) found in 3+ distinct documents of the "
                 "same folder: site furniture; near-copies of one story count once, so shared wire text stays, and "
                 "neither a table's row of 3+ figures nor any line of wire copy (under a dateline line) counts.")
ABOUT_BLOCK = Rule("about_block", FAMILY, "An issuer's self-description ('Ascom is a global …') that closes 2+ "
                   "distinct releases, and the sentences about the issuer after it.")

_ABOUT = ("Harbourco is a global provider of dredging services with offices in twelve countries and more than "
          "two thousand employees worldwide.")


@ABOUT_BLOCK.check("line", removes=(Example(_ABOUT + "\nHarbourco is headquartered in Rotterdam and listed in Amsterdam.",
                                            "batch"),),
                   keeps=(Example("Harbourco staff voted on Monday to accept the pay offer, the union said in a statement.\n\n"
                                  + _ABOUT, "batch", "Harbourco staff voted"),))
def about_continuation(text: str, ctx: LineContext) -> bool:
    """After an issuer's closing self-description, further lines starting with the issuer's name."""
    return bool(ctx.about_name) and text.startswith(f"{ctx.about_name} ")


@ABOUT_BLOCK.check("line", removes=(Example(_ABOUT, "batch"),), keeps=(Example(
    _ABOUT + "\n\nThe board will meet again in May to review the costs of the dredging and the new quay.", "batch", _ABOUT),))
def closing_self_description(text: str, ctx: LineContext) -> bool:
    """A recurring '<Name> is a …' line after which only sentences about <Name> follow."""
    if not ctx.recurring or recurring_key(text) not in ctx.recurring or not (about := SELF_DESCRIPTION.match(text)):
        return False
    if _closes_article(ctx.lines[ctx.index + 1:], about.group("name")):
        ctx.about_name = about.group("name")
        return True
    return False


@RECURRING.check("line", removes=(Example("Coastal Gazette | Port news since 1887", "batch"),
                                  Example("Posted in Harbour News", "batch"), Example("Page 2 of 7", "batch"),
                                  Example("858 shares", "batch")),
                 keeps=(Example("The harbour board said it would publish the full dredging plan, with costs and dates, "
                                "on its website next week.", "batch"),
                        Example("NEW JERSEY 14 10 1 61 61 29", "batch"), Example("DLR/YEN 109.45 109.60 108.90", "batch")))
def recurring_line(text: str, ctx: LineContext) -> bool:
    """A line recurring in the batch (a long self-description that does not close the article is not; nor is a
    table's row of figures, nor any line of wire copy, whose recurring lines are the agency's table formats
    and stock sentences: "Attendance : 200", "It gave no further details .")."""
    if not ctx.recurring or recurring_key(text) not in ctx.recurring or ctx.wire_copy or is_data_row(text):
        return False
    return not (SELF_DESCRIPTION.match(text) and word_count(text) > RECURRING_MAX_WORDS)
