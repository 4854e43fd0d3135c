"""/pairing: opt in to regular introductions to technicians at other colleges; organisers
set the cadence. Rounds and the "Did you meet?" follow-up run through the one dispatcher."""

from __future__ import annotations

import logging
from datetime import datetime
from typing import TYPE_CHECKING, Any

import discord
from discord import app_commands
from discord.ext import commands
from discord.utils import format_dt

from bot.domain.guild_settings import ChannelPurpose
from bot.domain.pairing import Cadence
from bot.scheduler import MAX_ATTEMPTS, Job, Outcome, classify
from bot.services.pairing import PAIRING_FOLLOW_UP, PAIRING_ROUND, Membership, PairView
from cogs._ui import ReportsErrors, actor, cut, inert, message_nonce, reply, take_quota
from cogs.introductions._views import introduction_embed

if TYPE_CHECKING:
    from bot.client import TechMeetBot
    from cogs._ui import Interaction

log = logging.getLogger(__name__)

CADENCE_CHOICES = [
    app_commands.Choice(name="Weekly", value=Cadence.WEEKLY.value),
    app_commands.Choice(name="Fortnightly", value=Cadence.FORTNIGHTLY.value),
    app_commands.Choice(name="Monthly", value=Cadence.MONTHLY.value),
    app_commands.Choice(name="Off: no more rounds", value="off"),
]


def _mentions(pair: PairView) -> str:
    return ", ".join(f"<@{m}>" for m in pair.members)


def _only(pair: PairView) -> discord.AllowedMentions:
    return discord.AllowedMentions(users=[discord.Object(m) for m in pair.members])


