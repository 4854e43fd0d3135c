"""Pairing rounds: group shapes, no repeats until exhausted, organisation and region
preferences, shared skills, determinism, conversation starters."""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Iterator, Sequence
from itertools import combinations

import pytest

from bot.domain.pairing import (
    REGION_PENALTY,
    SKILL_BONUS_CAP,
    Candidate,
    Group,
    Pairing,
    PastPair,
    conversation_starter,
    pair_up,
)


def plain(n: int) -> list[Candidate]:
    return [Candidate(user_id=100 + i) for i in range(n)]


def pairs_of(groups: Sequence[Group] | Sequence[Sequence[int]]) -> list[frozenset[int]]:
    """Every pair inside the groups: a trio counts as its three pairs."""
    members = [g.members if isinstance(g, Group) else g for g in groups]
    return [frozenset(pair) for group in members for pair in combinations(group, 2)]


def as_history(rounds: Sequence[Pairing]) -> list[PastPair]:
    return [
        PastPair(frozenset(group.members), index)
        for index, pairing in enumerate(rounds)
        for group in pairing.groups
    ]


def groupings(members: Sequence[int], trio_left: bool) -> Iterator[list[tuple[int, ...]]]:
    """Every way to split members into pairs, plus one trio if `trio_left`."""
    if not members:
        if not trio_left:
            yield []
        return
    first, rest = members[0], members[1:]
    for other in rest:
        remaining = [m for m in rest if m != other]
        for tail in groupings(remaining, trio_left):
            yield [(first, other), *tail]
    if trio_left:
        for second, third in combinations(rest, 2):
            remaining = [m for m in rest if m not in (second, third)]
            for tail in groupings(remaining, trio_left=False):
                yield [(first, second, third), *tail]


def all_groupings(candidates: Sequence[Candidate]) -> list[list[tuple[int, ...]]]:
    ids = [c.user_id for c in candidates]
    return list(groupings(ids, trio_left=len(ids) % 2 == 1))


def met_pairs(history: Sequence[PastPair]) -> set[frozenset[int]]:
    return {frozenset(pair) for past in history for pair in combinations(past.members, 2)}


def repeats(groups: Sequence[Group] | Sequence[Sequence[int]], history: Sequence[PastPair]) -> int:
    met = met_pairs(history)
    return sum(pair in met for pair in pairs_of(groups))


def same_org(groups: Sequence[Group] | Sequence[Sequence[int]], people: Sequence[Candidate]) -> int:
    org = {c.user_id: (c.organisation or "").strip().casefold() for c in people}
    return sum(
        bool(org[a]) and org[a] == org[b] for a, b in (tuple(pair) for pair in pairs_of(groups))
    )


def taste(groups: Sequence[Group] | Sequence[Sequence[int]], people: Sequence[Candidate]) -> int:
    """Region and skills cost of a round, as the module documents them."""
    by_id = {c.user_id: c for c in people}
    total = 0
    for pair in pairs_of(groups):
        a, b = (by_id[i] for i in pair)
        if a.region and a.region == b.region:
            total += REGION_PENALTY
        total += SKILL_BONUS_CAP - min(len(a.skills & b.skills), SKILL_BONUS_CAP)
    return total


# --- shapes ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("n", "pairs", "trios"),
    [(0, 0, 0), (1, 0, 0), (2, 1, 0), (3, 0, 1), (4, 2, 0), (5, 1, 1), (6, 3, 0), (7, 2, 1)],
)
def test_group_shapes(n: int, pairs: int, trios: int) -> None:
    """Pairs, and exactly one trio for an odd number of three or more; everyone once."""
    people = plain(n)
    result = pair_up(people, [], random.Random(1))
    assert sorted(len(group.members) for group in result.groups) == [2] * pairs + [3] * trios
    placed = [user for group in result.groups for user in group.members]
    assert sorted(placed) == ([] if n == 1 else [c.user_id for c in people])
    assert result.unpaired == (100 if n == 1 else None)


def test_groups_list_their_members_and_shared_skills_in_order() -> None:
    """Members ascend, groups are ordered, and shared skills are those everyone has."""
    people = [
        Candidate(9, skills=frozenset({"moodle", "intune", "aruba"})),
        Candidate(3, skills=frozenset({"intune", "moodle"})),
    ]
    result = pair_up(people, [], random.Random(4))
    assert result.groups == (Group(members=(3, 9), shared_skills=("intune", "moodle")),)


