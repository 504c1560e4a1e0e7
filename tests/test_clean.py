"""Cleaner rules on short made-up articles, one family of remnant at a time."""

from __future__ import annotations

from datetime import date

from tasks.cleaning import clean_text, extract_names, is_person_name


def reasons(text: str) -> dict[str, str]:
    return {span.text.strip(): span.reason for span in clean_text(text).removed}


STORY = (
    "The city council approved the new budget on Tuesday after a long debate about school funding.\n\n"
    "Council members said the plan would raise spending on parks and libraries by ten percent next year."
)


def test_title_and_repeated_title() -> None:
    article = clean_text(f"Budget passes\n\nBudget passes\n\n{STORY}")
    assert article.title == "Budget passes"
    assert "Budget passes" not in article.body
    assert reasons(f"Budget passes\n\nBudget passes\n\n{STORY}")["Budget passes"] in {"title", "title_repeat"}
    assert len(article.paragraphs) == 2


def test_byline_and_date_line() -> None:
    article = clean_text(f"Budget passes\n\nBy Maria Gomez and Tom Lee\n\nJune 3, 2021\n\n{STORY}")
    assert article.authors == ["Maria Gomez", "Tom Lee"]
    assert article.published == date(2021, 6, 3)
    assert "Maria" not in article.body and "2021" not in article.body


def test_byline_that_is_not_a_name_is_kept_out_of_authors() -> None:
    article = clean_text(f"Budget passes\n\nBy 3 Hours Ago\n\n{STORY}")
    assert article.authors == []


def test_credit_lines_give_contributors() -> None:
    text = f"{STORY}\n\nAnna Berg in Oslo and Li Wei contributed to this report.\n\nReporting by Sam Hill; Editing by Jo Park"
    article = clean_text(text)
    assert article.contributors == ["Anna Berg", "Li Wei", "Sam Hill", "Jo Park"]
    assert "contributed" not in article.body and "Editing" not in article.body


def test_source_line_and_navigation() -> None:
    article = clean_text(f"{STORY}\n( Source : afp )\nNext Story\nRead more")
    assert article.wire_source == "AFP"
    assert "Source" not in article.body and "Next Story" not in article.body


def test_social_prompt_gives_authors() -> None:
    article = clean_text(f"{STORY}\n\nFollow Dana Whitfield on Twitter at @dana and Omar Reyes at @omar")
    assert article.authors == ["Dana Whitfield", "Omar Reyes"]
    assert "Follow" not in article.body


def test_dateline_with_wire_agency() -> None:
    article = clean_text("Storm hits coast\n\nMIAMI (Reuters) — A powerful storm hit the coast on Monday, cutting power to thousands of homes.")
    assert (article.dateline, article.wire_source) == ("MIAMI", "Reuters")
    # The dateline is recorded as metadata and stays in the first sentence.
    assert article.paragraphs[0].startswith("MIAMI (Reuters) — A powerful storm")


def test_bio_hovercard_is_cut_inside_the_sentence() -> None:
    text = (
        "Senator Jane DoeJane DoeDoe pushes new farm bill Critics say the bill is too costly MORE met with "
        "farmers in Iowa on Monday to discuss the harvest."
    )
    article = clean_text(text)
    assert article.body == "Senator Jane Doe met with farmers in Iowa on Monday to discuss the harvest."
    assert reasons(text)["Jane DoeDoe pushes new farm bill Critics say the bill is too costly MORE"] == "bio_hovercard"


def test_caption_is_removed_and_broken_paragraph_rejoined() -> None:
    text = (
        "Budget passes\n\nThe mayor, left, speaks with reporters at City Hall on Tuesday.\n\n"
        "The council approved the budget after a debate that lasted\n\n"
        "until midnight, officials said.\n\nIt takes effect in July."
    )
    article = clean_text(text)
    assert article.paragraphs == [
        "The council approved the budget after a debate that lasted until midnight, officials said.",
        "It takes effect in July.",
    ]
    assert reasons(text)["The mayor, left, speaks with reporters at City Hall on Tuesday."] == "caption"


