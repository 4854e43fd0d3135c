"""Pairing rounds ("coffee roulette"): who meets whom this round.

Members who opted in are split into pairs, plus one trio when their number is odd. In order of
importance, a round avoids repeating earlier pairs (and, when it must, repeats the pairs that
met fewest times and longest ago), avoids pairing people from the same organisation, then
prefers different regions and shared skills.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from enum import StrEnum
from itertools import combinations
from zoneinfo import ZoneInfo

import networkx as nx
from dateutil.relativedelta import relativedelta

# Preferences below "different organisation": a pair from the same region costs more than the
# largest shared-skills bonus, so shared skills never outweigh being neighbours.
REGION_PENALTY = 4
SKILL_BONUS_CAP = 3  # one point per shared skill, up to this many
_TASTE_MAX = REGION_PENALTY + SKILL_BONUS_CAP

# networkx's exact matching is pure Python. Whole rounds measured on the 2-core development machine
# (10 organisations, 4 regions, 8 earlier rounds): 50 members 0.01 s, 100: 0.05 s,
# 150: 0.15 s, 200: 0.35 s, 250: 0.7 s, 300: 1.3 s, 400: 3.6 s; greedy + 2-opt takes 0.3 s
# for 400. Up to EXACT_LIMIT members a round is exact, so it finds a repeat-free round
# whenever one exists; above it, repeat-free rounds stay plentiful for years of history.
EXACT_LIMIT = 200
# An odd round is exact by trying every pair as the core of the trio: n(n-1)/2 matchings
# (measured: 9 members 0.01 s, 15: 0.07 s, 21: 0.33 s). Above this the matching picks the
# odd member, who joins the pair that suits them best, and 2-opt swaps tidy up.
ODD_EXACT_LIMIT = 21
# A repeat-free round can leave no repeat-free round for next time: six members whose first
# three rounds each pair one of {1, 2, 3} with one of {4, 5, 6} have only strangers within
# those threes left, and three cannot pair up. (Without looking ahead, about one seeded
# round-robin in six for 6 or 8 members repeated a pair early.) This many other rounds, each
# overlapping the rejected ones as little as possible, are tried.
_LOOKAHEAD_ATTEMPTS = 4
_MAX_SWAP_PASSES = 20


@dataclass(frozen=True)
class Candidate:
    """A member who opted in to this round."""

    user_id: int
    # Compared ignoring case and spacing; unknown (None or blank) is never "the same".
    organisation: str | None = None
    region: str | None = None
    skills: frozenset[str] = frozenset()  # already-normalised tags


@dataclass(frozen=True)
class PastPair:
    """An earlier pair or trio (a trio counts as its three pairs)."""

    members: frozenset[int]
    round_index: int  # 0 is the oldest round; higher is more recent


@dataclass(frozen=True)
class Group:
    members: tuple[int, ...]  # 2 or 3 user ids, ascending
    shared_skills: tuple[str, ...]  # skills every member has, sorted


@dataclass(frozen=True)
class Pairing:
    groups: tuple[Group, ...]  # ordered by their first member
    unpaired: int | None  # the only member who opted in: nobody to meet this round


def pair_up(
    candidates: Sequence[Candidate], history: Sequence[PastPair], rng: random.Random
) -> Pairing:
    """Split the candidates into pairs, plus one trio when their number is odd."""
    if len({c.user_id for c in candidates}) != len(candidates):
        raise ValueError("Each member can be a candidate only once.")
    people = list(candidates)
    # The matching breaks ties by input order: shuffling varies equally good rounds.
    rng.shuffle(people)
    if len(people) < 2:
        return Pairing(groups=(), unpaired=people[0].user_id if people else None)
    costs = _Costs.of(people, history)
    n = len(people)
    if n % 2 == 0 and n <= EXACT_LIMIT:
        groups = _pairs_looking_ahead(costs)
    elif n <= ODD_EXACT_LIMIT:
        groups = _exact_with_trio(costs.matrix)
    else:
        pairs, odd = (
            _matching_with_odd_member(costs.matrix) if n <= EXACT_LIMIT else _greedy(costs.matrix)
        )
        groups = _swap_until_stable(_with_trio(pairs, odd, costs.matrix), costs.matrix)
    found = [_group(people, members) for members in groups]
    return Pairing(groups=tuple(sorted(found, key=lambda g: g.members)), unpaired=None)


def _key(text: str | None) -> str | None:
    return " ".join((text or "").split()).casefold() or None


@dataclass(frozen=True)
class _Costs:
    """What pairing each two people costs (by their index in the shuffled order).

    Costs come in tiers that never trade against each other: each tier's unit is larger than
    the most the tiers below it can add up to over a whole round. So the cheapest round has,
    first, the fewest repeated pairs, then repeats those who met fewest times, then those who
    met longest ago, then the fewest same-organisation pairs, then the best regions and skills.
    Looking ahead to the next round ranks between repeats and organisations: a repeat avoided
    next time outweighs colleagues meeting now.
    """

    matrix: list[list[int]]
    met: frozenset[tuple[int, int]]  # (i, j) with i < j
    unit_avoid: int  # added to pairs of a round that would leave no repeat-free round next

    @classmethod
    def of(cls, people: Sequence[Candidate], history: Sequence[PastPair]) -> _Costs:
        index = {person.user_id: i for i, person in enumerate(people)}
        met: dict[tuple[int, int], tuple[int, int]] = {}  # pair -> (times met, last round)
        for past in history:
            present = sorted(index[user] for user in past.members if user in index)
            for pair in combinations(present, 2):
                times, last = met.get(pair, (0, past.round_index))
                met[pair] = (times + 1, max(last, past.round_index))

        n = len(people)
        edges = (n + 3) // 2  # the most pairs a round has: a trio counts as three
        oldest = min((last for _, last in met.values()), default=0)
        span = max((last - oldest + 1 for _, last in met.values()), default=0)
        most_times = max((times for times, _ in met.values()), default=0)
        unit_org = edges * _TASTE_MAX + 1
        below = unit_org + _TASTE_MAX  # the most one pair can cost below the next tier
        unit_avoid = edges * below + 1
        below += unit_avoid
        unit_recency = edges * below + 1
        below += span * unit_recency
        unit_times = edges * below + 1
        below += most_times * unit_times
        unit_repeat = edges * below + 1

        orgs = [_key(person.organisation) for person in people]
        regions = [_key(person.region) for person in people]
        matrix = [[0] * n for _ in range(n)]
        for i, j in combinations(range(n), 2):
            shared = len(people[i].skills & people[j].skills)
            cost = SKILL_BONUS_CAP - min(shared, SKILL_BONUS_CAP)
            if regions[i] is not None and regions[i] == regions[j]:
                cost += REGION_PENALTY
            if orgs[i] is not None and orgs[i] == orgs[j]:
                cost += unit_org
            if (i, j) in met:
                times, last = met[i, j]
                cost += unit_repeat + times * unit_times + (last - oldest + 1) * unit_recency
            matrix[i][j] = matrix[j][i] = cost
        return cls(matrix=matrix, met=frozenset(met), unit_avoid=unit_avoid)


def _min_cost_matching(nodes: Sequence[int], cost: Callable[[int, int], int]) -> list[list[int]]:
    """The perfect matching of an even number of nodes with the least total cost (exact)."""
    edges = [(i, j, cost(i, j)) for i, j in combinations(nodes, 2)]
    top = max(c for _, _, c in edges) + 1
    graph: nx.Graph[int] = nx.Graph()
    # networkx maximises weight; every perfect matching has the same number of edges, so
    # weighting each edge `top - cost` finds the cheapest. Integer weights keep it exact.
    graph.add_weighted_edges_from((i, j, top - c) for i, j, c in edges)
    return [sorted(pair) for pair in nx.max_weight_matching(graph, maxcardinality=True)]


def _pairs_looking_ahead(costs: _Costs) -> list[list[int]]:
    """The cheapest pairs, preferring, among repeat-free rounds, one that leaves another."""
    n = len(costs.matrix)
    best = _min_cost_matching(range(n), lambda i, j: costs.matrix[i][j])
    fresh_partners = [n - 1] * n
    for i, j in costs.met:
        fresh_partners[i] -= 1
        fresh_partners[j] -= 1
    # With one fresh partner left, this is the last repeat-free round whatever we choose.
    if any((i, j) in costs.met for i, j in best) or min(fresh_partners) < 2:
        return best
    avoided: set[tuple[int, int]] = set()
    pairs = best
    for _ in range(_LOOKAHEAD_ATTEMPTS):
        if _leaves_a_fresh_round(costs.met | {(i, j) for i, j in pairs}, n):
            return pairs
        avoided.update((i, j) for i, j in pairs)
        pairs = _min_cost_matching(
            range(n),
            lambda i, j: costs.matrix[i][j] + (costs.unit_avoid if (i, j) in avoided else 0),
        )
    return best


def _leaves_a_fresh_round(met: frozenset[tuple[int, int]], n: int) -> bool:
    """Whether an even number of people can still all meet someone new."""
    fresh: nx.Graph[int] = nx.Graph()
    fresh.add_nodes_from(range(n))
    fresh.add_edges_from(pair for pair in combinations(range(n), 2) if pair not in met)
    # Dirac: if everyone has n/2 strangers left, they form a cycle through everyone.
    if min(degree for _, degree in fresh.degree) * 2 >= n:
        return True
    return len(nx.max_weight_matching(fresh, maxcardinality=True)) * 2 == n


def _round_cost(groups: Sequence[Sequence[int]], matrix: list[list[int]]) -> int:
    return sum(matrix[i][j] for group in groups for i, j in combinations(group, 2))


def _merged(matrix: list[list[int]], x: int, a: int) -> Callable[[int, int], int]:
    """Costs with member a folded into x: x's partner costs what they cost with both."""

    def cost(i: int, j: int) -> int:
        return matrix[i][j] + (matrix[a][j] if i == x else matrix[a][i] if j == x else 0)

    return cost


