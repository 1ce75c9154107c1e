"""`duncall strategy ladder`: run the strategy's contact ladder for today.

For each account, the step due today (SMS, e-mail, letter, or "due for the dialer"), each
message decided by the message guard as any other; ``--dry-run`` prints what would happen
and why, writing nothing.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
from pathlib import Path
from typing import Any

from foundation.errors import ConfigError, InputError

DB_HELP = "database URL (default: DUNCALL_DATABASE_URL, else sqlite under DUNCALL_HOME)"


def register(st_sub: Any, default_strategy: Path) -> None:
    p = st_sub.add_parser(
        "ladder", help="run the contact ladder for today: each account's due step, through the guards"
    )
    p.add_argument("--strategy", type=Path, default=default_strategy, help="strategy YAML with a ladder")
    pick = p.add_mutually_exclusive_group()
    pick.add_argument("--account", action="append", default=None, help="an account id (repeatable)")
    pick.add_argument("--creditor", default=None, help="every account of this creditor (default: all)")
    p.add_argument("--rules", default="default", help="guard rules: a preset name or a YAML file")
    p.add_argument("--dry-run", action="store_true", help="print what would happen and why; write nothing")
    p.add_argument("--now", default=None, help="with --dry-run: ISO time with offset to decide at")
    p.add_argument("--letters-out", type=Path, default=None, help="the print vendor's upload folder")
    p.add_argument("--collector-name", default=None, help="who signs the letters")
    p.add_argument(
        "--collector-address", default=None, help="the collector's address, lines separated by ';'"
    )
    p.add_argument("--collector-phone", default="", help="the collector's phone for the 催收函")
    p.add_argument("--db", default=None, help=DB_HELP)
    p.set_defaults(func=_ladder)


def _ladder(args: argparse.Namespace) -> int:
    from sqlalchemy import select
    from sqlalchemy.orm import Session

    from dialer.messaging.steps import LadderRunner, LetterDesk
    from dialer.store.db import open_engine
    from dialer.store.models import Account
    from dialer.strategy.config import load_strategy
    from duncall.cli.times import aware_time
    from duncall.compose import parts
    from duncall.compose.messaging import messenger

    if args.now is not None and not args.dry_run:
        raise InputError("--now is for --dry-run only", "a real run sends at the current time")
    strategy = load_strategy(args.strategy)
    if strategy.ladder is None:
        raise ConfigError(
            f"{args.strategy} has no ladder", "add a ladder: section (see strategies/default.yaml)"
        )
    now = aware_time(args.now, "--now") if args.now else dt.datetime.now(dt.UTC)
    desk = None
    if args.letters_out is not None:
        if not args.collector_name or not args.collector_address:
            raise InputError("--letters-out needs --collector-name and --collector-address", "give both")
        desk = LetterDesk(
            out=args.letters_out,
            collector_name=args.collector_name,
            collector_address="\n".join(p.strip() for p in args.collector_address.split(";") if p.strip()),
            collector_phone=args.collector_phone,
        )
    engine = open_engine(args.db)
    with Session(engine) as db:
        if args.account:
            accounts = list(dict.fromkeys(args.account))
            known = set(db.scalars(select(Account.account_id).where(Account.account_id.in_(accounts))))
            missing = [a for a in accounts if a not in known]
            if missing:
                raise InputError(
                    f"no account {', '.join(missing)}", "check the ids with `duncall accounts show`"
                )
        else:
            query = select(Account.account_id).order_by(Account.account_id)
            if args.creditor:
                query = query.where(Account.creditor_id == args.creditor)
            accounts = list(db.scalars(query))

    def clock() -> dt.datetime:
        return now if args.now else dt.datetime.now(dt.UTC)

    run = messenger(engine, parts.guard_rules(args.rules), clock=clock)
    runner = LadderRunner(engine, strategy.ladder, run, letters=desk, clock=clock)
    outcomes = asyncio.run(runner.run(accounts, dry_run=args.dry_run))
    for outcome in outcomes:
        print(outcome.line())
    counts: dict[str, int] = {}
    for outcome in outcomes:
        counts[outcome.outcome] = counts.get(outcome.outcome, 0) + 1
    summary = ", ".join(f"{n} {word}" for word, n in sorted(counts.items()))
    print(f"{'dry run: ' if args.dry_run else ''}{len(outcomes)} accounts: {summary or 'none'}")
    return 0
