"""Who may do what: a member as the bot sees them in one guild, and the rights rules."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Actor:
    """The member behind an interaction, as Discord described them in that interaction.

    Discord computes `permissions` for the channel the interaction came from; server
    administrators have every permission.
    """

    guild_id: int
    user_id: int
    role_ids: frozenset[int] = field(default_factory=frozenset)
    manage_guild: bool = False
    manage_events: bool = False
    administrator: bool = False

    @property
    def is_manager(self) -> bool:
        """May change the server's bot settings (/setup)."""
        return self.administrator or self.manage_guild

    def is_organiser(self, organiser_role_id: int | None) -> bool:
        """Organisers run meetups, polls and talks.

        That is the organiser role, Manage Events or Manage Server, guild-wide.
        """
        return (
            self.is_manager
            or self.manage_events
            or (organiser_role_id is not None and organiser_role_id in self.role_ids)
        )