def test_a_member_listed_twice_is_refused() -> None:
    """Duplicate candidates are a caller's bug, not something to pair."""
    with pytest.raises(ValueError, match="only once"):
        pair_up([Candidate(1), Candidate(1)], [], random.Random(0))


# --- repeats ---------------------------------------------------------------------------


@pytest.mark.parametrize("n", [6, 8])
@pytest.mark.parametrize("seed", range(25))
def test_a_full_round_robin_has_no_repeats(n: int, seed: int) -> None:
    """n-1 repeat-free rounds, then the oldest round again, then the next oldest."""
    people = plain(n)
    rng = random.Random(seed)
    rounds: list[Pairing] = []
    for _ in range(n - 1):
        result = pair_up(people, as_history(rounds), rng)
        assert repeats(result.groups, as_history(rounds)) == 0
        rounds.append(result)
    assert len(set(pairs_of([g for r in rounds for g in r.groups]))) == n * (n - 1) // 2

    # Everyone has met once: repeat the oldest round's pairs.
    again = pair_up(people, as_history(rounds), rng)
    assert again.groups == rounds[0].groups
    rounds.append(again)
    # Now the oldest round's pairs have met twice: the next oldest round's (once) come first.
    assert pair_up(people, as_history(rounds), rng).groups == rounds[1].groups


def test_a_trio_counts_as_its_three_pairs() -> None:
    """After a trio, none of its members is paired with another while strangers remain."""
    people = plain(6)
    history = [PastPair(frozenset({100, 101, 102}), 0)]
    for seed in range(20):
        result = pair_up(people, history, random.Random(seed))
        assert repeats(result.groups, history) == 0


def test_history_of_members_not_in_the_round_is_ignored() -> None:
    """Pairs with someone who did not opt in this time change nothing."""
    people = plain(4)
    history = [PastPair(frozenset({100, 999}), 0), PastPair(frozenset({998, 997}), 1)]
    assert pair_up(people, history, random.Random(3)) == pair_up(people, [], random.Random(3))


def test_fewest_meetings_come_before_longest_ago() -> None:
    """When every round repeats, repeat the pairs that met once, the longest ago."""
    a, b, c, d = 1, 2, 3, 4
    history = [
        PastPair(frozenset({a, b}), 0),
        PastPair(frozenset({c, d}), 0),
        PastPair(frozenset({a, b}), 1),
        PastPair(frozenset({c, d}), 1),
        PastPair(frozenset({a, c}), 2),
        PastPair(frozenset({b, d}), 2),
        PastPair(frozenset({a, d}), 3),
        PastPair(frozenset({b, c}), 3),
    ]
    people = [Candidate(i) for i in (a, b, c, d)]
    for seed in range(10):
        result = pair_up(people, history, random.Random(seed))
        assert [g.members for g in result.groups] == [(a, c), (b, d)]


@pytest.mark.parametrize("n", [5, 7, 9])
@pytest.mark.parametrize("seed", range(4))
def test_odd_rounds_repeat_as_few_pairs_as_possible(n: int, seed: int) -> None:
    """Round after round, no grouping of these people repeats fewer pairs than the chosen one."""
    people = plain(n)
    every = all_groupings(people)
    rng = random.Random(seed)
    rounds: list[Pairing] = []
    for _ in range(8):
        history = as_history(rounds)
        met = met_pairs(history)
        fewest = min(sum(pair in met for pair in pairs_of(g)) for g in every)
        result = pair_up(people, history, rng)
        assert repeats(result.groups, history) == fewest
        rounds.append(result)


# --- organisations, regions, skills ----------------------------------------------------


def test_different_organisations_whenever_possible() -> None:
    """Twelve members from six colleges: never two colleagues in 200 rounds."""
    people = [Candidate(i, organisation=f"College {i // 2}") for i in range(12)]
    for seed in range(200):
        result = pair_up(people, [], random.Random(seed))
        assert same_org(result.groups, people) == 0


def test_unavoidable_colleagues_are_kept_to_a_minimum() -> None:
    """Four of six from one college: exactly one pair of colleagues, never two."""
    people = [Candidate(i, organisation="Big College" if i < 4 else f"Small {i}") for i in range(6)]
    assert min(same_org(g, people) for g in all_groupings(people)) == 1
    for seed in range(50):
        assert same_org(pair_up(people, [], random.Random(seed)).groups, people) == 1


