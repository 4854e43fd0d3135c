"""Who counts as an organiser and who may change settings."""

from __future__ import annotations

import pytest

from bot.domain.members import Actor

ORGANISERS = 77


@pytest.mark.parametrize(
    ("actor", "organiser", "manager"),
    [
        (Actor(1, 2), False, False),
        (Actor(1, 2, role_ids=frozenset({ORGANISERS})), True, False),
        (Actor(1, 2, role_ids=frozenset({5})), False, False),
        (Actor(1, 2, manage_events=True), True, False),
        (Actor(1, 2, manage_guild=True), True, True),
        (Actor(1, 2, administrator=True), True, True),
    ],
)
def test_rights(actor: Actor, organiser: bool, manager: bool) -> None:
    """Organiser: the role, Manage Events or Manage Server; manager: Manage Server or admin."""
    assert actor.is_organiser(ORGANISERS) is organiser
    assert actor.is_manager is manager


def test_no_organiser_role_set() -> None:
    """Without an organiser role only the Discord permissions count."""
    assert not Actor(1, 2, role_ids=frozenset({ORGANISERS})).is_organiser(None)
