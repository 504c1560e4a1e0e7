"""Every check of the rulebook on its own examples: each example it must remove is removed by that check
(its rule's name as the reason), and each look-alike it must keep is kept whole, in a small made-up article
run through the whole cleaner. Also the rulebook's order and the switch that turns rules off."""

from __future__ import annotations

from pathlib import Path

import pytest

from tasks.cleaning import ORDER, RULES, clean_text, clean_texts, resolve_disabled
from tasks.cleaning.rule import Check, Example
from tasks.cleaning.text import CleanedArticle

TITLE = "Harbour board orders dredging"
STORY_A = "The harbour board voted on Monday to dredge the main channel before the autumn storms arrive."
STORY_B = "Fishermen said the work was overdue and that two boats had run aground there since March."
STORY = f"{STORY_A}\n\n{STORY_B}"
# Three unrelated stories for cross-document examples (a line must recur in distinct documents).
BATCH_STORIES = [
    ("Ferry timetable changes", "The island ferry will add two crossings a day from June, the operator said on Friday.\n\n"
     "Passengers had complained for years about the long gaps between sailings in the summer months."),
    ("Market hall to close", "The old market hall will close for repairs in the autumn after inspectors found cracks in its roof.\n\n"
     "Traders will move to a temporary site on the quay until the work is finished next spring."),
    ("Seals return to the north beach", "Grey seals have returned to the north beach for the first time in a decade, rangers said.\n\n"
     "Visitors are asked to keep their dogs on a lead and to stay at least fifty metres from the animals."),
]


def _place(example: Example) -> tuple[str, int, str]:
    """The test document, where the example's target starts in it, and the target."""
    text = example.text.replace("{story}", STORY)
    target = (example.target or example.text).replace("{story}", STORY)
    if example.where == "document":
        return text, text.index(target), target
    before = {"head": f"{TITLE}\n\n", "body": f"{TITLE}\n\n{STORY_A}\n\n", "tail": f"{TITLE}\n\n{STORY}\n\n"}[example.where]
    after = {"head": f"\n\n{STORY}", "body": f"\n\n{STORY_B}", "tail": ""}[example.where]
    return before + text + after, len(before) + text.index(target), target


def _clean(example: Example) -> tuple[CleanedArticle, int, str]:
    if example.where == "batch":
        texts = {f"site/{n}.txt": f"{title}\n\n{story}\n\n{example.text}" for n, (title, story) in enumerate(BATCH_STORIES)}
        target = example.target or example.text
        return clean_texts(texts)["site/0.txt"], texts["site/0.txt"].index(target), target
    document, start, target = _place(example)
    return clean_text(document), start, target


CASES = [(check, example, must_go) for check in ORDER for must_go, examples in ((True, check.removes), (False, check.keeps))
         for example in examples]


@pytest.mark.parametrize(("check", "example", "must_go"), CASES,
                         ids=[f"{c.rule.name}.{c.name}-{'removes' if go else 'keeps'}-{i}" for i, (c, _, go) in enumerate(CASES)])
def test_check_on_its_examples(check: Check, example: Example, must_go: bool) -> None:
    article, start, target = _clean(example)
    end = start + len(target)
    overlapping = [span for span in article.removed if span.start < end and span.end > start]
    if not must_go:
        taken = [span for span in overlapping if span.reason != example.taken_by]
        assert taken == [], f"look-alike removed: {[(s.reason, s.text) for s in taken]}"
        assert example.taken_by is None or overlapping, f"{example.taken_by} did not take it"
        return
    assert any(span.check == check.name and span.reason == check.rule.name for span in overlapping), \
        f"not removed by {check.name}: {[(s.reason, s.check, s.text) for s in overlapping]}"
    if check.stage not in ("inline", "heading"):  # whole lines go: nothing of the example is left in the body
        position = start
        for line in target.split("\n"):
            if line.strip():
                assert any(s.start <= position and s.end >= position + len(line) for s in overlapping), line
            position += len(line) + 1


def test_every_rule_and_check_is_described_and_has_examples() -> None:
    for rule in RULES:
        assert rule.description and rule.checks, rule.name
        for check in rule.checks:
            assert check.description, check.name
            assert check.removes and check.keeps, f"{rule.name}.{check.name} needs examples of both kinds"
    assert len({check.name for check in ORDER}) == len(ORDER)  # check names are unique
    assert {check for rule in RULES for check in rule.checks} == set(ORDER)  # every check runs somewhere


def test_disabled_rules_and_families_do_not_run() -> None:
    text = f"{TITLE}\n\n{STORY}\n\nNext Story\n\n© 2031 Coastal Gazette Ltd"
    assert {s.reason for s in clean_text(text).removed} == {"title", "navigation", "copyright"}
    kept = clean_text(text, disabled=resolve_disabled(["navigation"]))
    assert "Next Story" in kept.body and {s.reason for s in kept.removed} == {"title", "copyright"}
    family = clean_text(text, disabled=resolve_disabled(["wire_and_rights", "navigation"]))
    assert "© 2031" in family.body and "Next Story" in family.body


def test_unknown_rule_names_are_an_error_naming_the_known_rules() -> None:
    with pytest.raises(ValueError, match=r"unknown cleaning rule\(s\): navigaton; known rules: title, "):
        resolve_disabled(["navigaton"])
    assert resolve_disabled([" ", ""]) == frozenset()


