"""/members find with 10,000 introductions in one guild: how long the search takes.

    .venv/bin/python -m benchmarks.directory_search [--postgres-url URL]

Measures the service call behind the command (save the search, rank, count, first page of
10), on a database filled with 10,000 introductions of 3 to 12 skills each. The target
(issue 6): p99 <= 50 ms on SQLite.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import tempfile
from datetime import UTC, datetime
from time import perf_counter

from sqlalchemy import insert

from benchmarks.rsvp_latency import fresh_postgres, percentiles
from bot.domain.guild_settings import DEFAULT_REGIONS
from bot.domain.introductions import Criteria, search_key, search_text
from bot.domain.members import Actor
from bot.services.guild_settings import GuildSettingsService
from bot.services.introductions import IntroductionService
from bot.services.meetups import MeetupService
from db.engine import create_engine, create_sessions
from db.migrate import upgrade
from db.models import Introduction, IntroductionSkill

GUILD = 700_000_000_000_000_001
MEMBERS = 10_000
SEARCHES = 400
SKILLS = [
    "moodle", "intune", "aruba switches", "jamf", "python", "powershell", "sccm", "azure ad",
    "google workspace", "microsoft 365", "cisco meraki", "ubiquiti", "fortigate", "veeam",
    "hyper-v", "vmware", "linux", "active directory", "sharepoint", "teams", "papercut",
    "smoothwall", "lightspeed", "3cx", "eduroam", "radius", "wi-fi surveys", "cctv",
    "av systems", "interactive panels", "chromebooks", "ipads", "mdm", "sql server",
    "power bi", "canvas", "turnitin", "h5p", "camtasia", "accessibility",
]  # fmt: skip
ROLES = [
    "Network technician",
    "IT technician",
    "Learning technologist",
    "IT manager",
    "AV technician",
]
QUERIES = [
    {"skill": "moodle"},
    {"region": "South West"},
    {"skill": "intune", "region": "North West"},
    {"organisation": "college 12"},
    {"text": "print"},
    {"role": "learning", "skill": "h5p"},
    {"skill": "aruba", "region": "Wales", "text": "wi-fi"},
]


async def fill(database_url: str) -> None:
    rng = random.Random(6)
    engine = create_engine(database_url)
    await upgrade(engine)
    now = datetime.now(UTC)
    intros, skills = [], []
    for n in range(MEMBERS):
        tags = rng.sample(SKILLS, rng.randint(3, 12))
        name, role = f"Technician {n}", rng.choice(ROLES)
        organisation, region = f"College {n % 400}", rng.choice(DEFAULT_REGIONS)
        helps = f"Happy to help with {tags[0]} and {tags[1]}"
        looking = rng.choice(["cloud print", "backup testing", "eduroam certificates", None])
        intros.append(
            {
                "id": n + 1,
                "guild_id": GUILD,
                "user_id": 10_000_000 + n,
                "name": name,
                "role": role,
                "organisation": organisation,
                "region": region,
                "skills": tags,
                "happy_to_help": helps,
                "looking_for": looking,
                "role_key": search_key(role),
                "organisation_key": search_key(organisation),
                "region_key": search_key(region),
                "search_text": search_text(
                    name, role, organisation, region, ", ".join(tags), helps, looking
                ),
                "created_at": now,
                "updated_at": now,
            }
        )
        skills += [{"introduction_id": n + 1, "tag": t, "guild_id": GUILD} for t in tags]
    async with engine.begin() as connection:
        for start in range(0, MEMBERS, 1000):
            await connection.execute(insert(Introduction), intros[start : start + 1000])
        for start in range(0, len(skills), 5000):
            await connection.execute(insert(IntroductionSkill), skills[start : start + 5000])
    await engine.dispose()


async def run(database_url: str) -> dict[str, str]:
    await fill(database_url)
    engine = create_engine(database_url)
    sessions = create_sessions(engine)
    settings = GuildSettingsService(sessions, default_timezone="Europe/London")
    intros = IntroductionService(sessions, settings, MeetupService(sessions, settings))
    timings: list[float] = []
    found = 0
    try:
        for n in range(SEARCHES):
            criteria = Criteria.of(**QUERIES[n % len(QUERIES)])
            started = perf_counter()
            page = await intros.find(Actor(GUILD, 10_000_000 + n), criteria)
            timings.append((perf_counter() - started) * 1000)
            found += page.total
    finally:
        await engine.dispose()
    p50, p99 = percentiles(timings)
    return {
        "searches": str(SEARCHES),
        "find p50 / p99 ms": f"{p50:.1f} / {p99:.1f}",
        "mean matches per search": f"{found / SEARCHES:,.0f}",
    }


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument(
        "--postgres-url", default="postgresql+asyncpg://postgres@127.0.0.1:5432/test"
    )
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        results = {"SQLite": await run(f"sqlite+aiosqlite:///{folder}/bench.db")}
    url, drop = await fresh_postgres(args.postgres_url)
    try:
        results["PostgreSQL"] = await run(url)
    finally:
        await drop()
    for database, figures in results.items():
        print(database)
        for name, value in figures.items():
            print(f"  {name}: {value}")


if __name__ == "__main__":
    asyncio.run(main())
