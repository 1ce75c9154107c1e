"""Read account files row by row: CSV and JSON Lines, streamed, never loaded whole.

Each source yields ``Row``s: a validated ``AccountRecord`` or a reason the row
was rejected, always with its line number.  A problem with the file as a whole
(unknown columns, unreadable file) is a ``ConfigError`` before any row is read.
See docs/accounts-schema.md for both formats.
"""

from __future__ import annotations

import csv
import json
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass
from functools import partial
from multiprocessing import get_context
from pathlib import Path
from typing import Any, BinaryIO

from dialer.accounts import records
from dialer.accounts.records import AccountRecord, Payment, PhoneRecord, RowError
from foundation.errors import ConfigError

CSV_COLUMNS = (
    "account_id",
    "first_name",
    "last_name",
    "phones",
    "timezone",
    "language",
    "balance",
    "currency",
    "due_date",
    "days_past_due",
    "product",
    "risk_segment",
    "flags",
    "payment_history",
    "creditor",
)
CSV_REQUIRED = ("account_id", "phones", "balance", "currency")
JSON_KEYS = frozenset(CSV_COLUMNS)
JSON_PHONE_KEYS = frozenset(
    {"number", "type", "ai_voice_consent", "consent_date", "contact_type", "consent_scope"}
)
LIST_SEP = ";"
PHONE_FIELD_SEP = ":"
PAYMENT_SEP = "="

ProgressFn = Callable[[int], None]

# Validation (phone numbers above all) is most of an import's CPU; large files
# spread it over worker processes in chunks, results kept in file order.
CHUNK_ROWS = 1_000
CHUNKS_IN_FLIGHT_PER_WORKER = 2  # bounds memory: at most this many chunks wait per worker


@dataclass(frozen=True, slots=True)
class Row:
    line: int
    record: AccountRecord | None
    account_id: str | None = None  # known even for most rejects, to help find the row
    reason: str | None = None


# A unit is a row already judged while reading (a Row: bad CSV, wrong width) or
# what a validator turns into one: (line, fields) for CSV, (line, text) for JSON Lines.
Unit = Row | tuple[int, Any]


def open_rows(
    path: Path,
    *,
    default_region: str | None = None,
    progress: ProgressFn | None = None,
    workers: int = 0,
) -> Iterator[Row]:
    """Rows of ``path`` in file order; the format follows the suffix (.csv, .jsonl / .ndjson).

    ``workers`` > 0 validates rows in that many worker processes (same rows, same order).
    """
    suffix = path.suffix.lower()
    if suffix not in {".csv", ".jsonl", ".ndjson"}:
        raise ConfigError(
            f"{path}: unknown account file type {suffix or '(none)'!r}",
            "name it .csv or .jsonl (see docs/accounts-schema.md)",
        )
    try:
        handle = path.open("rb")
    except OSError as exc:
        raise ConfigError(f"{path}: cannot open ({exc.strerror})", "check the path and permissions") from None
    with handle:
        lines = _decoded_lines(handle, progress)
        if suffix == ".csv":
            header, units = csv_fields(lines, path)
            validate: Callable[[list[Unit]], list[Row]] = partial(_csv_chunk, header, default_region)
        else:
            units = jsonl_lines(lines)
            validate = partial(_json_chunk, default_region)
        if workers > 0:
            yield from _in_workers(units, validate, workers)
        else:
            for chunk in _chunks(units):
                yield from validate(chunk)


def _chunks(units: Iterable[Unit]) -> Iterator[list[Unit]]:
    chunk: list[Unit] = []
    for unit in units:
        chunk.append(unit)
        if len(chunk) >= CHUNK_ROWS:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def _in_workers(
    units: Iterable[Unit], validate: Callable[[list[Unit]], list[Row]], workers: int
) -> Iterator[Row]:
    # fork: workers start at once with the validators loaded, and a caller's script needs no
    # `if __name__ == "__main__"` guard (spawn/forkserver re-run it). The workers only run
    # the validators, which take no lock another thread of the caller could hold.
    with ProcessPoolExecutor(max_workers=workers, mp_context=get_context("fork")) as pool:
        pending: deque[Future[list[Row]]] = deque()
        for chunk in _chunks(units):
            pending.append(pool.submit(validate, chunk))
            if len(pending) >= workers * CHUNKS_IN_FLIGHT_PER_WORKER:
                yield from pending.popleft().result()
        while pending:
            yield from pending.popleft().result()


def _decoded_lines(handle: BinaryIO, progress: ProgressFn | None) -> Iterator[str]:
    first = True
    for raw in handle:
        if progress is not None:
            progress(len(raw))
        if first:
            raw = raw.removeprefix(b"\xef\xbb\xbf")  # a BOM from spreadsheet exports
            first = False
        # Replacement characters are caught per row below, so one bad byte rejects one row.
        yield raw.decode("utf-8", errors="replace")


