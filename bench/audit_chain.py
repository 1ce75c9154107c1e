"""The audit log's cost: one hash-chained row per request, and `duncall audit verify`.

    python bench/audit_chain.py [ROWS] [DATABASE_URL] [--unchained]

Writes ROWS audit rows (default 5,000), one transaction each as requests do, on a throw-away
SQLite file (or the PostgreSQL URL given, in a schema of its own), then verifies the chain.
Prints the per-row write time (p50, p95) and the verification rate. ``--unchained`` writes
without the chain's mapper event (the cost of a plain insert, for comparison).
"""

from __future__ import annotations

import datetime as dt
import statistics
import sys
import tempfile
import time
from pathlib import Path

from sqlalchemy.orm import Session

from dialer.store.audit_chain import verify
from dialer.store.testing import temporary_database
from duncall.console import audit


def main() -> None:
    args = [a for a in sys.argv[1:] if not a.startswith("--")]
    rows = int(args[0]) if args else 5000
    url = args[1] if len(args) > 1 else None
    chained = "--unchained" not in sys.argv
    if not chained:
        from sqlalchemy import event

        from dialer.store.models import console

        event.remove(console.AuditEntry, "before_insert", console._chain)
    t0 = dt.datetime(2026, 3, 2, 15, 0, tzinfo=dt.UTC)
    with tempfile.TemporaryDirectory() as tmp:
        kind = "postgres" if url else "sqlite"
        with temporary_database(kind, Path(tmp), url) as engine:
            took = []
            for i in range(rows):
                start = time.perf_counter()
                with Session(engine) as db, db.begin():
                    audit.record(db, t0 + dt.timedelta(seconds=i), "qa", "call_open", f"att-{i}", pii=False)
                took.append(time.perf_counter() - start)
            if not chained:
                took.sort()
                print(
                    f"{kind} unchained: p50 {statistics.median(took) * 1000:.2f} ms, p95 {took[int(len(took) * 0.95)] * 1000:.2f} ms"
                )
                return
            start = time.perf_counter()
            with Session(engine) as db:
                report = verify(db)
            verify_s = time.perf_counter() - start
    took.sort()
    print(
        f"{kind}: {rows} rows written, p50 {statistics.median(took) * 1000:.2f} ms, "
        f"p95 {took[int(len(took) * 0.95)] * 1000:.2f} ms per row; "
        f"verify: {report.line()} in {verify_s:.2f} s ({rows / verify_s:,.0f} rows/s)"
    )


if __name__ == "__main__":
    main()
