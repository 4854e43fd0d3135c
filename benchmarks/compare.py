"""Run one benchmark on SQLite and on a fresh PostgreSQL database, and print the figures
side by side as a Markdown table (as benchmarks/RESULTS.md has them)."""

from __future__ import annotations

import argparse
import tempfile
from collections.abc import Awaitable, Callable

from benchmarks.rsvp_latency import fresh_postgres

Run = Callable[[str], Awaitable[dict[str, str]]]


async def on_both_databases(run: Run) -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument(
        "--postgres-url", default="postgresql+asyncpg://postgres@127.0.0.1:5432/test"
    )
    args = parser.parse_args()
    results = {}
    with tempfile.TemporaryDirectory() as folder:
        results["SQLite"] = await run(f"sqlite+aiosqlite:///{folder}/benchmark.db")
    url, drop = await fresh_postgres(args.postgres_url)
    try:
        results["PostgreSQL"] = await run(url)
    finally:
        await drop()
    print("| | " + " | ".join(results) + " |\n|---|" + "---|" * len(results))
    for key in next(iter(results.values())):
        print(f"| {key} | " + " | ".join(r[key] for r in results.values()) + " |")
