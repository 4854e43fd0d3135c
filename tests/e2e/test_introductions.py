"""Introductions and the directory through the Discord stand-in: welcome → button → the
two-step modal → the posted introduction, edited in place → /members find and friends."""

from __future__ import annotations

import re
from typing import Any

import pytest

from bot.client import TechMeetBot
from tests.e2e.conftest import custom_ids
from tests.standin import DiscordStandIn, FakeChannel, FakeGuild, FakeMember, FakeMessage

BASICS = {
    "name": "Ada",
    "role": "Network technician",
    "organisation": "Riverside College",
    "region": ["South West"],
    "skills": "Aruba switches, #Moodle, moodle , Intune",
}


@pytest.fixture
async def intros(
    standin: DiscordStandIn, guild: FakeGuild, manager: FakeMember, bot: TechMeetBot
) -> FakeChannel:
    channel = guild.add_text_channel("introductions")
    await standin.wait_for_gateway_idle()
    done = await standin.slash(
        guild, manager, "setup channel", purpose="introductions", channel=channel
    )
    assert done.content.startswith("Done"), done.content
    return channel


def the_intro(standin: DiscordStandIn, channel: FakeChannel) -> list[FakeMessage]:
    return [m for m in standin.messages(channel) if m.embeds]


async def introduce(
    standin: DiscordStandIn,
    guild: FakeGuild,
    who: FakeMember,
    more: dict[str, Any] | None = None,
    **basics: Any,
) -> FakeMessage:
    """/intro, both steps; returns the posted introduction."""
    opened = await standin.slash(guild, who, "intro")
    assert opened.modal is not None, opened.describe()
    saved = await standin.submit_modal(opened, who, {**BASICS, **basics})
    assert "introduction is posted" in saved.content, saved.content
    step_two = await standin.click(saved, "intro:continue", who)
    answers = {"happy_to_help": "Moodle upgrades"} if more is None else more
    done = await standin.submit_modal(step_two, who, answers)
    assert done.content.startswith("All done"), done.content
    link = re.search(r"channels/\d+/\d+/(\d+)", done.content)
    assert link is not None, done.content
    message_id = int(link[1])
    message = standin.find_message(message_id)
    assert message is not None
    return message


def embed_fields(message: FakeMessage) -> dict[str, str]:
    return {f["name"]: f["value"] for f in message.embeds[0].get("fields", [])}


async def test_welcome_modal_post_and_edit_in_place(
    standin: DiscordStandIn, guild: FakeGuild, intros: FakeChannel
) -> None:
    """A member joins → welcome mentioning only them → Introduce yourself → two modals →
    one introduction message, edited (not reposted) by /intro and the Edit button."""
    ada = guild.add_member("Ada")
    welcome = await standin.wait_for_message(intros, lambda m: "Welcome" in m.content)
    assert [u.id for u in welcome.mentions] == [ada.id]
    assert not welcome.mention_everyone
    assert not welcome.mention_roles
    assert "intro:start" in custom_ids(welcome)

    opened = await standin.click(welcome, "intro:start", ada)
    assert opened.modal is not None
    saved = await standin.submit_modal(opened, ada, BASICS)
    assert "One more step" in saved.content
    posted = the_intro(standin, intros)
    assert len(posted) == 1
    fields = embed_fields(posted[0])
    assert posted[0].embeds[0]["title"] == "Ada"
    assert fields["Skills"] == "`aruba switches` `moodle` `intune`"
    assert fields["Region"] == "South West"

    step_two = await standin.click(saved, "intro:continue", ada)
    await standin.submit_modal(
        step_two, ada, {"happy_to_help": "Moodle upgrades", "looking_for": "Cloud print"}
    )
    message = the_intro(standin, intros)
    assert len(message) == 1
    assert message[0].id == posted[0].id
    assert embed_fields(message[0])["Looking for"] == "Cloud print"

    # /intro again opens the modal filled in, and edits the same message.
    again = await standin.slash(guild, ada, "intro")
    assert again.modal is not None
    await standin.submit_modal(again, ada, {"role": "IT manager"})
    message = the_intro(standin, intros)
    assert len(message) == 1
    assert embed_fields(message[0])["Role"] == "IT manager"
    assert embed_fields(message[0])["Organisation"] == "Riverside College"

    # The Edit button works for its author only.
    bea = guild.add_member("Bea")
    await standin.wait_for_gateway_idle()
    refused = await standin.click(message[0], f"intro:edit:{ada.id}", bea)
    assert refused.ephemeral
    assert "Only the member who wrote" in refused.content
    mine = await standin.click(message[0], f"intro:edit:{ada.id}", ada)
    assert mine.modal is not None


