"""`duncall erase ACCOUNT`: one debtor's personal data removed everywhere it lives (GDPR/PIPL requests).
`duncall purge`: what has been kept past its retention period goes (run it daily, e.g. from cron,
or leave `duncall purge --daily` running: it purges at DUNCALL_PURGE_DAILY_AT local time).

What is kept and why is in ``dialer/privacy/erase.py`` and docs/compliance.md.  The audit log
gets one row: who erased which account id, when, and how much went.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import getpass
import signal
import threading
from collections.abc import Callable
from pathlib import Path
from types import FrameType
from typing import Any, TextIO


def register(sub: Any) -> None:
    erase = sub.add_parser(
        "erase",
        help="erase one debtor's personal data: store, recordings on disk and in Asterisk, Redis "
        "(the ledger keeps anonymized decisions)",
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
        "--daily",
        action="store_true",
        help="keep running and purge once a day at DUNCALL_PURGE_DAILY_AT (local time), saying what "
        "went each time; SIGTERM ends it (a compose service or systemd unit)",
    )
    purge.add_argument(
        "--db", default=None, help="database URL (default: DUNCALL_DATABASE_URL or the home file)"
    )
    purge.set_defaults(func=_purge)


def _purge(args: argparse.Namespace) -> int:
    from duncall.cli.times import aware_time
    from foundation.errors import InputError

    if args.daily:
        if args.at or args.dry_run:
            raise InputError("--daily runs at the real time and deletes", "leave out --at and --dry-run")
        return _daily(args)
    for line in _purge_once(args.db, aware_time(args.at, "--at"), dry_run=args.dry_run):
        print(line)
    return 0


def _purge_once(db_url: str | None, at: dt.datetime, *, dry_run: bool) -> list[str]:
    from sqlalchemy.orm import Session

    from dialer.privacy.recordings import delete_queued
    from dialer.privacy.retention import Retention, delete_files, purge
    from dialer.store.db import open_engine
    from duncall.console import audit
    from foundation.settings import get_settings

    s = get_settings()
    retention = Retention(
        s.retention_recordings_days,
        s.retention_transcripts_days,
        s.retention_attempts_days,
        s.retention_ledger_days,
        s.retention_messages_days,
        s.retention_audit_days,
    )
    by = f"cli:{getpass.getuser()}"
    engine = open_engine(db_url)
    try:
        with Session(engine) as db:
            with db.begin():
                report = purge(db, retention, at, dry_run=dry_run, by=by)
                if not dry_run and any(report.counts.values()):
                    audit.record(
                        db,
                        dt.datetime.now(dt.UTC),
                        by,
                        "retention_purge",
                        "",
                        as_of=at.isoformat(),
                        **report.counts,
                    )
            if not dry_run:
                report.counts["recording_files"] = delete_files(db)
        lines = report.lines()
        if not dry_run:
            # Asterisk's stored recordings of the purged calls, and any an earlier erase or purge left.
            folders = [s.recordings_dir] if s.recordings_dir else []
            stored = asyncio.run(delete_queued(engine, folders=folders))
            if stored.deleted or stored.left:
                lines.append(stored.line())
    finally:
        engine.dispose()
    return lines


def _daily(args: argparse.Namespace) -> int:
    from foundation.settings import get_settings

    stop = threading.Event()

    def on_term(_sig: int, _frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, on_term)
    at = get_settings().purge_daily_at
    return run_daily(
        lambda now: _purge_once(args.db, now, dry_run=False),
        at,
        clock=lambda: dt.datetime.now().astimezone(),
        wait=stop.wait,
        out=None,
    )


def run_daily(
    purge_at: Callable[[dt.datetime], list[str]],
    at: str,
    *,
    clock: Callable[[], dt.datetime],
    wait: Callable[[float], bool],
    out: TextIO | None,
) -> int:
    """Purge once a day at ``at`` (HH:MM on ``clock``'s zone) until ``wait`` says stop (True).

    A purge that fails is said in one line and tried again the next day."""
    import sys

    from dialer.privacy.schedule import next_daily, parse_hhmm
    from foundation.errors import DuncallError

    stream = out or sys.stdout
    when_time = parse_hhmm(at)
    while True:
        now = clock()
        when = next_daily(now, when_time)
        print(f"next purge at {when.isoformat(timespec='minutes')}", file=stream, flush=True)
        # Through UTC: Python subtracts two times of one zone as wall times, an hour off across DST.
        if wait(max((when.astimezone(dt.UTC) - now.astimezone(dt.UTC)).total_seconds(), 0.0)):
            return 0
        try:
            lines = purge_at(clock())
        except DuncallError as exc:
            lines = [f"purge failed: {exc.what} ({exc.fix}); trying again tomorrow"]
        for line in lines:
            print(line, file=stream, flush=True)


def _erase(args: argparse.Namespace) -> int:
    from dialer.store.db import open_engine
    from duncall.erasure import erase_account
    from foundation.services import redis_client
    from foundation.settings import get_settings
    from telephony.live.events import live_prefix

    settings = get_settings()
    client = redis_client()  # reachable before anything is deleted: an erasure is done whole
    engine = open_engine(args.db)
    folders = list(args.recordings) or ([settings.recordings_dir] if settings.recordings_dir else [])
    try:
        erasure = erase_account(
            engine,
            args.account_id,
            f"cli:{getpass.getuser()}",
            dt.datetime.now(dt.UTC),
            redis_client=client,
            redis_prefixes=args.redis_prefix or list(dict.fromkeys(["duncall:", live_prefix()])),
            recordings_dirs=folders,
        )
    finally:
        engine.dispose()
    for line in erasure.lines():
        print(line)
    return 0
