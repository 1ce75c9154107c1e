"""Recordings Asterisk stores, deleted for an erasure or a purge — and remembered until they are.

A call's recording is an Asterisk stored recording (``call_records.audio_path`` holds its name).
The transaction that removes a call's rows queues the name in ``recording_deletions``; then
``delete_queued`` asks Asterisk to delete every queued recording (ARI ``DELETE
/recordings/stored/{name}``) and forgets each one Asterisk no longer has.  When Asterisk cannot
be reached the names stay queued, the caller says so in one line, and the next erase or purge
deletes them.  A copy archived as ``<folder>/<name>.wav`` (``DUNCALL_RECORDINGS_DIR``) goes too.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import Engine, delete, select
from sqlalchemy.orm import Session

from dialer.store.models.transcripts import RecordingDeletion
from foundation.errors import AuthError, ConfigError, ServiceUnavailable
from foundation.log import kv
from foundation.settings import AriSettings, ari_settings
from telephony.ari.errors import AriError, AriNotFound
from telephony.ari.rest import AriRest

log = logging.getLogger(__name__)


def stored_names(audio_paths: Iterable[str]) -> list[str]:
    """The recordings Asterisk stores among a call's audio paths (an absolute path is a file)."""
    return [p for p in dict.fromkeys(audio_paths) if p and not Path(p).is_absolute()]


def queue(db: Session, names: Iterable[str], at: dt.datetime, reason: str) -> int:
    """Queue stored recordings for deletion in ``db``'s transaction (the one removing their rows)."""
    n = 0
    for name in dict.fromkeys(names):
        if db.get(RecordingDeletion, name) is None:
            db.add(RecordingDeletion(name=name, queued_at=at, reason=reason))
            n += 1
    return n


@dataclass
class StoredDeletions:
    deleted: int = 0
    left: int = 0
    why: str = ""  # why some are left: Asterisk was not reachable

    def line(self) -> str:
        if not self.left:
            return f"Asterisk stored recordings deleted: {self.deleted}"
        return (
            f"Asterisk stored recordings deleted: {self.deleted}; {self.left} still to delete ({self.why}): "
            "queued, the next duncall erase or purge deletes them"
        )


async def delete_queued(
    engine: Engine,
    settings: Callable[[], AriSettings] = ari_settings,
    folders: Sequence[Path] = (),
) -> StoredDeletions:
    """Delete every queued stored recording Asterisk still has; keep the rest queued."""
    with Session(engine) as db:
        names = list(db.scalars(select(RecordingDeletion.name).order_by(RecordingDeletion.queued_at)))
    result = StoredDeletions()
    if not names:
        return result
    for folder in folders:  # our own archive's copies go whether or not Asterisk answers
        for name in names:
            (folder / f"{name}.wav").unlink(missing_ok=True)
    try:
        rest = AriRest(settings())
    except ConfigError as exc:
        return StoredDeletions(0, len(names), f"no ARI settings: {exc.what}")
    done: list[str] = []
    try:
        for name in names:
            try:
                await rest.delete_stored_recording(name)
            except AriNotFound:
                pass  # already gone (deleted by hand, or never written): nothing left to do
            except (ServiceUnavailable, AuthError) as exc:
                result.why = f"Asterisk not reachable: {exc.what}"
                break
            except AriError as exc:
                log.error("stored recording not deleted", extra=kv(status=exc.status))
                continue
            done.append(name)
    finally:
        await rest.aclose()
    if done:
        with Session(engine) as db, db.begin():
            db.execute(delete(RecordingDeletion).where(RecordingDeletion.name.in_(done)))
    result.deleted = len(done)
    result.left = len(names) - len(done)
    if result.left and not result.why:
        result.why = "Asterisk refused; see its log"
    return result