async def test_text_is_inert_and_limits_are_stated(
    standin: DiscordStandIn, guild: FakeGuild, intros: FakeChannel, member: FakeMember
) -> None:
    """Mentions, masked links and markdown stay text; over-long input is refused with the
    limit, and nothing is saved."""
    await standin.wait_for_gateway_idle()
    opened = await standin.slash(guild, member, "intro")
    saved = await standin.submit_modal(
        opened,
        member,
        {
            "name": "@everyone **Sam**",
            "role": "[click](https://evil.example)",
            "organisation": "<@&123> College",
            "region": [],
            "skills": "`rm -rf`, Python",
        },
    )
    assert saved.ephemeral
    message = the_intro(standin, intros)[0]
    assert not message.mention_everyone
    assert not message.mentions
    assert not message.mention_roles
    embed = message.embeds[0]
    assert embed["title"] == "@\u200beveryone \\*\\*Sam\\*\\*"
    assert "](" not in embed_fields(message)["Role"].replace("\\]\u200b(", "")
    assert embed_fields(message)["Skills"] == "`rm -rf` `python`"

    too_many = ", ".join(f"skill {n}" for n in range(21))
    again = await standin.slash(guild, member, "intro")
    refused = await standin.submit_modal(again, member, {"skills": too_many})
    assert refused.ephemeral
    assert "at most 20 skills; you gave 21" in refused.content
    assert embed_fields(the_intro(standin, intros)[0])["Skills"] == "`rm -rf` `python`"


async def test_directory_find_profile_skills_and_suggest(
    standin: DiscordStandIn, guild: FakeGuild, intros: FakeChannel
) -> None:
    """Find by skill and region (ranked by criteria met), paginate, profile, skill counts and
    suggestions that prefer other colleges."""
    ada, bea, cal = (guild.add_member(n) for n in ("Ada", "Bea", "Cal"))
    await standin.wait_for_gateway_idle()
    await introduce(standin, guild, ada)
    await introduce(
        standin,
        guild,
        bea,
        name="Bea",
        organisation="Hilltop Sixth Form",
        region=["North West"],
        skills="Moodle, Python",
        more={"looking_for": "Someone who knows Aruba switches"},
    )
    await introduce(standin, guild, cal, name="Cal", region=["South West"], skills="Jamf", more={})

    found = await standin.slash(guild, bea, "members find", skill="moodle", region="South West")
    assert found.ephemeral
    text = found.embeds[0]["description"]
    # Ada meets both criteria, Bea (skill) and Cal (region) one each.
    assert text.index("**Ada**") < text.index("**Bea**")
    assert "(2/2 matched)" in text
    assert text.count("(1/2 matched)") == 2
    assert "[Introduction](https://discord.com/channels/" in text

    typed = await standin.autocomplete(guild, bea, "members find", "skill", skill="mo")
    assert [c["value"] for c in typed.choices or []] == ["moodle"]

    profile = await standin.slash(guild, bea, "members profile", user=ada)
    assert profile.embeds[0]["title"] == "Ada"

    counted = await standin.slash(guild, bea, "members skills")
    assert counted.embeds[0]["description"].startswith("`moodle` · 2 members")

    suggested = await standin.slash(guild, bea, "members suggest")
    text = suggested.embeds[0]["description"]
    assert text.startswith("**Ada**")
    assert "aruba" in text

    nothing = await standin.slash(guild, bea, "members find")
    assert nothing.ephemeral
    assert "Say what to look for" in nothing.content


