"""Erasure requests from the console (admins): the same erasure as `duncall erase ACCOUNT`.

The admin confirms by typing the account id again (``{"confirm": "A-1001"}``), as the erase
page asks; the erasure is audited under the admin's name in the transaction that removes the rows.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Path
from pydantic import BaseModel, Field

from duncall.console.auth import Principal
from duncall.console.deps import get_console, require
from duncall.console.recordings import CachedRecordings, DirectoryRecordings
from duncall.console.roles import Permission
from duncall.console.state import Console
from duncall.erasure import erase_account

router = APIRouter(prefix="/api", tags=["privacy"])
ConsoleDep = Annotated[Console, Depends(get_console)]
Admin = Annotated[Principal, Depends(require(Permission.USERS_MANAGE))]
REDIS_PREFIXES = ("duncall:",)


class EraseRequest(BaseModel):
    confirm: str = Field(max_length=64, description="the account id again, typed by the admin")


class Erased(BaseModel):
    account_id: str
    rows: dict[str, int]
    ledger_anonymized: int
    recording_files: int
    redis_keys: int
    stream_entries: int
    stored_recordings_deleted: int
    stored_recordings_left: int
    lines: list[str]


@router.post("/accounts/{account_id}/erase", response_model=Erased)
def erase(
    account_id: Annotated[str, Path(max_length=64)], body: EraseRequest, console: ConsoleDep, user: Admin
) -> Erased:
    """Remove the debtor's personal data everywhere (docs/compliance.md, Erasure)."""
    if body.confirm != account_id:
        raise HTTPException(400, "type the account id exactly to confirm the erasure")
    source = console.settings.recordings
    archive = source.source if isinstance(source, CachedRecordings) else source
    live = console.settings.live_prefix
    erasure = erase_account(
        console.engine,
        account_id,
        user.name,
        console.now(),
        redis_client=console.redis(),
        redis_prefixes=[*REDIS_PREFIXES, *([live] if live else [])],
        recordings_dirs=[archive.root] if isinstance(archive, DirectoryRecordings) else [],
    )
    if isinstance(source, CachedRecordings):
        source.forget(erasure.found.audio_paths)
    found = erasure.found
    return Erased(
        account_id=account_id,
        rows=found.rows,
        ledger_anonymized=found.anonymized,
        recording_files=found.files,
        redis_keys=found.redis_keys,
        stream_entries=found.stream_entries,
        stored_recordings_deleted=erasure.stored.deleted,
        stored_recordings_left=erasure.stored.left,
        lines=erasure.lines(),
    )
