"""`duncall kpi`: collection KPIs over a period, cut as asked; `duncall simulate`: a demo portfolio.

kpi --from 2026-03-01 --to 2026-03-31 --by campaign,day [--json | --csv]
kpi --from 2026-03-01 --to 2026-03-31 --rolls [--creditor C] [--json | --csv]

--rolls: roll rates between DPD buckets (the accounts' bucket on --from against their bucket on
--to, buckets from the assignment rules) and the cure rate.  Cost per unit collected prices
line minutes, messages and letters at DUNCALL_COST_PER_MINUTE, _MESSAGE and _LETTER.

Periods are the debtor's local days; hour and weekday cuts are the debtor's local time too.
Each metric's numerator and denominator: ``dialer.analytics.metrics`` (and ``--json``'s
``definitions``).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import sys
from pathlib import Path
from typing import Any

from foundation.errors import InputError

DB_HELP = "database URL (default: DUNCALL_DATABASE_URL, else sqlite under DUNCALL_HOME)"


def register(sub: Any) -> None:
    from dialer.analytics.metrics import DIMENSIONS

    kpi = sub.add_parser(
        "kpi",
        help="collection KPIs (contact, RPC, PTP, kept, collected, recovery, abandonment, handle time)",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    kpi.add_argument("--from", dest="first", required=True, help="first local day, YYYY-MM-DD")
    kpi.add_argument("--to", dest="last", required=True, help="last local day (inclusive), YYYY-MM-DD")
    kpi.add_argument("--by", default="", help=f"comma-separated cuts: {', '.join(DIMENSIONS)}")
    kpi.add_argument("--campaign", default=None, help="only this campaign's attempts")
    kpi.add_argument("--creditor", default=None, help="only this creditor's accounts")
    kpi.add_argument("--stage", default=None, help="only attempts in this stage")
    kpi.add_argument(
        "--script", default=None, help="only attempts with this script, e.g. early_collection.en"
    )
    out = kpi.add_mutually_exclusive_group()
    out.add_argument("--json", action="store_true", help="one JSON document with rows, total and definitions")
    out.add_argument("--csv", action="store_true", help="CSV, one line per cut")
    kpi.add_argument(
        "--recount",
        action="store_true",
        help="look at every stored call again, not only those ended since the last count (after a repair)",
    )
    kpi.add_argument(
        "--rolls", action="store_true", help="the roll-rate matrix between DPD buckets and the cure rate"
    )
    kpi.add_argument(
        "--rules",
        type=Path,
        default=None,
        help="assignment rules whose buckets --rolls uses (default: shipped)",
    )
    kpi.add_argument("--db", default=None, help=DB_HELP)
    kpi.set_defaults(func=_kpi)

    sim = sub.add_parser(
        "simulate",
        help="write a simulated portfolio (accounts, calls, promises, payments) into the store for demos",
        description="A year of SIM- accounts with a known behaviour model (dialer.analytics.portfolio).",
    )
    sim.add_argument("--accounts", type=int, default=2_000, help="accounts placed (default 2000)")
    sim.add_argument("--start", default="2026-01-01", help="first placement day, YYYY-MM-DD")
    sim.add_argument("--days", type=int, default=365, help="days placements and calls run over (default 365)")
    sim.add_argument("--seed", type=int, default=1, help="the same seed makes the same portfolio")
    sim.add_argument(
        "--truth", type=Path, default=None, help="write each account's true propensity here (CSV)"
    )
    sim.add_argument(
        "--compare-strategies",
        metavar="SEEDS",
        default=None,
        help="instead: play the default and the score-driven strategy on a book per seed "
        "(e.g. 1,2,3,4,5) where paying depends on being reached; print amount collected per attempt",
    )
    sim.add_argument("--capacity", type=int, default=None, help="with --compare-strategies: dials a day")
    sim.add_argument("--db", default=None, help=DB_HELP)
    sim.set_defaults(func=_simulate)


def _day(text: str, option: str) -> dt.date:
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise InputError(f"{option} {text!r} is not a date", f"e.g. {option} 2026-03-01") from None


def _kpi(args: argparse.Namespace) -> int:
    from dialer.analytics.metrics import parse_dimensions
    from dialer.analytics.queries import KpiQuery
    from dialer.analytics.report import kpi_report
    from dialer.store.db import open_engine

    try:
        by = parse_dimensions(args.by)
    except ValueError as exc:
        raise InputError(f"--by: {exc}", "e.g. --by campaign,day") from None
    query = KpiQuery(
        _day(args.first, "--from"),
        _day(args.last, "--to"),
        by,
        campaign=args.campaign,
        creditor=args.creditor,
        stage=args.stage,
        script=args.script,
    )
    engine = open_engine(args.db)
    if args.rolls:
        return _rolls(args, engine, query)
    if args.recount:
        from dialer.analytics.queries import connect, refresh_facts

        with connect(engine) as conn, conn.begin():
            refresh_facts(conn, full=True)
    report = kpi_report(engine, query)
    if args.json:
        print(json.dumps(report.as_json(), indent=2))
    elif args.csv:
        sys.stdout.write(report.csv())
    else:
        _print_table(report.rows(), report.total(), by)
    return 0


def _rolls(args: argparse.Namespace, engine: Any, query: Any) -> int:
    from dialer.analytics.report import roll_report

    buckets = None
    if args.rules is not None:
        from dialer.assignment.config import load_rules

        buckets = load_rules(args.rules).buckets
    matrix = roll_report(
        engine, query.first, query.last, today=dt.date.today(), creditor=args.creditor, buckets=buckets
    )
    doc = matrix.as_json()
    if args.json:
        print(json.dumps(doc, indent=2))
        return 0
    columns = list(matrix.columns)
    if args.csv:
        print(",".join(["from_bucket", "accounts", *columns]))
        for b in matrix.buckets:
            rates = [f"{r:.6g}" if (r := matrix.rate(b, c)) is not None else "" for c in columns]
            print(",".join([b, str(matrix.from_bucket(b)), *rates]))
        return 0
    cells = [["from \\ to", "accounts", *columns]]
    for b in matrix.buckets:
        cells.append([b, str(matrix.from_bucket(b)), *(_fmt("x_rate", matrix.rate(b, c)) for c in columns)])
    widths = [max(len(row[i]) for row in cells) for i in range(len(cells[0]))]
    for row in cells:
        print("  ".join(v.rjust(w) for v, w in zip(row, widths, strict=True)))
    print(
        f"cure rate {_fmt('x_rate', matrix.cure_rate)} ({matrix.cured} of {matrix.delinquent} delinquent on {query.first})"
    )
    return 0


def _simulate(args: argparse.Namespace) -> int:
    from sqlalchemy import exists, select

    from dialer.analytics.load import load_portfolio, truth_csv
    from dialer.analytics.portfolio import simulate
    from dialer.store.db import open_engine
    from dialer.store.models import Account

    if not 1 <= args.accounts <= 1_000_000:
        raise InputError(f"--accounts {args.accounts} is out of range", "give 1 to 1000000")
    if args.compare_strategies is not None:
        return _compare(args)
    if not 1 <= args.days <= 3 * 366:
        raise InputError(f"--days {args.days} is out of range", "give 1 to 1098")
    engine = open_engine(args.db)
    with engine.connect() as conn:
        if conn.execute(select(exists().where(Account.account_id.like("SIM-%")))).scalar():
            raise InputError(
                "the store already holds a simulated portfolio (SIM- accounts)",
                "simulate into a fresh database (--db sqlite:///sim.db)",
            )
    portfolio = simulate(args.accounts, start=_day(args.start, "--start"), days=args.days, seed=args.seed)
    counts = load_portfolio(engine, portfolio, now=dt.datetime.now(dt.UTC))
    if args.truth is not None:
        truth_csv(portfolio, args.truth)
    print(" ".join(f"{k}={v}" for k, v in counts.items()))
    return 0


def _compare(args: argparse.Namespace) -> int:
    from dialer.analytics.strategy_sim import compare

    try:
        seeds = [int(s) for s in args.compare_strategies.split(",") if s.strip()]
    except ValueError:
        raise InputError(
            f"--compare-strategies {args.compare_strategies!r} is not seeds", "e.g. 1,2,3"
        ) from None
    if not seeds or args.accounts > 50_000:
        raise InputError(
            "give seeds and at most 50000 accounts", "e.g. --compare-strategies 1,2,3 --accounts 2000"
        )
    capacity = args.capacity or max(1, args.accounts * 3 // 20)  # 15 % of the book a day
    print("seed  strategy  attempts  right_party  payers  collected  per_attempt")
    lifts = []
    for default, scored in compare(seeds, accounts=args.accounts, capacity=capacity):
        for o in (default, scored):
            print(
                f"{o.seed:4d}  {o.strategy:8s}  {o.attempts:8d}  {o.right_party:11d}  {o.payers:6d}  "
                f"{o.collected:9.2f}  {o.per_attempt:11.2f}"
            )
        lifts.append(scored.per_attempt / default.per_attempt - 1 if default.per_attempt else 0.0)
    wins = sum(lift > 0 for lift in lifts)
    print(
        f"score-driven beats default per attempt in {wins} of {len(seeds)} seeds; mean lift {100 * sum(lifts) / len(lifts):+.1f}%"
    )
    return 0


def _fmt(name: str, value: Any) -> str:
    if value is None:
        return "-"
    if name.endswith("_rate") or name.startswith("abandon_"):
        return f"{100 * value:.1f}%"
    if name == "average_handle_s":
        return f"{value:.0f}s"
    if name == "cost_per_collected":
        return f"{value:.3f}"
    return str(value)


TABLE = (
    "dialled",
    "answered",
    "right_party",
    "promises",
    "collected",
    "messages",
    "letters",
    "contact_rate",
    "rpc_rate",
    "ptp_rate",
    "ptp_kept_rate",
    "recovery_rate",
    "abandon_rate",
    "abandon_30d",
    "abandon_24h",
    "average_handle_s",
    "cost_per_collected",
)


def _print_table(rows: list[dict[str, Any]], total: dict[str, Any], by: tuple[str, ...]) -> None:
    columns = [*by, *TABLE]
    cells = [
        [str(r[d]) if r[d] is not None else "-" for d in by] + [_fmt(c, r[c]) for c in TABLE] for r in rows
    ]
    cells.append(["all"] * len(by) + [_fmt(c, total[c]) for c in TABLE])
    widths = [max(len(c), *(len(row[i]) for row in cells)) for i, c in enumerate(columns)]
    print("  ".join(c.rjust(w) for c, w in zip(columns, widths, strict=True)))
    for row in cells:
        print("  ".join(v.rjust(w) for v, w in zip(row, widths, strict=True)))
