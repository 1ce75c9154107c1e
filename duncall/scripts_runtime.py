"""The script a campaign's call runs: the dialer says which text, the bot parses it.

``dialer.campaign.scripts`` reads the published file or the pinned saved version
(with its version number and SHA-256); the parse happens here, where the bot and
the dialer meet.  Pinning a campaign to a version is an operator's act: the version
must still pass the script checks, and the change is written to the console's audit
log in the same transaction.
"""

from __future__ import annotations

import datetime as dt
import re
import threading
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import Engine
from sqlalchemy.orm import Session

from bot.dialogue.loader import parse_script
from bot.dialogue.model import Script, ScriptError
from dialer.campaign.scripts import ScriptVersions, latest_version, saved_text
from dialer.store.models.console import AuditEntry
from dialer.store.models.pins import CampaignScriptPin
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


def parse_stem(stem: str, text: str, label: str) -> Script:
    """Check and load ``<name>.<lang>``'s text, as ``duncall flow check`` would the file."""
    name, _, lang = stem.rpartition(".")
    return parse_script(text, name, lang, label)


class CallScripts:
    """The parsed script for each call of one campaign (thread-safe; parsed scripts cached by hash)."""

    def __init__(self, engine: Engine, campaign_id: str | None, scripts_dir: Path | None = None) -> None:
        self.versions = ScriptVersions(engine, campaign_id, scripts_dir)
        self._parsed: dict[str, Script] = {}
        self._lock = threading.Lock()

    def for_call(self, name: str, lang: str) -> RunScript:
        source = self.versions.for_call(name, lang)
        with self._lock:
            script = self._parsed.get(source.sha256)
        if script is None:
            script = parse_stem(source.stem, source.text, source.label)
            with self._lock:
                if len(self._parsed) >= PARSED_CACHE:
                    self._parsed.pop(next(iter(self._parsed)))
                self._parsed[source.sha256] = script
        return RunScript(script, source.stem, source.version, source.sha256, source.pinned)


def check_recording_notices(
    engine: Engine,
    campaign_id: str | None,
    stems: Iterable[tuple[str, str]],
    scripts_dir: Path | None = None,
) -> int:
    """Before the first dial, where the rules require a recording notice: every script the
    campaign may run (its pinned version, else the published file) has one, or the run is
    refused in one line naming the script's line.  Returns how many scripts were checked; a
    script with no file is left to the call that needs it, as before."""
    versions = ScriptVersions(engine, campaign_id, scripts_dir)
    checked = 0
    for name, lang in sorted(set(stems)):
        try:
            source = versions.for_call(name, lang)
        except ConfigError:
            continue
        try:
            parse_script(source.text, name, lang, source.label, notice_required=True)
        except ScriptError as exc:
            raise ConfigError(
                exc.what,
                "the rules require telling the debtor the call is recorded: add recording_notice to "
                "the script (duncall flow check --rules lists every problem)",
            ) from None
        checked += 1
    return checked


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
            text = saved_text(db, stem, version)
            if text is None:
                latest = latest_version(db, stem)
                raise InputError(
                    f"{stem} has no saved version {version}",
                    f"its versions are 1–{latest}" if latest else f"no version of {stem} was ever saved",
                )
            try:
                parse_stem(stem, text, f"{stem}@v{version}")
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
