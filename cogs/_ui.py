"""Shared Discord plumbing for the cogs: replies, error handling, logging, inert user text."""

from __future__ import annotations

import logging
import re
import secrets
import time
from typing import TYPE_CHECKING, Any, ClassVar, Self, cast

import discord
from discord.ext import commands
from discord.http import Route
from discord.webhook.async_ import async_context

from bot.domain.guild_settings import ChannelPurpose
from bot.domain.members import Actor
from bot.domain.quotas import NO_SERVER
from bot.errors import NotReady, TechMeetError
from db.engine import database_unreachable

if TYPE_CHECKING:
    from bot.client import TechMeetBot

    Interaction = discord.Interaction[TechMeetBot]

log = logging.getLogger("techmeet.interactions")

# Organisers hear about unexpected errors at most this often per server.
REPORT_INTERVAL_SECONDS = 60.0
# How long an open form (modal) waits to be sent. Discord never says when a member closes one
# unsent, so the bot forgets it after this rather than keeping it until a restart.
FORM_WAIT_SECONDS = 30 * 60.0
_last_report: dict[int, float] = {}


def actor(interaction: Interaction) -> Actor:
    """The member behind an interaction, with the permissions Discord computed for it."""
    if interaction.guild_id is None or not isinstance(interaction.user, discord.Member):
        raise NotReady("This only works inside a server.")
    perms = interaction.permissions
    return Actor(
        guild_id=interaction.guild_id,
        user_id=interaction.user.id,
        role_ids=frozenset(role.id for role in interaction.user.roles),
        manage_guild=perms.manage_guild,
        manage_events=perms.manage_events,
        administrator=perms.administrator,
    )


async def take_quota(interaction: Interaction, action: str | None = None) -> None:
    """Count one use of a writing action by the member; Conflict once over its quota
    (bot.domain.quotas), before anything is changed.

    Every writing command calls this first, after only the checks of its input that need
    no database; `action` is then the command's own name. Buttons declare theirs instead
    (ReportsErrors), and forms pass the action of the command or button that opened them.
    """
    if action is None:
        assert interaction.command is not None, "outside a command, name the action"
        action = interaction.command.qualified_name
    who = Actor(guild_id=interaction.guild_id or NO_SERVER, user_id=interaction.user.id)
    await interaction.client.quotas.take(who, action)


async def reply(
    interaction: Interaction,
    content: str | None = None,
    *,
    ephemeral: bool = True,
    **kwargs: Any,
) -> None:
    """Answer the interaction, or follow up if it was already answered or deferred."""
    if content is not None and not kwargs and not interaction.response.is_done():
        # Words only, the commonest answer (an RSVP's): no objects to build for it.
        flags = discord.MessageFlags(ephemeral=ephemeral).value
        body = {"content": content, "flags": flags}
        await answer_with_body(interaction, discord.InteractionResponseType.channel_message, body)
        return
    if content is not None:
        kwargs["content"] = content
    if interaction.response.is_done():
        await interaction.followup.send(ephemeral=ephemeral, **kwargs)
    else:
        await interaction.response.send_message(ephemeral=ephemeral, **kwargs)


async def answer_with_body(
    interaction: Interaction, kind: discord.InteractionResponseType, body: dict[str, Any]
) -> None:
    """Answer with a body already in Discord's JSON: for the clicks members make most in a
    burst (votes), where discord.py's own answer costs a quarter of the bot's time.

    discord.py builds objects for the body (an embed, a view of items), asks Discord for a
    copy of the resulting message (`with_response`) and parses that into more objects,
    none of which the bot reads. This sends the same request through discord.py's webhook
    adapter (its retries and errors), without either. The interaction then counts as
    answered, as after discord.py's own: errors after it go out as follow-ups.
    """
    if interaction.response.is_done():
        raise discord.InteractionResponded(interaction)
    client = interaction.client
    # As discord.py would: the bot's own setting (nothing pings; see TechMeetBot).
    mentions = client.allowed_mentions or discord.AllowedMentions.none()
    route = Route(
        "POST",
        "/interactions/{webhook_id}/{webhook_token}/callback",
        webhook_id=interaction.id,
        webhook_token=interaction.token,
    )
    await async_context.get().request(
        route,
        session=interaction._session,
        proxy=client.http.proxy,
        proxy_auth=client.http.proxy_auth,
        payload={"type": kind.value, "data": {"allowed_mentions": mentions.to_dict(), **body}},
    )
    interaction.response._response_type = kind