async def test_view_introduction_from_a_members_profile(
    standin: DiscordStandIn, guild: FakeGuild, intros: FakeChannel
) -> None:
    """The user command (a member's profile › Apps › View introduction) shows their
    introduction privately, or says they have not written one."""
    ada, bea = (guild.add_member(n) for n in ("Ada", "Bea"))
    await standin.wait_for_gateway_idle()
    await introduce(standin, guild, ada)
    shown = await standin.user_command(guild, bea, "View introduction", ada)
    assert shown.ephemeral
    assert shown.embeds[0]["title"] == "Ada"
    none_yet = await standin.user_command(guild, ada, "View introduction", bea)
    assert none_yet.ephemeral
    assert "Bea hasn't introduced themselves yet. Maybe say hello?" in none_yet.content


async def test_directory_pages_survive_a_restart(
    standin: DiscordStandIn,
    guild: FakeGuild,
    intros: FakeChannel,
    bot: TechMeetBot,
    bots: Any,
) -> None:
    """12 matches: page 1 has 10 with a Next button that still works after a restart."""
    people = [guild.add_member(f"Tech {n:02}") for n in range(12)]
    await standin.wait_for_gateway_idle()
    for who in people:
        opened = await standin.slash(guild, who, "intro")
        await standin.submit_modal(opened, who, {**BASICS, "name": who.name})
    first = await standin.slash(guild, people[0], "members find", skill="intune")
    assert first.embeds[0]["description"].count("**Tech") == 10
    assert "page 1 of 2" in first.embeds[0]["footer"]["text"]

    start, stop = bots
    await stop(bot)
    await start()
    await standin.wait_for_gateway_idle()
    nxt = next(c for c in custom_ids(first) if c.endswith(":Next"))
    second = await standin.click(first, nxt, people[0])
    assert second.embeds[0]["description"].count("**Tech") == 2
    assert "page 2 of 2" in second.embeds[0]["footer"]["text"]


async def test_leaver_leaves_the_directory(
    standin: DiscordStandIn, guild: FakeGuild, intros: FakeChannel
) -> None:
    """A member who leaves disappears from search at once."""
    ada, bea = guild.add_member("Ada"), guild.add_member("Bea")
    await standin.wait_for_gateway_idle()
    await introduce(standin, guild, ada)
    guild.remove_member(ada)
    await standin.wait_for_gateway_idle()
    found = await standin.slash(guild, bea, "members find", skill="moodle")
    assert "Nobody matches" in found.embeds[0]["description"]


async def test_members_filling_in_the_form_at_once_each_get_their_own(
    standin: DiscordStandIn, guild: FakeGuild, intros: FakeChannel
) -> None:
    """Two members open the form, then send it in the order they opened it: each is saved
    as typed, under the right name (forms once shared one id, so the first was lost)."""
    ada, bo = guild.add_member("Ada"), guild.add_member("Bo")
    first = await standin.slash(guild, ada, "intro")
    second = await standin.slash(guild, bo, "intro")
    assert first.modal is not None
    assert second.modal is not None
    saved = await standin.submit_modal(first, ada, {**BASICS, "name": "Ada"})
    assert "Thanks, Ada!" in saved.content, saved.content
    saved = await standin.submit_modal(second, bo, {**BASICS, "name": "Bo"})
    assert "Thanks, Bo!" in saved.content, saved.content
    step_two = await standin.click(saved, "intro:continue", bo)
    done = await standin.submit_modal(step_two, bo, {"looking_for": "Cloud print"})
    assert done.content.startswith("All done"), done.content
    posted = {m.embeds[0]["title"]: m for m in the_intro(standin, intros)}
    assert sorted(posted) == ["Ada", "Bo"]
    assert f"<@{ada.id}>" in posted["Ada"].embeds[0]["description"]
    assert f"<@{bo.id}>" in posted["Bo"].embeds[0]["description"]
