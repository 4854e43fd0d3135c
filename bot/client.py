"""The TechMeet bot: wires settings, database, services, scheduler and cogs together."""

from __future__ import annotations

import functools
import gc
import logging
import time
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

import discord
import yarl
from discord import app_commands
from discord.ext import commands

from bot.clock import Clock, utcnow
from bot.coalescer import Coalescer
from bot.pacing import Pacer
from bot.registry import ProcessRegistry, Shards
from bot.scheduler import Dispatcher
from bot.services.guild_settings import GuildSettingsService
from bot.services.introductions import IntroductionService
from bot.services.meetups import MeetupService
from bot.services.pairing import PairingService
from bot.services.privacy import PrivacyService, personal_data_sources
from bot.services.quotas import QuotaService
from bot.services.talks import TalkService
from bot.services.topics import TopicService
from db.engine import Sessions, create_engine, create_sessions

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncEngine

    from bot.config import Settings

log = logging.getLogger(__name__)

EXTENSIONS = (
    "cogs.errors",
    "cogs.setup",
    "cogs.privacy",
    "cogs.meetups",
    "cogs.topics",
    "cogs.talks",
    "cogs.introductions",
    "cogs.pairing",
)


def point_at_discord(settings: Settings) -> None:
    """Use DISCORD_API_BASE_URL / DISCORD_GATEWAY_URL (Discord's own by default).

    discord.py keeps both as class attributes; a plain Bot connects to DEFAULT_GATEWAY
    without asking /gateway/bot, and reconnects to READY's resume_gateway_url.
    """
    discord.http.Route.BASE = settings.api_base_url
    discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(settings.gateway_url)


def bot_intents(*, members: bool = True) -> discord.Intents:
    """Only the events the bot uses. It reads no chat: with the default intents, every
    message, edit, reaction and typing indicator in every server would reach it, to be
    parsed and cached for nothing (in one busy server, far more events than clicks)."""
    # Servers, channels, roles and threads: names, permissions, where to post.
    intents = discord.Intents(guilds=True)
    # Privileged: member joins (welcomes), leaves (RSVPs, directory) and an up-to-date
    # member cache. Turned on in the Developer Portal, Bot page.
    intents.members = members
    return intents


def _paced(request: Callable[..., Awaitable[Any]], pacer: Pacer) -> Callable[..., Awaitable[Any]]:
    """discord.py sends every bot-token REST request through HTTPClient.request: each one
    takes a token from the pacer first (interaction responses use webhooks, not this)."""

    @functools.wraps(request)
    async def paced(*args: Any, **kwargs: Any) -> Any:
        await pacer.before_request()
        return await request(*args, **kwargs)

    return paced


class TechMeetTree(app_commands.CommandTree["TechMeetBot"]):
    async def interaction_check(self, interaction: discord.Interaction[TechMeetBot], /) -> bool:
        # Read back by the error cog to log each invocation's duration.
        interaction.extras["started"] = time.perf_counter()
        return True


