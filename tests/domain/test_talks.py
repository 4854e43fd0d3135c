"""Lightning-talk rules: lengths, budget checks, reserve promotion, fair order, planned times."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

import pytest

from bot.domain.talks import (
    MAX_BUDGET,
    MAX_CHANGEOVER,
    MAX_LENGTH,
    MAX_PER_MEMBER,
    SUMMARY_MAX,
    TITLE_MAX,
    Slot,
    check_budget,
    check_changeover,
    check_length,
    check_max_per_member,
    check_slides,
    check_summary,
    check_title,
    deadline_passed,
    draw,
    fair_order,
    move,
    parse_lengths,
    planned_slots,
    promotions,
)
from bot.errors import BadInput

START = datetime(2026, 12, 3, 18, 0, tzinfo=UTC)


def at(hour: int, minute: int) -> datetime:
    return datetime(2026, 12, 3, hour, minute, tzinfo=UTC)


# --- lengths and checks ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2,5,7", (2, 5, 7)),
        ("7, 5, 2", (2, 5, 7)),
        ("5 7;2", (2, 5, 7)),
        (" 5 ", (5,)),
        ("5,5,2", (2, 5)),
        (f"1,{MAX_LENGTH}", (1, MAX_LENGTH)),
        ("1,2,3,4,5,6,7,8,9,10", tuple(range(1, 11))),
    ],
)
def test_parse_lengths(text: str, expected: tuple[int, ...]) -> None:
    """Minutes separated by commas, spaces or semicolons: sorted, without repeats."""
    assert parse_lengths(text) == expected


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "separated by commas"),
        ("  ", "separated by commas"),
        ("five", "separated by commas"),
        ("2,5.5", "separated by commas"),
        ("-2,5", "separated by commas"),
        ("0,5", "1 to 30"),
        (f"5,{MAX_LENGTH + 1}", "1 to 30"),
        ("1,2,3,4,5,6,7,8,9,10,11", "at most 10"),
    ],
)
def test_parse_lengths_refuses(text: str, message: str) -> None:
    """Anything but whole minutes 1..30, at most 10 of them, is refused with a hint."""
    with pytest.raises(BadInput, match=message):
        parse_lengths(text)


def test_check_length() -> None:
    """Only one of the allowed lengths; the message lists them."""
    assert check_length(5, (2, 5, 7)) == 5
    with pytest.raises(BadInput, match="2, 5, 7 minutes long; 3 is not"):
        check_length(3, (2, 5, 7))


@pytest.mark.parametrize(
    ("budget", "accepted", "ok"),
    [
        (40, 0, True),
        (1, 0, True),
        (MAX_BUDGET, 0, True),
        (20, 20, True),
        (19, 20, False),
        (0, 0, False),
        (MAX_BUDGET + 1, 0, False),
        (-5, 0, False),
    ],
)
def test_check_budget(budget: int, accepted: int, ok: bool) -> None:
    """1..600 minutes, and never below what accepted talks already take."""
    if ok:
        assert check_budget(budget, accepted_minutes=accepted) == budget
    else:
        with pytest.raises(BadInput):
            check_budget(budget, accepted_minutes=accepted)


def test_check_budget_below_accepted_names_the_total() -> None:
    """The refusal says how many minutes are taken."""
    with pytest.raises(BadInput, match="already take 25 minutes"):
        check_budget(20, accepted_minutes=25)


def test_check_changeover_and_max_per_member() -> None:
    """Changeover 0..15 minutes; 1..10 talks per member."""
    assert check_changeover(0) == 0
    assert check_changeover(MAX_CHANGEOVER) == MAX_CHANGEOVER
    for bad in (-1, MAX_CHANGEOVER + 1):
        with pytest.raises(BadInput):
            check_changeover(bad)
    assert check_max_per_member(1) == 1
    assert check_max_per_member(MAX_PER_MEMBER) == MAX_PER_MEMBER
    for bad in (0, MAX_PER_MEMBER + 1):
        with pytest.raises(BadInput):
            check_max_per_member(bad)


def test_check_title() -> None:
    """Whitespace is tidied; 3..100 characters after that."""
    assert check_title("  Zero   trust\nin schools ") == "Zero trust in schools"
    assert check_title("abc") == "abc"
    assert check_title("x" * TITLE_MAX) == "x" * TITLE_MAX
    for bad in ("ab", "  a   ", "x" * (TITLE_MAX + 1), ""):
        with pytest.raises(BadInput, match="3 to 100"):
            check_title(bad)


def test_check_summary() -> None:
    """Optional, stripped, up to 1000 characters; blank means none."""
    assert check_summary(None) is None
    assert check_summary("   ") is None
    assert check_summary(" What broke \n") == "What broke"
    assert check_summary("s" * SUMMARY_MAX) == "s" * SUMMARY_MAX
    with pytest.raises(BadInput, match="1000"):
        check_summary("s" * (SUMMARY_MAX + 1))


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        (None, None),
        ("", None),
        ("https://slides.example.org/talk", "https://slides.example.org/talk"),
        ("http://example.org/deck.pdf", "http://example.org/deck.pdf"),
    ],
)
def test_check_slides_accepts_web_links(url: str | None, expected: str | None) -> None:
    """http(s) links with a host, or nothing."""
    assert check_slides(url) == expected


@pytest.mark.parametrize(
    "url",
    [
        "ftp://example.org/deck.pdf",
        "javascript:alert(1)",
        "example.org/deck",
        "https://",
        "https://exa mple.org",
        "file:///etc/passwd",
    ],
)
def test_check_slides_refuses_other_links(url: str) -> None:
    """Anything else gets the slides-specific message."""
    with pytest.raises(BadInput, match="slides link"):
        check_slides(url)


def test_deadline_passed() -> None:
    """Proposals close at the deadline itself."""
    assert not deadline_passed(START, START - timedelta(seconds=1))
    assert deadline_passed(START, START)
    assert deadline_passed(START, START + timedelta(minutes=1))


# --- promotions ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("free", "reserves", "expected"),
    [
        (0, [(1, 2), (2, 5)], []),
        (5, [], []),
        (5, [(1, 5), (2, 5)], [1]),
        # The 7 doesn't fit 5 free minutes: the next one that fits goes in.
        (5, [(1, 7), (2, 5), (3, 2)], [2]),
        (7, [(1, 7), (2, 5), (3, 2)], [1]),
        # Skipped talks don't stop later ones filling the rest.
        (6, [(1, 7), (2, 5), (3, 2), (4, 1)], [2, 4]),
        (9, [(1, 7), (2, 5), (3, 2)], [1, 3]),
        (20, [(1, 7), (2, 5), (3, 2)], [1, 2, 3]),
        (1, [(1, 7), (2, 5), (3, 2)], []),
    ],
)
def test_promotions_first_in_reserve_order_that_fits(
    free: int, reserves: list[tuple[int, int]], expected: list[int]
) -> None:
    """In reserve order, each talk that fits the remaining minutes is promoted."""
    promoted = promotions(free, reserves)
    assert promoted == expected
    by_id = dict(reserves)
    assert sum(by_id[t] for t in promoted) <= free


def test_promotions_is_deterministic() -> None:
    """The same reserves and minutes always promote the same talks."""
    reserves = [(10 + i, length) for i, length in enumerate([7, 5, 2, 7, 2, 5, 5])]
    first = promotions(12, reserves)
    assert all(promotions(12, list(reserves)) == first for _ in range(20))
    assert first == [10, 11]


# --- running order -------------------------------------------------------------------------


def test_fair_order_is_a_seeded_permutation() -> None:
    """Same seed, same order; every talk appears exactly once; other seeds differ."""
    talks = list(range(1, 21))
    order = fair_order(talks, first_timers=set(), rng=random.Random(7))
    assert order == fair_order(talks, first_timers=set(), rng=random.Random(7))
    assert sorted(order) == talks
    assert order != talks  # 20! orders: a shuffle that changes nothing would be a bug
    others = {tuple(fair_order(talks, first_timers=set(), rng=random.Random(s))) for s in range(5)}
    assert len(others) > 1


def test_fair_order_puts_first_timers_first() -> None:
    """First-timers form the head of the order (shuffled), then everyone else."""
    talks = list(range(1, 11))
    first = {2, 5, 9}
    for seed in range(10):
        order = fair_order(talks, first_timers=first, rng=random.Random(seed))
        assert set(order[:3]) == first
        assert sorted(order) == talks
    heads = {
        tuple(fair_order(talks, first_timers=first, rng=random.Random(s))[:3]) for s in range(20)
    }
    assert len(heads) > 1  # the first-timers are shuffled among themselves too


def test_fair_order_ignores_first_timers_not_in_the_talks() -> None:
    """Ids outside the talks don't sneak into the order."""
    order = fair_order([1, 2, 3], first_timers={3, 99}, rng=random.Random(1))
    assert order[0] == 3
    assert sorted(order) == [1, 2, 3]


