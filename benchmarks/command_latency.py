"""Interaction latency of every command and button, from INTERACTION_CREATE to the bot's
real answer (not a defer), side by side with a bare discord.py bot through the same Discord
stand-in; and the SQL statements and transactions each one sends.

    .venv/bin/python -m benchmarks.command_latency [--postgres-url URL] [--quick]

Each scenario is one command or button, used by different members: 30 times one at a time
(after 3 warm-ups), then 100 at once. Each sample works on its own object where a real
server would (each organiser edits their own meetup, each member withdraws their own topic),
and on a shared one where members crowd together (everyone RSVPs to the same meetup, votes
in the same poll). Every answer is checked to be the one a member expects, not an error.

The bot runs as its own process (`benchmarks.counting_bot`, which is `techmeet run` plus
statement counting); the stand-in and this script run in this process.
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import json
import math
import re
import secrets
import statistics
import sys
import tempfile
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from time import perf_counter
from typing import Any

from sqlalchemy import text

from benchmarks.rsvp_latency import (
    fresh_postgres,
    percentiles,
    spawn,
    spawn_reference,
    timing_standin,
)
from db.engine import create_engine
from db.migrate import upgrade
from tests.standin import DiscordStandIn, FakeGuild, FakeMember, FakeMessage, InteractionReply
from tests.standin.errors import StandInError
from tests.standin.permissions import BOT_DEFAULT

WARM, ONE, BURST = 3, 30, 100
QUICK = False
MANAGE = 1 << 5 | 1 << 33  # Manage Server, Manage Events
ANSWER_WAIT = 120.0  # seconds: a burst of 100 heavy commands queues behind one database
LINK = re.compile(r"/(\d+)/(\d+)/(\d+)")

Act = Callable[[int], Awaitable[InteractionReply]]
# Answers that were not what a member expects: the run's figures are then not valid.
UNEXPECTED: list[str] = []


@dataclass
class Scenario:
    name: str
    act: Act
    # Text the member expects in the answer (case-insensitive); "" when a form opens.
    expect: str
    prepare: Callable[[], Awaitable[None]] | None = None


@dataclass
class Result:
    one: tuple[float, float]
    burst: tuple[float, float]
    statements: tuple[int, int]  # median and most, one at a time
    transactions: int  # median
    late: int


def spread(samples: list[float]) -> tuple[float, float]:
    """p50 and p99; not a number when every answer was late."""
    return percentiles(samples) if samples else (math.nan, math.nan)


def linked_message(standin: DiscordStandIn, reply: InteractionReply) -> FakeMessage:
    """The channel message an answer links to (…/guild/channel/message)."""
    found = LINK.findall(reply.content)
    assert found, reply.describe()
    message = standin.find_message(int(found[-1][2]))
    assert message is not None, reply.content
    return message


def forged(channel_id: int, custom_id: str, *, select: list[str] | None = None) -> dict[str, Any]:
    """A message carrying one of the bot's persistent components, as it posts them (a
    follow-up DM, an old page): the bot only reads the custom id."""
    component: dict[str, Any] = {"type": 2, "style": 1, "label": "x", "custom_id": custom_id}
    if select is not None:
        component = {
            "type": 3,
            "custom_id": custom_id,
            "options": [{"label": v, "value": v} for v in select],
            "min_values": 1,
            "max_values": 1,
        }
    return {
        "id": str(secrets.randbits(60)),
        "channel_id": str(channel_id),
        "components": [{"type": 1, "components": [component]}],
    }


class Server:
    """One guild with the bot set up, and the people who use it."""

    def __init__(self, standin: DiscordStandIn, database_url: str, samples: int) -> None:
        self.standin = standin
        self.samples = samples
        self.guild: FakeGuild = standin.add_guild("TechMeet", bot_permissions=BOT_DEFAULT)
        self.channels = {
            purpose: self.guild.add_text_channel(purpose)
            for purpose in ("announcements", "organisers", "introductions", "talks", "pairing")
        }
        self.manager = self.guild.add_member("Manager", permissions=MANAGE)
        # Plain members in five groups (some scenarios need several objects per sample,
        # each made by a different member), and organisers.
        self.people = [self.guild.add_member(f"Member {i}") for i in range(5 * samples)]
        self.organisers = [
            self.guild.add_member(f"Organiser {i}", permissions=MANAGE) for i in range(samples)
        ]
        self.role = self.guild.add_role("Technicians")
        self.engine = create_engine(database_url)
        self.meetups: list[int] = []  # numbers, one per sample
        self.announcements: list[FakeMessage] = []
        self.replies: dict[tuple[str, int], InteractionReply] = {}

    async def slash(self, who: FakeMember, command: str, **options: Any) -> InteractionReply:
        return await self.standin.slash(
            self.guild, who, command, options=options, timeout=ANSWER_WAIT
        )

    async def click(
        self,
        message: FakeMessage | InteractionReply | dict[str, Any],
        custom_id: str,
        who: FakeMember,
        values: list[Any] | None = None,
    ) -> InteractionReply:
        return await self.standin.click(message, custom_id, who, values, timeout=ANSWER_WAIT)

    async def query(self, sql: str, **params: Any) -> list[Any]:
        async with self.engine.connect() as connection:
            return list(await connection.execute(text(sql), params))

    async def number(self, table: str, title: str) -> int:
        rows = await self.query(f"SELECT number FROM {table} WHERE title = :t", t=title)
        assert len(rows) == 1, (table, title, rows)
        return int(rows[0][0])

    async def meetup_id(self, number: int) -> int:
        rows = await self.query("SELECT id FROM meetups WHERE number = :n", n=number)
        return int(rows[0][0])

    async def in_parallel(
        self, calls: Sequence[Callable[[], Awaitable[Any]]], width: int = 10
    ) -> None:
        """Setup work, a few at a time (quicker than one by one, gentler than all at once)."""
        for start in range(0, len(calls), width):
            await asyncio.gather(*(call() for call in calls[start : start + width]))


def when(hours: float) -> str:
    moment = datetime.now(UTC) + timedelta(days=7, hours=hours)
    return moment.replace(microsecond=0).isoformat()


def meetup_scenarios(s: Server) -> list[Scenario]:
    async def create(i: int) -> InteractionReply:
        reply = await s.slash(s.organisers[i], "techmeet create", title=f"Meetup {i}", when=when(i))
        if "Scheduled **TechMeet #" in reply.content:
            s.meetups.append(int(reply.content.split("TechMeet #", 1)[1].split("*", 1)[0]))
            s.announcements.append(linked_message(s.standin, reply))
        return reply

    def rsvp(answer: str, target: int) -> Act:
        async def act(i: int) -> InteractionReply:
            message = s.announcements[target]
            custom_id = next(c for c in ids(message) if c.endswith(f":{answer}"))
            return await s.click(message, custom_id, s.people[i])

        return act

    def button(suffix: str) -> Act:
        async def act(i: int) -> InteractionReply:
            message = s.announcements[0]
            custom_id = next(c for c in ids(message) if c.endswith(suffix) or c.startswith(suffix))
            return await s.click(message, custom_id, s.people[i])

        return act

    async def sort_meetups() -> None:
        # Samples finished in any order; pair each organiser with the meetup they made.
        pairs = sorted(zip(s.meetups, s.announcements, strict=True))
        s.meetups = [number for number, _ in pairs]
        s.announcements = [message for _, message in pairs]

    return [
        Scenario("/techmeet create", create, "Scheduled **TechMeet #"),
        Scenario("Going (button)", rsvp("going", 0), "going", prepare=sort_meetups),
        Scenario("Maybe (button)", rsvp("maybe", 1), "maybe"),
        Scenario("Can't go (button)", rsvp("no", 2), "can't go"),
        Scenario("Who's going (button)", button(":who"), "going"),
        Scenario("Add to calendar (button)", button("cal:"), "to your calendar"),
        Scenario(
            "/techmeet info",
            lambda i: s.slash(s.people[i], "techmeet info", meetup=s.meetups[i]),
            "TechMeet",
        ),
        Scenario("/techmeet list", lambda i: s.slash(s.people[i], "techmeet list"), "going"),
        Scenario(
            "/techmeet calendar",
            lambda i: s.slash(s.people[i], "techmeet calendar", meetup=s.meetups[i]),
            "to your calendar",
        ),
        Scenario(
            "/techmeet remind-me",
            lambda i: s.slash(s.people[i], "techmeet remind-me", setting="on"),
            "remind",
        ),
        Scenario(
            "/techmeet attendees",
            lambda i: s.slash(s.organisers[i], "techmeet attendees", meetup=s.meetups[0]),
            "Going",
        ),
        Scenario(
            "/techmeet stats", lambda i: s.slash(s.organisers[i], "techmeet stats"), "TechMeets"
        ),
        Scenario(
            "/techmeet edit",
            lambda i: s.slash(
                s.organisers[i], "techmeet edit", meetup=s.meetups[i], description=f"Agenda {i}"
            ),
            "updated",
        ),
    ]


def labelled(message: FakeMessage | InteractionReply, label: str) -> str:
    """The custom id of the button with this label (views that are not persistent have
    random ids)."""
    return next(
        str(c["custom_id"])
        for row in message.components
        for c in row.get("components", [])
        if c.get("label") == label
    )


def ids(message: FakeMessage | InteractionReply) -> list[str]:
    return [
        c["custom_id"]
        for row in message.components
        for c in row.get("components", [])
        if "custom_id" in c
    ]


def suggestion_scenarios(s: Server) -> list[Scenario]:
    """Topics suggested, backed, changed and tidied, before any poll."""
    n = s.samples

    async def poll_topics() -> None:
        # Four suggestions on each meetup, by four different members: two stay for its
        # poll, one is merged into another, one is removed.
        calls = [
            functools.partial(
                s.slash,
                s.people[n * (k + 1) + i],
                "topic suggest",
                title=f"Topic {'abcd'[k]} {i}",
                meetup=s.meetups[i],
            )
            for i in range(n)
            for k in range(4)
        ]
        await s.in_parallel(calls)

    async def near_duplicate(i: int) -> InteractionReply:
        # "Idea i" in other words: the bot asks whether to back it instead.
        reply = await s.slash(
            s.people[4 * n + i], "topic suggest", title=f"{i} idea", meetup=s.meetups[0]
        )
        s.replies["duplicate", i] = reply
        return reply

    async def anyway(i: int) -> InteractionReply:
        asked = s.replies["duplicate", i]
        return await s.click(asked, labelled(asked, "Suggest mine anyway"), s.people[4 * n + i])

    async def withdraw_duplicates() -> None:
        # Out of the way of the first meetup's poll, which takes at most 25 topics.
        numbers = [await s.number("topics", f"{i} idea") for i in range(n)]
        await s.in_parallel(
            [
                functools.partial(s.slash, s.people[4 * n + i], "topic withdraw", topic=number)
                for i, number in enumerate(numbers)
            ]
        )

    async def back(i: int) -> InteractionReply:
        number = await s.number("topics", f"Idea {i}")
        custom_id = f"topic:{number}:back"  # as on "That looks like Topic #n"
        return await s.click(forged(s.guild.general.id, custom_id), custom_id, s.people[n + i])

    async def listed(i: int) -> InteractionReply:
        reply = await s.slash(s.people[i], "topic list", meetup=s.meetups[0])
        s.replies["topics", i] = reply
        return reply

    async def next_topics(i: int) -> InteractionReply:
        listing = s.replies["topics", i]
        return await s.click(listing, labelled(listing, "Next"), s.people[i])

    async def edit(i: int) -> InteractionReply:
        number = await s.number("topics", f"Idea {i}")
        return await s.slash(s.people[i], "topic edit", topic=number, details="With examples")

    async def withdraw(i: int) -> InteractionReply:
        return await s.slash(
            s.people[i], "topic withdraw", topic=await s.number("topics", f"Idea {i}")
        )

    async def merge(i: int) -> InteractionReply:
        source = await s.number("topics", f"Topic c {i}")
        target = await s.number("topics", f"Topic b {i}")
        return await s.slash(s.organisers[i], "topic merge", source=source, target=target)

    async def remove(i: int) -> InteractionReply:
        number = await s.number("topics", f"Topic d {i}")
        return await s.slash(s.organisers[i], "topic remove", topic=number, reason="Off topic")

    return [
        Scenario(
            "/topic suggest",
            lambda i: s.slash(s.people[i], "topic suggest", title=f"Idea {i}", meetup=s.meetups[0]),
            "Thanks!",
            prepare=poll_topics,
        ),
        Scenario("Back a topic (button)", back, "You're backing"),
        Scenario("/topic suggest, near-duplicate", near_duplicate, "looks like"),
        Scenario("Suggest mine anyway (button)", anyway, "Thanks!"),
        Scenario("/topic edit", edit, "updated", prepare=withdraw_duplicates),
        Scenario("/topic list", listed, "Topic"),
        # Pages of ten: needs more suggestions than a --quick run makes.
        *([Scenario("Next page of topics (button)", next_topics, "Topic")] if n > 10 else []),
        Scenario("/topic withdraw", withdraw, "withdrawn"),
        Scenario("/topic merge", merge, "merged"),
        Scenario("/topic remove", remove, "removed"),
    ]


def topic_scenarios(s: Server) -> list[Scenario]:
    """Polls, votes and the agenda."""
    n = s.samples
    polls: dict[int, FakeMessage] = {}
    topic_ids: list[int] = []

    async def poll(i: int) -> InteractionReply:
        reply = await s.slash(s.organisers[i], "topic poll", meetup=s.meetups[i], closes="2d")
        if LINK.search(reply.content):
            polls[i] = linked_message(s.standin, reply)
        return reply

    async def vote(i: int) -> InteractionReply:
        message = polls[0]
        reply = await s.click(message, ids(message)[0], s.people[i])
        s.replies["ballot", i] = reply
        return reply

    async def learn_topics() -> None:
        rows = await s.query(
            "SELECT t.id FROM topics t JOIN meetups m ON m.id = t.meetup_id "
            "WHERE m.number = :n AND t.status = 'in_poll' ORDER BY t.id",
            n=s.meetups[0],
        )
        topic_ids.extend(int(row[0]) for row in rows)

    async def pick(i: int) -> InteractionReply:
        ballot = s.replies["ballot", i]
        select = next(c for c in ids(ballot) if c.endswith(":pick"))
        return await s.click(ballot, select, s.people[i], [str(topic_ids[i % len(topic_ids)])])

    async def a_dot_on_every_poll() -> None:
        # So that each meetup's close makes an agenda, with a topic to lead.
        rows = await s.query(
            "SELECT m.number, p.id, min(pt.topic_id) FROM polls p"
            " JOIN meetups m ON m.id = p.meetup_id JOIN poll_topics pt ON pt.poll_id = p.id"
            " GROUP BY m.number, p.id"
        )
        on_poll = {int(number): (poll_id, topic_id) for number, poll_id, topic_id in rows}

        async def vote(i: int) -> None:
            poll_id, topic_id = on_poll[s.meetups[i]]
            custom_id = f"ballot:{poll_id}:{topic_id}:add"
            ballot = forged(s.channels["announcements"].id, custom_id)
            ballot["flags"] = 64
            await s.click(ballot, custom_id, s.people[2 * n + i])

        await s.in_parallel([functools.partial(vote, i) for i in range(n)])

    leads: list[tuple[int, int]] = []  # per sample: a topic on its meetup's agenda

    async def learn_agenda() -> None:
        for i in range(n):
            rows = await s.query(
                "SELECT t.id, t.number FROM topics t JOIN meetups m ON m.id = t.meetup_id "
                "WHERE m.number = :n AND t.status = 'chosen' ORDER BY t.number LIMIT 1",
                n=s.meetups[i],
            )
            leads.append((int(rows[0][0]), int(rows[0][1])))

    async def lead(i: int) -> InteractionReply:
        topic_id, number = leads[i]
        custom_id = f"lead:{topic_id}:{number}"  # as on the agenda's "I'll lead #n"
        agenda = forged(s.channels["announcements"].id, custom_id)
        return await s.click(agenda, custom_id, s.people[i])

    def dot(change: str) -> Act:
        async def act(i: int) -> InteractionReply:
            poll_id = ids(polls[0])[0].split(":")[1]
            custom_id = f"ballot:{poll_id}:{topic_ids[i % len(topic_ids)]}:{change}"
            ballot = forged(polls[0].channel_id, custom_id)
            ballot["flags"] = 64
            return await s.click(ballot, custom_id, s.people[n + i])

        return act

    return [
        Scenario("/topic poll", poll, "vote is open"),
        Scenario("Vote (button)", vote, "dots left", prepare=learn_topics),
        Scenario("Pick a topic (select)", pick, "dots left"),
        Scenario("Add a dot (button)", dot("add"), "dots left"),
        Scenario("Remove a dot (button)", dot("remove"), "dots left"),
        Scenario(
            "/topic poll-status",
            lambda i: s.slash(s.organisers[i], "topic poll-status", meetup=s.meetups[i]),
            "The vote for",
        ),
        Scenario(
            "/topic close",
            lambda i: s.slash(s.organisers[i], "topic close", meetup=s.meetups[i]),
            "Closed",
            prepare=a_dot_on_every_poll,
        ),
        Scenario("I'll lead this (button)", lead, "You're leading", prepare=learn_agenda),
    ]


def talk_scenarios(s: Server) -> list[Scenario]:
    n = s.samples
    reviews: dict[int, InteractionReply] = {}
    timers: dict[int, FakeMessage] = {}

    async def more_talks() -> None:
        # Three more proposals on each meetup, by other members: one to decline, one for
        # an organiser to remove, one its speaker withdraws.
        calls = [
            functools.partial(
                s.slash,
                s.people[n * (k + 1) + i],
                "talk propose",
                meetup=s.meetups[i],
                title=f"Talk {'bcd'[k]} {i}",
                length=5,
            )
            for i in range(n)
            for k in range(3)
        ]
        await s.in_parallel(calls)

    async def talk(title: str) -> int:
        return await s.number("talks", title)

    async def review(i: int) -> InteractionReply:
        reply = await s.slash(s.organisers[i], "talk review", meetup=s.meetups[i])
        reviews[i] = reply
        return reply

    def decide(kind: str, title: str) -> Act:
        async def act(i: int) -> InteractionReply:
            talk_id = (await s.query("SELECT id FROM talks WHERE title = :t", t=f"{title} {i}"))[0][
                0
            ]
            custom_id = next(c for c in ids(reviews[i]) if c.startswith(f"talk:{kind}:{talk_id}:"))
            reply = await s.click(reviews[i], custom_id, s.organisers[i])
            s.replies[kind, i] = reply
            return reply

        return act

    async def decline_reason(i: int) -> InteractionReply:
        modal = s.replies["decline", i]
        field_id = modal_fields(modal)[0]
        return await s.standin.submit_modal(
            modal, s.organisers[i], {field_id: "Full this time"}, timeout=ANSWER_WAIT
        )

    async def review_page(i: int) -> InteractionReply:
        # A page button of an earlier /talk review (pages of five; this meetup fits one).
        custom_id = f"talk:review:{s.meetups[i]}:1:Next"
        return await s.click(
            forged(s.channels["organisers"].id, custom_id), custom_id, s.organisers[i]
        )

    async def next_talk(i: int) -> InteractionReply:
        reply = await s.slash(s.organisers[i], "talk next", meetup=s.meetups[i])
        if LINK.search(reply.content):
            timers[i] = linked_message(s.standin, reply)
        return reply

    async def edit(i: int) -> InteractionReply:
        number = await talk(f"Talk a {i}")
        return await s.slash(s.people[i], "talk edit", talk=number, summary="One demo")

    async def remove(i: int) -> InteractionReply:
        number = await talk(f"Talk c {i}")
        return await s.slash(s.organisers[i], "talk remove", talk=number, reason="Duplicate")

    async def withdraw(i: int) -> InteractionReply:
        number = await talk(f"Talk d {i}")
        return await s.slash(s.people[3 * n + i], "talk withdraw", talk=number)

    async def stop(i: int) -> InteractionReply:
        message = timers[i]
        return await s.click(message, ids(message)[0], s.organisers[i])

    return [
        Scenario(
            "/talk settings",
            lambda i: s.slash(
                s.organisers[i], "talk settings", meetup=s.meetups[i], approval="review", budget=120
            ),
            "Saved",
        ),
        Scenario(
            "/talk propose",
            lambda i: s.slash(
                s.people[i], "talk propose", meetup=s.meetups[i], title=f"Talk a {i}", length=5
            ),
            "Thanks!",
        ),
        Scenario("/talk mine", lambda i: s.slash(s.people[i], "talk mine"), "Talk a"),
        Scenario(
            "/talk list", lambda i: s.slash(s.people[i], "talk list", meetup=s.meetups[i]), "Talk a"
        ),
        Scenario("/talk edit", edit, "Updated", prepare=more_talks),
        Scenario("/talk review", review, "Talk a"),
        Scenario("Review page (button)", review_page, "Proposals to review"),
        Scenario("Accept talk (button)", decide("accept", "Talk a"), "Accepted"),
        Scenario("Decline talk (button)", decide("decline", "Talk b"), ""),
        Scenario("Decline reason (modal)", decline_reason, "Declined"),
        Scenario("/talk remove", remove, "Removed"),
        Scenario("/talk withdraw", withdraw, "Withdrawn"),
        Scenario(
            "/talk order",
            lambda i: s.slash(s.organisers[i], "talk order", meetup=s.meetups[i], mode="random"),
            "Running order saved",
        ),
        Scenario(
            "/talk lineup",
            lambda i: s.slash(s.organisers[i], "talk lineup", meetup=s.meetups[i]),
            "Posted the line-up",
        ),
        Scenario("/talk next", next_talk, "Timer started"),
        Scenario("Stop timer (button)", stop, "Timer stopped"),
        # Meetups here are a week away: this measures the check, not the posting.
        Scenario(
            "/talk archive, refused: not happened",
            lambda i: s.slash(s.organisers[i], "talk archive", meetup=s.meetups[i]),
            "hasn't happened yet",
        ),
    ]


def modal_fields(reply: InteractionReply) -> list[str]:
    assert reply.modal is not None, reply.describe()
    found: list[str] = []

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            if "custom_id" in node and node.get("type") in (3, 4):
                found.append(node["custom_id"])
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(reply.modal.get("components", []))
    return found


BASICS = {
    "name": "Ada",
    "role": "Network technician",
    "organisation": "Riverside College",
    "region": ["Wales"],
    "skills": "aruba switches, moodle, intune",
}


def member_scenarios(s: Server) -> list[Scenario]:
    n = s.samples

    async def intro(i: int) -> InteractionReply:
        reply = await s.slash(s.people[i], "intro")
        s.replies["intro", i] = reply
        return reply

    async def basics(i: int) -> InteractionReply:
        modal = s.replies["intro", i]
        values = {k: v for k, v in BASICS.items() if k in modal_fields(modal)}
        values["name"] = f"Member {i}"
        reply = await s.standin.submit_modal(modal, s.people[i], values, timeout=ANSWER_WAIT)
        s.replies["basics", i] = reply
        return reply

    async def proceed(i: int) -> InteractionReply:
        reply = await s.click(s.replies["basics", i], "intro:continue", s.people[i])
        s.replies["continue", i] = reply
        return reply

    async def more(i: int) -> InteractionReply:
        return await s.standin.submit_modal(
            s.replies["continue", i],
            s.people[i],
            {"happy_to_help": "Moodle upgrades", "looking_for": "Cloud print"},
            timeout=ANSWER_WAIT,
        )

    async def edit_button(i: int) -> InteractionReply:
        rows = await s.query(
            "SELECT message_id FROM introductions WHERE user_id = :u", u=s.people[i].id
        )
        message = s.standin.find_message(int(rows[0][0]))
        assert message is not None
        return await s.click(message, f"intro:edit:{s.people[i].id}", s.people[i])

    async def start_button(i: int) -> InteractionReply:
        welcome = forged(s.channels["introductions"].id, "intro:start")
        return await s.click(welcome, "intro:start", s.people[n + i])

    async def find(i: int) -> InteractionReply:
        reply = await s.slash(s.people[i], "members find", skill="moodle")
        s.replies["find", i] = reply
        return reply

    async def page(i: int) -> InteractionReply:
        found = s.replies["find", i]
        return await s.click(found, next(c for c in ids(found) if c.endswith("Next")), s.people[i])

    return [
        Scenario("/intro", intro, ""),
        Scenario("Introduction, step 1 (modal)", basics, "introduction is posted"),
        Scenario("Continue (button)", proceed, ""),
        Scenario("Introduction, step 2 (modal)", more, "All done"),
        Scenario("Edit introduction (button)", edit_button, ""),
        Scenario("Introduce yourself (button)", start_button, ""),
        Scenario("/members find", find, "Member"),
        # Pages of ten: needs more introductions than a --quick run makes.
        *([Scenario("Next page (button)", page, "Member")] if n > 10 else []),
        Scenario("/members skills", lambda i: s.slash(s.people[i], "members skills"), "moodle"),
        Scenario(
            "/members suggest", lambda i: s.slash(s.people[i], "members suggest"), "also works"
        ),
        Scenario(
            "/members profile",
            lambda i: s.slash(s.people[i], "members profile", user=s.people[0]),
            "Network technician",
        ),
        Scenario(
            "View introduction (user command)",
            lambda i: s.standin.user_command(
                s.guild, s.people[i], "View introduction", s.people[0], timeout=ANSWER_WAIT
            ),
            "Network technician",
        ),
    ]


def pairing_scenarios(s: Server) -> list[Scenario]:
    n = s.samples
    until = (datetime.now(UTC) + timedelta(days=20)).strftime("%Y-%m-%d")

    async def round_for_everyone() -> None:
        # One round for all who joined, so each has a pair to say they met.
        await s.slash(s.manager, "pairing run-now")
        for _ in range(600):
            [(joined,)] = await s.query("SELECT count(*) FROM pairing_members")
            [(paired,)] = await s.query("SELECT count(*) FROM pair_members")
            if paired >= joined:
                return
            await asyncio.sleep(0.1)
        raise TimeoutError(f"the pairing round paired {paired} of {joined}")

    async def met(i: int) -> InteractionReply:
        rows = await s.query(
            "SELECT pair_id FROM pair_members WHERE user_id = :u", u=s.people[i].id
        )
        custom_id = f"pair:met:{rows[0][0]}:yes"
        dm = s.standin.dm_channel(s.people[i].user)
        return await s.click(forged(dm.id, custom_id), custom_id, s.people[i])

    async def two_join() -> None:
        # Each organiser's round then pairs these two: one thread, not dozens.
        for who in s.people[4 * n : 4 * n + 2]:
            await s.slash(who, "pairing join")

    return [
        Scenario(
            "/pairing setup",
            lambda i: s.slash(s.organisers[i], "pairing setup", cadence="weekly"),
            "Pairing rounds run weekly",
        ),
        Scenario("/pairing join", lambda i: s.slash(s.people[i], "pairing join"), "You're in"),
        Scenario("/pairing stats", lambda i: s.slash(s.organisers[i], "pairing stats"), "Rounds"),
        Scenario("Did you meet? (button)", met, "thanks", prepare=round_for_everyone),
        Scenario(
            "/pairing snooze",
            lambda i: s.slash(s.people[i], "pairing snooze", until=until),
            "Snoozed",
        ),
        Scenario("/pairing leave", lambda i: s.slash(s.people[i], "pairing leave"), "Done"),
        Scenario(
            "/pairing run-now",
            lambda i: s.slash(s.organisers[i], "pairing run-now"),
            "is starting",
            prepare=two_join,
        ),
    ]


def closing_scenarios(s: Server) -> list[Scenario]:
    """Ones that take things away, and the server's settings, last."""
    n = s.samples

    async def cancel(i: int) -> InteractionReply:
        reply = await s.slash(s.organisers[i], "techmeet cancel", meetup=s.meetups[i])
        s.replies["cancel", i] = reply
        return reply

    async def confirm_cancel(i: int) -> InteractionReply:
        asked = s.replies["cancel", i]
        return await s.click(asked, ids(asked)[0], s.organisers[i])

    async def delete(i: int) -> InteractionReply:
        reply = await s.slash(s.people[2 * n + i], "privacy delete")
        s.replies["delete", i] = reply
        return reply

    async def erase(i: int) -> InteractionReply:
        asked = s.replies["delete", i]
        erase_id = next(c for c in ids(asked) if c.startswith("privacy:erase:"))
        return await s.click(asked, erase_id, s.people[2 * n + i])

    async def rate(i: int) -> InteractionReply:
        meetup_id = await s.meetup_id(s.meetups[i])
        custom_id = f"fb:{meetup_id}:4"
        thread = forged(s.channels["announcements"].id, custom_id)
        return await s.click(thread, custom_id, s.people[i])

    async def action_form(i: int) -> InteractionReply:
        meetup_id = await s.meetup_id(s.meetups[i])
        custom_id = f"fb:{meetup_id}:action"
        thread = forged(s.channels["announcements"].id, custom_id)
        return await s.click(thread, custom_id, s.people[i])

    def setup(command: str, **options: Any) -> Act:
        return lambda i: s.slash(s.organisers[i], f"setup {command}", **options)

    return [
        Scenario(
            "/members remove",
            lambda i: s.slash(s.organisers[i], "members remove", user=s.people[i], reason="Left"),
            "Removed",
        ),
        Scenario(
            "/privacy export",
            lambda i: s.slash(s.people[i], "privacy export"),
            "everything I store",
        ),
        Scenario("/privacy delete", delete, "erases everything"),
        Scenario("Erase everything (button)", erase, "erased"),
        # Meetups here are a week away: this measures the check, not the saving.
        Scenario("Feedback rating (button), refused: not started", rate, "opens once"),
        Scenario("One thing I'll do (button)", action_form, ""),
        Scenario("/techmeet cancel", cancel, "Cancel **TechMeet"),
        Scenario("Confirm cancel (button)", confirm_cancel, "cancelled"),
        Scenario("/setup show", setup("show"), "Timezone"),
        Scenario(
            "/setup channel",
            lambda i: s.slash(
                s.organisers[i],
                "setup channel",
                purpose="announcements",
                channel=s.channels["announcements"],
            ),
            "Done",
        ),
        Scenario(
            "/setup organiser-role",
            lambda i: s.slash(s.organisers[i], "setup organiser-role", role=s.role),
            "Done",
        ),
        Scenario(
            "/setup ping-role",
            lambda i: s.slash(s.organisers[i], "setup ping-role", role=s.role),
            "Done",
        ),
        Scenario("/setup timezone", setup("timezone", tz="Europe/London"), "Done"),
        Scenario("/setup reminders", setup("reminders", offsets="1d, 1h"), "Done"),
        Scenario("/setup topics max-per-member", setup("topics max-per-member", limit=5), "Done"),
        Scenario("/setup regions", setup("regions", regions="Wales, Scotland, North West"), "Done"),
        Scenario("/setup retention", setup("retention", days=30), "Done"),
    ]


