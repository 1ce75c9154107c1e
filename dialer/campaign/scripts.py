"""Which version of a dialogue script a campaign's call runs, fixed when the call starts.

Every console save is a numbered version (``script_versions``); only a publish writes
``scripts/<name>.<lang>.yaml``.  A campaign runs the published file unless it is
pinned to a saved version (``campaign_script_pins``, set with
``duncall campaign run --script-version NAME.LANG=N``).  Either way the text is read
once, when the call is answered, and the parsed script belongs to that call: a publish
or a new pin meanwhile changes the calls that start after it, never one in progress.

The call record keeps the version it ran and the SHA-256 of the text, so QA can
search by version and tell exactly what the debtor heard.  Version 0 is a file that
no console save knows (as shipped, or edited by hand).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import os
import re
import tempfile
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from bot.dialogue.script import Script, ScriptError, load_script
from dialer.store.models.console import AuditEntry, ScriptVersion
from dialer.store.models.pins import CampaignScriptPin
from foundation import paths
from foundation.errors import ConfigError, InputError

SCRIPT_STEM = re.compile(r"^[a-z][a-z0-9_]{0,80}\.[a-z]{2}$")
PUBLISHED = "published"  # --script-version NAME.LANG=published drops the pin
PARSED_CACHE = 64  # parsed scripts kept by text hash; a campaign uses a handful


@dataclass(frozen=True, slots=True)
class RunScript:
    """The script one call runs, and which version of it that is."""

    script: Script
    stem: str  # <name>.<lang>
    version: int  # the saved version; 0: a file no save knows
    sha256: str
    pinned: bool


def published_dir() -> Path:
    """Where published scripts live: ``DUNCALL_SCRIPTS_DIR`` (as for the console, which publishes there)."""
    override = os.environ.get("DUNCALL_SCRIPTS_DIR")
    return Path(override) if override else paths.scripts_dir()


def sha256_text(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def parse_script(stem: str, text: str, label: str) -> Script:
    """Check and load a script from its text, as ``duncall flow check`` would the file."""
    with tempfile.TemporaryDirectory(prefix="duncall-run-script-") as tmp:
        path = Path(tmp) / f"{stem}.yaml"
        path.write_text(text, encoding="utf-8")
        script = load_script(path)
    # The temporary file is gone: name the version in messages instead.
    return dataclasses.replace(script, path=Path(label))


class ScriptVersions:
    """Resolves the script for each call of one campaign (thread-safe; parsed scripts cached)."""

    def __init__(self, engine: Engine, campaign_id: str | None, scripts_dir: Path | None = None) -> None:
        self.engine = engine
        self.campaign_id = campaign_id
        self.scripts_dir = scripts_dir or published_dir()
        self._parsed: dict[str, Script] = {}
        self._lock = threading.Lock()

    def for_call(self, name: str, lang: str) -> RunScript:
        stem = f"{name}.{lang}"
        with Session(self.engine) as db:
            pin = db.get(CampaignScriptPin, (self.campaign_id, stem)) if self.campaign_id else None
            if pin is not None:
                text = db.scalar(
                    select(ScriptVersion.text).where(
                        ScriptVersion.script == stem, ScriptVersion.version == pin.version
                    )
                )
                if text is None:  # versions are never deleted; a pin is checked when it is set
                    raise ConfigError(
                        f"campaign {self.campaign_id} is pinned to {stem} v{pin.version}, which does not exist",
                        f"pin an existing version: duncall campaign run --script-version {stem}=N",
                    )
                version = pin.version
            else:
                path = self.scripts_dir / f"{stem}.yaml"
                try:
                    text = path.read_text(encoding="utf-8")
                except FileNotFoundError:
                    raise ConfigError(
                        f"no script {name!r} in language {lang!r} ({path})", "publish it from the console"
                    ) from None
                version = (
                    db.scalar(
                        select(func.max(ScriptVersion.version)).where(
                            ScriptVersion.script == stem,
                            ScriptVersion.published_at.is_not(None),
                            ScriptVersion.text == text,
                        )
                    )
                    or 0
                )
        digest = sha256_text(text)
        with self._lock:
            script = self._parsed.get(digest)
        if script is None:
            script = parse_script(stem, text, f"{stem}@v{version}")
            with self._lock:
                if len(self._parsed) >= PARSED_CACHE:
                    self._parsed.pop(next(iter(self._parsed)))
                self._parsed[digest] = script
        return RunScript(script, stem, version, digest, pin is not None)


def parse_pin(value: str) -> tuple[str, int | None]:
    """``early_collection.en=3`` → (stem, 3); ``=published`` → (stem, None): drop the pin."""
    stem, sep, version = value.partition("=")
    stem, version = stem.strip(), version.strip()
    if not sep or not SCRIPT_STEM.match(stem):
        raise InputError(
            f"--script-version {value!r} is not NAME.LANG=VERSION",
            "write e.g. --script-version early_collection.en=3 (or =published to follow the published file)",
        )
    if version == PUBLISHED:
        return stem, None
    if not version.isdigit() or int(version) < 1 or int(version) > 2**31 - 1:
        raise InputError(
            f"--script-version {value!r}: {version!r} is not a saved version number",
            "use a version from the console's script history (1, 2, …) or =published",
        )
    return stem, int(version)


def pin_versions(
    engine: Engine, campaign_id: str, pins: Mapping[str, int | None], by: str, now: dt.datetime
) -> None:
    """Pin (or, for None, unpin) the campaign's scripts; every pin is checked before any is stored.

    Each change is written to the console's audit log in the same transaction (a change of
    what debtors hear, like a publish).
    """
    with Session(engine) as db, db.begin():
        for stem, version in pins.items():
            if version is None:
                continue
            text = db.scalar(
                select(ScriptVersion.text).where(
                    ScriptVersion.script == stem, ScriptVersion.version == version
                )
            )
            if text is None:
                latest = db.scalar(
                    select(func.max(ScriptVersion.version)).where(ScriptVersion.script == stem)
                )
                raise InputError(
                    f"{stem} has no saved version {version}",
                    f"its versions are 1–{latest}" if latest else f"no version of {stem} was ever saved",
                )
            try:
                parse_script(stem, text, f"{stem}@v{version}")
            except ScriptError as exc:
                raise InputError(
                    f"{stem} v{version} no longer passes the script checks: {exc.what}",
                    "save a fixed version in the console and pin that",
                ) from None
        for stem, version in pins.items():
            row = db.get(CampaignScriptPin, (campaign_id, stem))
            previous = row.version if row is not None else None
            if previous != version:
                db.add(
                    AuditEntry(
                        at=now,
                        user_name=by[:64],
                        action="script_pin" if version is not None else "script_unpin",
                        target=f"{campaign_id}/{stem}"[:200],
                        detail={
                            "campaign": campaign_id,
                            "script": stem,
                            "version": version,
                            "previous": previous,
                        },
                    )
                )
            if version is None:
                if row is not None:
                    db.delete(row)
            elif row is None:
                db.add(
                    CampaignScriptPin(
                        campaign_id=campaign_id, script=stem, version=version, pinned_by=by, pinned_at=now
                    )
                )
            else:
                row.version, row.pinned_by, row.pinned_at = version, by, now


def pins_of(engine: Engine, campaign_id: str) -> dict[str, int]:
    with Session(engine) as db:
        rows = db.scalars(select(CampaignScriptPin).where(CampaignScriptPin.campaign_id == campaign_id))
        return {r.script: r.version for r in rows}
