"""One debtor's erasure, the same for `duncall erase ACCOUNT` and the console's admin page.

In one transaction the account's rows go (``dialer.privacy.erase``), the stored recordings
Asterisk keeps for its calls are queued for deletion, and the audit log gets its row, under the
name of who asked.  Then SQLite is rewritten (deleted rows linger in its free pages), the
recording files and Redis entries go, and Asterisk is asked to delete the queued recordings —
when it cannot be reached the erasure says so in one line and the next erase or purge finishes.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import redis
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from dialer.privacy.erase import ErasedAccount, erase_files, erase_redis, erase_rows
from dialer.privacy.recordings import StoredDeletions, delete_queued, queue, stored_names
from duncall.console import audit
from foundation.settings import AriSettings, ari_settings


@dataclass
class Erasure:
    found: ErasedAccount
    stored: StoredDeletions

    def lines(self) -> list[str]:
        return [*self.found.lines(), self.stored.line()]


def erase_account(
    engine: Engine,
    account_id: str,
    by: str,
    at: dt.datetime,
    *,
    redis_client: redis.Redis,
    redis_prefixes: Sequence[str],
    recordings_dirs: Sequence[Path] = (),
    ari: Callable[[], AriSettings] = ari_settings,
) -> Erasure:
    """Erase ``account_id`` everywhere; ``InputError`` (nothing changed) if there is no such account."""
    with Session(engine) as db, db.begin():
        found = erase_rows(db, account_id)
        queue(db, stored_names(found.audio_paths), at, "erase")
        audit.record(
            db,
            at,
            by,
            "account_erase",
            account_id,
            rows=sum(found.rows.values()),
            ledger_anonymized=found.anonymized,
        )
    if engine.dialect.name == "sqlite":
        # Deleted rows linger in SQLite's free pages and its WAL until rewritten: rewrite them now.
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
            conn.exec_driver_sql("VACUUM")
            conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
    erase_files(found, recordings_dirs)
    erase_redis(found, redis_client, redis_prefixes)
    # Runs in the CLI's thread or a console request's worker thread: no event loop there yet.
    stored = asyncio.run(delete_queued(engine, ari, recordings_dirs))
    return Erasure(found, stored)
