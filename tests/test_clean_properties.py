"""Property-based tests of the cleaner: it never raises, never invents text, and loses nothing.

Documents are built from lines of the sample articles, typical remnant lines and arbitrary text,
joined with the line breaks and odd whitespace extractors leave.
"""

from __future__ import annotations

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from tasks.cleaning import clean_text
from tests.conftest import SEEDS_DIR

SEED_LINES = sorted({line for path in SEEDS_DIR.glob("*.txt") for line in path.read_text().split("\n") if line.strip()})
REMNANT_LINES = [
    "Next Story", "( Source : reuters )", "By Jane Doe", "By [Jane Doe](#)", "March 14, 2014",
    "Jane Doe contributed to this report.", "Follow Jane Doe on Twitter at", "Original url:",
    "<https://example.com/a/1>", "— This story was updated at 3:26 p.m.", "Read more",
    "LONDON (AP) — The talks ended.", "Jane DoeJane DoeDoe says things Other headline MORE and more",
    "The mayor, left, talks to reporters.", "# Heading", "## Sub", "##  Section  with\tspaces", "#", "Image 1 of 8", "© 2024 Example News",
    "The talks ended on Friday (Source: AFP)", "  MOSCOW (Reuters) - Russia said on Friday",
]
ODD_SPACE = [" ", "\t", "\u00a0", "\u3000", "\u2028", "\x85", "\x1c", ""]
known_line = st.sampled_from(SEED_LINES + REMNANT_LINES)
article_line = st.one_of(
    known_line,
    st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=80),
    st.tuples(st.sampled_from(ODD_SPACE), known_line, st.sampled_from(ODD_SPACE + REMNANT_LINES)).map("".join),
    st.lists(st.sampled_from(["The", "council", "said", "on", "Friday", "that", "it", "would", "vote", ".", ",", "“", "”", "—"]),
             max_size=30).map(" ".join),
)
documents = st.lists(
    st.tuples(article_line, st.sampled_from(["\n", "\n\n", "\n\n\n", "  \n", "\n \n", "\n\u00a0\n"])), max_size=30
).map(lambda pairs: "".join(line + sep for line, sep in pairs))


def _without_space(text: str) -> str:
    return "".join(text.split())


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(documents)
# Found by this test: a heading with inner runs of whitespace made the cleaner raise.
@example("Title\n\nThe first paragraph says so.\n\n##  Section  heading\n\nMore body.\n")
# and: a line whose inline cut (a hovercard) was kept when a block check then removed the whole line.
@example("Secretary of State John KerryJohn KerryKerry calls out countries that need to 'step up' on climate change "
         "Those on the front lines of climate change should be empowered to be central to its solution To address "
         "China's coal emissions, the US could use a little help from its friends MORE and Russian Foreign Minister "
         "Sergei Lavrov on Friday failed to defuse the escalating crisis in Ukraine.\n" * 3)
# and: a markdown heading that a block check then removed with its teaser lines stayed in the body.
@example("00 0000 00aaAa\n00 0000 00aaAa\n# 00000 00aaAa\n")
def test_removed_spans_plus_body_rebuild_the_input(document: str) -> None:
    article = clean_text(document)  # never raises
    removed = [False] * len(document)
    for span in article.removed:
        assert 0 <= span.start <= span.end <= len(document)
        assert document[span.start:span.end] == span.text  # offsets index the input
        for index in range(span.start, span.end):
            assert not removed[index], f"spans overlap at {index}: {span}"
            removed[index] = True
    kept = "".join(ch for ch, gone in zip(document, removed) if not gone)
    # Nothing invented, nothing lost: the body is exactly the input minus the removed spans, modulo whitespace.
    assert _without_space(article.body) == _without_space(kept)


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=2000))
def test_cleaner_accepts_any_text(text: str) -> None:
    article = clean_text(text)
    assert set(_without_space(article.body)) <= set(_without_space(text))
    assert all(paragraph == paragraph.strip() and paragraph for paragraph in article.paragraphs)
