"""Every benchmark, one after another: `.venv/bin/python -m benchmarks [--postgres-url URL]`.

Each runs in its own process (as it would alone), so one's bot, stand-in and memory do not
colour the next's figures. Takes about 30 minutes on the 2-core development machine.
"""

from __future__ import annotations

import subprocess
import sys

BENCHMARKS = (
    "rsvp_latency",
    "command_latency",
    "vote_burst",
    "reminder_fanout",
    "startup",
    "directory_search",
)


def main() -> int:
    failed = []
    for name in BENCHMARKS:
        print(f"\n## benchmarks.{name}\n", flush=True)
        # check=False: a failed benchmark is reported, and the others still run.
        command = [sys.executable, "-m", f"benchmarks.{name}", *sys.argv[1:]]
        done = subprocess.run(command, check=False)
        if done.returncode != 0:
            failed.append(name)
    if failed:
        print(f"\nfailed: {', '.join(failed)}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
