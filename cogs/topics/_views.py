"""Poll messages, ballots and results: how topic votes look and the buttons that drive them.

Every button that must outlive a restart is a dynamic item whose custom_id carries ids
only; the ballot is each member's own ephemeral message, built from the database on
every click.
"""

from __future__ import annotations

import functools
from typing import TYPE_CHECKING, Any

import discord
from discord.utils import format_dt

from bot.domain.topics import Results
from bot.services.topics import BallotTopic, BallotView, Outcome, PollView, TopicView
from cogs._ui import ReportsErrors, actor, answer_with_body, cut, inert, reply

if TYPE_CHECKING:
    from bot.client import TechMeetBot
    from cogs._ui import Interaction

COLOUR = discord.Colour.from_rgb(120, 90, 200)


# A ballot shows every title again on each vote. Keyed by the text itself, so an edited
# title is simply another entry.
_safe_title = functools.lru_cache(maxsize=1024)(inert)


def topic_line(topic: TopicView | BallotTopic) -> str:
    return f"#{topic.number} · {_safe_title(topic.title)}"


def dots(count: int) -> str:
    return "●" * min(count, 20) + (f" {count}" if count else "")


def poll_embed(poll: PollView) -> discord.Embed:
    state = (
        f"Closes {format_dt(poll.closes_at, 'R')} ({format_dt(poll.closes_at, 'f')})."
        if poll.open
        else "Voting has closed."
    )
    embed = discord.Embed(
        title=f"Vote: the agenda for TechMeet #{poll.meetup_number}",
        description=(
            f"Each member has **{poll.votes_per_member}** dots to put on the topics they most "
            f"want to discuss (more than one on a topic is fine). The top {poll.agenda_size} "
            f"become the agenda. {state}"
        ),
        colour=COLOUR,
    )
    live = poll.results is Results.LIVE or not poll.open
    # Up to 25 topics: the list goes in the description (4096 characters), each line cut so
    # every topic and its tally always shows.
    lines = [
        cut(topic_line(t), 140) + (f"  {dots(poll.tally.get(t.id, 0))}" if live else "")
        for t in poll.topics
    ]
    embed.description = cut(f"{embed.description}\n\n" + "\n".join(lines), 4096)
    who = f"{poll.voters} member{'s' if poll.voters != 1 else ''} voted"
    embed.set_footer(text=who if live else f"{who}. Results are shown when voting closes.")
    return embed


def poll_view(poll_id: int, *, closed: bool = False) -> discord.ui.View:
    view = discord.ui.View(timeout=None)
    view.add_item(VoteButton(poll_id, disabled=closed))
    return view


def ballot_body(ballot: BallotView, picked: int | None = None) -> dict[str, Any]:
    """The member's own ballot as Discord's JSON (see answer_with_body): their dots, what is
    left, and controls."""
    lines = []
    for topic in ballot.topics:
        mine = ballot.mine.get(topic.id, 0)
        marker = "▶ " if topic.id == picked else ""
        lines.append(f"{marker}{topic_line(topic)}  {dots(mine) if mine else '·'}")
    embed = discord.Embed(
        title=f"Your ballot: TechMeet #{ballot.meetup_number}",
        description=cut("\n".join(lines), 4096),
        colour=COLOUR,
    )
    embed.set_footer(
        text=f"{ballot.remaining} of {ballot.votes_per_member} dots left. Only you see this; "
        "votes are anonymous."
    )
    # Without a topic picked there are no buttons, so nothing more to tell apart.
    can_add = picked is not None and ballot.remaining > 0
    can_take_back = picked is not None and ballot.mine.get(picked, 0) > 0
    controls = _ballot_controls(
        ballot.poll_id, tuple(ballot.topics), picked, can_add, can_take_back
    )
    return {"embeds": [embed.to_dict()], "components": controls}