# --- measuring ---------------------------------------------------------------------------------


@dataclass
class Timings:
    one: list[float]
    burst: list[float]
    interactions: list[int]  # of the one-at-a-time samples
    late: int  # answers past Discord's 3 s deadline ("This interaction failed")


# Samples whose answer came too late in some scenario: a later step of theirs (submitting
# the form that did not open) cannot run, and is counted as late too.
LATE_SAMPLES: set[int] = set()


async def measure(scenario: Scenario, samples: int) -> Timings:
    """Warm-ups, then ONE one at a time, then the rest at once (milliseconds)."""
    wrong: list[str] = []
    late: list[int] = []

    async def timed(i: int) -> tuple[float, InteractionReply] | None:
        start = perf_counter()
        try:
            reply = await scenario.act(i)
        except StandInError as error:
            if "did not acknowledge" not in str(error):
                raise
            late.append(i)
            LATE_SAMPLES.add(i)
            return None
        except Exception:
            if i not in LATE_SAMPLES:
                raise
            late.append(i)  # this member's earlier step was late, so this one cannot run
            return None
        elapsed = (perf_counter() - start) * 1000
        said = (reply.content or "") + json.dumps(reply.embeds)
        if QUICK and i == 0:
            print(f"    {reply.type} {said[:150]!r}", file=sys.stderr)
        if scenario.expect:
            expected = scenario.expect.lower() in said.lower()
        else:
            expected = reply.modal is not None
        if not expected:
            wrong.append(f"{scenario.name} #{i}: {reply.content[:200]!r}")
        return elapsed, reply

    if scenario.prepare is not None:
        await scenario.prepare()
    warm, one = min(WARM, samples), min(WARM + ONE, samples)
    for i in range(warm):
        await timed(i)
    sequential = [t for t in [await timed(i) for i in range(warm, one)] if t is not None]
    burst = [t for t in await asyncio.gather(*(timed(i) for i in range(one, samples))) if t]
    if wrong:
        UNEXPECTED.extend(wrong[:3])
    return Timings(
        one=[t for t, _ in sequential],
        burst=[t for t, _ in burst],
        interactions=[reply.interaction_id for _, reply in sequential],
        late=len(late),
    )