def test_organisations_compare_ignoring_case_and_spacing() -> None:
    """`City College` and ` city  college ` are one college, however many skills they share."""
    shared = frozenset({"moodle", "intune", "aruba"})
    people = [
        Candidate(1, organisation="City College", skills=shared),
        Candidate(2, organisation=" city  college ", skills=shared),
        Candidate(3, organisation="Town College"),
        Candidate(4, organisation="Vale College"),
    ]
    for seed in range(20):
        result = pair_up(people, [], random.Random(seed))
        assert same_org(result.groups, people) == 0
        assert (1, 2) not in [g.members for g in result.groups]


def test_unknown_organisations_never_count_as_the_same() -> None:
    """Two members with no organisation given may meet; their shared skills decide."""
    shared = frozenset({"moodle", "intune", "aruba"})
    people = [
        Candidate(1, organisation=None, skills=shared),
        Candidate(2, organisation="  ", skills=shared),
        Candidate(3, organisation="Town College", skills=frozenset({"jamf"})),
        Candidate(4, organisation="Vale College", skills=frozenset({"jamf"})),
    ]
    for seed in range(20):
        result = pair_up(people, [], random.Random(seed))
        assert [g.members for g in result.groups] == [(1, 2), (3, 4)]


def test_a_repeat_costs_more_than_any_colleague_pairs() -> None:
    """The only repeat-free round pairs colleagues twice: it is still the one chosen."""
    people = [
        Candidate(1, organisation="A"),
        Candidate(2, organisation="A"),
        Candidate(3, organisation="B"),
        Candidate(4, organisation="B"),
    ]
    history = [
        PastPair(frozenset({1, 3}), 0),
        PastPair(frozenset({2, 4}), 0),
        PastPair(frozenset({1, 4}), 1),
        PastPair(frozenset({2, 3}), 1),
    ]
    for seed in range(10):
        result = pair_up(people, history, random.Random(seed))
        assert [g.members for g in result.groups] == [(1, 2), (3, 4)]


def test_region_gives_way_to_organisation() -> None:
    """Colleagues from different regions or strangers from the same region: strangers."""
    people = [
        Candidate(1, organisation="A", region="North"),
        Candidate(2, organisation="A", region="South"),
        Candidate(3, organisation="B", region="North"),
        Candidate(4, organisation="B", region="South"),
    ]
    # {1,4} and {2,3} met last time: left are {1,2}+{3,4} (colleagues) or {1,3}+{2,4}
    # (neighbours).
    history = [PastPair(frozenset({1, 4}), 0), PastPair(frozenset({2, 3}), 0)]
    for seed in range(10):
        result = pair_up(people, history, random.Random(seed))
        assert [g.members for g in result.groups] == [(1, 3), (2, 4)]


def test_region_outweighs_shared_skills() -> None:
    """Neighbours sharing many skills still give way to members from other regions."""
    shared = frozenset({"moodle", "intune", "aruba", "jamf"})
    people = [
        Candidate(1, organisation="A", region="North", skills=shared),
        Candidate(2, organisation="B", region="North", skills=shared),
        Candidate(3, organisation="C", region="South"),
        Candidate(4, organisation="D", region="South"),
    ]
    for seed in range(10):
        result = pair_up(people, [], random.Random(seed))
        assert all(len(g.shared_skills) == 0 for g in result.groups)


@pytest.mark.parametrize("seed", range(40))
def test_random_rounds_are_the_best_possible(seed: int) -> None:
    """Fewest colleagues first, then the best regions and skills, checked against every grouping."""
    rng = random.Random(seed)
    people = [
        Candidate(
            i,
            organisation=rng.choice(["A", "B", "C", None]),
            region=rng.choice(["North", "South"]),
            skills=frozenset(rng.sample(["moodle", "intune", "aruba", "jamf", "python"], 2)),
        )
        for i in range(rng.randint(4, 8))
    ]
    result = pair_up(people, [], rng)

    def score(groups: Sequence[Group] | Sequence[Sequence[int]]) -> tuple[int, int]:
        return same_org(groups, people), taste(groups, people)

    assert score(result.groups) == min(score(g) for g in all_groupings(people))


