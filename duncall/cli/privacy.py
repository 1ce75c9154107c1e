"""`duncall erase ACCOUNT`: one debtor's personal data removed everywhere it lives (GDPR/PIPL requests).
`duncall purge`: what has been kept past its retention period goes (run it daily, e.g. from cron).

What is kept and why is in ``dialer/privacy/erase.py`` and docs/compliance.md.  The audit log
gets one row: who erased which account id, when, and how much went.
"""

from __future__ import annotations

import argparse
import datetime as dt
import getpass
from pathlib import Path
from typing import Any


def register(sub: Any) -> None:
    erase = sub.add_parser(
        "erase",
        help="erase one debtor's personal data: store, recordings on disk, Redis (the ledger keeps "
        "anonymized decisions)",
    )
    erase.add_argument("account_id", metavar="ACCOUNT")
    erase.add_argument(
        "--db", default=None, help="database URL (default: DUNCALL_DATABASE_URL or the home file)"
    )
    erase.add_argument(
        "--recordings",
        type=Path,
        action="append",
        default=[],
        help="a folder holding call recordings (repeatable; default: DUNCALL_RECORDINGS_DIR when set)",
    )
    erase.add_argument(
        "--redis-prefix",
        action="append",
        default=[],
        help="Redis key prefix to search (repeatable; default: duncall: and the live prefix)",
    )
    erase.set_defaults(func=_erase)

    purge = sub.add_parser(
        "purge",
        help="delete what has been kept past its retention period (DUNCALL_RETENTION_*_DAYS) and say what",
    )
    purge.add_argument(
        "--at", default=None, help="the purge's 'now', ISO 8601 with its offset (default: now)"
    )
    purge.add_argument("--dry-run", action="store_true", help="say what would be deleted; delete nothing")
    purge.add_argument(
        "--db", default=None, help="database URL (default: DUNCALL_DATABASE_URL or the home file)"
    )
    purge.set_defaults(func=_purge)


def _purge(args: argparse.Namespace) -> int:
    from sqlalchemy.orm import Session

    from dialer.privacy.retention import Retention, delete_files, purge
    from dialer.store.db import open_engine
    from duncall.cli.times import aware_time
    from foundation.settings import get_settings

    at = aware_time(args.at, "--at")
    s = get_settings()
    retention = Retention(
        s.retention_recordings_days,
        s.retention_transcripts_days,
        s.retention_attempts_days,
        s.retention_ledger_days,
    )
    engine = open_engine(args.db)
    with Session(engine) as db:
        with db.begin():
            report = purge(db, retention, at, dry_run=args.dry_run)
        if not args.dry_run:
            report.counts["recording_files"] = delete_files(db)
    for line in report.lines():
        print(line)
    return 0


def _erase(args: argparse.Namespace) -> int:
    from sqlalchemy.orm import Session

    from dialer.privacy.erase import erase_files, erase_redis, erase_rows
    from dialer.store.db import open_engine
    from duncall.console import audit
    from foundation.services import redis_client
    from foundation.settings import get_settings
    from telephony.live.events import live_prefix

    settings = get_settings()
    client = redis_client()  # reachable before anything is deleted: an erasure is done whole
    engine = open_engine(args.db)
    now = dt.datetime.now(dt.UTC)
    with Session(engine) as db, db.begin():
        found = erase_rows(db, args.account_id)
        audit.record(
            db,
            now,
            f"cli:{getpass.getuser()}",
            "account_erase",
            args.account_id,
            rows=sum(found.rows.values()),
            ledger_anonymized=found.anonymized,
        )
    if engine.dialect.name == "sqlite":
        # Deleted rows linger in SQLite's free pages and its WAL until rewritten: rewrite them now.
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
            conn.exec_driver_sql("VACUUM")
            conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
    folders = list(args.recordings) or ([settings.recordings_dir] if settings.recordings_dir else [])
    erase_files(found, folders)
    erase_redis(found, client, args.redis_prefix or list(dict.fromkeys(["duncall:", live_prefix()])))
    for line in found.lines():
        print(line)
    return 0
