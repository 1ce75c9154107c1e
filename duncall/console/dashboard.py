"""The KPI dashboard: headline numbers and four charts, drawn on the server from one set of queries.

The numbers are ``dialer.analytics``'s, the same as ``duncall kpi`` prints for the same period
and filters.  Money (amount collected, balance placed, recovery) is shown only to roles that may
read amounts; the others see the rates and counts.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, replace
from html import escape
from typing import Any

from sqlalchemy import Engine

from dialer.analytics.experiments_store import summaries
from dialer.analytics.metrics import WEEKDAYS, RollMatrix
from dialer.analytics.queries import KpiQuery
from dialer.analytics.report import kpi_report, roll_report
from duncall.console import charts

MASKED = "masked"


@dataclass(frozen=True, slots=True)
class Dashboard:
    query: KpiQuery
    total: dict[str, Any]
    days: list[dict[str, Any]]
    heat: list[dict[str, Any]]
    scripts: list[dict[str, Any]]
    money: bool
    rolls: RollMatrix | None = None
    experiments: list[dict[str, Any]] | None = None
    collectors: list[dict[str, Any]] | None = None

    def as_json(self) -> dict[str, Any]:
        return {
            "total": self.total,
            "days": self.days,
            "heat": self.heat,
            "scripts": self.scripts,
            "rolls": None if self.rolls is None else self.rolls.as_json(),
            "experiments": self.experiments,
            "collectors": self.collectors,
        }


def build(engine: Engine, query: KpiQuery, *, money: bool, today: dt.date | None = None) -> Dashboard:
    """The cuts the dashboard draws: the whole period, per day, per local hour × weekday, per script,
    and the accounts' DPD buckets on the first day against the last (roll rates)."""
    whole = kpi_report(engine, replace(query, by=()))  # refreshes the facts once for the page
    days = kpi_report(engine, replace(query, by=("day",)), refresh=False)
    heat = kpi_report(engine, replace(query, by=("weekday", "hour")), refresh=False)
    scripts = kpi_report(engine, replace(query, by=("script", "script_version")), refresh=False)
    collectors = kpi_report(engine, replace(query, by=("collector",)), refresh=False)
    return Dashboard(
        query,
        whole.total(money=money),
        days.rows(money=money),
        heat.rows(money=money),
        _script_rows(scripts.rows(money=money)),
        money,
        roll_report(engine, query.first, query.last, today=today or query.last, creditor=query.creditor),
        [x.as_json() for x in summaries(engine) if x.experiment.status == "running"],
        # Collectors who worked calls in the period (accounts held by nobody are not a collector).
        [r for r in collectors.rows(money=money) if r["collector"] is not None and r["dialled"]],
    )