def test_shared_skills_bring_members_together() -> None:
    """With organisations and regions all different, members sharing a skill usually meet."""
    people = [
        Candidate(i, organisation=f"College {i}", region=f"Region {i}", skills=frozenset(tags))
        for i, tags in enumerate(
            [{"moodle"}, {"moodle"}, {"intune"}, {"intune"}, set(), set(), set(), set()]
        )
    ]
    rounds = 100
    met = Counter[frozenset[int]]()
    for seed in range(rounds):
        met.update(pairs_of(pair_up(people, [], random.Random(seed)).groups))
    # By chance, a given pair of eight meets in one round of seven.
    assert met[frozenset({0, 1})] > rounds / 2
    assert met[frozenset({2, 3})] > rounds / 2
    # Members without shared skills still meet all sorts: ties are broken at random.
    assert len({pair for pair in met if not pair & {0, 1, 2, 3}}) == 6


# --- determinism and size ----------------------------------------------------------------


def test_the_same_seed_gives_the_same_round() -> None:
    """Seeded: a round can be recomputed; other seeds give other rounds."""
    people = plain(10)
    history = [PastPair(frozenset({100, 101}), 0)]
    first = pair_up(people, history, random.Random(42))
    assert pair_up(people, history, random.Random(42)) == first
    others = {pair_up(people, history, random.Random(seed)).groups for seed in range(10)}
    assert len(others) > 5


@pytest.mark.parametrize("n", [23, 151, 400, 401])
def test_large_rounds_avoid_a_short_history(n: int) -> None:
    """Hundreds of members: everyone placed once, no repeats against recent rounds."""
    rng = random.Random(n)
    people = [
        Candidate(i, organisation=f"College {i % 40}", region=f"Region {i % 9}") for i in range(n)
    ]
    rounds: list[Pairing] = []
    for _ in range(3):
        rounds.append(pair_up(people, as_history(rounds), rng))
    last = rounds[-1]
    assert repeats(last.groups, as_history(rounds[:-1])) == 0
    assert sorted(u for g in last.groups for u in g.members) == list(range(n))
    assert sum(len(g.members) == 3 for g in last.groups) == n % 2
    assert same_org(last.groups, people) == 0


# --- conversation starters ---------------------------------------------------------------


def test_starter_from_a_shared_skill() -> None:
    """A skill both have is the topic."""
    text = conversation_starter(
        [frozenset({"moodle", "jamf"}), frozenset({"moodle"})], random.Random(1)
    )
    assert text.startswith("You both work with moodle: ")


def test_starter_for_a_trio_sharing_a_skill() -> None:
    """A trio is addressed as three."""
    skills = [frozenset({"aruba"}), frozenset({"aruba", "intune"}), frozenset({"aruba"})]
    assert conversation_starter(skills, random.Random(2)).startswith(
        "All three of you work with aruba: "
    )


def test_starter_from_complementary_skills() -> None:
    """No skill in common: one of each member's."""
    text = conversation_starter([frozenset({"intune"}), frozenset({"aruba"})], random.Random(3))
    assert text.startswith("One of you knows intune and another knows aruba: ")


def test_starter_when_two_of_a_trio_share_the_only_skill() -> None:
    """The skill is the topic, without claiming one person knows it."""
    text = conversation_starter(
        [frozenset({"moodle"}), frozenset({"moodle"}), frozenset()], random.Random(4)
    )
    assert text.startswith("Someone here works with moodle: ")


def test_starter_without_skills() -> None:
    """Nobody listed a skill: a question for any technician."""
    texts = {conversation_starter([frozenset(), frozenset()], random.Random(s)) for s in range(20)}
    assert "What's the most useful thing you fixed this term?" in texts
    assert all(text.endswith("?") for text in texts)


def test_starters_stay_short_with_long_tags() -> None:
    """Long tags are cut so the sentence stays under 300 characters, with no markdown added."""
    long_one, long_two = "a" * 200, "b" * 200
    for seed in range(10):
        text = conversation_starter(
            [frozenset({long_one}), frozenset({long_two})], random.Random(seed)
        )
        assert len(text) < 300
        assert "a" * 50 + "…" in text
        assert "*" not in text
        assert "`" not in text


def test_starters_are_seeded() -> None:
    """The same seed gives the same sentence."""
    skills = [frozenset({"moodle", "intune", "jamf"}), frozenset({"moodle", "intune"})]
    texts = [conversation_starter(skills, random.Random(7)) for _ in range(3)]
    assert len(set(texts)) == 1
    assert len({conversation_starter(skills, random.Random(s)) for s in range(20)}) > 1
