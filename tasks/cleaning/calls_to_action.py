"""Calls to action: newsletter and subscription pitches, sales offers, follow/download prompts, and
invitations to comment. They address the reader ("sign up", "your inbox", "follow us"), which the
story's own sentences about subscriptions or apps do not."""

from __future__ import annotations

import re

from tasks.cleaning.metadata import SOCIAL_NETWORKS, add_names, names_in_follow_line
from tasks.cleaning.related import lines_between
from tasks.cleaning.rule import Example, LineContext, Rule
from tasks.cleaning.text import Line, ends_sentence, last_sentence, word_count

FAMILY = "calls_to_action"

NEWSLETTER_NAME = re.compile(r"^[\w'’ ]{1,40}\bnewsletter$", re.I)
CALL_TO_ACTION = re.compile(r"^(?:sign up|subscribe|click here|tap here|register now|join now)\b", re.I)
# Newsletter and subscription prompts speak to the reader; a story about subscriptions does not.
NEWSLETTER_TOPIC = re.compile(r"\b(?:newsletters?|inbox|subscri(?:be|bing|ption)|sign(?:ing)?[ -]up|news alerts|"
                              r"delivered (?:\w+ ){0,2}(?:mornings?|daily|weekly|every \w+))\b", re.I)
READER_ADDRESS = re.compile(r"\b(?:you|your|our|us|sign|join|click|tap|get|delivered|free|thanks?)\b", re.I)
# A sales offer: "Use the code GETPRO", "Join our Free Parlay Challenge".
# (A code in capitals or a named kind of code: "hackers use code hidden in images" is a story.)
PROMO_CODE = re.compile(
    r"\b(?i:use|enter|apply) (?i:the )?(?:(?i:promo(?:tional)?|coupon|discount|voucher) (?i:code)\b|(?i:code) [\"“']?[A-Z0-9]{4,}\b)"
)
JOIN_PROMPT = re.compile(r"^join (?:our|us)\b", re.I)
INLINE_CLICK_TO_TWEET = re.compile(r"\s*Click To Tweet\s*$")
# "Follow/Reach/Find <whom: up to six words, no comma> on <network>" ("Follow the money, they said on Twitter" is text).
SOCIAL_FOLLOW = re.compile(rf"^(?:follow|reach|find)\s+(?:[^\s,]+\s+){{0,6}}?on\s+{SOCIAL_NETWORKS}\b.*$", re.I)
# A closing "Follow him on Twitter @handle." after a sentence of text (an author's blurb): the prompt goes,
# the sentence stays.
INLINE_SOCIAL_FOLLOW = re.compile(
    rf"(?<=[.!?\"”’])\s+(?P<prompt>(?i:follow)\s+(?:(?i:him|her|them|us|me)|[A-Z][\w'’.-]+(?:\s+[A-Z][\w'’.-]+){{0,3}})"
    rf"\s+(?i:on)\s+(?i:{SOCIAL_NETWORKS})\b(?:\s+\S+){{0,40}}?)\s*$"
)
APP_PROMPT = re.compile(
    r"^(?:click here|tap here|download|get)\b.{0,80}\b(?:app|newsletter)\b.{0,40}$"
    r"|^(?:sign up|subscribe)\b.{0,120}$"
    r"|^thanks? (?:you )?for signing up!?.*$",
    re.I,
)
FOLLOW_LINK = re.compile(r"^(?:follow|more)\b.{0,120}\bhttps?://\S+.{0,120}$", re.I)
COMMENT_PROMPT = re.compile(
    r"^(?:post|leave|add|view|show|read|join)(?: a| your| the)? (?:comments?|discussion)\b.{0,30}$"
    r"|^(?:tell us what you think|have your say)\b.{0,30}$|\bcomments? (?:are|is) (?:closed|moderated)\b"
    r"|^note: .{0,60}\bcomments?\b"
    # A notice to commenters, in the languages news sites most often write one in ("ATENÇÃO: Comentários
    # … não serão aprovados", "Attention : les commentaires …").
    r"|^(?:aten[çc][ãa]o|atenci[óo]n|attention|aviso|nota|hinweis|achtung|avviso)\s*[:!–-].{0,200}?"
    r"\b(?:coment[aá]rios?|commentaires?|kommentare?|commenti|comments?)\b",
    re.I,
)


def _quoted(text: str) -> bool:
    return '"' in text or "“" in text


