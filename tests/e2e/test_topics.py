"""/topic through the Discord stand-in: suggest, duplicates, vote, restart, auto-close."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from bot.client import TechMeetBot
from tests.clock import FakeClock
from tests.e2e.conftest import StartBot, StopBot, create
from tests.standin import (
    DiscordStandIn,
    FakeChannel,
    FakeGuild,
    FakeMember,
    FakeMessage,
    InteractionReply,
)


def component_ids(message: FakeMessage | InteractionReply) -> list[str]:
    return [
        c["custom_id"] for row in message.components for c in row["components"] if "custom_id" in c
    ]


async def suggest(
    standin: DiscordStandIn, guild: FakeGuild, who: FakeMember, title: str
) -> InteractionReply:
    reply = await standin.slash(guild, who, "topic suggest", title=title)
    assert reply.ephemeral
    return reply


async def open_poll(
    standin: DiscordStandIn,
    guild: FakeGuild,
    organiser: FakeMember,
    thread: FakeChannel,
    **options: object,
) -> FakeMessage:
    reply = await standin.slash(guild, organiser, "topic poll", options={"meetup": 1, **options})
    assert "The vote is open" in reply.content, reply.content
    return await standin.wait_for_message(
        thread, lambda m: bool(m.embeds) and m.embeds[0]["title"].startswith("Vote")
    )


async def vote(
    standin: DiscordStandIn, poll: FakeMessage, member: FakeMember, topic_id: int
) -> InteractionReply:
    """Open the ballot, pick the topic, add a dot."""
    [vote_button] = component_ids(poll)
    ballot = await standin.click(poll, vote_button, member)
    assert ballot.ephemeral
    [picker] = component_ids(ballot)
    picked = await standin.click(ballot, picker, member, values=[str(topic_id)])
    add = next(cid for cid in component_ids(picked) if cid.endswith(":add"))
    return await standin.click(picked, add, member)


def ballot_topic_ids(reply: InteractionReply) -> dict[str, int]:
    """Select option label (title part) -> topic id."""
    [row] = [r for r in reply.components if r["components"][0]["type"] == 3]
    return {o["label"].split(" · ", 1)[1]: int(o["value"]) for o in row["components"][0]["options"]}


async def test_duplicates_vote_restart_and_automatic_close(
    standin: DiscordStandIn,
    guild: FakeGuild,
    organiser: FakeMember,
    member: FakeMember,
    manager: FakeMember,
    bots: tuple[StartBot, StopBot],
) -> None:
    """The whole journey, across a restart: the poll closes itself at its time and the
    winners become the agenda shown in /techmeet info."""
    start, stop = bots
    clock = FakeClock(datetime.now(UTC))
    bot = await start(clock=clock)
    channel = guild.add_text_channel("announcements")
    ada, bob = guild.add_member("Ada"), guild.add_member("Bob")
    await standin.wait_for_gateway_idle()
    await standin.slash(guild, manager, "setup channel", purpose="announcements", channel=channel)
    announcement = await create(standin, guild, organiser)
    thread = announcement.thread
    assert thread is not None

    first = await suggest(standin, guild, ada, "Eduroam certificate renewals")
    assert "Topic #1" in first.content or "#1 ·" in first.content
    dup = await suggest(standin, guild, bob, "renewals of eduroam certificates")
    assert "looks like" in dup.content
    back = next(cid for cid in component_ids(dup) if cid.endswith(":back"))
    backed = await standin.click(dup, back, bob)
    assert "backing Topic #1" in backed.content
    await suggest(standin, guild, bob, "Intune for student laptops")
    await suggest(standin, guild, member, "Projector lamp budgets")

    poll = await open_poll(standin, guild, organiser, thread, votes=2, closes="1h", agenda_size=2)
    [vote_button] = component_ids(poll)
    ballot = await standin.click(poll, vote_button, ada)
    ids = ballot_topic_ids(ballot)
    assert set(ids) == {
        "Eduroam certificate renewals",
        "Intune for student laptops",
        "Projector lamp budgets",
    }
    voted = await vote(standin, poll, ada, ids["Intune for student laptops"])
    assert "1 of 2 dots left" in voted.embeds[0]["footer"]["text"]

    await stop(bot)
    bot = await start(clock=clock)
    # The old message's buttons still work after the restart.
    await vote(standin, poll, ada, ids["Intune for student laptops"])
    spent = await vote(standin, poll, bob, ids["Eduroam certificate renewals"])
    assert "1 of 2 dots left" in spent.embeds[0]["footer"]["text"]
    # Out of dots: the ballot says so and its Add button is off (the service refuses too).
    ballot = await standin.click(poll, vote_button, ada)
    [picker] = component_ids(ballot)
    picked = await standin.click(ballot, picker, ada, values=[str(ids["Projector lamp budgets"])])
    assert "0 of 2 dots left" in picked.embeds[0]["footer"]["text"]
    [add] = [
        c
        for row in picked.components
        for c in row["components"]
        if c.get("custom_id", "").endswith(":add")
    ]
    assert add["disabled"] is True

    clock.advance(hours=1, seconds=1)
    await bot.dispatcher.run_due()
    results = await standin.wait_for_message(
        thread, lambda m: bool(m.embeds) and m.embeds[0]["title"].startswith("The agenda")
    )
    assert results.embeds[0]["description"].startswith("1. #2 · Intune for student laptops: 2 dots")
    lead_buttons = [cid for cid in component_ids(results) if cid.startswith("lead:")]
    assert len(lead_buttons) == 2
    info = await standin.slash(guild, member, "techmeet info", meetup=1)
    agenda = {f["name"]: f["value"] for f in info.embeds[0]["fields"]}["Agenda (chosen by vote)"]
    assert agenda.splitlines() == [
        "1. Intune for student laptops",
        "2. Eduroam certificate renewals",
    ]
    late = await standin.click(poll, vote_button, member)
    assert "has closed" in late.content
    led = await standin.click(results, lead_buttons[0], member)
    assert "You're leading Topic #2" in led.content
    # ...and it becomes their lightning-talk proposal, 5 minutes unless they change it.
    assert "proposed as **Talk #1** · Intune for student laptops · 5 min" in led.content
    mine = await standin.slash(guild, member, "talk mine")
    assert "accepted for TechMeet #1" in mine.content


async def test_hidden_results_and_organiser_commands(
    standin: DiscordStandIn,
    guild: FakeGuild,
    organiser: FakeMember,
    member: FakeMember,
    announcements: FakeChannel,
    bot: TechMeetBot,
) -> None:
    """Hidden results show only how many voted; poll-status names voters, not choices;
    members can't run organiser commands."""
    announcement = await create(standin, guild, organiser)
    assert announcement.thread is not None
    await suggest(standin, guild, member, "Cyber Essentials evidence")
    for command, options in [
        ("topic poll", {"meetup": 1}),
        ("topic close", {"meetup": 1}),
        ("topic merge", {"source": 1, "target": 1}),
        ("topic remove", {"topic": 1}),
        ("topic poll-status", {"meetup": 1}),
    ]:
        refused = await standin.slash(guild, member, command, options=options)
        assert "Only organisers" in refused.content, (command, refused.content)
    poll = await open_poll(standin, guild, organiser, announcement.thread, results="hidden")
    [vote_button] = component_ids(poll)
    ballot = await standin.click(poll, vote_button, member)
    await vote(standin, poll, member, next(iter(ballot_topic_ids(ballot).values())))

    def footer() -> str:
        found = standin.find_message(poll.id)
        return found.embeds[0]["footer"]["text"] if found and found.embeds else ""

    # The coalesced edit brings the count; the tally itself stays hidden.
    await standin.wait_until(lambda: "1 member voted" in footer() or None, 5, footer)
    shown = standin.find_message(poll.id)
    assert shown is not None
    assert "●" not in shown.embeds[0]["description"]
    status = await standin.slash(guild, organiser, "topic poll-status", meetup=1)
    assert f"<@{member.id}>" in status.content
    assert status.allowed_mentions == {"parse": []}


