"""`duncall inbound serve` — answer debtors calling back the callback number with the bot."""

from __future__ import annotations

import argparse
import asyncio
from typing import Any


def register(sub: Any) -> None:
    p: argparse.ArgumentParser = sub.add_parser("inbound", help="debtors calling back: answered by the bot")
    isub = p.add_subparsers(dest="action", required=True)
    s = isub.add_parser(
        "serve",
        help="answer calls the dialplan context duncall-inbound sends to the Stasis app, until stopped",
    )
    s.add_argument("--db", default=None, help="database URL (default: DUNCALL_DATABASE_URL or the home file)")
    s.add_argument("--script", default="early_collection", help="the script a verified caller hears")
    s.add_argument(
        "--max-calls", type=int, default=30, help="inbound calls at once; one more hears congestion"
    )
    s.add_argument(
        "--app",
        default="duncall-inbound",
        help="the Stasis app to answer in (the dialplan's default; not the dialer's own app)",
    )
    s.set_defaults(func=_serve)


def _serve(args: argparse.Namespace) -> int:
    from duncall.inbound import serve
    from foundation.errors import InputError

    if args.max_calls < 1:
        raise InputError(f"--max-calls {args.max_calls} is below 1", "allow at least one call")
    asyncio.run(serve(db_url=args.db, script=args.script, max_calls=args.max_calls, app=args.app))
    return 0
