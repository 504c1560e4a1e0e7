"""What a rule is: a name (the `removed_spans.reason` it writes), a family, one sentence on what it
removes and why that is safe, and one or more checks, each with examples that must be removed and
look-alikes that must stay (tests/test_clean_rulebook.py runs them all).

A check is a small function run at one stage of the cleaner (see `tasks/cleaning/rulebook.py` for
the stages and the order):
- `title`, `heading`, `line`, `head`: `(text, ctx) -> bool`: does the whole line go (text is the
  line with spacing normalised and Markdown links unwrapped; `ctx` is the line's `LineContext`);
- `inline`: `(line, ctx) -> list[(start, end)]`: spans to cut inside a kept line;
- `block`: `(lines, ctx) -> list[Line]`: kept lines that go together, judged after every line was seen.
A check may record metadata on `ctx.article` (authors, dates, URL) from the line it removes.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

from tasks.cleaning.text import CleanedArticle, Line

Stage = Literal["title", "heading", "line", "head", "inline", "block"]
# Where an example goes in the test document: before the story (after a title), between its two
# paragraphs, after it, as the whole document, or in three documents of one batch (cross-document rules).
Where = Literal["head", "body", "tail", "document", "batch"]


@dataclass
class LineContext:
    """What a check may know about the line it judges: the article so far, its neighbours and where
    it stands (in the head before the first paragraph of text, or in the tail after the last)."""

    article: CleanedArticle
    lines: list[Line]
    index: int = 0
    in_head: bool = True
    in_tail: bool = False
    previous_kept: Line | None = None
    # Under a "Related" header: False, or what continues the block: "headlines" or "bullets".
    in_related_block: str | bool = False
    about_name: str | None = None  # the issuer whose closing self-description was found
    recurring: frozenset[str] = frozenset()  # lines recurring across the batch (tasks/cleaning/batch.py)
    # The article opens as agencies send wire copy (a dateline line under the headline): its short lines
    # are the agency's tables and formats, not a site's furniture (tasks/cleaning/wire.py).
    wire_copy: bool = False

    @property
    def line(self) -> Line:
        return self.lines[self.index]


@dataclass(frozen=True)
class Example:
    """A test case: `text` placed `where` in a small article; for `where="document"`, `text` is the whole
    document and `target` the part the check must remove (or keep). A look-alike that another rule removes
    names that rule in `taken_by` (the check must leave it to that rule)."""

    text: str
    where: Where = "tail"
    target: str | None = None
    taken_by: str | None = None


@dataclass(eq=False)
class Check:
    name: str
    rule: Rule
    stage: Stage
    function: Callable[..., Any]
    removes: tuple[Example, ...] = ()
    keeps: tuple[Example, ...] = ()

    @property
    def description(self) -> str:
        return " ".join((self.function.__doc__ or "").split())

    def __call__(self, *args: Any) -> Any:
        return self.function(*args)


@dataclass(eq=False)
class Rule:
    """One family member: everything it removes is recorded with `name` as the reason."""

    name: str
    family: str
    description: str
    checks: list[Check] = field(default_factory=list)

    def check(self, stage: Stage, *, removes: tuple[str | Example, ...] = (), keeps: tuple[str | Example, ...] = (),
              where: Where = "tail") -> Callable[[Callable[..., Any]], Check]:
        """Register a function as one of this rule's checks; plain-string examples are placed `where`."""

        def register(function: Callable[..., Any]) -> Check:
            as_example = lambda item: item if isinstance(item, Example) else Example(item, where)  # noqa: E731
            check = Check(function.__name__, self, stage, function,
                          tuple(map(as_example, removes)), tuple(map(as_example, keeps)))
            self.checks.append(check)
            return check

        return register