async def test_topic_text_is_inert(
    standin: DiscordStandIn,
    guild: FakeGuild,
    organiser: FakeMember,
    member: FakeMember,
    announcements: FakeChannel,
    bot: TechMeetBot,
) -> None:
    """@everyone, role mentions, invites and masked links in a title don't ping or embed."""
    await create(standin, guild, organiser)
    role = guild.add_role("Staff")
    title = f"@everyone <@&{role.id}> discord.gg/free [prize](https://evil.example)"
    reply = await suggest(standin, guild, member, title)
    assert reply.allowed_mentions == {"parse": []}
    assert "discord.gg/free" not in reply.content  # no join card in the reply
    listing = await standin.slash(guild, member, "topic list")
    poll_reply = await standin.slash(guild, organiser, "topic poll", meetup=1)
    poll = standin.find_message(int(poll_reply.content.rsplit("/", 1)[1]))
    assert poll is not None
    for text in (listing.embeds[0]["description"], poll.embeds[0]["description"]):
        assert "@everyone" not in text.replace("@\u200beveryone", "")
        assert f"<@&{role.id}>" not in text
        assert "](https://evil.example)" not in text
        assert "discord.gg/free" not in text
    assert poll.mention_everyone is False
    # ...and in the member's own ballot, its list and its topic picker.
    [vote_button] = component_ids(poll)
    ballot = await standin.click(poll, vote_button, member)
    assert ballot.allowed_mentions == {"parse": []}
    text = ballot.embeds[0]["description"]
    assert "@everyone" not in text.replace("@\u200beveryone", "")
    assert f"<@&{role.id}>" not in text
    assert "](https://evil.example)" not in text
    # A select's options are plain text on Discord: nothing in them pings or formats.
    [picker] = ballot.components[0]["components"]
    assert picker["options"][0]["label"] == f"#1 · {title}"