class PairingCog(commands.Cog):
    pairing = app_commands.Group(
        name="pairing",
        description="Get introduced to technicians at other colleges, regularly.",
        guild_only=True,
    )

    def __init__(self, bot: TechMeetBot) -> None:
        self.bot = bot

    async def cog_load(self) -> None:
        dispatcher = self.bot.dispatcher
        dispatcher.register(PAIRING_ROUND, self.round_job, what="A pairing round")
        dispatcher.register(
            PAIRING_FOLLOW_UP, self.follow_up_job, what="Asking pairs whether they met"
        )

    # --- members ----------------------------------------------------------------------------

    @pairing.command(name="join", description="Be paired with someone from another college.")
    async def join(self, interaction: Interaction) -> None:
        await take_quota(interaction)
        membership = await self.bot.pairing.join(actor(interaction))
        await reply(interaction, "You're in. " + _next(membership))

    @pairing.command(name="leave", description="Stop being paired.")
    async def leave(self, interaction: Interaction) -> None:
        await take_quota(interaction)
        left = await self.bot.pairing.leave(actor(interaction))
        await reply(
            interaction,
            "Done: no more pairings for you. `/pairing join` any time to come back."
            if left
            else "You weren't in pairing rounds. `/pairing join` signs you up.",
        )

    @pairing.command(name="snooze", description="Skip pairing rounds until a date.")
    @app_commands.describe(until="The day you're back, e.g. 10 Jan or 2027-01-10")
    async def snooze(self, interaction: Interaction, until: app_commands.Range[str, 1, 40]) -> None:
        await take_quota(interaction)
        membership = await self.bot.pairing.snooze(actor(interaction), until)
        assert membership.snoozed_until is not None
        await reply(
            interaction,
            f"Snoozed: no pairings until {format_dt(membership.snoozed_until, 'D')}. "
            "`/pairing join` wakes you up sooner.",
        )

    # --- organisers -----------------------------------------------------------------------

    @pairing.command(name="setup", description="Organisers: how often pairing rounds run.")
    @app_commands.describe(cadence="Weekly, fortnightly or monthly; or off")
    @app_commands.choices(cadence=CADENCE_CHOICES)
    @app_commands.default_permissions(manage_events=True)
    async def setup(self, interaction: Interaction, cadence: str) -> None:
        await take_quota(interaction)
        planned = await self.bot.pairing.setup(
            actor(interaction), None if cadence == "off" else Cadence(cadence)
        )
        if planned is None:
            await reply(interaction, "Pairing rounds are off. Members' opt-ins are kept.")
            return
        settings = await self.bot.guild_settings.get(planned.guild_id)
        where = (
            ""
            if settings.channel(ChannelPurpose.PAIRING)
            else " Set a pairing channel with `/setup channel purpose:pairing` for private "
            "threads; until then pairs are introduced by DM."
        )
        await reply(
            interaction,
            f"Pairing rounds run {cadence}. The first is {format_dt(planned.due_at, 'F')} "
            f"({format_dt(planned.due_at, 'R')}); `/pairing run-now` starts one now.{where}",
        )

    @pairing.command(name="run-now", description="Organisers: run a pairing round now.")
    @app_commands.default_permissions(manage_events=True)
    async def run_now(self, interaction: Interaction) -> None:
        await take_quota(interaction)
        planned = await self.bot.pairing.run_now(actor(interaction))
        await reply(
            interaction,
            f"Pairing round #{planned.number} is starting: pairs get their private threads in a "
            "moment. `/pairing stats` shows how rounds are going.",
        )

    @pairing.command(name="stats", description="Organisers: rounds, pairs and how many met.")
    @app_commands.default_permissions(manage_events=True)
    async def stats(self, interaction: Interaction) -> None:
        stats = await self.bot.pairing.stats(actor(interaction))
        share = f"{stats.met / stats.answered:.0%}" if stats.answered else "no answers yet"
        embed = discord.Embed(title="Pairing rounds")
        embed.add_field(name="Rounds", value=str(stats.rounds))
        embed.add_field(name="Pairs made", value=str(stats.pairs))
        embed.add_field(name="Opted in", value=str(stats.opted_in))
        embed.add_field(
            name="Met",
            value=f"{stats.met} of {stats.answered} pairs that answered ({share})",
            inline=False,
        )
        embed.add_field(
            name="Next round",
            value=(
                format_dt(stats.next_round.due_at, "F")
                if stats.next_round
                else "none planned (`/pairing setup`)"
            )
            + (f" · {stats.cadence.value}" if stats.cadence else ""),
            inline=False,
        )
        await reply(interaction, embed=embed)

    # --- jobs -------------------------------------------------------------------------------

    async def round_job(self, job: Job, now: datetime) -> Outcome:
        pairs = await self.bot.pairing.run_round(job.subject_id)
        if pairs is None:
            return Outcome.skipped("the round was called off")
        last_try = job.attempts >= MAX_ATTEMPTS
        opened: list[discord.Thread] = []
        try:
            # Those not introduced yet, when the round is retried; a failure sends the
            # round again for this pair and the rest.
            for pair in pairs:
                await self._introduce(pair, last_try=last_try, opened=opened)
        finally:
            await self._archive_strays(job.subject_id, opened)
        return Outcome.done(f"introduced {len(pairs)} pair(s)")

    async def _archive_strays(self, round_id: int, opened: list[discord.Thread]) -> None:
        """Archive the empty twins of the pair threads just opened.

        When Discord makes a thread but its answer is lost (a 502), discord.py sends the
        request again, and thread creation has no nonce: Discord makes a second thread
        and the first stays behind, empty. Deleting it would need Manage Threads, which
        the bot does not ask for; as its creator the bot may archive it, which takes it
        out of the channel's list of threads. A twin has the name of a thread just
        opened, no messages, and is no pair's thread (two pairs' threads may share a name).
        """
        me = self.bot.user
        if not opened or me is None:
            return
        names = {(thread.parent_id, thread.name) for thread in opened}
        try:
            kept = await self.bot.pairing.round_threads(round_id)
            for thread in await opened[0].guild.active_threads():
                twin = (thread.parent_id, thread.name) in names and thread.owner_id == me.id
                if twin and thread.id not in kept and not thread.message_count:
                    await thread.edit(archived=True)
        except discord.HTTPException as error:  # tidying only: the pairs have their threads
            log.info("could not archive stray pair threads: %s", error)

    async def _introduce(
        self, pair: PairView, *, last_try: bool, opened: list[discord.Thread]
    ) -> None:
        """In a private thread in the pairing channel; by DM when no thread is possible.

        The thread's id is saved as soon as it exists, so a retry after a crash posts into
        the same thread instead of opening a second one.
        """
        thread_id = pair.thread_id or await self._open_thread(
            pair, last_try=last_try, opened=opened
        )
        intros = [await self.bot.introductions.get(pair.guild_id, m) for m in pair.members]
        embeds = [introduction_embed(i) for i in intros if i is not None]
        hello = (
            f"Meet each other: {_mentions(pair)}! You're paired in round #{pair.round_number} "
            "to swap what works at your colleges. Find half an hour for a call or a coffee.\n"
            f"To start you off: {inert(pair.starter)}"
        )
        if thread_id is not None:
            thread = self.bot.get_partial_messageable(thread_id, guild_id=pair.guild_id)
            await thread.send(hello, allowed_mentions=_only(pair), nonce=f"pair{pair.id}")
            for n, embed in enumerate(embeds):
                await thread.send(embed=embed, nonce=f"pair{pair.id}i{n}")
            await self.bot.pairing.delivered(pair.id, how="thread", thread_id=thread_id)
            return
        for member in pair.members:
            others = [e for e, i in zip(embeds, intros, strict=False) if i and i.user_id != member]
            try:
                dm = await self.bot.create_dm(discord.Object(member))
                await dm.send(hello, embeds=others[:2], nonce=f"pair{pair.id}u{member % 10**9}")
            except discord.HTTPException as error:
                log.info("pair %s: could not DM %s: %s", pair.id, member, error)
        await self.bot.pairing.delivered(pair.id, how="dm")

    async def _open_thread(
        self, pair: PairView, *, last_try: bool, opened: list[discord.Thread]
    ) -> int | None:
        settings = await self.bot.guild_settings.get(pair.guild_id)
        channel_id = settings.channel(ChannelPurpose.PAIRING)
        if channel_id is None:
            return None
        try:
            channel = self.bot.get_channel(channel_id) or await self.bot.fetch_channel(channel_id)
            if not isinstance(channel, discord.TextChannel) or channel.is_news():
                return None  # announcement channels cannot hold private threads
            names = " & ".join([await self._name(pair.guild_id, m) for m in pair.members])
            thread = await channel.create_thread(
                name=cut(f"Round {pair.round_number}: {names}", 100),
                type=discord.ChannelType.private_thread,
                invitable=False,
            )
        except discord.HTTPException as error:
            if classify(error)[0] and not last_try:
                raise  # Discord is busy or down for a moment: the round is tried again
            log.warning(
                "pair %s: no private thread in %s (%s); using DMs", pair.id, channel_id, error
            )
            return None
        opened.append(thread)
        await self.bot.pairing.delivered(pair.id, how=None, thread_id=thread.id)
        for member in pair.members:
            try:
                await thread.add_user(discord.Object(member))
            except discord.HTTPException as error:  # e.g. they left meanwhile
                log.info("pair %s: could not add %s to the thread: %s", pair.id, member, error)
        return thread.id

    async def _name(self, guild_id: int, user_id: int) -> str:
        intro = await self.bot.introductions.get(guild_id, user_id)
        return intro.name if intro else "a member"

    async def follow_up_job(self, job: Job, now: datetime) -> Outcome:
        pairs = await self.bot.pairing.follow_up(job.subject_id)
        for pair in pairs:
            question = f"{_mentions(pair)}: a week on, did you manage to meet?"
            view = met_view(pair.id)
            # Stable across retries of the job: a repeat of the question is dropped.
            nonce = message_nonce(f"{job.nonce}p{pair.id}"[:25])
            if pair.delivered == "thread" and pair.thread_id:
                thread = self.bot.get_partial_messageable(pair.thread_id, guild_id=pair.guild_id)
                await thread.send(
                    question,
                    view=view,
                    allowed_mentions=_only(pair),
                    nonce=nonce,
                )
                continue
            for member in pair.members:
                try:
                    dm = await self.bot.create_dm(discord.Object(member))
                    await dm.send(
                        f"A week on from your pairing in round #{pair.round_number}: did you "
                        "manage to meet?",
                        view=view,
                        nonce=nonce,
                    )
                except discord.HTTPException as error:
                    log.info("pair %s: could not ask %s: %s", pair.id, member, error)
        return Outcome.done(f"asked {len(pairs)} pair(s)")


