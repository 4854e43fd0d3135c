"""Rules for topics and agenda polls (Lean Coffee: collect, group duplicates, dot-vote, rank)."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from difflib import SequenceMatcher
from enum import StrEnum
from zoneinfo import ZoneInfo

from bot.domain.guild_settings import parse_offset
from bot.domain.when import parse_when
from bot.errors import BadInput

TITLE_MIN, TITLE_MAX = 3, 100
DETAILS_MAX = 1000
DEFAULT_MAX_PER_MEMBER = 3
DEFAULT_VOTES, MAX_VOTES = 3, 10
DEFAULT_AGENDA_SIZE, MAX_AGENDA_SIZE = 5, 10
# A Discord select menu holds 25 options: one ballot, one menu.
MAX_POLL_TOPICS = 25
DEFAULT_CLOSE_BEFORE = timedelta(hours=24)
# How alike two titles must be (0..1) to ask "is this the same topic?".
SIMILAR = 0.8


class TopicStatus(StrEnum):
    OPEN = "open"  # collecting support, editable by its suggester
    IN_POLL = "in_poll"  # on an open poll's ballot: frozen
    CHOSEN = "chosen"  # on a meetup's agenda
    MERGED = "merged"
    REMOVED = "removed"
    WITHDRAWN = "withdrawn"


class Results(StrEnum):
    LIVE = "live"
    HIDDEN = "hidden"


def check_title(text: str) -> str:
    title = " ".join(text.split())
    if not TITLE_MIN <= len(title) <= TITLE_MAX:
        raise BadInput(
            f"A topic's title is {TITLE_MIN} to {TITLE_MAX} characters; yours is {len(title)}."
        )
    return title


def check_details(text: str | None) -> str | None:
    details = (text or "").strip()
    if len(details) > DETAILS_MAX:
        raise BadInput(
            f"Details can be at most {DETAILS_MAX} characters; yours are {len(details)}."
        )
    return details or None


# --- near-duplicates -------------------------------------------------------------------------

# Letters and digits, with a trailing + or # kept: C++ and C# are not C.
_WORD = re.compile(r"[^\W_]+[+#]*")


def normalise(title: str) -> str:
    """Case, accents, punctuation, whitespace and word order ignored (in any script)."""
    decomposed = unicodedata.normalize("NFKD", title.casefold())
    unaccented = "".join(ch for ch in decomposed if unicodedata.category(ch) != "Mn")
    return " ".join(sorted(_WORD.findall(unaccented)))


# Small words that make unrelated titles look alike ("X in practice", "Y in practice").
_STOPWORDS = frozenset(
    {"a", "an", "and", "at", "by", "for", "from", "in", "into", "of", "on", "or", "our"}
    | {"the", "to", "with", "your"}
)
# Two words count as the same if this alike (plurals, small typos): SequenceMatcher ratio.
_SAME_WORD = 0.8
_SHORT_WORD = 5


def _words(title: str) -> list[str]:
    words = normalise(title).split()
    return [w for w in words if w not in _STOPWORDS] or words


def _same_word(a: str, b: str) -> bool:
    # Short words must match exactly: "sync" is not "async", "hooks" is not "books".
    if min(len(a), len(b)) <= _SHORT_WORD:
        return a == b
    return SequenceMatcher(None, a, b).ratio() >= _SAME_WORD


def _covered(these: list[str], those: list[str]) -> float:
    """The share of `these` words that have a near-identical word in `those`."""
    return sum(any(_same_word(word, other) for other in those) for word in these) / len(these)


def similarity(a: str, b: str) -> float:
    """0..1: how much of each title's meaningful words the other one has (both ways)."""
    left, right = _words(a), _words(b)
    if not left or not right:
        return 0.0
    return min(_covered(left, right), _covered(right, left))


def near_duplicate(title: str, existing: Sequence[tuple[int, str]]) -> int | None:
    """The id of the open topic most like `title`, if it is alike enough."""
    best: tuple[float, int] | None = None
    for topic_id, other in existing:
        score = similarity(title, other)
        if score >= SIMILAR and (best is None or score > best[0]):
            best = (score, topic_id)
    return None if best is None else best[1]


# --- polls -----------------------------------------------------------------------------------


def check_votes(votes: int) -> int:
    if not 1 <= votes <= MAX_VOTES:
        raise BadInput(f"Each member gets 1 to {MAX_VOTES} dots; you asked for {votes}.")
    return votes


def check_agenda_size(size: int) -> int:
    if not 1 <= size <= MAX_AGENDA_SIZE:
        raise BadInput(f"The agenda holds 1 to {MAX_AGENDA_SIZE} topics; you asked for {size}.")
    return size


def poll_closes(text: str | None, *, starts_at: datetime, now: datetime, tz: ZoneInfo) -> datetime:
    """When a poll closes: a time (as for meetups) or a duration from now (`2d`, `36h`);
    by default 24 h before the meetup. Never after the meetup starts, never in the past."""
    if not text or not text.strip():
        closes = starts_at - DEFAULT_CLOSE_BEFORE
        if closes <= now:
            raise BadInput(
                "The meetup starts within a day, so the usual close (a day before) has passed: "
                "give `closes`, e.g. `2h`."
            )
    else:
        try:
            closes = now + timedelta(minutes=parse_offset(text))
        except BadInput:
            closes = parse_when(text, now=now, tz=tz)
    if closes <= now:
        raise BadInput("The poll would close before it opens: give a time in the future.")
    if closes > starts_at:
        raise BadInput("A poll must close before its meetup starts; give an earlier `closes`.")
    return closes


@dataclass(frozen=True)
class Ranked:
    topic_id: int
    dots: int
    place: int  # 1-based; equal dots share nothing: ties are broken by suggestion order
    tied: bool  # had the same dots as a neighbour: placed by who suggested first


def rank(tally: Sequence[tuple[int, int, int]]) -> list[Ranked]:
    """(topic_id, dots, suggestion order) -> ranked, most dots first; ties go to the topic
    suggested earliest."""
    ordered = sorted(tally, key=lambda row: (-row[1], row[2]))
    counts: dict[int, int] = {}
    for _, dots, _ in ordered:
        counts[dots] = counts.get(dots, 0) + 1
    return [
        Ranked(topic_id, dots, place, counts[dots] > 1)
        for place, (topic_id, dots, _) in enumerate(ordered, start=1)
    ]