# ---------------------------------------------------------------- CSV


def csv_rows(lines: Iterator[str], path: Path, default_region: str | None) -> Iterator[Row]:
    header, units = csv_fields(lines, path)
    for chunk in _chunks(units):
        yield from _csv_chunk(header, default_region, chunk)


def csv_fields(lines: Iterator[str], path: Path) -> tuple[list[str], Iterator[Unit]]:
    """The header (checked now, before any row) and the rows' raw fields with their first line."""
    reader = csv.reader(lines, strict=True)
    try:
        header = [h.strip().lower() for h in next(reader)]
    except StopIteration:
        return [], iter(())
    except csv.Error as exc:
        raise ConfigError(f"{path}:1: header is not valid CSV ({exc})", "fix the first line") from None
    unknown = [h for h in header if h not in CSV_COLUMNS]
    missing = [c for c in CSV_REQUIRED if c not in header]
    duplicated = sorted({h for h in header if header.count(h) > 1})
    if unknown or missing or duplicated:
        problems = []
        if unknown:
            problems.append("unknown columns " + ", ".join(unknown))
        if missing:
            problems.append("missing columns " + ", ".join(missing))
        if duplicated:
            problems.append("repeated columns " + ", ".join(duplicated))
        raise ConfigError(
            f"{path}:1: header has {'; '.join(problems)}",
            f"columns are {', '.join(CSV_COLUMNS)} (see docs/accounts-schema.md)",
        )
    return header, _csv_units(reader, len(header))


def _csv_units(reader: Any, width: int) -> Iterator[Unit]:
    last_line = reader.line_num
    while True:
        start = last_line + 1
        try:
            fields = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            last_line = reader.line_num
            yield Row(start, None, reason=f"not valid CSV ({exc})")
            continue
        last_line = reader.line_num
        if not fields or (len(fields) == 1 and not fields[0].strip()):
            continue  # blank line
        if len(fields) != width:
            first = fields[0].strip() or None
            yield Row(start, None, first, f"has {len(fields)} columns, the header has {width}")
            continue
        yield (start, fields)


def _csv_chunk(header: list[str], default_region: str | None, chunk: list[Unit]) -> list[Row]:
    return [
        unit
        if isinstance(unit, Row)
        else _csv_row(unit[0], dict(zip(header, unit[1], strict=True)), default_region)
        for unit in chunk
    ]


def _csv_row(line: int, row: dict[str, str], default_region: str | None) -> Row:
    raw_id = row.get("account_id", "").strip() or None
    try:
        if any("\ufffd" in value for value in row.values()):
            raise RowError("contains bytes that are not UTF-8 (save the file as UTF-8)")
        records.account_id(raw_id)
        record = records.build(
            account_id_value=raw_id,
            first_name=row.get("first_name"),
            last_name=row.get("last_name"),
            phones=[_csv_phone(item, default_region) for item in _split(row.get("phones", ""))],
            timezone_value=row.get("timezone"),
            language_value=row.get("language"),
            balance=row.get("balance"),
            currency_value=row.get("currency"),
            due_date=row.get("due_date"),
            days_past_due_value=row.get("days_past_due"),
            product=row.get("product"),
            risk_segment=row.get("risk_segment"),
            flag_values=_split(row.get("flags", "")),
            payments=[_csv_payment(item) for item in _split(row.get("payment_history", ""))],
            creditor=row.get("creditor"),
        )
    except RowError as exc:
        return Row(line, None, raw_id, str(exc))
    return Row(line, record, record.account_id)


def _split(value: str | None) -> list[str]:
    return [part.strip() for part in (value or "").split(LIST_SEP) if part.strip()]


def _csv_phone(item: str, default_region: str | None) -> PhoneRecord:
    parts = item.split(PHONE_FIELD_SEP)
    if len(parts) > 6:
        raise RowError(f"phone entry {item!r} has more than 6 ':'-separated fields")
    number, phone_type, consent, consent_date, contact_type, scope = ([*parts, "", "", "", "", "", ""])[:6]
    return records.phone_record(
        number, phone_type, consent or "no", consent_date, contact_type, default_region, scope
    )


def _csv_payment(item: str) -> Payment:
    when, sep, amount = item.partition(PAYMENT_SEP)
    if not sep:
        raise RowError(f"payment {item!r} must be YYYY-MM-DD=amount")
    day = records.date("payment date", when)
    if day is None:
        raise RowError(f"payment {item!r} has no date")
    return Payment(day, records.money("payment amount", amount))


# ---------------------------------------------------------------- JSON Lines


def jsonl_rows(lines: Iterator[str], default_region: str | None) -> Iterator[Row]:
    for chunk in _chunks(jsonl_lines(lines)):
        yield from _json_chunk(default_region, chunk)


