"""Script versions: every valid save is a new row; ``scripts/`` changes only on publish.

Why publish is explicit: the dialer reads ``scripts/<name>.<lang>.yaml`` when a call
starts, so a file written on every save would put a half-finished edit on live calls.
A save is a draft anyone with the console can review and simulate; publishing (a
designer or admin, audited) is the one step that changes what debtors hear.
"""

from __future__ import annotations

import datetime as dt
import os
import re
import tempfile
from dataclasses import dataclass
from pathlib import Path

import yaml
import yaml.reader
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from bot.dialogue.loader import check_text
from bot.dialogue.model import Script
from dialer.store.models.scripts import ScriptVersion
from duncall.console.errors import ApiError, not_found

SCRIPT_NAME = re.compile(r"^[a-z][a-z0-9_]{0,80}\.[a-z]{2}$")
MAX_SCRIPT_CHARS = 200_000
MAX_VERSION = 2**31 - 1  # a 32-bit INTEGER column on every database


@dataclass(frozen=True, slots=True)
class LineProblem:
    line: int
    message: str


@dataclass(frozen=True, slots=True)
class ScriptSummary:
    name: str
    latest_version: int  # 0: only the file in scripts/ exists
    latest_author: str | None
    latest_at: dt.datetime | None
    published_version: int | None
    file_exists: bool
    file_matches_latest: bool


@dataclass(frozen=True, slots=True)
class ScriptText:
    name: str
    version: int
    text: str
    author: str | None
    created_at: dt.datetime | None
    published: bool


def check_name(name: str) -> str:
    if not SCRIPT_NAME.match(name):
        raise ApiError(
            400,
            f"script name {name!r} is not <name>.<lang>",
            "use lowercase letters, digits and _ then a two-letter language, e.g. early_collection.en",
        )
    return name


def script_file(scripts_dir: Path, name: str) -> Path:
    return scripts_dir / f"{check_name(name)}.yaml"


def validate(name: str, text: str) -> tuple[Script | None, list[LineProblem]]:
    """Check ``text`` exactly as ``duncall flow check`` checks a file named ``<name>.yaml``."""
    file_name = f"{check_name(name)}.yaml"
    try:
        script, problems = check_text(text, Path(file_name), file_name)
    except yaml.reader.ReaderError as exc:
        # The checker reports marked YAML errors itself; a control character is not one of them.
        line = text.count("\n", 0, exc.position) + 1
        code = exc.character if isinstance(exc.character, int) else ord(exc.character)
        return None, [LineProblem(line, f"character U+{code:04X} is not allowed in YAML")]
    return script, [LineProblem(p.line, p.message) for p in problems]


def _latest(db: Session, name: str) -> ScriptVersion | None:
    return db.scalar(
        select(ScriptVersion)
        .where(ScriptVersion.script == name)
        .order_by(ScriptVersion.version.desc())
        .limit(1)
    )


def _read_file(path: Path) -> str | None:
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None


def list_scripts(db: Session, scripts_dir: Path) -> list[ScriptSummary]:
    names = {p.name.removesuffix(".yaml") for p in scripts_dir.glob("*.yaml")}
    names = {n for n in names if SCRIPT_NAME.match(n)}
    names |= set(db.scalars(select(ScriptVersion.script).distinct()))
    out = []
    for name in sorted(names):
        latest = _latest(db, name)
        published = db.scalar(
            select(func.max(ScriptVersion.version)).where(
                ScriptVersion.script == name, ScriptVersion.published_at.is_not(None)
            )
        )
        file_text = _read_file(script_file(scripts_dir, name))
        out.append(
            ScriptSummary(
                name=name,
                latest_version=latest.version if latest else 0,
                latest_author=latest.author if latest else None,
                latest_at=latest.created_at if latest else None,
                published_version=published,
                file_exists=file_text is not None,
                file_matches_latest=file_text is not None and (latest is None or latest.text == file_text),
            )
        )
    return out


