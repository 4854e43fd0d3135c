"""Arbitrary text (hypothesis) through every free-text check and the inert renderer: text is
accepted whole or refused with the limit stated, never cut; what is shown never pings,
never becomes a masked link, never carries a bidirectional override."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.domain import introductions, meetups, talks, topics
from bot.errors import BadInput
from cogs._ui import inert

NASTY = [
    "@everyone",
    "@here",
    "<@123456789012345678>",
    "<@!123456789012345678>",
    "<@&123456789012345678>",
    "[click](https://evil.example)",
    "**",
    "__",
    "`",
    "```",
    "> ",
    "# ",
    "||",
    "discord.gg/abc",
    "<t:0:R>",
    "\u200b",
    "\u202e",
    "\u2066",
    "\n",
    "\t",
]
TEXT = st.lists(st.one_of(st.sampled_from(NASTY), st.text(max_size=30)), max_size=60).map("".join)

# Every free-text field: (name, check returning the stored value, limit in characters).
FIELDS: list[tuple[str, Callable[[str], str | None], int]] = [
    ("meetup title", lambda t: meetups.clean_text(t, field="title", limit=100, required=True), 100),
    ("meetup description", lambda t: meetups.clean_text(t, field="description", limit=1000), 1000),
    ("cancel reason", lambda t: meetups.clean_text(t, field="reason", limit=200), 200),
    ("topic title", topics.check_title, topics.TITLE_MAX),
    ("topic details", topics.check_details, topics.DETAILS_MAX),
    ("talk title", talks.check_title, talks.TITLE_MAX),
    ("talk summary", talks.check_summary, talks.SUMMARY_MAX),
    ("name", lambda t: introductions.check_line(t, "Your name", 64, required=True), 64),
    ("job role", lambda t: introductions.check_line(t, "Your job role", 100), 100),
    ("looking for", lambda t: introductions.check_free_text(t, "Looking for"), 500),
]


BIDI = "\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069"


def visible(value: str | None) -> str:
    """What a reader sees: no whitespace, no invisible format or control characters."""
    return "".join(
        ch
        for ch in value or ""
        if not ch.isspace() and unicodedata.category(ch) not in ("Cf", "Cc", "Zl", "Zp")
    )


@pytest.mark.parametrize(("name", "check", "limit"), FIELDS, ids=[f[0] for f in FIELDS])
@given(typed=TEXT)
def test_accepted_whole_or_refused_with_the_limit(
    name: str, check: Callable[[str], str | None], limit: int, typed: str
) -> None:
    try:
        stored = check(typed)
    except BadInput as error:
        # Refused: too long, too short or empty, and the message says which.
        refused = error.message
    else:
        assert stored is None or len(stored) <= limit
        assert visible(stored) == visible(typed), name
        return
    assert re.search(r"\d", refused) or "empty" in refused, refused


@given(typed=TEXT)
def test_skills_keep_every_tag_or_refuse(typed: str) -> None:
    try:
        tags = introductions.parse_skills(typed)
    except BadInput as error:
        refused = error.message
    else:
        assert len(tags) <= introductions.TAGS_MAX
        assert all(len(tag) <= introductions.TAG_MAX and "`" not in tag for tag in tags)
        return
    assert re.search(r"\d", refused), refused


@given(typed=TEXT)
def test_shown_text_never_pings_or_hides_a_link(typed: str) -> None:
    shown = inert(typed)
    # A mention needs "<@" or "@everyone"/"@here" intact; inert breaks each with a
    # zero-width space (and the bot sends with allowed_mentions none besides).
    assert "<@" not in shown
    assert "@everyone" not in shown
    assert "@here" not in shown
    # A masked link is "[label](url)": the "](" is always broken.
    assert "](" not in shown
    assert not set(shown) & set(BIDI)
    # Nothing the member typed is dropped, only escaped: the typed characters (bidi
    # controls aside) appear in the shown text, in order.
    kept = typed.translate(dict.fromkeys(map(ord, BIDI)))
    rest = iter(shown)
    assert all(ch in rest for ch in kept)
