"""`duncall erase ACCOUNT`: one debtor's personal data removed everywhere it lives (GDPR/PIPL requests).

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
