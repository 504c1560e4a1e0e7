"""The whole-page rule's parts (tasks/cleaning/page.py) on small made-up pages; its examples in the
rulebook (tests/test_clean_rulebook.py) run it through the whole cleaner."""

from __future__ import annotations

from tasks.cleaning import clean_text, page
from tasks.cleaning.text import split_lines

STORY = [
    "The harbour board voted on Monday to dredge the main channel before the autumn storms arrive, after a summer "
    "in which two fishing boats ran aground at low tide and the ferry was delayed on eleven days.",
    "Fishermen said the work was overdue and that the board had been warned about the silt for years, but they "
    "welcomed the vote and said they would help the contractors with local knowledge of the channel.",
    "The board's chairman said the contractors would start at the harbour mouth in May and that the channel would "
    "stay open to the ferry on every high tide while the dredgers were at work in the summer months.",
    "The cost of the work, about two million pounds, will be shared by the board and the county, which said on "
    "Tuesday that the channel was vital to the island's ferry and to the fishing fleet that lands its catch there.",
]
MENU = ["Home", "News", "World", "Local", "Politics", "Business", "Climate", "Harbour", "Ferries", "Weather",
        "Opinion", "Letters", "Obituaries", "Events", "Jobs", "Classifieds", "About us", "Contact us", "Careers",
        "Sitemap", "Facebook", "Instagram", "RSS", "Newsletters", "Podcasts", "Puzzles", "Crosswords", "Video",
        "Photos", "Live"]


def test_the_story_is_kept_and_the_menus_around_it_go() -> None:
    texts = ["Harbour board orders dredging | Coastal Gazette", *MENU, "Harbour board orders dredging", *STORY, *MENU]
    keep = page.article_lines(texts)
    assert [text for text, kept in zip(texts, keep) if kept] == STORY


def test_a_link_box_inside_the_story_goes_up_to_the_next_sentence() -> None:
    box = ["Most read in local news", "BACK AT LAST", "Grey seals are back on the north beach after ten years away",
           "ROOF TROUBLE", "Old market hall will shut for repairs, traders told"]
    texts = ["Harbour board orders dredging | Coastal Gazette", *MENU, "Harbour board orders dredging",
             STORY[0], STORY[1], *box, STORY[2], STORY[3], *MENU]
    keep = page.article_lines(texts)
    assert [text for text, kept in zip(texts, keep) if kept] == STORY
    kept_with_boxes_off = page.article_lines(texts, page.Signals(link_boxes=False))
    assert all(kept_with_boxes_off[texts.index(line)] for line in box[1:])


def test_extractor_output_and_a_story_with_a_long_list_are_not_whole_pages() -> None:
    extracted = "\n\n".join(["Harbour board orders dredging", *STORY])
    assert not page.is_whole_page(split_lines(extracted))
    draw = "\n".join(["Harbour cup draw made", "", *STORY, *[f"Club {n} v Club {n + 40}" for n in range(36)]])
    assert page.is_whole_page(split_lines(draw))  # many labels, but none above the story: nothing goes
    assert not [span for span in clean_text(draw).removed if span.reason == "page_furniture"]


def test_the_stoplist_is_the_pages_language_and_none_for_japanese() -> None:
    german = ["Der Hafenrat hat am Montag beschlossen, die Fahrrinne vor den Herbststürmen auszubaggern, und die "
              "Fischer sagen, dass die Arbeit längst überfällig sei."]
    import justext

    assert page.page_stoplist(german) == frozenset(justext.get_stoplist("German"))
    assert page.page_stoplist(["港湾委員会は月曜日、秋の嵐の前に主要な水路を浚渫することを決めた。"]) == frozenset()


def test_rows_lists_and_labels() -> None:
    assert page.is_row("Palm Bay 18 22 13 17 — 70") and page.is_row("12) Roger Waters – The Wall (DVD)")
    assert not page.is_row("Federal Reserve Board, Beige Book, Oct. 16, 2019")  # a date is not a row's figures
    assert page.is_label("Evernote (21)") and not page.is_label("He was arrested in April.")
    assert page.list_items(["1a etapa: 10 de março", "2a etapa: 8 de abril", "3a etapa: 22 de abril", "Home"]) \
        == [True, True, True, False]


def test_the_result_depends_only_on_the_text() -> None:
    texts = ["Harbour board orders dredging | Coastal Gazette", *MENU, *STORY, *MENU]
    assert page.article_lines(list(texts)) == page.article_lines(list(texts))


def test_a_sentence_cut_at_its_links_is_judged_whole() -> None:
    """A scraper that puts every text node on its own line cuts sentences at their links: the pieces are
    one block (the next starts in lower case, or this one ends on a stopword), not labels."""
    cut = ["Fishermen said the work was overdue and that the", "harbour board", "had been warned about the silt by",
           "the coastguard", "for years, but they welcomed the vote on Monday."]
    texts = ["Harbour board orders dredging | Coastal Gazette", *MENU, "Harbour board orders dredging", STORY[0], *cut,
             STORY[2], STORY[3], *MENU]
    stoplist = page.page_stoplist(texts)
    assert [texts[index] for index in page.fragment_groups(texts, stoplist)[-len(MENU) - 3]] == cut
    keep = page.article_lines(texts)
    assert [text for text, kept in zip(texts, keep) if kept] == [STORY[0], *cut, STORY[2], STORY[3]]
    assert page.fragment_groups(MENU, stoplist) == [[index] for index in range(len(MENU))]  # labels stay apart
