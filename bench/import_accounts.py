"""Import benchmark: generate an account CSV, import it into SQLite, print wall time and peak RSS.

    .venv/bin/python bench/import_accounts.py              # 1,000,000 rows (target ≤ 2 min, ≤ 500 MB)
    .venv/bin/python bench/import_accounts.py --rows 50000
    .venv/bin/python bench/import_accounts.py --rows 50000 --postgres postgresql+psycopg://postgres@127.0.0.1/test

The file and database go to a temporary directory that is deleted afterwards.
About 0.5% of rows are deliberately bad, so the reject path is measured too.
"""

from __future__ import annotations

import argparse
import csv
import random
import resource
import sys
import tempfile
import time
from pathlib import Path

from dialer.accounts.importer import DEFAULT_BATCH_SIZE, import_file
from dialer.accounts.sources import CSV_COLUMNS
from dialer.store.testing import temporary_database

AREA_CODES = ("212", "312", "415", "646", "305", "202", "617", "713")
ZONES = ("America/New_York", "America/Chicago", "America/Los_Angeles", "")
BAD_EVERY = 200


def generate(path: Path, rows: int, seed: int = 7) -> None:
    rng = random.Random(seed)
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(CSV_COLUMNS)
        for i in range(rows):
            phones = [
                f"+1{rng.choice(AREA_CODES)}{rng.randrange(2_000_000, 9_999_999)}:mobile:yes:2024-01-15"
            ]
            if i % 2:
                phones.append(f"+1{rng.choice(AREA_CODES)}{rng.randrange(2_000_000, 9_999_999)}:home:no")
            balance = f"{rng.randrange(1_000, 2_000_000) / 100:.2f}"
            if i % BAD_EVERY == BAD_EVERY - 1:
                balance = "-1.00"
            writer.writerow(
                [
                    f"ACC{i:08d}",
                    f"First{i}",
                    f"Last{i}",
                    ";".join(phones),
                    rng.choice(ZONES),
                    "en",
                    balance,
                    "USD",
                    f"2026-{rng.randrange(1, 13):02d}-{rng.randrange(1, 29):02d}",
                    "",
                    "credit_card",
                    rng.choice(("low", "medium", "high")),
                    "",
                    "2026-01-05=50.00",
                ]
            )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--batch-size", type=int, default=DEFAULT_BATCH_SIZE)
    parser.add_argument("--workers", type=int, default=None, help="validation processes (default: auto)")
    parser.add_argument(
        "--postgres", default=None, help="import into a throw-away schema of this database instead"
    )
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="duncall-bench-") as tmp:
        path = Path(tmp) / "accounts.csv"
        start = time.perf_counter()
        generate(path, args.rows)
        gen_s = time.perf_counter() - start
        size_mb = path.stat().st_size / 1e6
        kind = "postgres" if args.postgres else "sqlite"
        with temporary_database(kind, Path(tmp), args.postgres) as engine:
            rss_before_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
            start = time.perf_counter()
            summary = import_file(engine, path, batch_size=args.batch_size, workers=args.workers)
            import_s = time.perf_counter() - start
            peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"database       {kind}")
    print(f"rows           {args.rows:,} ({size_mb:.0f} MB CSV, generated in {gen_s:.1f} s)")
    print(
        f"imported       {summary.imported:,}   rejected {summary.rejected:,}   batches {summary.batches:,}"
    )
    print(f"import wall    {import_s:.1f} s   ({args.rows / import_s:,.0f} rows/s)")
    print(
        f"peak RSS       {peak_mb:.0f} MB   (before import {rss_before_mb:.0f} MB; each worker is a process of its own)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