class TechMeetBot(commands.Bot):
    engine: AsyncEngine
    sessions: Sessions
    dispatcher: Dispatcher
    edits: Coalescer
    guild_settings: GuildSettingsService
    meetups: MeetupService
    topics: TopicService
    talks: TalkService
    introductions: IntroductionService
    pairing: PairingService
    quotas: QuotaService
    privacy: PrivacyService
    registry: ProcessRegistry

    def __init__(
        self,
        settings: Settings,
        *,
        clock: Clock = utcnow,
        members_intent: bool = True,
        **options: object,
    ) -> None:
        point_at_discord(settings)
        if settings.application_id is not None:
            options.setdefault("application_id", settings.application_id)
        super().__init__(
            command_prefix=commands.when_mentioned,
            help_command=None,
            intents=bot_intents(members=members_intent),
            # User text must never ping; a message meant to ping opts in explicitly.
            allowed_mentions=discord.AllowedMentions.none(),
            # Asking Discord for every member of every server at start-up takes minutes (and
            # memory) in big servers; the bot reads members from interactions and events.
            chunk_guilds_at_startup=False,
            # No message events arrive (see bot_intents), so a message cache would stay empty.
            max_messages=None,
            tree_cls=TechMeetTree,
            **options,  # type: ignore[arg-type]
        )
        self.settings = settings
        self.clock = clock
        self.pacer = Pacer()
        self.http.request = _paced(self.http.request, self.pacer)  # type: ignore[method-assign,assignment]

    async def setup_hook(self) -> None:
        self.engine = create_engine(self.settings.database_url)
        self.sessions = create_sessions(self.engine)
        self.dispatcher = Dispatcher(self.sessions, clock=self.clock)
        # Liveness is about real time, whatever clock the bot's features are given.
        self.registry = ProcessRegistry(
            self.sessions,
            self.dispatcher.owner,
            Shards.of(self.settings.shard_count, self.settings.shard_ids),
            on_lost=self._lost_registration,
            on_count=self.pacer.share,
        )
        await self.registry.start()
        await self.load_features()
        await self.sync_commands()
        # After the cogs registered their job handlers: overdue jobs run now.
        await self.dispatcher.start()
        # Everything loaded so far lives as long as the bot: keep it out of the garbage
        # collector's sweeps, which otherwise pause a click now and then for milliseconds.
        gc.collect()
        gc.freeze()
        # Collect the youngest objects after 10,000 new ones rather than 700. A burst of
        # clicks keeps hundreds of interactions in flight; at 700 the collector ran several
        # times per burst, moved their objects into the older generations and swept those
        # again and again: over a tenth of the bot's time in a burst, for garbage that
        # mostly goes as soon as each click is answered. Garbage in reference cycles now
        # waits a little longer to be freed.
        gc.set_threshold(10_000, 20, 20)

    async def load_features(self) -> None:
        """The services, on this bot's sessions and dispatcher, and the cogs: commands,
        buttons and job handlers. Talks to neither Discord nor the database, so tests can
        inspect the real command tree without either."""
        self.edits = Coalescer()
        self.guild_settings = GuildSettingsService(
            self.sessions, default_timezone=self.settings.default_timezone, clock=self.clock
        )
        self.meetups = MeetupService(
            self.sessions,
            self.guild_settings,
            clock=self.clock,
            jobs_changed=self.dispatcher.jobs_changed,
        )
        self.topics = TopicService(
            self.sessions,
            self.guild_settings,
            self.meetups,
            clock=self.clock,
            jobs_changed=self.dispatcher.jobs_changed,
        )
        self.talks = TalkService(
            self.sessions,
            self.guild_settings,
            self.meetups,
            clock=self.clock,
            jobs_changed=self.dispatcher.jobs_changed,
        )
        self.introductions = IntroductionService(
            self.sessions,
            self.guild_settings,
            self.meetups,
            clock=self.clock,
            jobs_changed=self.dispatcher.jobs_changed,
        )
        self.pairing = PairingService(
            self.sessions,
            self.guild_settings,
            self.meetups,
            clock=self.clock,
            jobs_changed=self.dispatcher.jobs_changed,
        )
        self.quotas = QuotaService(self.sessions, clock=self.clock)
        self.privacy = PrivacyService(
            self.sessions, personal_data_sources(self.guild_settings, self.clock), clock=self.clock
        )
        for extension in EXTENSIONS:
            await self.load_extension(extension)

    async def _lost_registration(self, why: str) -> None:
        await self.close()

    async def sync_commands(self) -> None:
        if self.settings.dev_guild_id:
            guild = discord.Object(self.settings.dev_guild_id)
            self.tree.copy_global_to(guild=guild)
            synced = await self.tree.sync(guild=guild)
            log.info("synced %d commands to dev guild %s", len(synced), guild.id)
        else:
            synced = await self.tree.sync()
            log.info("synced %d global commands", len(synced))

    async def on_ready(self) -> None:
        # Fires again after reconnects: nothing here may start work twice.
        log.info(
            "online as %s (id %s) in %d servers",
            self.user,
            self.user and self.user.id,
            len(self.guilds),
        )

    async def close(self) -> None:
        dispatcher = getattr(self, "dispatcher", None)
        if dispatcher is not None:
            await dispatcher.stop()
        registry = getattr(self, "registry", None)
        if registry is not None:
            await registry.stop()
        edits = getattr(self, "edits", None)
        if edits is not None and not self.is_closed():
            # Last counts out before the connection goes.
            await edits.flush()
        await super().close()
        engine = getattr(self, "engine", None)
        if engine is not None:
            await engine.dispose()


class ShardedTechMeetBot(TechMeetBot, commands.AutoShardedBot):
    """One process of several: runs shards SHARD_IDS of SHARD_COUNT (discord.py's
    AutoShardedBot opens one gateway connection per shard)."""


def make_bot(settings: Settings, **options: Any) -> TechMeetBot:
    """The bot for these settings: sharded when SHARD_COUNT is set."""
    if settings.shard_count is None:
        return TechMeetBot(settings, **options)
    return ShardedTechMeetBot(
        settings,
        shard_count=settings.shard_count,
        shard_ids=list(settings.shard_ids or range(settings.shard_count)),
        **options,
    )
