"""A KPI report: the counted facts of each cut with every metric, as JSON-ready rows or CSV."""

from __future__ import annotations

import csv
import datetime as dt
import io
from dataclasses import asdict, dataclass
from decimal import Decimal
from typing import Any

from sqlalchemy import Engine

from dialer.analytics.metrics import (
    METRICS,
    MONEY_FIELDS,
    MONEY_METRICS,
    Counts,
    Prices,
    RollMatrix,
    compute,
    roll_matrix,
)
from dialer.analytics.queries import ABANDON_WINDOWS, KpiCounts, KpiQuery, account_days, count_facts
from dialer.assignment.model import Bucket
from foundation import paths
from foundation.errors import InputError
from foundation.settings import get_settings

COUNT_FIELDS = tuple(asdict(Counts()).keys())
WINDOW_NAMES = tuple(name for name, _ in ABANDON_WINDOWS)
MAX_DAYS = 3 * 366  # a wider period is a mistake more often than a wish
FIRST_YEAR, LAST_YEAR = 1970, 2999  # far enough from the calendar's ends for a period's margins


@dataclass(frozen=True, slots=True)
class KpiReport:
    query: KpiQuery
    counts: KpiCounts

    def row(self, key: tuple[Any, ...], counts: Counts, *, money: bool = True) -> dict[str, Any]:
        out: dict[str, Any] = dict(zip(self.query.by, key, strict=True))
        for name, value in asdict(counts).items():
            out[name] = _plain(value) if money or name not in MONEY_FIELDS else None
        for name, value in compute(counts).items():
            out[name] = value if money or name not in MONEY_METRICS else None
        windows = self.counts.windows.get(
            tuple(v for d, v in zip(self.query.by, key, strict=True) if d in self.counts.window_by)
        )
        time_cut = len(self.counts.window_by) != len(self.query.by)
        for name in WINDOW_NAMES:
            out[name] = windows.rate(name) if windows is not None and not time_cut else None
        return out

    def rows(self, *, money: bool = True) -> list[dict[str, Any]]:
        return [self.row(k, c, money=money) for k, c in self.counts.rows.items()]

    def total(self, *, money: bool = True) -> dict[str, Any]:
        out: dict[str, Any] = {d: None for d in self.query.by}
        out.update(self.row((None,) * len(self.query.by), self.counts.total, money=money))
        windows = self.counts.windows.get(())
        for name in WINDOW_NAMES:
            out[name] = windows.rate(name) if windows is not None else None
        return out

    def as_json(self, *, money: bool = True) -> dict[str, Any]:
        q = self.query
        return {
            "from": q.first.isoformat(),
            "to": q.last.isoformat(),
            "by": list(q.by),
            "filters": {
                k: v
                for k, v in (
                    ("campaign", q.campaign),
                    ("creditor", q.creditor),
                    ("stage", q.stage),
                    ("script", q.script),
                )
                if v is not None
            },
            "definitions": {m.name: m.definition for m in METRICS},
            "rows": self.rows(money=money),
            "total": self.total(money=money),
        }

    def csv(self, *, money: bool = True) -> str:
        buf = io.StringIO()
        columns = [*self.query.by, *COUNT_FIELDS, *(m.name for m in METRICS), *WINDOW_NAMES]
        writer = csv.DictWriter(buf, fieldnames=columns, lineterminator="\n")
        writer.writeheader()
        for row in self.rows(money=money):
            writer.writerow({k: _cell(v) for k, v in row.items()})
        return buf.getvalue()


def _plain(value: Any) -> Any:
    return str(value) if isinstance(value, Decimal) else value


def _cell(value: Any) -> Any:
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:.6g}"
    return value


def check_period(first: dt.date, last: dt.date) -> None:
    for day in (first, last):
        if not FIRST_YEAR <= day.year <= LAST_YEAR:
            raise InputError(f"{day} is outside {FIRST_YEAR}-{LAST_YEAR}", "give a day of the store's calls")
    if last < first:
        raise InputError(f"the last day {last} is before the first {first}", "swap --from and --to")
    if (last - first).days > MAX_DAYS:
        raise InputError(
            f"the period {first}..{last} is over {MAX_DAYS} days", "ask for three years or less at a time"
        )


def configured_prices() -> Prices:
    """The prices of a minute, a message and a letter from ``DUNCALL_COST_PER_*`` (0 when unset)."""
    s = get_settings()
    return Prices(s.cost_per_minute, s.cost_per_message, s.cost_per_letter)


def kpi_report(
    engine: Engine, query: KpiQuery, prices: Prices | None = None, *, refresh: bool = True
) -> KpiReport:
    """Count ``query``'s facts in the store and pair them with the metric definitions."""
    check_period(query.first, query.last)
    return KpiReport(query, count_facts(engine, query, prices or configured_prices(), refresh=refresh))


def default_buckets() -> tuple[Bucket, ...]:
    """The DPD buckets of the shipped assignment rules (``strategies/assignment.yaml``)."""
    from dialer.assignment.config import load_rules

    return load_rules(paths.strategies_dir() / "assignment.yaml").buckets


def roll_report(
    engine: Engine,
    first: dt.date,
    last: dt.date,
    *,
    today: dt.date,
    creditor: str | None = None,
    buckets: tuple[Bucket, ...] | None = None,
) -> RollMatrix:
    """Roll rates and the cure rate between ``first`` and ``last`` (see ``metrics.RollMatrix``)."""
    check_period(first, last)
    groups = account_days(engine, first, last, creditor)
    return roll_matrix(groups, buckets or default_buckets(), first, last, today)
