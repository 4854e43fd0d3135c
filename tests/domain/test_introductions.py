"""Introduction rules: skill tags, field limits, search criteria and suggestions."""

from __future__ import annotations

import pytest

from bot.domain.introductions import (
    FREE_TEXT_MAX,
    TAG_MAX,
    TAGS_MAX,
    Criteria,
    Profile,
    check_free_text,
    check_line,
    keywords,
    like_pattern,
    normalise_tag,
    parse_skills,
    search_key,
    suggest,
)
from bot.errors import BadInput


@pytest.mark.parametrize(
    ("typed", "tag"),
    [
        ("  Moodle ", "moodle"),
        ("#Moodle", "moodle"),
        ("C#", "c#"),
        ("Aruba   Switches", "aruba switches"),
        ("`Intune`", "intune"),
        ("STRASSE", "strasse"),
        ("Straße", "strasse"),  # case-folded, not just lower-cased
    ],
)
def test_tags_are_normalised(typed: str, tag: str) -> None:
    """Trimmed, single-spaced, case-folded; no backticks; a leading # dropped."""
    assert normalise_tag(typed) == tag


def test_skills_are_split_deduplicated_and_ordered() -> None:
    assert parse_skills("Moodle, moodle;#MOODLE\nIntune,, , Aruba") == ("moodle", "intune", "aruba")
    assert parse_skills(None) == ()


def test_skill_limits_are_stated() -> None:
    """More than 20 tags, or a tag over 40 characters, is refused with the limit."""
    with pytest.raises(BadInput, match=f"at most {TAGS_MAX} skills; you gave 21"):
        parse_skills(", ".join(f"s{n}" for n in range(21)))
    assert len(parse_skills(", ".join(f"s{n}" for n in range(20)))) == TAGS_MAX
    with pytest.raises(BadInput, match=f"at most {TAG_MAX} characters"):
        parse_skills("x" * (TAG_MAX + 1))
    assert parse_skills("x" * TAG_MAX) == ("x" * TAG_MAX,)


def test_lines_and_free_text() -> None:
    """One-line fields lose newlines and bidi overrides; paragraphs keep lines; limits stated."""
    assert check_line(" Ada\n\u202eLovelace ", "Your name", 64) == "Ada Lovelace"
    assert check_line("  ", "Your job role", 100) is None
    with pytest.raises(BadInput, match="Your name can't be empty"):
        check_line("", "Your name", 64, required=True)
    with pytest.raises(BadInput, match="Your name is 65 characters; the limit is 64"):
        check_line("n" * 65, "Your name", 64)
    assert check_free_text("a\n\n\n\nb", "Looking for") == "a\n\nb"
    with pytest.raises(BadInput, match=f"limit is {FREE_TEXT_MAX}"):
        check_free_text("z" * (FREE_TEXT_MAX + 1), "Looking for")


def test_criteria_need_something_and_are_keyed() -> None:
    with pytest.raises(BadInput, match="Say what to look for"):
        Criteria.of(skill="  ", text="")
    criteria = Criteria.of(skill="#Moodle", region="South  West", organisation="Café")
    assert (criteria.skill, criteria.region, criteria.organisation) == (
        "moodle",
        "south west",
        "cafe",
    )
    assert criteria.count == 3


def test_search_keys_and_like_patterns() -> None:
    assert search_key("  Ça  Va ") == "ca va"
    assert like_pattern("50%_off\\") == "%50\\%\\_off\\\\%"


def test_keywords_skip_small_words() -> None:
    assert keywords("Looking for someone who knows Intune and C++ on Macs") == {
        "knows",
        "intune",
        "c++",
        "macs",
    }


def _profile(user_id: int, **values: object) -> Profile:
    defaults: dict[str, object] = {
        "organisation": None,
        "region": None,
        "skills": frozenset(),
    }
    return Profile(user_id=user_id, **{**defaults, **values})  # type: ignore[arg-type]


def test_suggestions_rank_help_then_shared_skills_and_prefer_elsewhere() -> None:
    """Someone who can help with what you're looking for comes first; among equal overlaps,
    another organisation and region wins; nobody without anything in common is suggested."""
    me = _profile(
        1,
        organisation="Riverside",
        region="South West",
        skills=frozenset({"moodle"}),
        looking_for="Help moving print to the cloud",
    )
    same_college = _profile(
        2, organisation="riverside", region="South West", skills=frozenset({"moodle"})
    )
    elsewhere = _profile(3, organisation="Hilltop", region="Wales", skills=frozenset({"moodle"}))
    helper = _profile(4, organisation="Hilltop", happy_to_help="Cloud print rollouts")
    stranger = _profile(5, organisation="Far Away", skills=frozenset({"jamf"}))
    picked = suggest(me, [same_college, elsewhere, helper, stranger, me])
    assert [s.user_id for s in picked] == [4, 3, 2]
    assert picked[0].reason.startswith("can help with cloud, print")
    assert picked[1].reason == "also works with moodle; in Wales"
    assert picked[2].reason == "also works with moodle"
    assert suggest(me, [same_college], limit=0) == []
