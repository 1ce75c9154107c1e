"""`duncall bot serve` — a bot worker: carries the answered calls of dialers run with DUNCALL_BOT=remote."""

from __future__ import annotations

import argparse
import asyncio
from typing import Any

DEFAULT_CALLS = 8


def register(sub: Any) -> None:
    p: argparse.ArgumentParser = sub.add_parser("bot", help="the bot as a service of its own")
    bsub = p.add_subparsers(dest="action", required=True)
    s = bsub.add_parser(
        "serve",
        help="take answered calls from the dialers (DUNCALL_BOT=remote) and talk on them, until stopped",
    )
    s.add_argument("--calls", type=int, default=DEFAULT_CALLS, help="calls this worker carries at once")
    s.add_argument(
        "--name", default=None, help="this worker's name, unique among the workers (default host-pid)"
    )
    s.add_argument("--db", default=None, help="database URL (default: DUNCALL_DATABASE_URL or the home file)")
    s.set_defaults(func=_serve)


def _serve(args: argparse.Namespace) -> int:
    from duncall.botservice.worker import default_name, serve

    def say(line: str) -> None:
        print(line, flush=True)  # a container's log, or a pipe, sees each line as it is said

    asyncio.run(serve(name=args.name or default_name(), calls=args.calls, db_url=args.db, say=say))
    return 0