async def reference_run(samples: int) -> dict[str, tuple[list[float], list[float]]]:
    """The floor: a bare discord.py bot answering a slash command and a button."""
    standin = timing_standin(check_bodies=QUICK)
    await standin.start()
    guild = standin.add_guild("Reference")
    people = [guild.add_member(f"Member {i}") for i in range(samples)]
    bot = await spawn_reference(standin)
    try:
        await standin.wait_for_gateway_idle(timeout=60)
        await standin.wait_until(
            lambda: standin.registered_commands(guild) or None, 30, lambda: "reference command"
        )
        button = forged(guild.general.id, "ref:going")

        async def command(i: int) -> InteractionReply:
            return await standin.slash(guild, people[i], "ping", timeout=ANSWER_WAIT)

        async def click(i: int) -> InteractionReply:
            return await standin.click(button, "ref:going", people[i], timeout=ANSWER_WAIT)

        floors = {}
        for kind, act in (("command", command), ("button", click)):
            timings = await measure(Scenario(kind, act, "You're"), samples)
            floors[kind] = (timings.one, timings.burst)
        return floors
    finally:
        bot.terminate()
        await bot.wait()
        await standin.close()


async def techmeet_run(database_url: str, samples: int) -> dict[str, Result]:
    engine = create_engine(database_url)
    await upgrade(engine)
    await engine.dispose()
    standin = timing_standin(check_bodies=QUICK)
    await standin.start()
    server = Server(standin, database_url, samples)
    with tempfile.TemporaryDirectory() as folder:
        counts_file = Path(folder) / "counts.json"
        bot = await spawn(
            [sys.executable, "-m", "benchmarks.counting_bot", str(counts_file)],
            {
                "DISCORD_TOKEN": standin.token,
                "DATABASE_URL": database_url,
                "DISCORD_API_BASE_URL": standin.api_base,
                "DISCORD_GATEWAY_URL": standin.gateway_url,
                "LOG_LEVEL": "WARNING",
            },
            show_errors=QUICK,
        )
        timings: dict[str, Timings] = {}
        try:
            await standin.wait_for_gateway_idle(timeout=120)
            for purpose, channel in server.channels.items():
                await server.slash(
                    server.manager, "setup channel", purpose=purpose, channel=channel
                )
            await server.slash(server.manager, "setup regions", regions="Wales, Scotland")
            for group in (
                meetup_scenarios,
                suggestion_scenarios,
                topic_scenarios,
                talk_scenarios,
                member_scenarios,
                pairing_scenarios,
                closing_scenarios,
            ):
                for scenario in group(server):
                    began = perf_counter()
                    timings[scenario.name] = timed = await measure(scenario, samples)
                    print(
                        f"  {scenario.name}: {perf_counter() - began:.1f} s"
                        + (f", {timed.late} late" if timed.late else ""),
                        file=sys.stderr,
                        flush=True,
                    )
        finally:
            bot.terminate()
            await bot.wait()
            await server.engine.dispose()
            await standin.close()
        counts = {int(k): v for k, v in json.loads(counts_file.read_text()).items()}
    results = {}
    for name, timed in timings.items():
        statements = [counts.get(i, [0, 0])[0] for i in timed.interactions]
        transactions = [counts.get(i, [0, 0])[1] for i in timed.interactions]
        results[name] = Result(
            one=spread(timed.one),
            burst=spread(timed.burst),
            late=timed.late,
            statements=(round(statistics.median(statements)), max(statements)),
            transactions=round(statistics.median(transactions)),
        )
    return results