NEWSLETTER_PROMPT = Rule("newsletter_prompt", FAMILY, "Newsletter and subscription pitches that address the reader, "
                         "and the lines of the sign-up box around them; quoted speech is never one.")
PROMO = Rule("promo", FAMILY, "Sales offers (promo codes, 'Join our …' pitches) and share buttons glued to a quote "
             "('Click To Tweet').")
SOCIAL_PROMPT = Rule("social_prompt", FAMILY, "Prompts to follow the outlet or the author on social media or to get "
                     "its app; the names of the authors they give are kept as metadata.")
SITE_POINTER = Rule("site_pointer", FAMILY, "Pointers away from the story: 'read more at <URL>', the site's podcast, app "
                    "or live coverage; they address the reader and carry no news.")
COMMENT_PROMPT_RULE = Rule("comment_prompt", FAMILY, "Invitations to comment and notices to commenters.")


@NEWSLETTER_PROMPT.check("line", removes=("Pick Six Newsletter", "The Morning Briefing newsletter"),
                         keeps=("The company's newsletter reached a million readers last year, it said.",))
def newsletter_name(text: str, ctx: LineContext) -> bool:
    """A newsletter's name alone on a line (up to 4 words ending in "newsletter")."""
    return word_count(text) <= 4 and bool(NEWSLETTER_NAME.match(text))


@NEWSLETTER_PROMPT.check(
    "line",
    removes=("Get the best of the week's news in one email. Sign up for our weekly newsletter.",),
    keeps=('"Sign up for the newsletter," she told the room, and three people did.',),
)
def sign_up_pitch(text: str, ctx: LineContext) -> bool:
    """Up to 50 words whose last sentence sends the reader to sign up or subscribe to a newsletter."""
    return word_count(text) <= 50 and not _quoted(text) and bool(CALL_TO_ACTION.match(last_sentence(text))) \
        and bool(re.search(r"\b(?:newsletter|subscri\w+|issues|inbox)\b", text, re.I))


@NEWSLETTER_PROMPT.check(
    "line",
    removes=("Want the latest harbour news delivered to your inbox?", "Thanks for signing up!",
             "Get breaking news alerts and special reports. The news and stories that matter, delivered weekday mornings."),
    keeps=("Subscriptions to the paper fell by a third in two years.",),
)
def newsletter_address(text: str, ctx: LineContext) -> bool:
    """Up to 30 words about newsletters or subscribing that address the reader ("your inbox", "sign up free")."""
    return word_count(text) <= 30 and not _quoted(text) and bool(NEWSLETTER_TOPIC.search(text)) \
        and bool(READER_ADDRESS.search(text))


@PROMO.check("line", removes=("Use the code HARBOUR20 for a free month.", "Join our Free Parlay Challenge"),
             keeps=("Hackers use code hidden in images to break into the port's systems, the police said.",
                    "Join us, the mayor told the crowd at the quay, and help rebuild the market."), where="body")
def promo_offer(text: str, ctx: LineContext) -> bool:
    """A promo, coupon or capitalised code to use (up to 80 words), or a short 'Join our/us …' pitch that is
    no sentence."""
    return (word_count(text) <= 80 and bool(PROMO_CODE.search(text))) \
        or (word_count(text) <= 12 and bool(JOIN_PROMPT.match(text)) and not ends_sentence(text))


@PROMO.check("inline", removes=("“We dredge or we close,” the chairman said. Click To Tweet",), where="body",
             keeps=("Click To Tweet buttons were added to the site in March, the editor wrote.",))
def click_to_tweet(line: Line, ctx: LineContext) -> list[tuple[int, int]]:
    """A share button's label glued to the end of a quoted line."""
    match = INLINE_CLICK_TO_TWEET.search(line.text)
    return [(match.start(), match.end())] if match and match.start() > 0 else []


@SOCIAL_PROMPT.check("line", removes=("Follow Nora Quay on Twitter @noraquay", "Find us on Facebook"),
                     keeps=("Follow the money, investigators said on Twitter, and you find the port.",))
def follow_on_social(text: str, ctx: LineContext) -> bool:
    """Up to 40 words starting "Follow/Reach/Find … on <network>"; names in it become authors."""
    if word_count(text) <= 40 and SOCIAL_FOLLOW.match(text):
        add_names(ctx.article.authors, names_in_follow_line(text))
        return True
    return False


@SOCIAL_PROMPT.check("line", removes=("Download the Coastal Gazette app", "More harbour news at https://example.com/harbour"),
                     keeps=("Download speeds at the port doubled after the upgrade, the operator said in May.",))