@functools.lru_cache(maxsize=1024)
def _ballot_controls(
    poll_id: int,
    topics: tuple[BallotTopic, ...],
    picked: int | None,
    can_add: bool,
    can_take_back: bool,
) -> list[dict[str, Any]]:
    """The ballot's topic picker and dot buttons as Discord's JSON. They are the same for
    every member at the same point of their ballot, so they are built once; building them
    on every vote was a tenth of the bot's time per vote. Only ever serialised, never
    changed."""
    view = discord.ui.View(timeout=None)
    view.add_item(PickTopic(poll_id, topics, picked))
    if picked is not None:
        view.add_item(DotButton(poll_id, picked, "add", disabled=not can_add))
        view.add_item(DotButton(poll_id, picked, "remove", disabled=not can_take_back))
    return view.to_components()


def results_message(outcome: Outcome) -> tuple[discord.Embed, discord.ui.View]:
    poll = outcome.poll
    by_id = {t.id: t for t in poll.topics}
    lines = []
    ties = False
    for ranked in outcome.ranking:
        topic = by_id[ranked.topic_id]
        tie = " (tied)" if ranked.tied else ""
        ties = ties or ranked.tied
        lines.append(f"{ranked.place}. {topic_line(topic)}: {ranked.dots} dots{tie}")
    embed = discord.Embed(
        title=f"The agenda for TechMeet #{poll.meetup_number}",
        description=cut("\n".join(lines), 4096),
        colour=COLOUR,
    )
    if outcome.agenda:
        embed.add_field(
            name="On the agenda",
            value=cut("\n".join(topic_line(t) for t in outcome.agenda), 1024),
            inline=False,
        )
    if outcome.carried_over:
        embed.add_field(
            name="Carried over to the next meetup",
            value=cut(", ".join(f"#{t.number}" for t in outcome.carried_over), 1024),
            inline=False,
        )
    footer = f"{poll.voters} members voted. Topics without a dot don't make the agenda."
    if ties:
        footer += " Tied topics are placed by which was suggested first."
    embed.set_footer(text=footer)
    view = discord.ui.View(timeout=None)
    for topic in outcome.agenda[:10]:
        view.add_item(LeadButton(topic.id, topic.number))
    return embed, view


class VoteButton(
    ReportsErrors,
    discord.ui.DynamicItem[discord.ui.Button[discord.ui.View]],
    template=r"poll:(?P<poll_id>\d+):vote",
    quota=None,  # voting: latency-critical, and it only opens the member's own ballot
):
    def __init__(self, poll_id: int, *, disabled: bool = False) -> None:
        super().__init__(
            discord.ui.Button(
                label="Vote",
                style=discord.ButtonStyle.primary,
                custom_id=f"poll:{poll_id}:vote",
                disabled=disabled,
            )
        )
        self.poll_id = poll_id

    async def run(self, interaction: Interaction) -> None:
        who = actor(interaction)
        ballot = await interaction.client.topics.ballot(who.guild_id, who.user_id, self.poll_id)
        if not ballot.open:
            await reply(interaction, "This poll has closed; the results are in the thread.")
            return
        body = {**ballot_body(ballot), "flags": discord.MessageFlags(ephemeral=True).value}
        await answer_with_body(interaction, discord.InteractionResponseType.channel_message, body)


class PickTopic(
    ReportsErrors,
    discord.ui.DynamicItem[discord.ui.Select[discord.ui.View]],
    template=r"ballot:(?P<poll_id>\d+):pick",
    quota=None,  # voting: latency-critical, and it only shows the member's own ballot
):
    def __init__(
        self, poll_id: int, topics: tuple[BallotTopic, ...] = (), picked: int | None = None
    ) -> None:
        options = [
            discord.SelectOption(
                label=cut(f"#{t.number} · {t.title}", 100),
                value=str(t.id),
                default=t.id == picked,
            )
            for t in topics
        ]
        super().__init__(
            discord.ui.Select(
                custom_id=f"ballot:{poll_id}:pick",
                placeholder="Pick a topic to put a dot on (or take one off)",
                options=options or [discord.SelectOption(label="…", value="0")],
            )
        )
        self.poll_id = poll_id

    async def run(self, interaction: Interaction) -> None:
        who = actor(interaction)
        picked = int(self.item.values[0])
        ballot = await interaction.client.topics.ballot(who.guild_id, who.user_id, self.poll_id)
        await answer_with_body(
            interaction, discord.InteractionResponseType.message_update, ballot_body(ballot, picked)
        )