def _exact_with_trio(matrix: list[list[int]]) -> list[list[int]]:
    """The cheapest round with one trio, trying every pair as the trio's core."""
    n = len(matrix)
    best: list[list[int]] = []
    best_cost = 0
    for x, a in combinations(range(n), 2):
        groups = _min_cost_matching([i for i in range(n) if i != a], _merged(matrix, x, a))
        next(group for group in groups if x in group).append(a)
        total = _round_cost(groups, matrix)
        if not best or total < best_cost:
            best, best_cost = groups, total
    return best


def _matching_with_odd_member(matrix: list[list[int]]) -> tuple[list[list[int]], int]:
    """Exact pairs for all but one; the odd one out is who could join a trio most cheaply.

    A stand-in is matched with the odd member; its cost to each person is the sum of their two
    cheapest pairings, the least they could add to any trio.
    """
    n = len(matrix)
    cheapest_two = [sum(sorted(matrix[i][j] for j in range(n) if j != i)[:2]) for i in range(n)]

    def with_stand_in(i: int, j: int) -> int:
        return cheapest_two[i] if j == n else matrix[i][j]

    pairs = _min_cost_matching(range(n + 1), with_stand_in)
    odd = next(i for i, j in pairs if j == n)
    return [pair for pair in pairs if pair[1] != n], odd


