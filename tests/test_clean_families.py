"""More families of remnant on short made-up articles, the batch-level (recurring line) evidence,
and the metadata added for issue 3 (language, updated date)."""

from __future__ import annotations

from datetime import date

import polars as pl

from tasks.cleaning import (
    CLEANED_SCHEMA,
    clean_articles,
    clean_text,
    clean_texts,
    detect_language,
    recurring_lines,
    removed_in_place,
)

STORY = (
    "The harbour board voted on Monday to dredge the main channel before the autumn storms arrive.\n\n"
    "Fishermen said the work was overdue and that two boats had run aground there since March."
)


def reasons(text: str) -> dict[str, str]:
    return {span.text.strip(): span.reason for span in clean_text(text).removed}


def test_gallery_leftovers_are_navigation() -> None:
    text = f"Harbour dredging\n\nImage 3 of 12\n\n{STORY}\n\nBack to Gallery"
    assert clean_text(text).body == STORY
    assert reasons(text)["Image 3 of 12"] == "navigation"
    assert reasons(text)["Back to Gallery"] == "navigation"


def test_copyright_line_is_removed() -> None:
    text = f"{STORY}\n\n© 2031 Coastal Gazette Ltd"
    assert clean_text(text).body == STORY
    assert reasons(text)["© 2031 Coastal Gazette Ltd"] == "copyright"


def test_photo_credit_captions() -> None:
    text = (
        f"Harbour dredging\n\nThe old pier at dawn, seen from the lighthouse. (credit: Port Authority/Ann Moss)\n\n{STORY}\n\n"
        "Dredgers at work, photos © Harbour Trust, 2030"
    )
    assert clean_text(text).body == STORY
    assert set(reasons(text).values()) == {"title", "caption"}


def test_urls_between_list_items_are_kept_and_trailing_url_is_a_footer() -> None:
    items = "1) Tide table for the season\nhttps://shop.example.org/tides\n2) A brass ship's bell\nhttps://shop.example.org/bell"
    text = f"{STORY}\n{items}\n2) Nothing else\nhttps://news.example.org/harbour/dredging"
    article = clean_text(text)
    assert "https://shop.example.org/tides" in article.body and "https://shop.example.org/bell" in article.body
    assert "https://news.example.org/harbour/dredging" not in article.body
    assert article.url == "https://news.example.org/harbour/dredging"
    assert article.publisher == "news.example.org"


def test_related_block_with_question_headlines_ends_the_page() -> None:
    text = (
        f"{STORY}\n\nYou may also like...\n\nWill the ferry run next winter?\n\nNew lighthouse keeper named\n\n"
        "Who owns the old boathouse?"
    )
    article = clean_text(text)
    assert article.body == STORY
    assert set(reasons(text).values()) == {"related_links"}


def test_related_header_does_not_eat_the_story_after_it() -> None:
    text = (
        "The harbour board voted on Monday to dredge the main channel.\n"
        "Most read in local news\n"
        "Fishermen said the work was overdue and that two boats had run aground there since March.\n"
        "The board will meet again in May to review the costs."
    )
    article = clean_text(text)
    assert "run aground there since March." in article.body and "review the costs." in article.body
    assert reasons(text) == {"Most read in local news": "related_links"}


def test_update_note_gives_the_updated_date() -> None:
    article = clean_text(f"{STORY}\n\nUpdated: 4 March 2030, 10:15 GMT")
    assert article.updated == date(2030, 3, 4)
    assert article.body == STORY


def test_head_metadata_line_starting_with_a_date() -> None:
    text = f"Harbour dredging\n\n04/03/2030 - Publicado por: Ana Souza - Categoria: Cidade\n\n{STORY}"
    article = clean_text(text)
    assert article.body == STORY
    assert reasons(text)["04/03/2030 - Publicado por: Ana Souza - Categoria: Cidade"] == "date_line"
    assert article.published is not None and article.published.year == 2030


def test_language_is_detected_and_non_english_text_is_kept_whole() -> None:
    german = (
        "Der Hafenrat hat am Montag beschlossen, die Fahrrinne vor den Herbststürmen auszubaggern.\n\n"
        "Die Fischer sagten, die Arbeiten seien überfällig gewesen."
    )
    article = clean_text(german)
    assert article.body == german and article.language == "de"
    assert clean_text(STORY).language == "en"
    assert detect_language("Ja.") is None  # too short to tell