def _next(membership: Membership) -> str:
    nxt = membership.next_round
    when = (
        f"The next round is {format_dt(nxt.due_at, 'F')} ({format_dt(nxt.due_at, 'R')})."
        if nxt
        else "Organisers haven't planned the next round yet."
    )
    return when + " `/pairing snooze` skips rounds for a while; `/pairing leave` stops them."


class MetButton(
    ReportsErrors,
    discord.ui.DynamicItem[discord.ui.Button[Any]],
    template=r"pair:met:(?P<pair_id>\d+):(?P<answer>yes|no)",
    quota="pairing met",
):
    def __init__(self, pair_id: int, answer: str) -> None:
        self.pair_id, self.answer = pair_id, answer
        super().__init__(
            discord.ui.Button(
                label="Yes, we met" if answer == "yes" else "Not yet",
                style=discord.ButtonStyle.success
                if answer == "yes"
                else discord.ButtonStyle.secondary,
                custom_id=f"pair:met:{pair_id}:{answer}",
            )
        )

    async def run(self, interaction: Interaction) -> None:
        # Asked in a thread or by DM: the pair's own rows say who may answer.
        await interaction.client.pairing.answer(
            interaction.user.id, self.pair_id, self.answer == "yes"
        )
        await reply(
            interaction,
            "Brilliant, thanks for letting us know!"
            if self.answer == "yes"
            else "Thanks. There's still time: a quick call counts.",
        )


def met_view(pair_id: int) -> discord.ui.View:
    view = discord.ui.View(timeout=None)
    view.add_item(MetButton(pair_id, "yes"))
    view.add_item(MetButton(pair_id, "no"))
    return view
