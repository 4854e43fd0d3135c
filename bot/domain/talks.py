"""Rules for lightning talks: lengths, the minutes budget and its reserve list, a fair
running order, planned times, and the on-stage timer."""

from __future__ import annotations

import random
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from bot.domain.meetups import URL_MAX, check_url
from bot.errors import BadInput

DEFAULT_LENGTHS = (2, 5, 7)  # the TeachMeet nano and micro formats
DEFAULT_BUDGET = 40
DEFAULT_MAX_PER_MEMBER = 2
DEFAULT_CHANGEOVER = 1
DEFAULT_LEAD_LENGTH = 5  # a topic's leader proposes this, editable
MAX_LENGTH, MAX_BUDGET, MAX_CHANGEOVER, MAX_PER_MEMBER = 30, 600, 15, 10
TITLE_MIN, TITLE_MAX, SUMMARY_MAX = 3, 100, 1000
# The timer's message is edited when this much is left, and at the end: two edits a talk.
WARNING_BEFORE_END = timedelta(seconds=30)
# Speakers hear about their slot this long before the meetup.
SPEAKER_REMINDER = timedelta(days=1)


class TalkStatus(StrEnum):
    ACCEPTED = "accepted"  # holds minutes of the budget
    PENDING = "pending"  # waiting for an organiser (review mode): holds no minutes
    RESERVE = "reserve"  # did not fit: waits in reserve order
    DECLINED = "declined"
    WITHDRAWN = "withdrawn"
    REMOVED = "removed"


class Approval(StrEnum):
    AUTO = "auto"
    REVIEW = "review"


class OrderMode(StrEnum):
    PROPOSED = "proposed"  # the order talks were accepted in, until organisers choose
    RANDOM = "random"
    MANUAL = "manual"
    DRAW = "draw"  # no fixed order: each next speaker is drawn live


def parse_lengths(text: str) -> tuple[int, ...]:
    """`2,5,7` -> (2, 5, 7): allowed talk lengths in minutes."""
    parts = [p for p in re.split(r"[,\s;]+", text.strip()) if p]
    if not parts or not all(p.isdigit() for p in parts):
        raise BadInput("Give talk lengths as minutes separated by commas, e.g. `2,5,7`.")
    lengths = sorted({int(p) for p in parts})
    if lengths[0] < 1 or lengths[-1] > MAX_LENGTH:
        raise BadInput(f"Talk lengths are 1 to {MAX_LENGTH} minutes.")
    if len(lengths) > 10:
        raise BadInput("Offer at most 10 different talk lengths.")
    return tuple(lengths)


def check_length(length: int, allowed: Sequence[int]) -> int:
    if length not in allowed:
        raise BadInput(
            f"Talks here are {', '.join(str(n) for n in allowed)} minutes long; "
            f"{length} is not one of them."
        )
    return length


def check_budget(budget: int, *, accepted_minutes: int) -> int:
    if not 1 <= budget <= MAX_BUDGET:
        raise BadInput(f"The talk budget is 1 to {MAX_BUDGET} minutes.")
    if budget < accepted_minutes:
        raise BadInput(
            f"Accepted talks already take {accepted_minutes} minutes; the budget can't go "
            f"below that. Remove a talk first, or keep the budget at {accepted_minutes} or more."
        )
    return budget


def check_changeover(minutes: int) -> int:
    if not 0 <= minutes <= MAX_CHANGEOVER:
        raise BadInput(f"The changeover between talks is 0 to {MAX_CHANGEOVER} minutes.")
    return minutes


def check_max_per_member(count: int) -> int:
    if not 1 <= count <= MAX_PER_MEMBER:
        raise BadInput(f"A member may hold 1 to {MAX_PER_MEMBER} talks per meetup.")
    return count


def check_title(text: str) -> str:
    title = " ".join(text.split())
    if not TITLE_MIN <= len(title) <= TITLE_MAX:
        raise BadInput(f"A talk's title is {TITLE_MIN} to {TITLE_MAX} characters.")
    return title


def check_summary(text: str | None) -> str | None:
    summary = (text or "").strip()
    if len(summary) > SUMMARY_MAX:
        raise BadInput(f"The summary can be at most {SUMMARY_MAX} characters.")
    return summary or None


def check_slides(url: str | None) -> str | None:
    if url is not None and len(url.strip()) > URL_MAX:
        raise BadInput(f"The slides link can be at most {URL_MAX} characters.")
    try:
        link = check_url(url)
    except BadInput:
        raise BadInput(
            "The slides link must be a web address starting with https:// (or http://)."
        ) from None
    # Shown as <link>: these would end it early or break the text around it.
    if link and any(c in link for c in "<>`"):
        raise BadInput("The slides link can't contain <, > or `. Paste the plain address.")
    return link


def deadline_passed(deadline: datetime, now: datetime) -> bool:
    return now >= deadline


# --- the budget and its reserve list ---------------------------------------------------------


def promotions(free_minutes: int, reserves: Sequence[tuple[int, int]]) -> list[int]:
    """Reserve talks (id, length) that move into `free_minutes`: in reserve order, each one
    that fits, skipping any that doesn't (deterministic: first in order that fits)."""
    promoted = []
    for talk_id, length in reserves:
        if length <= free_minutes:
            promoted.append(talk_id)
            free_minutes -= length
    return promoted


# --- running order ---------------------------------------------------------------------------


def fair_order(talk_ids: Sequence[int], *, first_timers: set[int], rng: random.Random) -> list[int]:
    """A fair shuffle; with first_timers, members who have never spoken come first (each
    group shuffled)."""
    new = [t for t in talk_ids if t in first_timers]
    rest = [t for t in talk_ids if t not in first_timers]
    rng.shuffle(new)
    rng.shuffle(rest)
    return new + rest


def move(order: Sequence[int], talk_id: int, position: int) -> list[int]:
    """`talk_id` moved to 1-based `position` (clamped), the rest keeping their order."""
    if talk_id not in order:
        raise BadInput("That talk is not in the running order (only accepted talks are).")
    rest = [t for t in order if t != talk_id]
    index = min(max(position, 1), len(order)) - 1
    return [*rest[:index], talk_id, *rest[index:]]


@dataclass(frozen=True)
class Slot:
    talk_id: int
    starts_at: datetime
    ends_at: datetime


def planned_slots(
    start: datetime, talks: Sequence[tuple[int, int]], *, changeover: int
) -> list[Slot]:
    """Planned times: the meetup's start plus the talks before (and their changeovers)."""
    slots, at = [], start
    for talk_id, length in talks:
        end = at + timedelta(minutes=length)
        slots.append(Slot(talk_id, at, end))
        at = end + timedelta(minutes=changeover)
    return slots


def draw(remaining: Sequence[int], rng: random.Random) -> int | None:
    """The 'fruit machine': the next speaker at random among those not yet on."""
    return rng.choice(list(remaining)) if remaining else None
