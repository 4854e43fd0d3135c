"""After a meetup: "Was it worth your time?" (1-5) and "One thing I'll do after tonight"."""

from __future__ import annotations

from typing import TYPE_CHECKING

import discord

from cogs._ui import FORM_WAIT_SECONDS, ReportsErrors, handle_error, reply, take_quota

if TYPE_CHECKING:
    from cogs._ui import Interaction


class RatingButton(
    ReportsErrors,
    discord.ui.DynamicItem[discord.ui.Button[discord.ui.View]],
    template=r"fb:(?P<meetup_id>\d+):(?P<rating>[1-5])",
    quota="techmeet feedback",
):
    def __init__(self, meetup_id: int, rating: int) -> None:
        super().__init__(
            discord.ui.Button(
                label=str(rating),
                style=discord.ButtonStyle.secondary,
                custom_id=f"fb:{meetup_id}:{rating}",
            )
        )
        self.meetup_id, self.rating = meetup_id, rating

    async def run(self, interaction: Interaction) -> None:
        await interaction.client.meetups.record_rating(
            interaction.guild_id or 0, interaction.user.id, self.meetup_id, self.rating
        )
        await reply(
            interaction, f"Thanks! You rated it {self.rating}/5. Click another number to change it."
        )


class ActionButton(
    ReportsErrors,
    discord.ui.DynamicItem[discord.ui.Button[discord.ui.View]],
    template=r"fb:(?P<meetup_id>\d+):action",
    quota=None,  # only opens the form: sending it counts as "techmeet feedback"
):
    def __init__(self, meetup_id: int) -> None:
        super().__init__(
            discord.ui.Button(
                label="One thing I'll do after tonight",
                style=discord.ButtonStyle.primary,
                custom_id=f"fb:{meetup_id}:action",
            )
        )
        self.meetup_id = meetup_id

    async def run(self, interaction: Interaction) -> None:
        await interaction.response.send_modal(ActionModal(self.meetup_id))


class ActionModal(discord.ui.Modal, title="One thing I'll do after tonight"):
    action: discord.ui.TextInput[ActionModal] = discord.ui.TextInput(
        label="What will you try, change or share?",
        style=discord.TextStyle.paragraph,
        max_length=300,
        placeholder="e.g. Try the VLAN template Sam showed on our staff network",
    )

    def __init__(self, meetup_id: int) -> None:
        # A fresh custom_id per form: everyone at the meetup answers at once, and discord.py
        # files open forms by custom_id (see BasicsModal in cogs.introductions).
        super().__init__(timeout=FORM_WAIT_SECONDS)
        self.meetup_id = meetup_id

    async def on_submit(self, interaction: Interaction) -> None:  # type: ignore[override]
        await take_quota(interaction, "techmeet feedback")
        await interaction.client.meetups.record_action(
            interaction.guild_id or 0, interaction.user.id, self.meetup_id, self.action.value
        )
        await reply(
            interaction, "Noted, thank you. Organisers see these (without names) in the stats."
        )

    async def on_error(self, interaction: Interaction, error: Exception) -> None:  # type: ignore[override]
        await handle_error(interaction, error)


def feedback_view(meetup_id: int) -> discord.ui.View:
    view = discord.ui.View(timeout=None)
    for rating in range(1, 6):
        view.add_item(RatingButton(meetup_id, rating))
    view.add_item(ActionButton(meetup_id))
    return view