class DotButton(
    ReportsErrors,
    discord.ui.DynamicItem[discord.ui.Button[discord.ui.View]],
    template=r"ballot:(?P<poll_id>\d+):(?P<topic_id>\d+):(?P<change>add|remove)",
    # No quota: votes are latency-critical and idempotent (dots capped per member, private answer).
    quota=None,
):
    def __init__(self, poll_id: int, topic_id: int, change: str, *, disabled: bool = False) -> None:
        super().__init__(
            discord.ui.Button(
                label="Add a dot" if change == "add" else "Take a dot back",
                style=discord.ButtonStyle.success
                if change == "add"
                else discord.ButtonStyle.secondary,
                custom_id=f"ballot:{poll_id}:{topic_id}:{change}",
                disabled=disabled,
            )
        )
        self.poll_id, self.topic_id, self.change = poll_id, topic_id, change

    async def run(self, interaction: Interaction) -> None:
        who = actor(interaction)
        topics = interaction.client.topics
        vote = topics.add_dot if self.change == "add" else topics.remove_dot
        ballot = await vote(who.guild_id, who.user_id, self.poll_id, self.topic_id)
        await answer_with_body(
            interaction,
            discord.InteractionResponseType.message_update,
            ballot_body(ballot, self.topic_id),
        )
        refresh_poll(interaction.client, self.poll_id)


class LeadButton(
    ReportsErrors,
    discord.ui.DynamicItem[discord.ui.Button[discord.ui.View]],
    template=r"lead:(?P<topic_id>\d+):(?P<number>\d+)",
    quota="topic lead",
):
    def __init__(self, topic_id: int, number: int) -> None:
        super().__init__(
            discord.ui.Button(
                label=f"I'll lead #{number}",
                style=discord.ButtonStyle.secondary,
                custom_id=f"lead:{topic_id}:{number}",
            )
        )
        self.topic_id = topic_id

    async def run(self, interaction: Interaction) -> None:
        topic, note = await interaction.client.topics.volunteer(actor(interaction), self.topic_id)
        await reply(
            interaction,
            f"Thank you! You're leading Topic #{topic.number}: {inert(topic.title)}."
            + (f" {note}" if note else ""),
        )


class BackButton(
    ReportsErrors,
    discord.ui.DynamicItem[discord.ui.Button[discord.ui.View]],
    template=r"topic:(?P<number>\d+):back",
    quota=None,  # answers the /topic suggest that counted; one backing per member per topic
):
    def __init__(self, number: int) -> None:
        super().__init__(
            discord.ui.Button(
                label=f"Back Topic #{number}",
                style=discord.ButtonStyle.success,
                custom_id=f"topic:{number}:back",
            )
        )
        self.number = number

    async def run(self, interaction: Interaction) -> None:
        topic = await interaction.client.topics.support(actor(interaction), self.number)
        await interaction.response.edit_message(
            content=f"You're backing Topic #{topic.number} ({topic.support} backers).",
            embed=None,
            view=None,
        )


def refresh_poll(bot: TechMeetBot, poll_id: int) -> None:
    """The shared poll message follows the votes, at most one edit per 2 s."""

    async def edit() -> None:
        poll = await bot.topics.poll(poll_id)
        if poll is None or poll.message_id is None or poll.channel_id is None:
            return
        await (
            bot.get_partial_messageable(poll.channel_id)
            .get_partial_message(poll.message_id)
            .edit(embed=poll_embed(poll), view=poll_view(poll.id, closed=not poll.open))
        )

    bot.edits.request(("poll", poll_id), edit)
