"""Collectors and teams from a YAML or CSV file: each bad row rejected with its line and why.

CSV columns: ``collector_id,name,team,console_user,languages,buckets,creditors,licences,
balance_min,balance_max,capacity,hours_per_week``; lists are ``;``-separated, empty means
any.  YAML: ``teams: [{team_id, name}]`` and ``collectors: [{collector_id, name, …}]`` with
the same fields as lists.  A row replaces the collector of the same id; a team named by a
collector and not listed is created with its id as its name.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

from pydantic import Field, ValidationError, field_validator, model_validator
from sqlalchemy.orm import Session

from dialer.store.models import Collector, Team
from foundation.config import Strict, parse_yaml, where
from foundation.errors import ConfigError, InputError

ID_PATTERN = r"^[A-Za-z0-9_.-]{1,64}$"
LANGUAGES = ("en", "zh")
COLUMNS = (
    "collector_id",
    "name",
    "team",
    "console_user",
    "languages",
    "buckets",
    "creditors",
    "licences",
    "balance_min",
    "balance_max",
    "capacity",
    "hours_per_week",
)


class CollectorRow(Strict):
    collector_id: str = Field(pattern=ID_PATTERN)
    name: str = Field(min_length=1, max_length=200)
    team: str | None = Field(default=None, pattern=ID_PATTERN)
    console_user: str | None = Field(default=None, max_length=64)
    languages: list[str] = Field(default_factory=list)
    buckets: list[str] = Field(default_factory=list)
    creditors: list[str] = Field(default_factory=list)
    licences: list[str] = Field(default_factory=list)
    balance_min: Decimal | None = Field(default=None, ge=0)
    balance_max: Decimal | None = Field(default=None, ge=0)
    capacity: int = Field(ge=1, le=100_000)
    hours_per_week: int | None = Field(default=None, ge=1, le=80)

    @field_validator("languages")
    @classmethod
    def _languages(cls, value: list[str]) -> list[str]:
        unknown = [v for v in value if v not in LANGUAGES]
        if unknown:
            raise ValueError(f"unknown language {', '.join(unknown)} (use {', '.join(LANGUAGES)})")
        return value

    @field_validator("licences")
    @classmethod
    def _licences(cls, value: list[str]) -> list[str]:
        bad = [v for v in value if not (len(v) == 2 or (len(v) == 5 and v[2] == "-")) or not v.isupper()]
        if bad:
            raise ValueError(f"licence {bad[0]!r} must be a country (US, CN) or a US state as US-NY")
        return value

    @model_validator(mode="after")
    def _band(self) -> CollectorRow:
        if (
            self.balance_min is not None
            and self.balance_max is not None
            and self.balance_max < self.balance_min
        ):
            raise ValueError(f"balance_max {self.balance_max} is below balance_min {self.balance_min}")
        return self


class TeamRow(Strict):
    team_id: str = Field(pattern=ID_PATTERN)
    name: str = Field(min_length=1, max_length=200)


@dataclass(frozen=True, slots=True)
class Reject:
    file: str
    line: int
    collector_id: str | None
    reason: str

    def one_line(self) -> str:
        who = f" collector {self.collector_id}" if self.collector_id else ""
        return f"{self.file}:{self.line}:{who} {self.reason}"


@dataclass(slots=True)
class RosterSummary:
    file: str
    collectors: int = 0
    teams: int = 0
    rejects: list[Reject] = field(default_factory=list)

    def one_line(self) -> str:
        return (
            f"{self.file}: {self.collectors} collectors and {self.teams} teams imported, "
            f"{len(self.rejects)} rejected"
        )


def _split(value: str | None) -> list[str]:
    return [part.strip() for part in (value or "").split(";") if part.strip()]


def _message(exc: ValidationError) -> str:
    first = exc.errors()[0]
    return f"{where(first['loc'])}: {str(first['msg']).removeprefix('Value error, ')}"


def read_rows(path: Path) -> tuple[list[TeamRow], list[tuple[int, CollectorRow]], list[Reject]]:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise InputError(f"cannot read {path} ({exc.strerror})", "check the path") from None
    source = str(path)
    rejects: list[Reject] = []
    rows: list[tuple[int, CollectorRow]] = []
    teams: list[TeamRow] = []
    if path.suffix.lower() in (".yaml", ".yml"):
        doc = parse_yaml(text, source)
        if not isinstance(doc.data, dict) or not isinstance(doc.data.get("collectors"), list):
            raise ConfigError(
                f"{source}: must be a mapping with a collectors: list", "see roster.py's docstring"
            )
        for i, raw in enumerate(doc.data.get("teams") or []):
            try:
                teams.append(TeamRow.model_validate(raw))
            except ValidationError as exc:
                rejects.append(Reject(source, doc.line(["teams", i]) or 0, None, _message(exc)))
        for i, raw in enumerate(doc.data["collectors"]):
            line = doc.line(["collectors", i]) or 0
            ident = raw.get("collector_id") if isinstance(raw, dict) else None
            try:
                rows.append((line, CollectorRow.model_validate(raw)))
            except ValidationError as exc:
                rejects.append(Reject(source, line, ident, _message(exc)))
        return teams, rows, rejects
    reader = csv.DictReader(io.StringIO(text))
    missing = [c for c in ("collector_id", "name", "capacity") if c not in (reader.fieldnames or [])]
    if missing:
        raise InputError(f"{source}: no column {', '.join(missing)}", f"the header is {','.join(COLUMNS)}")
    unknown = [c for c in reader.fieldnames or [] if c not in COLUMNS]
    if unknown:
        raise InputError(
            f"{source}: unknown column {', '.join(unknown)}", f"the header is {','.join(COLUMNS)}"
        )
    for record in reader:
        line = reader.line_num
        data: dict[str, Any] = {}
        for column, value in record.items():
            value = (value or "").strip()
            if column in ("languages", "buckets", "creditors", "licences"):
                data[column] = _split(value)
            elif value:
                data[column] = value
        try:
            rows.append((line, CollectorRow.model_validate(data)))
        except ValidationError as exc:
            rejects.append(Reject(source, line, data.get("collector_id"), _message(exc)))
    return teams, rows, rejects


def import_roster(db: Session, path: Path) -> RosterSummary:
    """Upsert the file's teams and collectors into ``db``'s transaction (the caller commits)."""
    teams, rows, rejects = read_rows(path)
    summary = RosterSummary(str(path), rejects=rejects)
    seen: dict[str, int] = {}
    for team in teams:
        db.merge(Team(team_id=team.team_id, name=team.name))
        summary.teams += 1
    named = {t.team_id for t in teams}
    for line, row in rows:
        if row.collector_id in seen:
            summary.rejects.append(
                Reject(
                    summary.file,
                    line,
                    row.collector_id,
                    f"listed twice (first on line {seen[row.collector_id]})",
                )
            )
            continue
        seen[row.collector_id] = line
        if row.team is not None and row.team not in named and db.get(Team, row.team) is None:
            db.add(Team(team_id=row.team, name=row.team))
            db.flush()
            named.add(row.team)
            summary.teams += 1
        save(db, row)
        summary.collectors += 1
    return summary


def save(db: Session, row: CollectorRow) -> Collector:
    existing = db.get(Collector, row.collector_id)
    collector = existing or Collector(collector_id=row.collector_id)
    collector.name = row.name
    collector.team_id = row.team
    collector.console_user = row.console_user
    collector.languages = list(row.languages)
    collector.buckets = list(row.buckets)
    collector.creditors = list(row.creditors)
    collector.licences = list(row.licences)
    collector.balance_min = row.balance_min
    collector.balance_max = row.balance_max
    collector.capacity = row.capacity
    collector.hours_per_week = row.hours_per_week
    if existing is None:
        collector.active = True
        db.add(collector)
    return collector