def test_fair_order_does_not_change_its_input() -> None:
    """The caller's list stays as it was."""
    talks = [4, 3, 2, 1]
    fair_order(talks, first_timers={1}, rng=random.Random(3))
    assert talks == [4, 3, 2, 1]


@pytest.mark.parametrize(
    ("talk", "position", "expected"),
    [
        (30, 1, [30, 10, 20, 40]),
        (10, 3, [20, 30, 10, 40]),
        (10, 4, [20, 30, 40, 10]),
        (40, 2, [10, 40, 20, 30]),
        (20, 2, [10, 20, 30, 40]),
        (10, 99, [20, 30, 40, 10]),  # clamped to the end
        (40, 0, [40, 10, 20, 30]),  # clamped to the start
        (30, -3, [30, 10, 20, 40]),
    ],
)
def test_move(talk: int, position: int, expected: list[int]) -> None:
    """A talk moves to a 1-based position, clamped; the rest keep their order."""
    assert move([10, 20, 30, 40], talk, position) == expected


def test_move_unknown_talk() -> None:
    """Only talks in the order can be moved."""
    with pytest.raises(BadInput, match="not in the running order"):
        move([10, 20], 30, 1)


# --- planned times and the draw ------------------------------------------------------------


def test_planned_slots() -> None:
    """Each talk starts at the meetup start plus the talks and changeovers before it."""
    slots = planned_slots(START, [(1, 5), (2, 7), (3, 2)], changeover=1)
    assert slots == [
        Slot(1, at(18, 0), at(18, 5)),
        Slot(2, at(18, 6), at(18, 13)),
        Slot(3, at(18, 14), at(18, 16)),
    ]


def test_planned_slots_without_changeover_and_empty() -> None:
    """No changeover: talks follow back to back; no talks, no slots."""
    slots = planned_slots(START, [(7, 2), (8, 2)], changeover=0)
    assert [(s.starts_at, s.ends_at) for s in slots] == [
        (at(18, 0), at(18, 2)),
        (at(18, 2), at(18, 4)),
    ]
    assert planned_slots(START, [], changeover=3) == []


def test_planned_slots_long_changeover_crosses_the_hour() -> None:
    """Times are real datetimes: they roll over hours."""
    slots = planned_slots(at(18, 50), [(1, 7), (2, 7)], changeover=5)
    assert slots[1] == Slot(2, at(19, 2), at(19, 9))


def test_draw() -> None:
    """One of those not yet on, reproducible with a seed; nobody left, nobody drawn."""
    remaining = [11, 12, 13, 14]
    picks = [draw(remaining, random.Random(seed)) for seed in range(30)]
    assert set(picks) <= set(remaining)
    assert len(set(picks)) > 1
    assert draw(remaining, random.Random(5)) == draw(remaining, random.Random(5))
    assert draw([42], random.Random(0)) == 42
    assert draw([], random.Random(0)) is None
