"""KPI benchmark: a year of simulated collection work in PostgreSQL, and how long each of the
dashboard's queries takes on it (goal: under 1 s each).

    .venv/bin/python bench/kpi.py                       # 45,000 accounts ≈ 1,000,000 attempts
    .venv/bin/python bench/kpi.py --accounts 4500 --copies 10   # the same size, simulated once, copied
    .venv/bin/python bench/kpi.py --accounts 5000       # a quick look
    .venv/bin/python bench/kpi.py --keep                # leave the schema for the next run (it is reused)

The portfolio goes into its own schema (``kpi_bench_<accounts>``) of the PostgreSQL database at
``--postgres``; without ``--keep`` it is dropped afterwards.  Each query is one dashboard cut over
the whole year (every row in range, the worst case), run once cold and then ``--runs`` times.
"""

from __future__ import annotations

import argparse
import datetime as dt
import statistics
import time

from sqlalchemy import Engine, create_engine, func, select, text

from dialer.analytics.load import load_portfolio
from dialer.analytics.portfolio import simulate
from dialer.analytics.queries import KpiQuery, connect, rebuild_rollup
from dialer.analytics.report import kpi_report
from dialer.store.db import open_engine
from dialer.store.models import CallAttempt

CUTS = (
    ("headline tiles + funnel (no cut)", ()),
    ("trend (by local day)", ("day",)),
    ("heat map (local weekday × hour)", ("weekday", "hour")),
    ("per script and version", ("script", "script_version")),
    ("by campaign", ("campaign",)),
    ("by creditor", ("creditor",)),
    ("by local week", ("week",)),
    ("by channel", ("channel",)),
    ("by collector (raw facts)", ("collector",)),
)


# What to rename in each table's copy: the key columns get a suffix, promise ids an offset.
COPIED = (
    ("accounts", ("account_id",), ()),
    ("call_attempts", ("attempt_id", "account_id"), ()),
    ("call_records", ("attempt_id",), ()),
    ("promises", ("account_id", "attempt_id"), ("promise_id",)),
    ("payments", ("payment_id", "account_id"), ("promise_id",)),
    ("attempt_facts", ("attempt_id", "account_id"), ()),
)


def copy_portfolio(engine: Engine, suffix: str, k: int) -> None:
    """One more copy of the SIM- portfolio with ids ending in ``suffix`` (and promise ids moved up)."""
    from sqlalchemy import inspect

    inspector = inspect(engine)
    with engine.begin() as conn:
        offset = conn.execute(
            text("SELECT max(promise_id) FROM promises WHERE account_id NOT LIKE '%-c%'")
        ).scalar_one()
        for table, suffixed, shifted in COPIED:
            names = [c["name"] for c in inspector.get_columns(table)]
            exprs = [
                f"{n} || '{suffix}'"
                if n in suffixed
                else f"{n} + {k * offset}"
                if n in shifted
                else "1"  # marked: the rollup is rebuilt from every fact after the copies
                if n == "rolled"
                else n
                for n in names
            ]
            key = "account_id" if "account_id" in names else "attempt_id"
            where = f"{key} LIKE 'SIM-%' AND {key} NOT LIKE '%-c%'"
            conn.execute(
                text(
                    f"INSERT INTO {table} ({', '.join(names)}) SELECT {', '.join(exprs)} FROM {table} WHERE {where}"
                )
            )
        conn.execute(
            text(
                "SELECT setval(pg_get_serial_sequence('promises', 'promise_id'), (SELECT max(promise_id) FROM promises))"
            )
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--accounts", type=int, default=45_000)
    parser.add_argument("--postgres", default="postgresql+psycopg://postgres@127.0.0.1:5432/test")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--keep", action="store_true")
    parser.add_argument(
        "--copies",
        type=int,
        default=1,
        help="load the simulated portfolio this many times under new ids (copied inside PostgreSQL: "
        "a loaded 2-core machine simulates 45,000 accounts in Python too slowly)",
    )
    args = parser.parse_args()
    schema = f"kpi_bench_{args.accounts}x{args.copies}"
    admin = create_engine(args.postgres)
    with admin.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA IF NOT EXISTS "{schema}"'))
    engine = open_engine(args.postgres, schema=schema)
    start = dt.date(2026, 1, 1)
    try:
        with engine.connect() as conn:
            have = conn.execute(select(func.count()).select_from(CallAttempt)).scalar_one()
        if have == 0:
            t0 = time.perf_counter()
            portfolio = simulate(args.accounts, start=start, days=365, seed=1)
            t1 = time.perf_counter()
            counts = load_portfolio(engine, portfolio, now=dt.datetime.now(dt.UTC))
            for k in range(1, args.copies):
                copy_portfolio(engine, f"-c{k}", k)
            with connect(engine) as conn, conn.begin():
                rebuild_rollup(conn)  # the copies' facts in the rollup, before any query is timed
            t2 = time.perf_counter()
            with engine.connect() as conn:
                conn.execution_options(isolation_level="AUTOCOMMIT").execute(text("ANALYZE"))
            print(f"simulated in {t1 - t0:.1f} s, loaded in {t2 - t1:.1f} s: {counts}")
            del portfolio
        else:
            print(f"reusing schema {schema}: {have} attempts")
        for label, by in CUTS:
            query = KpiQuery(start, dt.date(2026, 12, 31), by)
            t0 = time.perf_counter()
            report = kpi_report(engine, query)
            cold = time.perf_counter() - t0
            times = []
            for _ in range(args.runs):
                t0 = time.perf_counter()
                kpi_report(engine, query)
                times.append(time.perf_counter() - t0)
            total = report.total()
            print(
                f"{label:36s} rows={len(report.counts.rows):4d} cold={cold:.3f}s "
                f"median={statistics.median(times):.3f}s max={max(times):.3f}s "
                f"(dialled={total['dialled']} contact={total['contact_rate']:.3f})"
            )
    finally:
        engine.dispose()
        if not args.keep:
            with admin.begin() as conn:
                conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


if __name__ == "__main__":
    main()
