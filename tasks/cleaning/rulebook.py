"""The order the rules run in, in one place, and the names a user may switch off.

The cleaner reads an article line by line. For each line, in this order:
1. `TITLE_CHECKS` on the first non-blank line;
2. `HEADING_CHECKS`: a Markdown heading becomes a section heading (its marker cut);
3. `LINE_CHECKS`, first match wins: the line goes, with the check's rule name as its reason;
4. `HEAD_CHECKS`, only before the first paragraph of text, on lines no line check took;
5. `INLINE_CHECKS` cut remnants glued inside a line that is kept.
Then `BLOCK_CHECKS` judge runs of kept lines together (lists, boxes), in order.
"""

from __future__ import annotations

from collections.abc import Iterable

from tasks.cleaning import (
    authors,
    batch,
    calls_to_action,
    captions,
    dates,
    markup,
    navigation,
    page,
    related,
    titles,
    urls,
    wire,
)
from tasks.cleaning.rule import Check, Rule

TITLE_CHECKS: tuple[Check, ...] = (titles.first_line_title,)
HEADING_CHECKS: tuple[Check, ...] = (markup.heading_marker,)
LINE_CHECKS: tuple[Check, ...] = (
    titles.exact_title_repeat,
    # Wire copy's head before anything that reads short lines in capitals or with dates (headlines, date lines).
    authors.name_above_dateline,
    wire.wire_dateline,
    navigation.navigation_label,
    navigation.gallery_counter,
    navigation.gallery_control,
    navigation.toolbar_line,
    navigation.breadcrumb,
    navigation.section_menu,
    related.link_box_header,
    related.bracket_tagged_headline,
    markup.class_name_line,
    markup.letterless_furniture,
    related.caps_headline,
    related.series_teaser,
    calls_to_action.newsletter_name,
    calls_to_action.sign_up_pitch,
    dates.labelled_date,
    dates.short_date,
    authors.contact_alone,
    urls.url_label,
    urls.tail_url,
    wire.ap_slug,
    wire.end_mark,
    wire.reuters_standards,
    wire.source_line,
    authors.contributed_line,
    authors.reporting_by,
    authors.closing_bio,
    calls_to_action.follow_on_social,
    calls_to_action.newsletter_address,
    calls_to_action.promo_offer,
    calls_to_action.app_or_link_prompt,
    calls_to_action.read_more_at,
    calls_to_action.podcast_app_or_live,
    calls_to_action.comment_prompt,
    authors.contact_line,
    authors.wire_sign_off,
    authors.address_footer,
    wire.copyright_line,
    wire.rights_notice,
    dates.update_note,
    captions.caption_line,
    # Evidence from the batch and from the lines above: after every rule that names a line.
    batch.about_continuation,
    batch.closing_self_description,
    batch.recurring_line,
    related.related_block,
)
HEAD_CHECKS: tuple[Check, ...] = (
    titles.restated_title,
    urls.url_under_title,
    authors.byline,
    dates.head_date,
    titles.standfirst,
)
INLINE_CHECKS: tuple[Check, ...] = (
    markup.html_and_shortcodes,
    authors.hovercard,
    calls_to_action.click_to_tweet,
    calls_to_action.closing_follow_prompt,
    wire.source_tag,
)
BLOCK_CHECKS: tuple[Check, ...] = (
    page.page_furniture,
    related.headline_list,
    related.excerpt_listing,
    related.link_box_teasers,
    related.glued_teaser_run,
    related.list_after_furniture,
    calls_to_action.newsletter_widget,
)
ORDER: tuple[Check, ...] = TITLE_CHECKS + HEADING_CHECKS + LINE_CHECKS + HEAD_CHECKS + INLINE_CHECKS + BLOCK_CHECKS


def _rules_in_order() -> tuple[Rule, ...]:
    seen: dict[str, Rule] = {}
    for check in ORDER:
        seen.setdefault(check.rule.name, check.rule)
    return tuple(seen.values())


RULES: tuple[Rule, ...] = _rules_in_order()
FAMILIES: tuple[str, ...] = tuple(dict.fromkeys(rule.family for rule in RULES))


def resolve_disabled(names: Iterable[str]) -> frozenset[str]:
    """The rule names switched off by `names` (rule names, or family names for all of a family's rules).
    Unknown names are an error that lists the known ones."""
    by_rule = {rule.name for rule in RULES}
    disabled: set[str] = set()
    unknown: list[str] = []
    for name in (n.strip() for n in names):
        if not name:
            continue
        if name in by_rule:
            disabled.add(name)
        elif name in FAMILIES:
            disabled.update(rule.name for rule in RULES if rule.family == name)
        else:
            unknown.append(name)
    if unknown:
        raise ValueError(
            f"unknown cleaning rule(s): {', '.join(unknown)}; known rules: {', '.join(r.name for r in RULES)}"
            f" (or a family: {', '.join(FAMILIES)})"
        )
    return frozenset(disabled)