def test_language_detection_is_deterministic() -> None:
    text = "Il consiglio del porto ha votato lunedì per dragare il canale principale prima delle tempeste."
    assert {detect_language(text) for _ in range(5)} == {"it"}


def _site_page(number: int, story: str) -> str:
    return f"Headline {number}\n\n{story}\n\nSkip the queue with our members club\n\nThree stories you missed today"


STORIES = [
    "The harbour board voted on Monday to dredge the main channel before the autumn storms arrive.",
    "A new bakery opened on Quay Street on Saturday and sold out of bread within two hours of opening.",
    "The lifeboat crew rescued two kayakers off the northern point late on Sunday evening, the coastguard said.",
    "School buses will run to a new timetable from next week because of the roadworks on the coast road.",
]


def test_lines_recurring_across_a_folder_are_furniture() -> None:
    texts = {f"gazette/{n}.txt": _site_page(n, story) for n, story in enumerate(STORIES)}
    cleaned = clean_texts(texts)
    for name, story in zip(texts, STORIES):
        assert cleaned[name].body == story
        assert {span.reason for span in cleaned[name].removed} == {"title", "recurring"}
    # One file alone carries no such evidence: the lines stay.
    alone = clean_text(texts["gazette/0.txt"])
    assert "members club" in alone.body


def test_recurring_evidence_is_per_folder_and_ignores_copies_of_one_story() -> None:
    texts = {f"site{n}/page.txt": _site_page(n, story) for n, story in enumerate(STORIES)}
    assert all("members club" in article.body for article in clean_texts(texts).values())
    copies = [_site_page(1, STORIES[0])] * 4  # one story filed four times is not furniture evidence
    assert recurring_lines(copies) == frozenset()


def test_clean_articles_fills_the_new_columns() -> None:
    documents = pl.DataFrame(
        {"article_id": ["a"], "source_path": ["x/a.txt"], "text": [f"{STORY}\n\nUpdated: 4 March 2030"]}
    )
    articles, removed = clean_articles(documents)
    assert articles.schema == pl.Schema(CLEANED_SCHEMA)
    row = articles.row(0, named=True)
    assert row["language"] == "en" and row["updated"] == date(2030, 3, 4)
    assert removed["reason"].to_list() in (["update_note"], ["date_line"])


def test_headline_restating_the_title_is_a_title_repeat() -> None:
    text = f"Board orders harbour dredging\n\nHarbour board orders dredging | Coastal Gazette\n\n{STORY}"
    assert clean_text(text).body == STORY
    assert reasons(text)["Harbour board orders dredging | Coastal Gazette"] in {"title_repeat", "subtitle"}
    # A first sentence that shares the title's words is article text.
    story_first = "Board orders harbour dredging\n\nThe board orders harbour dredging to start in May, officials said."
    assert clean_text(story_first).body.startswith("The board orders")


def test_one_link_header_takes_its_bullet_list_but_not_the_next_paragraph() -> None:
    text = (
        "The harbour board voted on Monday to dredge the main channel before the autumn storms arrive.\n"
        "Related: Ten wrecks found off the coast\n"
        "- Storm season starts early\n"
        "- New ferry timetable\n"
        "Fishermen said the work was overdue and that two boats had run aground there since March."
    )
    article = clean_text(text)
    assert "ferry" not in article.body and "run aground there since March." in article.body


def test_capitalised_headline_of_another_story_but_not_a_short_capital_heading() -> None:
    text = (
        f"{STORY}\n\nHARBOUR TOWN CROWNS ITS OLDEST FISHERMAN AT THE SUMMER FESTIVAL\n\n"
        "Fishermen said the work was overdue.\n\nWHAT COMES NEXT\n\n"
        "The board will meet again in May to review the costs and to hear from residents of the quay."
    )
    article = clean_text(text)
    assert "OLDEST FISHERMAN" not in article.body
    assert "WHAT COMES NEXT" in article.body


def test_newsletter_name_and_promotion_ending_in_a_call_to_action() -> None:
    text = (
        f"{STORY}\n\nMorning Tide Newsletter\n\n"
        "Get the Gazette delivered every week, 52 issues for £30. Click here to subscribe."
    )
    assert clean_text(text).body == STORY
    assert set(reasons(text).values()) == {"newsletter_prompt"}


def test_removed_in_place_shows_the_whole_input() -> None:
    text = f"Harbour dredging\n\n{STORY}\n\n© 2031 Coastal Gazette Ltd"
    view = removed_in_place(text, clean_text(text))
    assert view == f"[-title: Harbour dredging-]\n\n{STORY}\n\n[-copyright: © 2031 Coastal Gazette Ltd-]"


