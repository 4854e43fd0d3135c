"""A burst of 1,000 votes on one agenda poll: vote handling time, and what the shared poll
message went through (how many edits, how far apart, how soon it showed the true tally).

    .venv/bin/python -m benchmarks.vote_burst [--postgres-url URL]

The bot runs as `techmeet run` in its own process against the Discord stand-in, which
limits message edits like Discord (5 per 5 s per channel) and counts any 429.
"""

from __future__ import annotations

import asyncio
import itertools
from datetime import UTC, datetime, timedelta
from time import perf_counter

from benchmarks.compare import on_both_databases
from benchmarks.rsvp_latency import (
    MANAGE,
    own_ballot,
    percentiles,
    start_techmeet,
    timing_standin,
)
from tests.standin import FakeMember, FakeMessage

VOTERS = 1000
SPREAD = 10.0  # seconds over which the votes arrive
TOPICS = ("Eduroam certificates", "Intune enrolment", "Backup testing")


def edit_times(message: FakeMessage) -> list[datetime]:
    stamps = [version.edited_timestamp for version in message.edits[1:]]
    stamps.append(message.edited_timestamp)
    return [datetime.fromisoformat(s) for s in stamps if s]


async def run(database_url: str) -> dict[str, str]:
    # Without its check of every body: at 100 ballots a second that check alone is more
    # than the harness can do, and it is the harness's time, not the bot's.
    standin = timing_standin()
    await standin.start()
    guild = standin.add_guild("TechMeet")
    manager = guild.add_member("Manager", permissions=MANAGE)
    channel = guild.add_text_channel("announcements")
    voters: list[FakeMember] = [guild.add_member(f"Voter {i}") for i in range(VOTERS)]
    bot = await start_techmeet(standin, database_url)
    try:
        await standin.slash(
            guild, manager, "setup channel", purpose="announcements", channel=channel
        )
        when = (datetime.now(UTC) + timedelta(days=7)).replace(microsecond=0).isoformat()
        await standin.slash(guild, manager, "techmeet create", title="Burst", when=when)
        for i, title in enumerate(TOPICS):
            await standin.slash(guild, voters[i], "topic suggest", title=title)
        opened = await standin.slash(guild, manager, "topic poll", meetup=1, votes=1, closes="2d")
        poll = standin.find_message(int(opened.content.rsplit("/", 1)[1].split()[0]))
        assert poll is not None
        # Discord's own limit on editing messages in one channel; the bot must stay under it.
        standin.rate_limit(rf"/channels/{poll.channel_id}/messages/\d+$", 5, 5.0)
        vote_id = poll.components[0]["components"][0]["custom_id"]
        poll_id = int(vote_id.split(":")[1])
        ballot = await standin.click(poll, vote_id, voters[0])
        options = [
            o for row in ballot.components for c in row["components"] for o in c.get("options", [])
        ]
        topic_ids = [int(o["value"]) for o in options]
        times: list[float] = []

        async def vote(i: int) -> None:
            topic = topic_ids[i % len(topic_ids)]
            ballot = own_ballot(poll.channel_id, f"ballot:{poll_id}:{topic}:add")
            start = perf_counter()
            answer = await standin.click(ballot, f"ballot:{poll_id}:{topic}:add", voters[i])
            times.append((perf_counter() - start) * 1000)
            assert answer.type == 7, answer.content

        burst_start = datetime.now(UTC)
        loop = asyncio.get_running_loop()
        begin = loop.time()
        votes = []
        for i in range(VOTERS):  # 1,000 members within 10 seconds, as the issue puts it
            votes.append(asyncio.create_task(vote(i)))
            # To a timetable rather than a fixed pause after each vote: a pause overshoots
            # while the stand-in is busy, and 1,000 of them stretched the burst to 17 s.
            await asyncio.sleep(max(0.0, begin + (i + 1) * SPREAD / VOTERS - loop.time()))
        await asyncio.gather(*votes)
        last_vote = datetime.now(UTC)

        def converged() -> bool | None:
            message = standin.find_message(poll.id)
            footer = message.embeds[0]["footer"]["text"] if message and message.embeds else ""
            return f"{VOTERS} members voted" in footer or None

        await standin.wait_until(converged, 30, lambda: "the poll's final tally")
        settled = datetime.now(UTC)
        edits = [t for t in edit_times(poll) if t >= burst_start]
        gaps = [(b - a).total_seconds() for a, b in itertools.pairwise(edits)]
        p50, p99 = percentiles(times)
        return {
            "vote p50 / p99 ms": f"{p50:.0f} / {p99:.0f}",
            "burst took": f"{(last_vote - burst_start).total_seconds():.1f} s",
            "poll edits during the burst": str(len(edits)),
            "shortest gap between edits": f"{min(gaps):.2f} s" if gaps else "n/a",
            "true tally shown, after the last vote": (
                f"{(settled - last_vote).total_seconds():.1f} s"
            ),
            "429s": str(standin.rate_limited),
        }
    finally:
        bot.terminate()
        await bot.wait()
        await standin.close()


if __name__ == "__main__":
    asyncio.run(on_both_databases(run))
