"""Erasure requests from the console (admins): the same erasure as `duncall erase ACCOUNT`."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path
from pydantic import BaseModel

from dialer.privacy.erase import erase_files, erase_redis, erase_rows
from duncall.console import audit
from duncall.console.auth import Principal
from duncall.console.deps import get_console, require
from duncall.console.recordings import DirectoryRecordings
from duncall.console.roles import Permission
from duncall.console.state import Console

router = APIRouter(prefix="/api", tags=["privacy"])
ConsoleDep = Annotated[Console, Depends(get_console)]
Admin = Annotated[Principal, Depends(require(Permission.USERS_MANAGE))]
REDIS_PREFIXES = ("duncall:",)


class Erased(BaseModel):
    account_id: str
    rows: dict[str, int]
    ledger_anonymized: int
    recording_files: int
    redis_keys: int
    stream_entries: int


@router.post("/accounts/{account_id}/erase", response_model=Erased)
def erase_account(
    account_id: Annotated[str, Path(max_length=64)], console: ConsoleDep, user: Admin
) -> Erased:
    """Remove the debtor's personal data everywhere (docs/compliance.md, Erasure); audited with
    the admin's name, in the same transaction as the rows' deletion."""
    with console.transaction() as db:
        found = erase_rows(db, account_id)
        audit.record(
            db,
            console.now(),
            user.name,
            "account_erase",
            account_id,
            rows=sum(found.rows.values()),
            ledger_anonymized=found.anonymized,
        )
    source = console.settings.recordings
    erase_files(found, [source.root] if isinstance(source, DirectoryRecordings) else [])
    live = console.settings.live_prefix
    erase_redis(found, console.redis(), [*REDIS_PREFIXES, *([live] if live else [])])
    return Erased(
        account_id=account_id,
        rows=found.rows,
        ledger_anonymized=found.anonymized,
        recording_files=found.files,
        redis_keys=found.redis_keys,
        stream_entries=found.stream_entries,
    )