def dot_buttons(ballot: InteractionReply) -> dict[str, bool]:
    """ "add"/"remove" -> whether the button can be clicked."""
    return {
        c["custom_id"].rsplit(":", 1)[1]: not c.get("disabled", False)
        for row in ballot.components
        for c in row["components"]
        if c["type"] == 2
    }


async def test_each_ballot_follows_its_members_own_dots(
    standin: DiscordStandIn,
    guild: FakeGuild,
    organiser: FakeMember,
    announcements: FakeChannel,
    bot: TechMeetBot,
) -> None:
    """Members at different points of their ballots each see their own: the buttons are
    built once per point and shared, so one member's state must never show in another's."""
    announcement = await create(standin, guild, organiser)
    assert announcement.thread is not None
    ada, bob = guild.add_member("Ada"), guild.add_member("Bob")
    await standin.wait_for_gateway_idle()
    await suggest(standin, guild, ada, "Eduroam certificate renewals")
    await suggest(standin, guild, bob, "Intune for student laptops")
    poll = await open_poll(standin, guild, organiser, announcement.thread, votes=1)
    [vote_button] = component_ids(poll)
    ids = ballot_topic_ids(await standin.click(poll, vote_button, ada))
    intune = ids["Intune for student laptops"]

    async def pick(member: FakeMember, topic_id: int) -> InteractionReply:
        ballot = await standin.click(poll, vote_button, member)
        assert ballot.ephemeral
        assert dot_buttons(ballot) == {}  # nothing picked yet
        [picker] = component_ids(ballot)
        return await standin.click(ballot, picker, member, values=[str(topic_id)])

    picked = await pick(ada, intune)
    assert dot_buttons(picked) == {"add": True, "remove": False}
    options = picked.components[0]["components"][0]["options"]
    assert [o["default"] for o in options] == [o["value"] == str(intune) for o in options]
    add = next(cid for cid in component_ids(picked) if cid.endswith(":add"))
    voted = await standin.click(picked, add, ada)
    # Her only dot is spent: no more to add, one to take back.
    assert dot_buttons(voted) == {"add": False, "remove": True}
    assert "0 of 1 dots left" in voted.embeds[0]["footer"]["text"]
    assert "▶ #2 · Intune for student laptops  ● 1" in voted.embeds[0]["description"]

    # Bob at the very point Ada was before her dot: his own state, not hers.
    theirs = await pick(bob, intune)
    assert dot_buttons(theirs) == {"add": True, "remove": False}
    assert "1 of 1 dots left" in theirs.embeds[0]["footer"]["text"]
    assert "● 1" not in theirs.embeds[0]["description"]

    remove = next(cid for cid in component_ids(voted) if cid.endswith(":remove"))
    back = await standin.click(voted, remove, ada)
    assert dot_buttons(back) == {"add": True, "remove": False}
    assert "1 of 1 dots left" in back.embeds[0]["footer"]["text"]