def app_or_link_prompt(text: str, ctx: LineContext) -> bool:
    """Up to 30 words: get the app, sign up, thanks for signing up, or follow/more at a URL."""
    return word_count(text) <= 30 and bool(APP_PROMPT.match(text) or FOLLOW_LINK.match(text))


@SOCIAL_PROMPT.check("inline", where="body",
                     removes=("Nora Quay covers the harbour for the Gazette. Follow her on Twitter @noraquay.",),
                     keeps=("The board said it would follow the plan. Follow-up talks are set for June on the island.",))
def closing_follow_prompt(line: Line, ctx: LineContext) -> list[tuple[int, int]]:
    """A "Follow him on Twitter @handle" closing a line of text (an author's blurb); the sentence before stays."""
    match = INLINE_SOCIAL_FOLLOW.search(line.text)
    if not match:
        return []
    add_names(ctx.article.authors, names_in_follow_line(match.group("prompt")))
    return [(match.start("prompt"), match.end("prompt"))]


@COMMENT_PROMPT_RULE.check("line", removes=("Leave a comment", "Comments are closed.", "Have your say"),
                           keeps=("Comments made by the chairman on Monday angered the fishermen.",))
def comment_prompt(text: str, ctx: LineContext) -> bool:
    """Up to 30 words inviting comments or telling commenters the rules, in several languages."""
    return word_count(text) <= 30 and bool(COMMENT_PROMPT.search(text))


READ_MORE_AT = re.compile(
    r"^(?:read|see|find|get|continue reading|watch|listen)\b(?: more| the (?:full|whole|rest|complete)(?: story| article| report)?|"
    r" the rest)?(?: of (?:this|the) (?:story|article))?\s*(?:at|on|here|:)\s*:?\s*\S*(?:https?://|www\.)\S+\s*$",
    re.I,
)
POINTER = re.compile(
    r"^(?:(?:listen|subscribe)\b.{0,80}\bpodcasts?\b|.{0,40}\b(?:apple podcasts|google podcasts|spotify|stitcher)\b"
    r"|(?:follow|read|get|watch|see|for) (?:(?:all |more of )?(?:our|the) )?(?:latest |full )?live (?:coverage|updates|blog|stream)\b)",
    re.I,
)


@SITE_POINTER.check("line", removes=("Read more at http://www.example.com/harbour-dredging", "Read the full story at www.example.com",
                                     "Continue reading at https://example.com/harbour"),
                    keeps=("Read more about the plan at the library, where the board left a copy of its minutes for everyone.",),
                    where="body")
def read_more_at(text: str, ctx: LineContext) -> bool:
    """'Read more / the full story at <URL>' alone on a line."""
    return bool(READ_MORE_AT.match(text))


@SITE_POINTER.check("line", removes=("Listen to our harbour podcast on Apple Podcasts and Spotify",
                                     "Follow our live coverage of the storm"),
                    keeps=("Listeners to the podcast said the board should have acted sooner, and the mayor agreed.",
                           "Fishermen follow live updates from the coastguard on their radios, the skipper said."),
                    where="body")
def podcast_app_or_live(text: str, ctx: LineContext) -> bool:
    """Up to 25 words pointing to the site's podcast or live coverage, without a sentence end inside."""
    return word_count(text) <= 25 and bool(POINTER.match(text)) and not re.search(r"[.!?]\s+\S", text) \
        and not (word_count(text) >= 10 and text.rstrip().endswith("."))


# A sign-up box's lines between its other lines ("Pick Six Newsletter" / <pitch> / "Thanks for signing up!" /
# "Sorry!" / "There was an error processing your subscription."): the box, whatever they say.
WIDGET_GAP_LINES = 3
WIDGET_GAP_WORDS = 20


@NEWSLETTER_PROMPT.check(
    "block",
    removes=("Pick Six Newsletter\nGet the week's best picks every Friday\nThanks for signing up!",),
    keeps=(Example("Pick Six Newsletter\n\n{story}\n\nThanks for signing up!", "document", "{story}"),),
)
def newsletter_widget(lines: list[Line], ctx: LineContext) -> list[Line]:
    """Up to three short lines (20 words each at most) between two newsletter prompts: the same sign-up box."""
    return lines_between(lines, lambda line: line.reason == "newsletter_prompt",
                         lambda line: word_count(line.stripped) <= WIDGET_GAP_WORDS, WIDGET_GAP_LINES)