def test_caption_ending_in_a_slash_credit() -> None:
    text = f"{STORY}\n\nThe dredger Neptune in the main channel. (Port Photo/Ann Moss)"
    assert clean_text(text).body == STORY
    assert set(reasons(text).values()) == {"caption"}
    # A sentence with a source in brackets mid-line is article text.
    kept = "The poll (Gazette/Ipsos) found most residents back the plan, and the board will act on it."
    assert clean_text(kept).body == kept


def test_a_notice_to_commenters_in_another_language_is_a_comment_prompt() -> None:
    story = ("A câmara aprovou na segunda-feira a dragagem do canal principal antes das tempestades de outono.\n\n"
             "Os pescadores disseram que a obra estava atrasada e que dois barcos encalharam ali desde março.")
    notice = "ATENÇÃO: Comentários ofensivos ou fora do tema não serão publicados pela moderação."
    assert reasons(f"{story}\n\n{notice}") == {notice: "comment_prompt"}
    assert clean_text(f"{story}\n\n{notice}").body == story
    # A sentence of the story about comments is not a notice to the reader.
    reported = "Attention turned to the comments the mayor made about the harbour board on Monday."
    assert clean_text(f"{STORY}\n\n{reported}").body == f"{STORY}\n\n{reported}"


def test_headlines_of_the_title_series_after_the_story_are_related_links() -> None:
    title = "Harbour Week 2031 | The board votes to dredge the channel"
    teasers = ["Harbour Week 2031 | A new ferry for the islands", "Harbor Week 2031 | Storm season, explained"]
    text = "\n\n".join([title, STORY, *teasers])
    assert clean_text(text).body == STORY
    assert {reasons(text)[t] for t in teasers} == {"related_links"}
    # Inside the story, or without the title's series, such a line stays.
    first, second = STORY.split("\n\n")
    kept = "Harbour Week 2031 | a programme of talks runs until Friday"
    assert kept in clean_text("\n\n".join([title, first, kept, second])).body
    assert teasers[0] in clean_text("\n\n".join(["The board votes to dredge the channel", STORY, teasers[0]])).body


def test_related_headers_in_other_languages_open_a_links_block() -> None:
    text = (
        f"Harbour dredging\n\n{STORY}\n\nLeia também\n- Porto de Santos amplia o canal de navegação\n\n"
        "Gazeta 주요뉴스\n- 항구 준설 작업 시작"
    )
    assert clean_text(text).body == STORY
    assert set(reasons(text).values()) == {"title", "related_links"}


def test_short_bulleted_headline_list_after_the_story_is_related_links() -> None:
    headlines = "- Ten Strange Ships Found in the Channel\n- Why Harbour Seals Are Moving North\n- The 5 Deepest Ports in Europe"
    text = f"Harbour dredging\n\n{STORY}\n\n{headlines}\n\nOriginally published on Coastal Weekly."
    article = clean_text(text)
    assert "Ten Strange Ships" not in article.body and "Deepest Ports" not in article.body
    assert reasons(text)["- Why Harbour Seals Are Moving North"] == "related_links"


def test_bulleted_lists_that_belong_to_the_story_are_kept() -> None:
    headlines = "- Ten Strange Ships Found in the Channel\n- Why Harbour Seals Are Moving North\n- The 5 Deepest Ports in Europe"
    # The story goes on after the list.
    later = "The board will meet again in June to decide whether a second channel should be dredged as well."
    assert "Harbour Seals" in clean_text(f"Harbour dredging\n\n{STORY}\n\n{headlines}\n\n{later}").body
    # Items written as sentences, not headlines.
    items = "- two boats ran aground in March\n- the pilots asked for buoys\n- the board found the money in May"
    assert "the pilots asked for buoys" in clean_text(f"Harbour dredging\n\n{STORY}\n\n{items}").body
    # A longer list is the story's own (a table of results, say), whatever its case.
    results = "\n".join(f"- Harbour Team {n} (Group A): Third Place Finish" for n in range(1, 9))
    assert "Harbour Team 8" in clean_text(f"Harbour dredging\n\n{STORY}\n\n{results}").body


def test_wire_slug_and_reuters_standards_line() -> None:
    text = f"Harbour dredging\n\nBC-EU--Harbour-Dredging, 1st Ld-Writethru\n\n{STORY}\n\nOur Standards: The Thomson Reuters Trust Principles."
    article = clean_text(text)
    assert article.body == STORY
    assert reasons(text)["BC-EU--Harbour-Dredging, 1st Ld-Writethru"] == "wire_slug"
    assert reasons(text)["Our Standards: The Thomson Reuters Trust Principles."] == "standards_footer"
    assert article.wire_source == "AP"


