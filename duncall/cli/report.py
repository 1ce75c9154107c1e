"""`duncall report`: each creditor's daily or weekly KPI report, as a PDF and a CSV.

report --period daily [--date 2026-03-01] [--creditor C] --out DIR

Without --date: yesterday (UTC), so a nightly timer reports the day just ended; a weekly
report covers the ISO week (Monday to Sunday) holding --date.  Without --creditor: every
creditor.  Files: DIR/<creditor>/<creditor>-<period>-<day or first_last>.pdf and .csv; a rerun
for the same period replaces them.  The numbers are those of
`duncall kpi --creditor C --from FIRST --to LAST --json`.

Scheduling is the system's (docs/kpi.md has the cron and systemd timer lines).
"""

from __future__ import annotations

import argparse
import datetime as dt
from pathlib import Path
from typing import Any

from foundation.errors import InputError

DB_HELP = "database URL (default: DUNCALL_DATABASE_URL, else sqlite under DUNCALL_HOME)"


def register(sub: Any) -> None:
    report = sub.add_parser(
        "report",
        help="each creditor's daily or weekly KPI report (PDF and CSV)",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    report.add_argument("--period", choices=("daily", "weekly"), default="daily")
    report.add_argument(
        "--date", default=None, help="a day of the period, YYYY-MM-DD (default: yesterday, UTC)"
    )
    report.add_argument("--creditor", default=None, help="only this creditor (default: every creditor)")
    report.add_argument("--out", type=Path, required=True, help="folder the reports are written under")
    report.add_argument("--db", default=None, help=DB_HELP)
    report.set_defaults(func=_report)


def _report(args: argparse.Namespace) -> int:
    from dialer.analytics.creditor_report import build, creditor_ids, write
    from dialer.store.db import open_engine

    now = dt.datetime.now(dt.UTC)
    if args.date is None:
        day = now.date() - dt.timedelta(days=1)
    else:
        try:
            day = dt.date.fromisoformat(args.date)
        except ValueError:
            raise InputError(f"--date {args.date!r} is not a date", "e.g. --date 2026-03-01") from None
    engine = open_engine(args.db)
    creditors = [args.creditor] if args.creditor else creditor_ids(engine)
    if not creditors:
        raise InputError("the store holds no creditor", "add one: duncall creditors add")
    for creditor in creditors:
        pdf, table = write(build(engine, creditor, args.period, day, today=now.date()), args.out, now)
        print(f"{creditor}: {pdf} {table}")
    return 0