def test_update_note_and_url_footer() -> None:
    article = clean_text(f"{STORY}\n\n— This article was updated at 5:10 p.m.\n\nOriginal url:\n\n<https://www.example-news.com/a/1>")
    assert article.updated_note == "5:10 p.m."
    assert article.url == "https://www.example-news.com/a/1"
    assert article.publisher == "example-news.com"
    assert "updated" not in article.body and "http" not in article.body


def test_subtitle_and_section_heading_in_one_line_per_paragraph_text() -> None:
    text = (
        "Budget passes\n\nSpending on parks will rise by a tenth next year\n"
        "The city council approved the new budget on Tuesday after a long debate.\n"
        "Parks and libraries\n"
        "Council members said the plan would raise spending on parks and libraries next year.\n"
    )
    article = clean_text(text)
    assert article.subtitle == "Spending on parks will rise by a tenth next year"
    assert article.section_headings == ["Parks and libraries"]
    assert len(article.paragraphs) == 2
    # The heading stays in the body, on the line above its paragraph, and is not a paragraph itself.
    assert article.paragraph_headings == [None, "Parks and libraries"]
    assert "\n\nParks and libraries\nCouncil members said" in article.body


def test_text_without_remnants_is_untouched() -> None:
    article = clean_text(STORY)
    assert article.body == STORY and article.removed == []


def test_non_english_text_passes_through() -> None:
    text = "Der Stadtrat hat am Dienstag den neuen Haushalt beschlossen.\n\nDie Ausgaben für Parks steigen im nächsten Jahr."
    assert clean_text(text).body == text


def test_person_name_rules() -> None:
    assert is_person_name("Yekaterina Kravtsova")
    assert not is_person_name("Hours Ago")
    assert not is_person_name("Associated Press")
    assert extract_names("[Yekaterina Kravtsova](#)") == ["Yekaterina Kravtsova"]


def test_newsletter_and_comment_prompts() -> None:
    text = (
        f"{STORY}\n\nGet the week's best stories delivered to your inbox every Friday.\n\nThanks for signing up!\n\n"
        "Post Comment (+)"
    )
    assert set(reasons(text).values()) == {"newsletter_prompt", "comment_prompt"}
    assert clean_text(text).body == STORY


def test_story_about_subscriptions_is_kept() -> None:
    text = "Streaming subscriptions rose by a tenth in the quarter, the company reported on Tuesday."
    assert clean_text(text).body == text


def test_related_links_block_until_text_resumes() -> None:
    text = (
        "The city council approved the new budget on Tuesday after a long debate about school funding.\n\n"
        "You may also like...\n\n- Mayor opens new library\n\n- Parks get a facelift\n\n"
        "Read more: Council votes on bus lanes\n\n"
        "Council members said the plan would raise spending on parks and libraries by ten percent next year."
    )
    article = clean_text(text)
    assert len(article.paragraphs) == 2
    assert "library" not in article.body and "bus lanes" not in article.body
    assert set(reasons(text).values()) == {"related_links"}


def test_markup_leftovers_and_bracket_tag_headlines() -> None:
    text = f"{STORY}\n\nPlane passengers quarantined after outbreak [NEWS]\n\n- medium-wide-browser-and-larger"
    assert clean_text(text).body == STORY
    assert set(reasons(text).values()) == {"related_links", "markup"}


def test_published_label_and_contact_line() -> None:
    text = f"{STORY}\n\nFirst Published: Tuesday, November 19, 2019 08:38 AM\n\nHave a tip? Ann Lee may be reached at alee@example.com."
    article = clean_text(text)
    assert article.published == date(2019, 11, 19)
    assert article.body == STORY
    assert set(reasons(text).values()) == {"date_line", "contact"}


def test_glued_hovercard_with_a_longer_name() -> None:
    text = (
        "Governor Kristi NoemKristi Lynn NoemState drops new slogan Other story here MORE signed the bill on Friday."
    )
    assert clean_text(text).body == "Governor Kristi Noem signed the bill on Friday."


def test_contributor_after_an_outlet_possessive() -> None:
    article = clean_text(f"{STORY}\n\nFox News’ Jessica Napoli contributed to this report.")
    assert article.contributors == ["Jessica Napoli"] and article.body == STORY
