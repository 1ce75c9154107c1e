"""Creditors in the store: add (or replace), list, read, and a whole file at once.

A file is checked whole before anything is written, then written in one transaction:
one bad creditor leaves the store as it was.
"""

from __future__ import annotations

import csv
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import yaml
from sqlalchemy import Engine, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from dialer.creditors.records import FIELDS, CreditorRecord, creditor
from dialer.store.models import Creditor
from foundation.errors import InputError


def add_creditors(engine: Engine, items: Iterable[CreditorRecord], *, replace: bool = False) -> int:
    """Store ``items`` in one transaction; an existing id is an error unless ``replace``."""
    batch = list(items)
    seen: set[str] = set()
    for item in batch:
        if item.creditor_id in seen:
            raise InputError(f"creditor {item.creditor_id} is given twice", "keep one entry per creditor id")
        seen.add(item.creditor_id)
    params = [
        {
            "creditor_id": item.creditor_id,
            "name": item.name,
            "names": dict(item.names),
            "callback_number": item.callback_number,
            "caller_id": item.caller_id,
            "timezone": item.timezone,
            "scripts": dict(item.scripts),
            "rules_preset": item.rules_preset,
            "allow_international": item.allow_international,
        }
        for item in batch
    ]
    if not params:
        return 0
    try:
        _write(engine, params, seen, replace)
    except IntegrityError:
        # Only a creditor added by someone else between the check and the insert gets here.
        raise InputError(
            "a creditor in this batch was just added elsewhere", "run it again with --replace"
        ) from None
    return len(batch)


def _write(engine: Engine, params: list[dict[str, Any]], ids: set[str], replace: bool) -> None:
    with engine.begin() as conn:
        if not replace:
            taken = sorted(conn.scalars(select(Creditor.creditor_id).where(Creditor.creditor_id.in_(ids))))
            if taken:
                raise InputError(f"creditor {taken[0]} already exists", "pass --replace to overwrite it")
        insert = postgresql.insert(Creditor) if conn.dialect.name == "postgresql" else sqlite.insert(Creditor)
        if replace:
            # One statement per creditor, atomic: two imports of the same creditor at once both land.
            columns = [name for name in params[0] if name != "creditor_id"]
            insert = insert.on_conflict_do_update(
                index_elements=[Creditor.creditor_id], set_={name: insert.excluded[name] for name in columns}
            )
        conn.execute(insert, params)


def list_creditors(engine: Engine) -> list[CreditorRecord]:
    with Session(engine) as s:
        return [_record(row) for row in s.scalars(select(Creditor).order_by(Creditor.creditor_id))]


def get_creditor(engine: Engine, creditor_id: str) -> CreditorRecord:
    with Session(engine) as s:
        row = s.get(Creditor, creditor_id)
        if row is None:
            raise InputError(f"no creditor {creditor_id!r}", "see `duncall creditors list`, or add it first")
        return _record(row)


def known_ids(engine: Engine) -> frozenset[str]:
    with Session(engine) as s:
        return frozenset(s.scalars(select(Creditor.creditor_id)))


def read_file(path: Path) -> list[CreditorRecord]:
    """Creditors from a YAML list of mappings or a CSV with a header of field names."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise InputError(
            f"{path}: cannot read ({exc.strerror})", "give an existing .yaml or .csv file"
        ) from None
    except UnicodeDecodeError:
        raise InputError(f"{path}: not UTF-8", "save the file as UTF-8") from None
    suffix = path.suffix.lower()
    if suffix in {".yaml", ".yml"}:
        entries = _yaml_entries(path, text)
    elif suffix == ".csv":
        entries = _csv_entries(path, text)
    else:
        raise InputError(
            f"{path}: unknown creditor file type {suffix or '(none)'!r}", "name it .yaml or .csv"
        )
    out = []
    for number, entry in enumerate(entries, start=1):
        try:
            out.append(creditor(entry))
        except InputError as exc:
            raise InputError(f"{path}: entry {number}: {exc.what}", exc.fix) from None
    return out


def _yaml_entries(path: Path, text: str) -> list[Mapping[str, Any]]:
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise InputError(f"{path}: not valid YAML ({str(exc).splitlines()[0]})", "fix its syntax") from None
    if isinstance(data, dict) and set(data) == {"creditors"}:
        data = data["creditors"]
    if not isinstance(data, list) or not all(isinstance(item, dict) for item in data):
        raise InputError(f"{path}: must be a list of creditors", "write `- creditor_id: …` entries")
    return data


def _csv_entries(path: Path, text: str) -> list[Mapping[str, Any]]:
    reader = csv.DictReader(text.splitlines())
    unknown = sorted(set(reader.fieldnames or ()) - FIELDS)
    if unknown:
        raise InputError(
            f"{path}:1: unknown columns {', '.join(unknown)}", f"columns are {', '.join(sorted(FIELDS))}"
        )
    return [{k: v for k, v in row.items() if v} for row in reader]


def _record(row: Creditor) -> CreditorRecord:
    return CreditorRecord(
        creditor_id=row.creditor_id,
        name=row.name,
        names=dict(row.names or {}),
        callback_number=row.callback_number,
        caller_id=row.caller_id,
        timezone=row.timezone,
        scripts=dict(row.scripts or {}),
        rules_preset=row.rules_preset,
        allow_international=bool(row.allow_international),
    )
