"""Which version of a dialogue script a campaign's call runs, fixed when the call starts.

Every console save is a numbered version (``script_versions``); only a publish writes
``scripts/<name>.<lang>.yaml``.  A campaign runs the published file unless it is
pinned to a saved version (``campaign_script_pins``, set with
``duncall campaign run --script-version NAME.LANG=N``).  Either way the text is read
once, when the call is answered, and belongs to that call: a publish or a new pin
meanwhile changes the calls that start after it, never one in progress.

The dialer only reads which text a call runs; parsing it is the bot's, and the
application joins the two (``duncall.scripts_runtime``).

The call record keeps the version it ran and the SHA-256 of the text, so QA can
search by version and tell exactly what the debtor heard.  Version 0 is a file that
no console save knows (as shipped, or edited by hand).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from dialer.store.models.pins import CampaignScriptPin
from dialer.store.models.scripts import ScriptVersion
from foundation import paths
from foundation.errors import ConfigError
from foundation.settings import get_settings


@dataclass(frozen=True, slots=True)
class ScriptSource:
    """The text one call runs, and which version of it that is."""

    text: str
    stem: str  # <name>.<lang>
    version: int  # the saved version; 0: a file no save knows
    sha256: str
    pinned: bool

    @property
    def label(self) -> str:
        """How messages name this version: ``early_collection.en@v3``."""
        return f"{self.stem}@v{self.version}"


def published_dir() -> Path:
    """Where published scripts live: ``DUNCALL_SCRIPTS_DIR`` (as for the console, which publishes there)."""
    return get_settings().scripts_dir or paths.scripts_dir()


def sha256_text(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def saved_text(db: Session, stem: str, version: int) -> str | None:
    """The text of one saved version, None if it was never saved."""
    return db.scalar(
        select(ScriptVersion.text).where(ScriptVersion.script == stem, ScriptVersion.version == version)
    )


def latest_version(db: Session, stem: str) -> int | None:
    return db.scalar(select(func.max(ScriptVersion.version)).where(ScriptVersion.script == stem))


class ScriptVersions:
    """Which script text each call of one campaign runs (reads the store on every call)."""

    def __init__(self, engine: Engine, campaign_id: str | None, scripts_dir: Path | None = None) -> None:
        self.engine = engine
        self.campaign_id = campaign_id
        self.scripts_dir = scripts_dir or published_dir()

    def for_call(self, name: str, lang: str) -> ScriptSource:
        stem = f"{name}.{lang}"
        with Session(self.engine) as db:
            pin = db.get(CampaignScriptPin, (self.campaign_id, stem)) if self.campaign_id else None
            if pin is not None:
                text = saved_text(db, stem, pin.version)
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
        return ScriptSource(text, stem, version, sha256_text(text), pin is not None)


def pins_of(engine: Engine, campaign_id: str) -> dict[str, int]:
    with Session(engine) as db:
        rows = db.scalars(select(CampaignScriptPin).where(CampaignScriptPin.campaign_id == campaign_id))
        return {r.script: r.version for r in rows}