def kind(name: str) -> str:
    return "command" if name.startswith("/") else "button"


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument(
        "--postgres-url", default="postgresql+asyncpg://postgres@127.0.0.1:5432/test"
    )
    parser.add_argument("--quick", action="store_true", help="a few samples each, to try it")
    args = parser.parse_args()
    if args.quick:
        global WARM, ONE, BURST, QUICK
        WARM, ONE, BURST, QUICK = 1, 2, 3, True
    samples = WARM + ONE + BURST
    reference = await reference_run(samples)
    floor = {
        k: (percentiles(one)[1], percentiles(burst)[1]) for k, (one, burst) in reference.items()
    }
    runs: dict[str, dict[str, Result]] = {}
    with tempfile.TemporaryDirectory() as folder:
        print("SQLite", file=sys.stderr)
        runs["SQLite"] = await techmeet_run(f"sqlite+aiosqlite:///{folder}/bench.db", samples)
    url, drop = await fresh_postgres(args.postgres_url)
    try:
        print("PostgreSQL", file=sys.stderr)
        runs["PostgreSQL"] = await techmeet_run(url, samples)
    finally:
        await drop()

    if UNEXPECTED:
        sys.exit("unexpected answers, so no figures:\n" + "\n".join(UNEXPECTED))
    print("| reference bot | one at a time p50 / p99 ms | burst p50 / p99 ms |\n|---|---|---|")
    for name, (one, burst) in reference.items():
        (a, b), (c, d) = percentiles(one), percentiles(burst)
        print(f"| {name} | {a:.1f} / {b:.1f} | {c:.0f} / {d:.0f} |")
    for database, results in runs.items():
        print(
            f"\n**{database}**\n\n| interaction | one at a time p50 / p99 ms | p99 × ref "
            "| burst p50 / p99 ms | p99 × ref | late (> 3 s) | statements | transactions |\n"
            "|---|---|---|---|---|---|---|---|"
        )
        for name, r in results.items():
            one_floor, burst_floor = floor[kind(name)]
            most = f" (≤ {r.statements[1]})" if r.statements[1] != r.statements[0] else ""
            print(
                f"| {name} | {r.one[0]:.1f} / {r.one[1]:.1f} | {r.one[1] / one_floor:.1f}× "
                f"| {r.burst[0]:.0f} / {r.burst[1]:.0f} | {r.burst[1] / burst_floor:.1f}× "
                f"| {r.late or ''} | {r.statements[0]}{most} | {r.transactions} |"
            )


if __name__ == "__main__":
    asyncio.run(main())