def _greedy(matrix: list[list[int]]) -> tuple[list[list[int]], int | None]:
    """Pairs in (shuffled) order, each taking their cheapest free partner; None if n is even."""
    free = list(range(len(matrix)))
    pairs: list[list[int]] = []
    while len(free) > 1:
        first = free.pop(0)
        partner = min(free, key=lambda j: matrix[first][j])
        free.remove(partner)
        pairs.append([first, partner])
    return pairs, free[0] if free else None


def _with_trio(pairs: list[list[int]], odd: int | None, matrix: list[list[int]]) -> list[list[int]]:
    """The odd member joins the pair where adding them costs least."""
    if odd is not None:
        min(pairs, key=lambda pair: matrix[odd][pair[0]] + matrix[odd][pair[1]]).append(odd)
    return pairs


def _swap_until_stable(groups: list[list[int]], matrix: list[list[int]]) -> list[list[int]]:
    """2-opt: regroup the members of any two groups whenever that lowers the round's cost."""
    for _ in range(_MAX_SWAP_PASSES):
        changed = False
        for g, h in combinations(range(len(groups)), 2):
            members = groups[g] + groups[h]
            current = _round_cost((groups[g], groups[h]), matrix)
            for chosen in combinations(members, len(groups[g])):
                others = [i for i in members if i not in chosen]
                if (regrouped := _round_cost((chosen, others), matrix)) < current:
                    groups[g], groups[h], current = list(chosen), others, regrouped
                    changed = True
        if not changed:
            break
    return groups