def _script_rows(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Scripts with answered calls; a script's version is known only once answered (its call record),
    so its unversioned row (calls nobody took) is left out when versioned rows exist."""
    versioned = {r["script"] for r in rows if r["script_version"] is not None}
    return [
        r for r in rows if r["answered"] and (r["script_version"] is not None or r["script"] not in versioned)
    ]


def _pct(v: Any) -> str:
    return "–" if v is None else f"{100 * v:.1f}%"


def _tile(label: str, value: str, name: str) -> str:
    return f'<div class="tile" data-kpi="{name}"><span>{escape(label)}</span><strong>{escape(value)}</strong></div>'


def _all_days(first: dt.date, last: dt.date) -> list[str]:
    return [(first + dt.timedelta(days=i)).isoformat() for i in range((last - first).days + 1)]


def render(d: Dashboard, *, promote: bool = False) -> str:
    """The dashboard as an HTML fragment: tiles, then the charts, each an inline ``<svg>``."""
    t = d.total
    handle = "–" if t["average_handle_s"] is None else f"{t['average_handle_s']:.0f} s"
    tiles = [
        _tile("Dialled", str(t["dialled"]), "dialled"),
        _tile("Contact rate", _pct(t["contact_rate"]), "contact_rate"),
        _tile("RPC rate", _pct(t["rpc_rate"]), "rpc_rate"),
        _tile("PTP rate", _pct(t["ptp_rate"]), "ptp_rate"),
        _tile("PTP kept", _pct(t["ptp_kept_rate"]), "ptp_kept_rate"),
        _tile("Collected", MASKED if not d.money else str(t["collected"]), "collected"),
        _tile("Recovery", MASKED if not d.money else _pct(t["recovery_rate"]), "recovery_rate"),
        _tile("Abandoned (30 days)", _pct(t["abandon_30d"]), "abandon_30d"),
        _tile("Abandoned (24 h)", _pct(t["abandon_24h"]), "abandon_24h"),
        _tile("Average handle", handle, "average_handle_s"),
        _tile(
            "Cost per unit collected",
            MASKED
            if not d.money
            else ("–" if t["cost_per_collected"] is None else f"{t['cost_per_collected']:.3f}"),
            "cost_per_collected",
        ),
    ]
    by_day = {r["day"]: r for r in d.days}
    labels = _all_days(d.query.first, d.query.last)
    trend = charts.trend(
        "Daily rates (debtor's local day)",
        labels,
        {
            "contact": [by_day.get(day, {}).get("contact_rate") for day in labels],
            "right party": [by_day.get(day, {}).get("rpc_rate") for day in labels],
            "promise": [by_day.get(day, {}).get("ptp_rate") for day in labels],
        },
    )
    funnel = charts.funnel(
        "Funnel",
        [
            ("dialled", t["dialled"]),
            ("answered", t["answered"]),
            ("right party", t["right_party"]),
            ("promised", t["promises"]),
            ("kept", t["promises_kept"]),
        ],
    )
    cells = {
        (r["weekday"] - 1, r["hour"]): (r["contact_rate"], r["dialled"])
        for r in d.heat
        if r["weekday"] is not None and r["dialled"]
    }
    heat = charts.heatmap(
        "Contact rate by the debtor's local hour and weekday",
        WEEKDAYS,
        [f"{h:02d}" for h in range(24)],
        cells,
    )
    names = [
        f"{r['script'] or 'no script'}" + ("" if r["script_version"] is None else f" v{r['script_version']}")
        for r in d.scripts
    ]
    per_script = charts.bars(
        "Per script and version (of answered calls)",
        names,
        {
            "right party": [r["rpc_rate"] for r in d.scripts],
            "promise": [r["ptp_rate"] for r in d.scripts],
            "kept": [r["ptp_kept_rate"] for r in d.scripts],
        },
    )
    figures = [trend, funnel, heat, per_script]
    if d.collectors:
        figures.append(
            charts.bars(
                "Per collector (the accounts they hold now)",
                [str(r["collector"]) for r in d.collectors],
                {
                    "contact": [r["contact_rate"] for r in d.collectors],
                    "right party": [r["rpc_rate"] for r in d.collectors],
                    "promise": [r["ptp_rate"] for r in d.collectors],
                },
                chart="collectors",
            )
        )
    if d.rolls is not None:
        figures.append(_rolls(d.rolls))
    return (
        f'<div class="tiles">{"".join(tiles)}</div><div class="charts">'
        + "".join(f"<figure>{f}</figure>" for f in figures)
        + "</div>"
        + _experiment_tables(d.experiments or [], d.money, promote)
    )


def _interval(r: dict[str, Any]) -> str:
    if r["rate"] is None:
        return "–"
    return f"{_pct(r['rate'])} [{_pct(r['low'])}, {_pct(r['high'])}]"


def _experiment_tables(experiments: list[dict[str, Any]], money: bool, promote: bool) -> str:
    """Running champion/challenger experiments: each arm with 95 % intervals, and the payer-rate test
    (with ``promote``, a button that promotes the challenger: the page asks before it forces one)."""
    out = []
    for x in experiments:
        rows = []
        for arm, a in x["arms"].items():
            collected = a["collected"] if money else MASKED
            rows.append(
                f'<tr data-arm="{arm}"><td>{arm}</td><td>{escape(x[arm])}</td><td>{a["accounts"]}</td>'
                f"<td>{_interval(a['payer_rate'])}</td><td>{_interval(a['contact_rate'])}</td>"
                f"<td>{_interval(a['rpc_rate'])}</td><td>{escape(str(collected))}</td></tr>"
            )
        test = x["tests"]["payer_rate"]
        verdict = (
            "not enough data for a test"
            if test is None
            else f"payer rate {100 * test['difference']:+.1f} points, z {test['z']:.2f}, p {test['p_value']:.3g}"
            + (" (significant)" if test["significant"] else " (not significant)")
        )
        out.append(
            f'<section class="experiment" data-experiment="{escape(x["experiment_id"])}">'
            f"<h2>Experiment {escape(x['experiment_id'])}</h2>"
            "<table><tr><th>arm</th><th>script</th><th>accounts</th><th>payer rate [95% CI]</th>"
            "<th>contact rate</th><th>RPC rate</th><th>collected</th></tr>"
            + "".join(rows)
            + f'</table><p class="muted" data-test="payer_rate">{escape(verdict)}</p>'
            + (
                f'<button type="button" data-promote="{escape(x["experiment_id"])}">Promote the challenger</button>'
                if promote
                else ""
            )
            + "</section>"
        )
    return "".join(out)


def _rolls(m: RollMatrix) -> str:
    """Roll rates: rows are the buckets on the first day, columns those on the last (and paid)."""
    cells = {
        (i, j): (m.rate(start, end), m.from_bucket(start))
        for i, start in enumerate(m.buckets)
        for j, end in enumerate(m.columns)
        if m.from_bucket(start)
    }
    cure = "–" if m.cure_rate is None else f"{100 * m.cure_rate:.1f}%"
    return charts.heatmap(
        f"Roll rates {m.first} → {m.last} (cure rate {cure})",
        m.buckets,
        m.columns,
        cells,
        cell=56,
        unit="accounts",
        chart="rolls",
        left=70,
        labels=True,
    )
