"""Wire copy as agencies send it (issue 33): headline, byline and dateline lines, results and standings tables,
stock sentences that recur across a folder of wire stories. Made-up stories in the shape of Reuters' files
(tokenised as CoNLL-2003 gives them: " , " and " ." detached)."""

from __future__ import annotations

from datetime import date

from tasks.cleaning import clean_text, clean_texts, removed_in_place

STORY = ("Northport beat Eastbay 3-2 on Saturday to go top of the coastal league for the first time in ten years .\n\n"
         "Their manager said the win was the best of his career and that the players had earned a rest .")
STANDINGS = "\n\n".join(f"{club} {played} {won} {drawn} {lost} {goals_for} {goals_against} {points}" for
                        club, played, won, drawn, lost, goals_for, goals_against, points in (
                            ("NORTHPORT", 4, 3, 1, 0, 9, 3, 10), ("EASTBAY", 4, 3, 0, 1, 8, 4, 9),
                            ("SEAHAM", 4, 2, 1, 1, 6, 5, 7), ("WESTCLIFF", 4, 1, 1, 2, 4, 6, 4)))


def _wire(headline: str, body: str, byline: str | None = None, dateline: str = "PORTSEA 2031-03-14") -> str:
    return "\n\n".join([headline, *([byline] if byline else []), dateline, body])


def test_the_head_of_wire_copy_becomes_metadata() -> None:
    text = _wire("SOCCER - NORTHPORT GO TOP OF COASTAL LEAGUE .", STORY, byline="Nora Quay",
                 dateline="NORTH HARBOUR , Maine 2031-03-14")
    article = clean_text(text)
    assert article.title == "SOCCER - NORTHPORT GO TOP OF COASTAL LEAGUE ."
    assert article.authors == ["Nora Quay"] and article.section_headings == []
    assert article.dateline == "NORTH HARBOUR, Maine" and article.published == date(2031, 3, 14)
    assert article.paragraphs == STORY.split("\n\n") and article.language == "en"
    # `newsdag clean FILE` shows each removed line in place with its rule.
    shown = removed_in_place(text, article)
    assert "[-byline: Nora Quay-]" in shown and "[-dateline: NORTH HARBOUR , Maine 2031-03-14-]" in shown


def test_a_sentence_case_headline_over_a_dateline_is_the_title_not_the_dateline() -> None:
    article = clean_text(_wire("Soccer - Northport go top of coastal league .", STORY))
    assert article.title == "Soccer - Northport go top of coastal league ." and article.dateline == "PORTSEA"


def test_wire_tables_and_stock_sentences_survive_a_folder_of_wire_copy() -> None:
    """Rows, table labels and stock sentences recur across a folder of wire stories: none of it is furniture."""
    stock = "Attendance : 2,000\n\nIt gave no further details ."
    texts = {f"wire/{n}.txt": _wire(f"SOCCER - COASTAL LEAGUE ROUND {n} .", f"{STORY}\n\nDivision one\n\n{STANDINGS}\n\n{stock}")
             for n in range(4)}
    for article in clean_texts(texts).values():
        assert [span.reason for span in article.removed] == ["title", "dateline"]
        assert article.paragraph_kinds == ["text", "text", "table", "text"]
        assert article.paragraphs[2] == "Division one\n" + STANDINGS.replace("\n\n", "\n") + "\nAttendance : 2,000"
        assert article.paragraphs[3] == "It gave no further details ."


def test_a_long_standings_table_in_capitals_is_no_whole_page() -> None:
    """Forty short lines in capitals would pass the whole-page gate; under a dateline they are the agency's table."""
    schedule = "\n\n".join(f"{home} AT {away}" for home in ("NORTHPORT", "EASTBAY", "SEAHAM", "WESTCLIFF", "ROCKPOOL")
                           for away in ("ANCHOR", "HARBOUR", "QUAY", "LIGHTHOUSE", "FERRY", "PIER", "BEACON", "CLIFF"))
    text = _wire("BASEBALL - COASTAL LEAGUE SCHEDULE .", f"Coastal league schedule for Saturday :\n\n{schedule}\n\n{STANDINGS}")
    article = clean_text(text)
    assert [span.reason for span in article.removed] == ["title", "dateline"]


def test_a_results_table_has_no_language_whatever_shares_its_batch() -> None:
    """Team names and figures fool a language detector: with no prose to read, no language is told, and
    the folder's other articles do not decide it (the same file must give the same article however the
    files are batched or sharded)."""
    results = "\n\n".join(f"{home} {a} {away} {b} ( halftime {a}-{b} )" for home, a, away, b in (
        ("Hajduk", 2, "Proleter", 0), ("Zemun", 1, "Rad", 0), ("Borac", 1, "Mladost", 2), ("Cukaricki", 1, "Vojvodina", 0)))
    texts = {"wire/results.txt": _wire("SOCCER - YUGOSLAV RESULTS .", results),
             **{f"wire/{n}.txt": _wire(f"SOCCER - STORY {n} .", STORY) for n in range(3)}}
    together = clean_texts(texts)
    alone = clean_texts({"wire/results.txt": texts["wire/results.txt"]})
    assert together["wire/results.txt"].language is None and alone["wire/results.txt"].language is None
    assert {together[f"wire/{n}.txt"].language for n in range(3)} == {"en"}


def test_an_article_sure_of_its_language_keeps_it_in_a_folder_of_another() -> None:
    french = ("Le conseil du port a voté lundi pour draguer le chenal principal avant les tempêtes d'automne .\n\n"
              "Les pêcheurs ont dit que les travaux étaient attendus depuis longtemps .")
    texts = {"wire/fr.txt": _wire("VOILE - LE PORT SERA DRAGUÉ .", french),
             **{f"wire/{n}.txt": _wire(f"SOCCER - STORY {n} .", STORY) for n in range(3)}}
    cleaned = clean_texts(texts)
    assert cleaned["wire/fr.txt"].language == "fr"


def test_a_headline_left_in_the_body_gives_no_dateline() -> None:
    """The sport or desk word before a headline's dash ("SOCCER -", "PRESS DIGEST -") is no place; a story
    opening with its dateline, even as the input's first line, still gives one."""
    headline = clean_text(f"PRESS DIGEST - Harbour newspapers - March 14 .\n\nAMT : 1,200,000 DATE : 03/14/31\n\n{STORY}")
    assert headline.dateline is None
    opening = clean_text("PORTSEA (Reuters) - The harbour board voted on Monday to dredge the main channel before the "
                         f"autumn storms arrive .\n\n{STORY}")
    assert opening.dateline == "PORTSEA" and opening.wire_source == "Reuters"