def interaction_name(interaction: Interaction) -> str:
    if interaction.command is not None:
        return f"/{interaction.command.qualified_name}"
    if interaction.type is discord.InteractionType.modal_submit:
        return f"modal {_custom_id_kind(interaction)}"
    return f"button {_custom_id_kind(interaction)}"


def _custom_id_kind(interaction: Interaction) -> str:
    # custom_ids carry data ("privacy:erase:123"); log only the kind.
    data: dict[str, Any] = dict(interaction.data or {})
    custom_id = str(data.get("custom_id", "?"))
    return ":".join(custom_id.split(":")[:2])


def log_outcome(interaction: Interaction, outcome: str) -> None:
    started = interaction.extras.get("started")
    elapsed = (time.perf_counter() - started) * 1000 if started else float("nan")
    log.info(
        "guild=%s user=%s command=%s outcome=%s duration_ms=%.1f",
        interaction.guild_id,
        interaction.user.id,
        interaction_name(interaction),
        outcome,
        elapsed,
    )


async def handle_error(interaction: Interaction, error: BaseException) -> None:
    """Turn any failure into an ephemeral reply; unexpected ones are logged and reported."""
    if isinstance(error, TechMeetError):
        log_outcome(interaction, f"refused:{type(error).__name__}")
        await _safe_reply(interaction, error.message)
        return
    if database_unreachable(error):
        # An outage, not a bug: one line in the log, no report (it would fail too).
        log.warning("database unreachable in %s: %s", interaction_name(interaction), error)
        log_outcome(interaction, "database-unreachable")
        await _safe_reply(
            interaction,
            "I can't reach my database for a moment, so nothing was changed. "
            "Please try again in a minute.",
        )
        return
    reference = secrets.token_hex(4)
    log.error(
        "unexpected error in %s (guild=%s user=%s reference=%s)",
        interaction_name(interaction),
        interaction.guild_id,
        interaction.user.id,
        reference,
        exc_info=error,
    )
    log_outcome(interaction, f"error:{type(error).__name__}")
    # Answer first: Discord gives 3 s, and the report below may wait on what just failed.
    has_channel = await _organisers_channel(interaction) is not None
    who = "The organisers will be told" if has_channel else "It has been logged"
    await _safe_reply(
        interaction,
        f"Sorry, something went wrong on my side. {who} (reference `{reference}`). "
        "Nothing was changed; please try again in a moment.",
    )
    if has_channel:
        await _tell_organisers(interaction, reference)


async def _safe_reply(interaction: Interaction, content: str) -> None:
    try:
        await reply(interaction, content)
    except discord.HTTPException:
        log.warning("could not send an error reply for %s", interaction_name(interaction))


async def _organisers_channel(interaction: Interaction) -> int | None:
    if interaction.guild_id is None:
        return None
    try:
        # Cached: normally no database round trip, so the reply above is not held up.
        settings = await interaction.client.guild_settings.get(interaction.guild_id)
    except Exception:  # the database may be what failed
        log.exception("could not read settings to report an error")
        return None
    return settings.channel(ChannelPurpose.ORGANISERS)


async def _tell_organisers(interaction: Interaction, reference: str) -> None:
    guild_id = interaction.guild_id
    channel_id = await _organisers_channel(interaction)
    if guild_id is None or channel_id is None:
        return
    now = time.monotonic()
    if now - _last_report.get(guild_id, -REPORT_INTERVAL_SECONDS) < REPORT_INTERVAL_SECONDS:
        return  # reported a moment ago; don't flood the channel
    try:
        await interaction.client.get_partial_messageable(channel_id).send(
            f"Something went wrong when <@{interaction.user.id}> used "
            f"{interaction_name(interaction)} (reference `{reference}`). "
            "The bot's log has the details."
        )
    except discord.HTTPException:
        log.warning("could not report an error to the organisers channel %s", channel_id)
        return
    _last_report[guild_id] = now