def open_version(db: Session, scripts_dir: Path, name: str, version: int | None = None) -> ScriptText:
    """A saved version (the latest by default); version 0 is the file in ``scripts/``."""
    check_name(name)
    if version is None or version > 0:
        query = select(ScriptVersion).where(ScriptVersion.script == name)
        query = (
            query.where(ScriptVersion.version == version)
            if version
            else query.order_by(ScriptVersion.version.desc())
        )
        row = db.scalar(query.limit(1))
        if row is not None:
            return ScriptText(
                name, row.version, row.text, row.author, row.created_at, row.published_at is not None
            )
        if version:
            raise not_found("version", f"{name} v{version}", "list the script's versions")
    text = _read_file(script_file(scripts_dir, name))
    if text is None:
        raise not_found("script", name)
    return ScriptText(name, 0, text, None, None, True)


def versions(db: Session, name: str) -> list[ScriptVersion]:
    check_name(name)
    return list(
        db.scalars(
            select(ScriptVersion).where(ScriptVersion.script == name).order_by(ScriptVersion.version.desc())
        )
    )


def save(
    db: Session,
    name: str,
    text: str,
    author: str,
    now: dt.datetime,
    *,
    base_version: int | None,
    note: str = "",
) -> ScriptVersion:
    """Store ``text`` as the next version if it is valid; otherwise nothing changes.

    ``base_version`` is the version the editor opened: if someone saved since, the
    save is refused rather than silently replacing their work.
    """
    check_name(name)
    _, problems = validate(name, text)
    if problems:
        raise ApiError(
            422,
            f"the script has {len(problems)} problem(s); "
            f"first at line {problems[0].line}: {problems[0].message}",
            "fix the lines shown and save again; the previous version is unchanged",
            problems=[{"line": p.line, "message": p.message} for p in problems],
        )
    latest = _latest(db, name)
    current = latest.version if latest else 0
    if base_version is not None and base_version != current:
        raise ApiError(
            409,
            f"{name} is at version {current} now, not {base_version} "
            f"(saved by {latest.author if latest else '?'})",
            "reload the script, merge your change into the new version and save again",
        )
    row = ScriptVersion(
        script=name, version=current + 1, text=text, author=author, created_at=now, note=note[:500]
    )
    db.add(row)
    try:
        db.flush()
    except IntegrityError:
        # Two saves raced on the same base; the unique (script, version) lets only one win.
        raise ApiError(409, f"{name} was saved by someone else just now", "reload and save again") from None
    return row


def publish(db: Session, scripts_dir: Path, name: str, version: int, user: str, now: dt.datetime) -> Path:
    """Write a saved version to ``scripts/<name>.yaml`` (atomically) and mark it published."""
    row = db.scalar(
        select(ScriptVersion).where(ScriptVersion.script == name, ScriptVersion.version == version)
    )
    if row is None:
        raise not_found("version", f"{name} v{version}", "save the script first; only saved versions publish")
    _, problems = validate(name, row.text)
    if problems:  # the checks may have grown stricter since the save
        raise ApiError(
            422,
            f"version {version} no longer passes the checks (line {problems[0].line}: {problems[0].message})",
            "open it, fix it and save a new version",
            problems=[{"line": p.line, "message": p.message} for p in problems],
        )
    target = script_file(scripts_dir, name)
    target.parent.mkdir(parents=True, exist_ok=True)
    # Write beside the target, then rename: a call starting meanwhile reads the old file or the
    # new one, never half of either.
    fd, tmp = tempfile.mkstemp(prefix=f".{name}.", suffix=".tmp", dir=target.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(row.text)
        os.replace(tmp, target)
    except OSError as exc:
        Path(tmp).unlink(missing_ok=True)
        raise ApiError(
            500, f"cannot write {target}: {exc.strerror}", "check the scripts directory's permissions"
        ) from None
    row.published_at = now
    row.published_by = user
    return target