def _excerpt(topic: str, words: int) -> str:
    """A teaser cut after `words` words, as a listing of other posts leaves it."""
    filler = f"the {topic} story went on with more detail about the harbour and the people who work there".split()
    return " ".join((filler * 10)[:words]).capitalize() + " …"


def test_teasers_cut_at_one_length_are_a_listing_of_other_posts() -> None:
    listing = [_excerpt("ferry", 40), "A short teaser that needed no cut ends with its author. Ana Lima", _excerpt("lighthouse", 40)]
    text = "Harbour dredging\n\n" + "\n\n".join([STORY, *listing])
    article = clean_text(text)
    assert article.body == STORY
    assert {reasons(text)[line] for line in listing} == {"related_links"}
    # Cut by characters rather than words: the same length, give or take a word's width.
    by_characters = [_excerpt("ferry", 40)[:200] + " …", _excerpt("pier", 41)[:203] + " …"]
    assert clean_text("\n\n".join(["Harbour dredging", STORY, *by_characters])).body == STORY


def test_a_writer_trailing_off_is_not_a_listing() -> None:
    # Paragraphs ending in an ellipsis at different lengths are the story's own.
    trailing = [_excerpt("ferry", 20), STORY, _excerpt("lighthouse", 45)]
    article = clean_text("\n\n".join(["Harbour dredging", STORY, *trailing]))
    assert article.body == "\n\n".join([STORY, *trailing])
    # An ellipsis typed against the last word is a writer's, whatever the length.
    typed = [_excerpt("ferry", 30).replace(" …", "..."), _excerpt("lighthouse", 30).replace(" …", "...")]
    assert clean_text("\n\n".join(["Harbour dredging", STORY, *typed])).body == "\n\n".join([STORY, *typed])
    # One cut paragraph is not a listing, and the story's first paragraph is never part of one.
    first_cut = [_excerpt("ferry", 40), STORY, _excerpt("lighthouse", 40)]
    assert clean_text("\n\n".join(["Harbour dredging", *first_cut])).body == "\n\n".join(first_cut)


def test_an_authors_blurb_closing_the_page_goes_and_a_follow_prompt_closing_a_paragraph_is_cut() -> None:
    blurb = "Nora Quay's book about harbours is out now."
    line = f"{blurb} Follow Nora Quay on Twitter @noraquay. Follow us on Facebook."
    article = clean_text(f"Harbour dredging\n\n{STORY}\n\n{line}")
    assert article.body == STORY  # the one-line bio after the story goes whole
    assert reasons(f"Harbour dredging\n\n{STORY}\n\n{line}")[line] == "author_bio"
    assert "Nora Quay" in article.authors
    # Inside the article (story text follows), only the prompt is cut.
    article = clean_text(f"Harbour dredging\n\n{line}\n\n{STORY}")
    assert article.body == f"{blurb}\n\n{STORY}" and "Nora Quay" in article.authors
    # "Follow" inside a sentence of the story is not a prompt.
    story_line = "The pilots said they would follow the board on Twitter and in the papers until the work was done."
    assert story_line in clean_text(f"Harbour dredging\n\n{STORY}\n\n{story_line}").body


def test_headline_list_before_an_editors_note_or_an_authors_blurb_is_related_links() -> None:
    headlines = "- Ten Strange Ships Found in the Channel\n- Why Harbour Seals Are Moving North\n- The 5 Deepest Ports in Europe"
    for afterword in ("Editor's note: This story was updated at 5 p.m. to include the board's vote count.",
                      "Nora Quay's book about the harbour is out now. Follow her on Twitter @noraquay."):
        article = clean_text(f"Harbour dredging\n\n{STORY}\n\n{headlines}\n\n{afterword}")
        assert "Harbour Seals" not in article.body, afterword
        assert article.body.startswith(STORY)
        if afterword.startswith("Editor"):
            assert afterword.split(".")[0] in article.body