class ReportsErrors:
    """Mixin for persistent (dynamic) buttons: failures reach the member like a command's,
    and each click counts against the button's quota before it does anything.

    discord.py only logs exceptions from dynamic items, so the callback is wrapped here.
    Put it before discord.ui.DynamicItem in the bases, name the template's groups after
    the constructor's parameters, and implement `run`. Beside the template, declare the
    quota: `quota="talk review"` (an action in bot.domain.quotas.QUOTAS), or `quota=None`
    with a comment saying why the button needs none. There is no default, so no button is
    added without that decision.
    """

    quota: ClassVar[str | None]

    def __init_subclass__(cls, *, quota: str | None, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        cls.quota = quota

    @classmethod
    async def from_custom_id(
        cls,
        interaction: discord.Interaction[Any],
        item: discord.ui.Item[Any],
        match: re.Match[str],
        /,
    ) -> Self:
        """Rebuild the button from its custom_id: named groups, digits as numbers."""
        values = {
            name: int(value) if value.isdigit() else value
            for name, value in match.groupdict().items()
        }
        return cls(**values)

    async def callback(self, interaction: discord.Interaction[Any]) -> Any:
        interaction.extras["started"] = time.perf_counter()
        try:
            if self.quota is not None:
                await take_quota(interaction, self.quota)
            await self.run(interaction)
        except Exception as error:  # everything must reach the member, never crash
            await handle_error(interaction, error)
        else:
            log_outcome(interaction, "ok")

    async def run(self, interaction: Interaction) -> None:
        raise NotImplementedError


def click_buttons_directly(bot: commands.Bot) -> None:
    """Clicks on the bot's own persistent buttons and selects (ReportsErrors) go straight
    to them.

    For each click on a DynamicItem, discord.py first rebuilds a View of every component
    of the clicked message (View.from_message: an announcement has five buttons), only to
    find the one clicked and swap the DynamicItem in for it. Ours are rebuilt from the
    custom_id alone and never read that view. Skipping the rebuild saves about a tenth of
    the bot's time per click, which counts in a burst of RSVPs or votes. (discord.py also
    dropped a click whose custom_id the message no longer had; ours run, and re-check
    everything as any click does.)
    """
    store = bot._connection._view_store
    rebuild_first = store.schedule_dynamic_item_call

    async def schedule(
        component_type: int,
        factory: type[discord.ui.DynamicItem[Any]],
        interaction: discord.Interaction[Any],
        custom_id: str,
        match: re.Match[str],
    ) -> None:
        if not issubclass(factory, ReportsErrors) or interaction.message is None:
            await rebuild_first(component_type, factory, interaction, custom_id, match)
            return
        try:
            item = await factory.from_custom_id(interaction, cast(Any, None), match)
            # A select's chosen values, as discord.py would set them.
            item._refresh_state(interaction, cast(dict[str, Any], interaction.data))
            await item.callback(interaction)
        except Exception:  # as discord.py does: the callback itself reports to the member
            log.exception("could not run the clicked %s", factory.__name__)

    store.schedule_dynamic_item_call = schedule  # type: ignore[method-assign]


# Bidirectional-text controls can make user text display as something else.
_BIDI_CONTROLS = dict.fromkeys(map(ord, "\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069"))


_INVITE = re.compile(r"(discord(?:app)?\\?\.(?:gg|com/invite))", re.IGNORECASE)


def inert(text: str) -> str:
    """User text made safe to show: no markdown, no masked links, no mentions, no timestamps.

    allowed_mentions already stops pings; this also stops `<@id>` rendering as a mention,
    `[label](url)` as a disguised link and `**...**` as formatting.
    """
    text = text.translate(_BIDI_CONTROLS)
    text = discord.utils.escape_markdown(text, ignore_links=False)
    text = discord.utils.escape_mentions(text)
    # Invites would show as a join card; a zero-width space keeps them as plain text.
    text = _INVITE.sub(lambda match: match[0].replace(".", "\u200b."), text)
    # Belt and braces against masked links: a zero-width space between ] and (.
    return text.replace("<", "<\u200b").replace("](", "]\u200b(")


def cut(text: str, limit: int) -> str:
    """Display text cut to Discord's limit, visibly."""
    return text if len(text) <= limit else text[: limit - 1] + "…"


def ping_only(role_id: int | None) -> discord.AllowedMentions:
    """Allow exactly one role ping (the server's ping role), or none."""
    if role_id is None:
        return discord.AllowedMentions.none()
    return discord.AllowedMentions(
        everyone=False, users=False, replied_user=False, roles=[discord.Object(role_id)]
    )


def message_nonce(nonce: str | None) -> str | int:
    """The job's nonce (a repeat of the same post is then dropped by Discord), or a random
    one as discord.py would pick. Never discord.utils.MISSING: it is sent as the text "..."
    and makes unrelated posts collide."""
    return nonce if nonce is not None else secrets.randbits(64)