async def test_a_vote_answered_through_a_discord_hiccup_counts_once(
    standin: DiscordStandIn,
    guild: FakeGuild,
    organiser: FakeMember,
    member: FakeMember,
    announcements: FakeChannel,
    bot: TechMeetBot,
) -> None:
    """Discord failing the vote's answer once (a 503) delays it; the answer is sent again
    and the dot is spent once."""
    announcement = await create(standin, guild, organiser)
    assert announcement.thread is not None
    await suggest(standin, guild, member, "Eduroam certificate renewals")
    poll = await open_poll(standin, guild, organiser, announcement.thread, votes=3)
    [vote_button] = component_ids(poll)
    ballot = await standin.click(poll, vote_button, member)
    [picker] = component_ids(ballot)
    [topic_id] = ballot_topic_ids(ballot).values()
    picked = await standin.click(ballot, picker, member, values=[str(topic_id)])
    add = next(cid for cid in component_ids(picked) if cid.endswith(":add"))
    standin.fail_next("POST", r"^/interactions/\d+/[^/]+/callback$", 503)
    voted = await standin.click(picked, add, member)
    assert "2 of 3 dots left" in voted.embeds[0]["footer"]["text"]
    callbacks = [
        path
        for method, path, _ in standin.requests
        if method == "POST" and path.startswith(f"/interactions/{voted.interaction_id}/")
    ]
    assert len(callbacks) == 2, callbacks  # the one that failed, and the one sent again
    again = await standin.click(poll, vote_button, member)
    assert "2 of 3 dots left" in again.embeds[0]["footer"]["text"]


@pytest.mark.parametrize(
    ("title", "message"),
    [("ab", "3 to 100"), ("x" * 101, "")],
)
async def test_bad_titles(
    standin: DiscordStandIn,
    guild: FakeGuild,
    member: FakeMember,
    bot: TechMeetBot,
    title: str,
    message: str,
) -> None:
    """Too short is refused by the bot; too long never reaches it (Discord's own limit)."""
    if len(title) > 100:
        with pytest.raises(Exception, match="100"):
            await standin.slash(guild, member, "topic suggest", title=title)
        return
    reply = await standin.slash(guild, member, "topic suggest", title=title)
    assert message in reply.content


async def test_per_member_limit_is_a_setting(
    standin: DiscordStandIn,
    guild: FakeGuild,
    organiser: FakeMember,
    manager: FakeMember,
    member: FakeMember,
    announcements: FakeChannel,
    bot: TechMeetBot,
) -> None:
    """/setup topics max-per-member changes how many open suggestions a member may have."""
    await create(standin, guild, organiser)
    done = await standin.slash(guild, manager, "setup topics max-per-member", limit=1)
    assert "1 open suggestion per meetup" in done.content
    refused = await standin.slash(guild, member, "setup topics max-per-member", limit=9)
    assert "Manage Server" in refused.content
    await suggest(standin, guild, member, "Wi-Fi heat maps")
    second = await suggest(standin, guild, member, "Door access control")
    assert "already have 1 open suggestion for this meetup" in second.content


def test_a_full_ballot_shows_every_topic_and_tally() -> None:
    """25 long topics with their dots all fit in the shared poll message."""
    from bot.domain.topics import Results, TopicStatus
    from bot.services.topics import PollView, TopicView
    from cogs.topics._views import poll_embed

    topics = [
        TopicView(
            id=i,
            guild_id=1,
            number=i,
            title=f"Topic {i}: " + "a long title about networks " * 3,
            details=None,
            suggested_by=None,
            meetup_id=1,
            status=TopicStatus.IN_POLL,
            carried_over=False,
        )
        for i in range(1, 26)
    ]
    poll = PollView(
        id=1,
        guild_id=1,
        meetup_id=1,
        meetup_number=4,
        votes_per_member=10,
        agenda_size=5,
        results=Results.LIVE,
        closes_at=datetime(2026, 12, 2, tzinfo=UTC),
        open=True,
        channel_id=1,
        message_id=1,
        topics=topics,
        tally={i: 10 + i for i in range(1, 26)},
        voters=40,
    )
    embed = poll_embed(poll).to_dict()
    text = embed["description"]
    assert len(text) <= 4096
    for i in range(1, 26):
        assert f"#{i} · Topic {i}:" in text
        assert f"● {10 + i}" in text or f"●{10 + i}" in text or f" {10 + i}" in text