def test_an_issuers_self_description_closing_two_releases_is_an_about_block() -> None:
    about = ("Quayside Marine is a leading supplier of dredging equipment to ports in northern Europe and "
             "the Baltic, with a service network covering forty harbours.")
    more = "Quayside Marine is headquartered in Bergen and employs around 400 people."
    first = f"Quayside wins Bergen contract\n\n{STORY}\n\n{about}\n\n{more}"
    second = ("Quayside opens Riga office\n\nThe company opened a service office in Riga on Tuesday to be nearer its "
              f"Baltic customers, its chief executive said.\n\n{about}\n\nQuayside Marine is listed in Oslo.")
    cleaned = clean_texts({"releases/a.txt": first, "releases/b.txt": second})
    assert cleaned["releases/a.txt"].body == STORY
    assert "Riga on Tuesday" in cleaned["releases/b.txt"].body and "Quayside Marine" not in cleaned["releases/b.txt"].body
    assert {span.reason for span in cleaned["releases/a.txt"].removed} == {"title", "about_block"}
    # One release alone is no evidence; nor is a shared paragraph that does not close the story.
    assert about in clean_texts({"releases/a.txt": first})["releases/a.txt"].body
    story_after = f"{STORY}\n\n{about}\n\nThe harbour board will vote on the second contract in June, its chair said."
    kept = clean_texts({"releases/a.txt": f"Quayside wins\n\n{story_after}", "releases/b.txt": second})
    assert about in kept["releases/a.txt"].body


def test_teasers_between_two_link_box_headers_and_glued_teasers_are_related_links() -> None:
    teasers = ["The ferry company raised its prices for the winter on Friday.",
               "A lighthouse keeper retired after forty years on the rock."]
    glued = "Seals return to the north pier  Wardens counted more than sixty seals on the pier, Dr. Lind said."
    text = "\n\n".join(["Harbour dredging", STORY, "Top stories", *teasers, "Partner news", "The Queen of the Quays", glued])
    article = clean_text(text)
    assert article.body == STORY
    assert {reasons(text)[line] for line in [*teasers, "Top stories", "Partner news"]} == {"related_links"}
    assert reasons(text)[glued] == "related_links"


def test_story_paragraphs_between_headers_are_kept() -> None:
    # Long paragraphs, or several sentences, between two headers are the story's; so are lines after a
    # "Watch" header, which may label a video inside the story.
    long_paragraph = ("The board said the dredging would begin in September and take about six weeks, weather "
                      "permitting, and that the channel would stay open to small boats during the work.")
    two_sentences = "The ferry will still run. Its timetable changes on Monday."
    for between in ([long_paragraph], [two_sentences]):
        text = "\n\n".join(["Harbour dredging", STORY, "Top stories", *between, "Partner news"])
        assert between[0] in clean_text(text).body
    text = "\n\n".join(["Harbour dredging", STORY, "Watch", "The pilots said the work was overdue.", "Related stories"])
    assert "The pilots said the work was overdue." in clean_text(text).body
    # Two spaces inside a story line outside a link box change nothing.
    spaced = "The board met on Monday.  It voted to dredge the channel before the storms."
    assert "It voted to dredge" in clean_text(f"Harbour dredging\n\n{STORY}\n\n{spaced}").body


def test_sign_up_box_lines_offers_and_layout_class_names() -> None:
    box = ["Harbour Daily Newsletter", "The week's catches, tides and gossip, every Friday.", "Thanks for signing up!",
           "Oops!", "There was an error processing your subscription."]
    offer = "Get the harbour app for as little as 2 euros a month. Use the code TIDES at checkout."
    lines = [*box, offer, "Join our Free Fishing Challenge", "- above-phone", "- landscape-tablet"]
    text = "\n\n".join(["Harbour dredging", STORY, *lines])
    assert clean_text(text).body == STORY
    found = reasons(text)
    assert {found[line] for line in box} == {"newsletter_prompt"}
    assert found[offer] == found["Join our Free Fishing Challenge"] == "promo"
    assert found["- above-phone"] == found["- landscape-tablet"] == "markup"


def test_story_lines_near_sign_up_boxes_and_offers_are_kept() -> None:
    # A story paragraph between two prompts is longer than a box's lines; "join us" ending a sentence is
    # the story's; hyphenated words that name no layout stay.
    paragraph = ("The harbour board said it would publish the dredging schedule each week so that the fishermen "
                 "could plan their trips around the work.")
    kept = [paragraph, "Join us at the quay, the harbour master told the crowd.", "- well-known", "- long-term",
            "Smugglers use code words on the radio, the coastguard said."]
    text = "\n\n".join(["Harbour dredging", STORY, "Harbour Daily Newsletter", paragraph, "Thanks for signing up!",
                        *kept[1:]])
    body = clean_text(text).body
    assert all(line in body for line in kept)