def jsonl_lines(lines: Iterator[str]) -> Iterator[Unit]:
    for number, text in enumerate(lines, start=1):
        if text.strip():
            yield (number, text)


def _json_chunk(default_region: str | None, chunk: list[Unit]) -> list[Row]:
    return [unit if isinstance(unit, Row) else _json_row(unit[0], unit[1], default_region) for unit in chunk]


def _json_row(line: int, text: str, default_region: str | None) -> Row:
    if "\ufffd" in text:
        return Row(line, None, reason="contains bytes that are not UTF-8 (save the file as UTF-8)")
    try:
        obj = json.loads(text)
    except json.JSONDecodeError as exc:
        return Row(line, None, reason=f"not valid JSON ({exc.msg} at column {exc.colno})")
    if not isinstance(obj, dict):
        return Row(line, None, reason="must be a JSON object")
    raw_id = obj.get("account_id")
    shown_id = str(raw_id).strip() if isinstance(raw_id, str | int) else None
    try:
        unknown = sorted(set(obj) - JSON_KEYS)
        if unknown:
            raise RowError(f"unknown fields {', '.join(unknown)}")
        if not isinstance(raw_id, str):
            raise RowError("account_id is missing" if raw_id is None else "account_id must be a string")
        records.account_id(raw_id)
        record = records.build(
            account_id_value=raw_id,
            first_name=_text(obj, "first_name"),
            last_name=_text(obj, "last_name"),
            phones=[_json_phone(item, default_region) for item in _list(obj, "phones")],
            timezone_value=_text(obj, "timezone"),
            language_value=_text(obj, "language"),
            balance=_number(obj, "balance"),
            currency_value=_text(obj, "currency"),
            due_date=_text(obj, "due_date"),
            days_past_due_value=_integer(obj, "days_past_due"),
            product=_text(obj, "product"),
            risk_segment=_text(obj, "risk_segment"),
            flag_values=[_item_text("flags", flag) for flag in _list(obj, "flags")],
            payments=[_json_payment(item) for item in _list(obj, "payment_history")],
            creditor=_text(obj, "creditor"),
        )
    except RowError as exc:
        return Row(line, None, shown_id, str(exc))
    return Row(line, record, record.account_id)


def _text(obj: dict[str, Any], key: str) -> str | None:
    value = obj.get(key)
    if value is not None and not isinstance(value, str):
        raise RowError(f"{key} must be a string")
    return value


def _number(obj: dict[str, Any], key: str) -> Any:
    value = obj.get(key)
    if isinstance(value, float):
        raise RowError(f'{key} must be a string like "1234.56" or an integer (a JSON float loses cents)')
    if value is not None and (isinstance(value, bool) or not isinstance(value, str | int)):
        raise RowError(f'{key} must be a string like "1234.56" or an integer')
    return value


def _integer(obj: dict[str, Any], key: str) -> int | None:
    value = obj.get(key)
    if value is not None and (isinstance(value, bool) or not isinstance(value, int)):
        raise RowError(f"{key} must be a whole number")
    return value


def _list(obj: dict[str, Any], key: str) -> list[Any]:
    value = obj.get(key)
    if value is None:
        return []
    if not isinstance(value, list):
        raise RowError(f"{key} must be a list")
    return value


def _item_text(key: str, value: Any) -> str:
    if not isinstance(value, str):
        raise RowError(f"{key} entries must be strings")
    return value


def _json_phone(item: Any, default_region: str | None) -> PhoneRecord:
    if isinstance(item, str):
        item = {"number": item}
    if not isinstance(item, dict):
        raise RowError("phones entries must be objects with a number")
    unknown = sorted(set(item) - JSON_PHONE_KEYS)
    if unknown:
        raise RowError(f"phone has unknown fields {', '.join(unknown)}")
    number = item.get("number")
    if not isinstance(number, str):
        raise RowError("phone number is missing or not a string")
    consent = item.get("ai_voice_consent", False)
    if not isinstance(consent, bool | str):
        raise RowError(f"phone {number}: ai_voice_consent must be true/false")
    return records.phone_record(
        number,
        _item_text("phone type", item.get("type", "")),
        consent,
        item.get("consent_date"),
        _item_text("contact_type", item.get("contact_type", "")),
        default_region,
        item.get("consent_scope"),
    )


def _json_payment(item: Any) -> Payment:
    if not isinstance(item, dict) or set(item) != {"date", "amount"}:
        raise RowError('payment_history entries must be {"date": "YYYY-MM-DD", "amount": "12.34"}')
    day = records.date("payment date", item["date"])
    if day is None:
        raise RowError("payment date is missing")
    if isinstance(item["amount"], float):
        raise RowError('payment amount must be a string like "12.34" (a JSON float loses cents)')
    return Payment(day, records.money("payment amount", item["amount"]))