def test_the_setting_switches_rules_off_in_the_flows_cleaning_step(monkeypatch: pytest.MonkeyPatch) -> None:
    import polars as pl
    from flows.batching import clean_articles
    from tasks.settings import SettingsError, get_settings

    monkeypatch.setenv("NEWSDAG_CLEAN_DISABLE", "navigation, wire_and_rights")
    settings = get_settings()
    assert settings.clean_disable == ["navigation", "wire_and_rights"]
    documents = pl.DataFrame({"article_id": ["a"], "text": [f"{TITLE}\n\n{STORY}\n\nNext Story\n\n© 2031 Coastal Gazette Ltd"]})
    (cleaned, removed), failures = clean_articles.fn(documents, tuple(settings.clean_disable))
    assert removed["reason"].to_list() == ["title"] and failures == {}
    assert "Next Story" in cleaned["body"][0] and "© 2031" in cleaned["body"][0]
    (_, removed), _ = clean_articles.fn(documents)
    assert removed["reason"].to_list() == ["title", "navigation", "copyright"]
    monkeypatch.setenv("NEWSDAG_CLEAN_DISABLE", "navigation,captoin")
    with pytest.raises(SettingsError, match="unknown cleaning rule.*captoin.*known rules: title"):
        get_settings()


def test_a_flattened_table_is_one_block_of_kind_table_and_one_paragraph_row() -> None:
    import polars as pl

    from tasks.cleaning import clean_articles
    from tasks.paragraphs import split_paragraphs

    rows = [f"Club {name} {n}, {n * 3}" for n, name in enumerate("ABCDEFGHIJ", start=1)]  # 10 one-line rows
    items = ["- the channel is dredged", "- the quay is rebuilt", "- the ferries return", "- the market reopens",
             "- the seals come back", "- the lighthouse is painted", "- the school reopens", "- the buses run"]
    text = "\n".join([TITLE, "", STORY_A, "Goals by club", *rows, STORY_B, *items, "", "The board meets again in May."])
    article = clean_text(text)
    assert article.paragraph_kinds == ["text", "table", "text", "list", "text"]  # the table's title is its first row
    assert article.paragraphs[1] == "\n".join(["Goals by club", *rows]) and article.paragraphs[3] == "\n".join(items)
    cleaned, _ = clean_articles(pl.DataFrame({"article_id": ["a"], "text": [text]}))
    paragraphs = split_paragraphs(cleaned)
    assert paragraphs["kind"].to_list() == article.paragraph_kinds
    assert paragraphs["text"][1] == article.paragraphs[1] and paragraphs["section_heading"][1] is None
    assert paragraphs["text"].to_list() == article.paragraphs  # nothing lost or split
    # Seven short rows without figures, or rows that are sentences, stay paragraphs of text.
    labels = [f"Club {name}" for name in "ABCDEFG"]
    short = clean_text("\n".join([TITLE, "", STORY_A, *labels, STORY_B]))
    assert set(short.paragraph_kinds) == {"text"} and len(short.paragraphs) == 9
    # Two rows of figures are a table already (results), with the label above them; a sentence with figures is not.
    results = clean_text("\n\n".join([TITLE, STORY_A, "Division one", "Northport 3 Eastbay 2 ( halftime 1-0 )",
                                       "Seaham 2 Westcliff 1 ( halftime 1-1 )", STORY_B]))
    assert results.paragraph_kinds == ["text", "table", "text"]
    assert results.paragraphs[1] == "Division one\nNorthport 3 Eastbay 2 ( halftime 1-0 )\nSeaham 2 Westcliff 1 ( halftime 1-1 )"
    prose = clean_text("\n\n".join([TITLE, STORY_A, "The champion defeated the Chilean 6-4 4-6 7-6 6-2 .",
                                     "Northport 3 Eastbay 2 ( halftime 1-0 )", STORY_B]))
    assert set(prose.paragraph_kinds) == {"text"}
    # Rows of figures in one block without blank lines (a table as agencies send it) stay rows, not one paragraph.
    block = clean_text("\n\n".join([TITLE, STORY_A, "Northport 3 1 0 6 1 10\nEastbay 3 0 1 13 10 9\nSeaham 2 1 1 11 10 7",
                                     STORY_B]))
    assert block.paragraph_kinds == ["text", "table", "text"] and block.paragraphs[1].count("\n") == 2


def test_the_cleaning_code_fingerprint_follows_its_sources_and_libraries(tmp_path) -> None:
    """What tells a run that stored articles were cleaned by other code (tasks/settings.py): every module
    the cleaner loads from this project is in it, and a change to any source or library version changes it."""
    import sys

    from tasks.settings import CLEANING_LIBRARIES, CLEANING_MODULES, PROJECT_ROOT, cleaning_code_fingerprint, code_fingerprint

    assert cleaning_code_fingerprint() == code_fingerprint(PROJECT_ROOT, CLEANING_MODULES, CLEANING_LIBRARIES)
    covered = {path.resolve() for module in CLEANING_MODULES for path in ([module] if module.is_file() else module.rglob("*.py"))}
    cleaner = [module for name, module in sys.modules.items()
               if name.startswith(("tasks.cleaning", "tasks.paragraphs", "tasks.ingest")) and getattr(module, "__file__", None)]
    assert cleaner and all(Path(module.__file__).resolve() in covered for module in cleaner)

    rules = tmp_path / "cleaning"
    rules.mkdir()
    (rules / "wire.py").write_text("PATTERN = 'Source'\n")
    before = code_fingerprint(tmp_path, (rules,), ("ftfy",))
    assert code_fingerprint(tmp_path, (rules,), ("ftfy",)) == before
    (rules / "wire.py").write_text("PATTERN = 'Source:'\n")
    assert code_fingerprint(tmp_path, (rules,), ("ftfy",)) != before
    assert code_fingerprint(tmp_path, (rules,), ("ftfy", "dateparser")) != code_fingerprint(tmp_path, (rules,), ("ftfy",))