def _group(people: Sequence[Candidate], members: Sequence[int]) -> Group:
    skills = frozenset.intersection(*(people[i].skills for i in members))
    return Group(
        members=tuple(sorted(people[i].user_id for i in members)),
        shared_skills=tuple(sorted(skills)),
    )


_SKILL_SHOWN_MAX = 60  # keeps a starter with two long tags well under 300 characters

_SHARED_STARTERS = (
    "{who} work with {skill}: what's one thing you'd change about how your college runs it?",
    "{who} work with {skill}: what's the best tip you've picked up for it?",
    "{who} work with {skill}: what caught you out the first time you used it?",
)
_COMPLEMENTARY_STARTERS = (
    "One of you knows {first} and another knows {second}: "
    "what could each of you borrow from the other's world?",
    "One of you knows {first} and another knows {second}: "
    "where do the two meet, or clash, at your colleges?",
)
_SINGLE_STARTERS = (
    "Someone here works with {skill}: what would you tell a colleague starting out with it?",
)
_GENERIC_STARTERS = (
    "What's the most useful thing you fixed this term?",
    "What's one tool you couldn't do your job without?",
    "What's the oddest support request you've had this year?",
)


def _shown(skill: str) -> str:
    return skill if len(skill) <= _SKILL_SHOWN_MAX else skill[: _SKILL_SHOWN_MAX - 1] + "…"


def conversation_starter(group_skills: Sequence[frozenset[str]], rng: random.Random) -> str:
    """One friendly opening question for a group, from each member's skills."""
    shared = frozenset.intersection(*group_skills) if group_skills else frozenset()
    if shared:
        who = {2: "You both", 3: "All three of you"}.get(len(group_skills), "You all")
        skill = rng.choice(sorted(shared))
        return rng.choice(_SHARED_STARTERS).format(who=who, skill=_shown(skill))
    # One skill from each of two members; in a trio, two may share one the third lacks.
    complementary = [
        (first, second)
        for mine, theirs in combinations(group_skills, 2)
        for first in sorted(mine)
        for second in sorted(theirs)
        if first != second
    ]
    if complementary:
        first, second = rng.choice(complementary)
        return rng.choice(_COMPLEMENTARY_STARTERS).format(
            first=_shown(first), second=_shown(second)
        )
    known = sorted(frozenset[str]().union(*group_skills))
    if known:
        return rng.choice(_SINGLE_STARTERS).format(skill=_shown(rng.choice(known)))
    return rng.choice(_GENERIC_STARTERS)


# --- when rounds run ---------------------------------------------------------------------

# A week after a round, each pair is asked whether they met.
FOLLOW_UP_AFTER = timedelta(days=7)
# Rounds start on a working morning, in the guild's timezone.
ROUND_WEEKDAY, ROUND_TIME = 0, time(10, 0)  # Monday 10:00


class Cadence(StrEnum):
    WEEKLY = "weekly"
    FORTNIGHTLY = "fortnightly"
    MONTHLY = "monthly"


def _step(cadence: Cadence) -> relativedelta:
    return {
        Cadence.WEEKLY: relativedelta(weeks=1),
        Cadence.FORTNIGHTLY: relativedelta(weeks=2),
        Cadence.MONTHLY: relativedelta(months=1),
    }[cadence]


def first_round_at(now: datetime, tz: ZoneInfo) -> datetime:
    """The first round of a new cadence: the next Monday, 10:00 local time."""
    local = now.astimezone(tz)
    days = (ROUND_WEEKDAY - local.weekday()) % 7 or 7
    day = local.date() + timedelta(days=days)
    return datetime.combine(day, ROUND_TIME, tzinfo=tz).astimezone(UTC)


def next_round_at(previous: datetime, cadence: Cadence, now: datetime, tz: ZoneInfo) -> datetime:
    """The round after `previous`, at the same local time (daylight saving does not move
    it); rounds missed while the bot was down are not caught up one by one."""
    local = previous.astimezone(tz).replace(tzinfo=None)
    step = _step(cadence)
    nxt = local + step
    while datetime.combine(nxt.date(), nxt.time(), tzinfo=tz) <= now:
        nxt += step
    return nxt.replace(tzinfo=tz).astimezone(UTC)
