"""`duncall payments` and `duncall promises` subcommands.

payments import FILE     store payments from a .csv or .jsonl file (bad rows listed, good rows stored)
promises evaluate        judge every pending promise: kept, partially kept or broken (JSON lines)
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from duncall.cli.times import aware_time
from foundation import paths
from foundation.errors import InputError

DEFAULT_STRATEGY = paths.strategies_dir() / "default.yaml"
DB_HELP = "database URL (default: DUNCALL_DATABASE_URL, else sqlite under DUNCALL_HOME)"


def register(sub: Any) -> None:
    payments = sub.add_parser("payments", help="payments received from debtors")
    pay_sub = payments.add_subparsers(dest="payments_command", metavar="ACTION", required=True)
    imp = pay_sub.add_parser(
        "import",
        help="import payments from .csv or .jsonl (payment_id, account_id, amount, currency, "
        "paid_at with its UTC offset)",
    )
    imp.add_argument("file", type=Path)
    imp.add_argument("--db", default=None, help=DB_HELP)
    imp.set_defaults(func=_import)

    promises = sub.add_parser("promises", help="promises to pay taken on calls")
    pro_sub = promises.add_subparsers(dest="promises_command", metavar="ACTION", required=True)
    ev = pro_sub.add_parser(
        "evaluate", help="judge pending promises in each debtor's time zone; one JSON line per change"
    )
    ev.add_argument("--at", default=None, help="ISO time with offset to judge at (default: now)")
    ev.add_argument(
        "--strategy",
        type=Path,
        default=DEFAULT_STRATEGY,
        help="strategy YAML whose promise_grace_days applies (default: default.yaml)",
    )
    ev.add_argument("--db", default=None, help=DB_HELP)
    ev.set_defaults(func=_evaluate)


def _import(args: argparse.Namespace) -> int:
    from dialer.payments.importer import import_payments
    from dialer.store.db import open_engine

    path: Path = args.file
    if not path.is_file():
        raise InputError(f"{path}: no such file", "give the path of a .csv or .jsonl payment file")
    summary = import_payments(open_engine(args.db), path)
    for reject in summary.rejects:
        print(f"rejected {reject.one_line()}", file=sys.stderr)
    print(summary.one_line())
    return 1 if summary.rejected else 0


def _evaluate(args: argparse.Namespace) -> int:
    from dialer.payments.evaluate import evaluate_promises
    from dialer.store.db import open_engine
    from dialer.strategy.config import load_strategy

    now = aware_time(args.at, "--at")
    strategy = load_strategy(args.strategy)
    result = evaluate_promises(open_engine(args.db), grace_days=strategy.promise_grace_days, now=now)
    for change in result.changes:
        print(json.dumps(change.as_json()))
    for note in result.notes():
        print(note, file=sys.stderr)
    return 0
