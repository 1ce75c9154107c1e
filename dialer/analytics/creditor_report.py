"""The report an agency sends each creditor: a PDF and a CSV of one day's or one week's KPIs.

The numbers are ``kpi_report``'s for the creditor's accounts and the period (the same as
``duncall kpi --creditor C --from … --to … --json``), with a 28-day trend of the contact and
right-party rates drawn with fpdf2's own lines, the period's campaigns, and the roll rates
between the period's first and last days.  fpdf2's built-in Helvetica is Latin-1 only: a report
with a name outside it (a Chinese creditor, a campaign named in Chinese) is set in the CJK
TrueType font the 催收函 embeds (WenQuanYi Zen Hei, which covers Latin too, without a bold).
"""

from __future__ import annotations

import csv
import datetime as dt
import io
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from fpdf import FPDF
from sqlalchemy import Engine, select

from dialer.analytics.metrics import RollMatrix
from dialer.analytics.queries import KpiQuery
from dialer.analytics.report import COUNT_FIELDS, WINDOW_NAMES, kpi_report, roll_report
from dialer.messaging.letters_zh import cjk_font
from dialer.store.models import Creditor
from foundation.errors import InputError

Period = Literal["daily", "weekly"]
TREND_DAYS = 28
HEADLINE = (
    ("dialled", "Calls dialled"),
    ("answered", "Answered (contacts)"),
    ("right_party", "Right-party contacts"),
    ("promises", "Promises to pay"),
    ("promises_kept", "Promises kept"),
    ("collected", "Amount collected"),
    ("placed", "Balance placed"),
    ("contact_rate", "Contact rate"),
    ("rpc_rate", "Right-party contact rate"),
    ("ptp_rate", "Promise-to-pay rate"),
    ("ptp_kept_rate", "Promise-kept rate"),
    ("recovery_rate", "Recovery rate"),
    ("abandon_rate", "Abandonment"),
    ("average_handle_s", "Average handle time"),
    ("messages", "Messages sent"),
    ("letters", "Letters sent"),
    ("cost_per_collected", "Cost per unit collected"),
)


def period_days(period: Period, day: dt.date) -> tuple[dt.date, dt.date]:
    """Daily: that day.  Weekly: the ISO week (Monday to Sunday) holding it."""
    if period == "daily":
        return day, day
    monday = day - dt.timedelta(days=day.weekday())
    return monday, monday + dt.timedelta(days=6)


def fmt(name: str, value: Any) -> str:
    """A number as the report writes it (the test reads the PDF back with these)."""
    if value is None:
        return "-"
    if name.endswith("_rate") or name.startswith("abandon_"):
        return f"{100 * value:.1f}%"
    if name == "average_handle_s":
        return f"{value:.0f} s"
    if name == "cost_per_collected":
        return f"{value:.4f}"
    return str(value)


@dataclass(frozen=True, slots=True)
class CreditorReport:
    creditor_id: str
    creditor_name: str
    period: Period
    first: dt.date
    last: dt.date
    total: dict[str, Any]
    days: list[dict[str, Any]]  # the period's days
    trend: list[dict[str, Any]]  # the TREND_DAYS days ending on ``last``
    campaigns: list[dict[str, Any]]
    rolls: RollMatrix

    @property
    def stem(self) -> str:
        when = self.first.isoformat() if self.period == "daily" else f"{self.first}_{self.last}"
        return f"{self.creditor_id}-{self.period}-{when}"

    def csv(self) -> str:
        """The period's days, then a ``total`` row: the counts and metrics of ``duncall kpi --csv``."""
        buf = io.StringIO()
        from dialer.analytics.metrics import METRICS

        columns = ["day", *COUNT_FIELDS, *(m.name for m in METRICS), *WINDOW_NAMES]
        writer = csv.DictWriter(buf, fieldnames=columns, lineterminator="\n", extrasaction="ignore")
        writer.writeheader()
        for row in [*self.days, {**self.total, "day": "total"}]:
            writer.writerow({k: _cell(row.get(k)) for k in columns})
        return buf.getvalue()

    def pdf(self, generated_at: dt.datetime) -> bytes:
        return render_pdf(self, generated_at)


def _cell(value: Any) -> Any:
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:.6g}"
    return value


def build(
    engine: Engine, creditor_id: str, period: Period, day: dt.date, *, today: dt.date
) -> CreditorReport:
    with engine.connect() as conn:
        name = conn.execute(select(Creditor.name).where(Creditor.creditor_id == creditor_id)).scalar()
    if name is None:
        raise InputError(f"no creditor {creditor_id!r}", "see duncall creditors list")
    first, last = period_days(period, day)
    q = KpiQuery(first, last, (), creditor=creditor_id)
    whole = kpi_report(engine, q)
    days = kpi_report(engine, KpiQuery(first, last, ("day",), creditor=creditor_id), refresh=False)
    trend = kpi_report(
        engine,
        KpiQuery(last - dt.timedelta(days=TREND_DAYS - 1), last, ("day",), creditor=creditor_id),
        refresh=False,
    )
    campaigns = kpi_report(engine, KpiQuery(first, last, ("campaign",), creditor=creditor_id), refresh=False)
    rolls = roll_report(engine, first, last, today=today, creditor=creditor_id)
    return CreditorReport(
        creditor_id,
        name,
        period,
        first,
        last,
        whole.total(),
        days.rows(),
        trend.rows(),
        [r for r in campaigns.rows() if r["dialled"]],
        rolls,
    )


def creditor_ids(engine: Engine) -> list[str]:
    with engine.connect() as conn:
        return list(conn.execute(select(Creditor.creditor_id).order_by(Creditor.creditor_id)).scalars())


def write(report: CreditorReport, out: Path, generated_at: dt.datetime) -> tuple[Path, Path]:
    """``out/<creditor>/<stem>.pdf`` and ``.csv``; a rerun for the same period replaces them."""
    folder = out / report.creditor_id
    folder.mkdir(parents=True, exist_ok=True)
    pdf, table = folder / f"{report.stem}.pdf", folder / f"{report.stem}.csv"
    pdf.write_bytes(report.pdf(generated_at))
    table.write_text(report.csv(), encoding="utf-8")
    return pdf, table


# -- the PDF -------------------------------------------------------------------------------------


def _latin(text: str) -> str:
    return text.encode("latin-1", "replace").decode("latin-1")


def _needs_unicode(r: CreditorReport) -> bool:
    names = [r.creditor_name, r.creditor_id, *(str(c["campaign"] or "") for c in r.campaigns)]
    return any(_latin(n) != n for n in names)


class _Report(FPDF):
    """An A4 page in Helvetica, or in the CJK font when the report's names need it."""

    def __init__(self, unicode_font: Path | None) -> None:
        super().__init__(format="A4")
        self._unicode = unicode_font is not None
        if unicode_font is not None:
            self.add_font("unicode", fname=str(unicode_font))

    def use(self, size: float, *, bold: bool = False) -> None:
        if self._unicode:
            self.set_font("unicode", size=size)
        else:
            self.set_font("Helvetica", style="B" if bold else "", size=size)

    def t(self, text: str) -> str:
        return text if self._unicode else _latin(text)


def render_pdf(r: CreditorReport, generated_at: dt.datetime) -> bytes:
    pdf = _Report(cjk_font() if _needs_unicode(r) else None)
    pdf.set_auto_page_break(auto=True, margin=15)
    pdf.add_page()
    pdf.use(15, bold=True)
    pdf.cell(0, 8, pdf.t(f"Collection report: {r.creditor_name}"), new_x="LMARGIN", new_y="NEXT")
    pdf.use(10)
    span = str(r.first) if r.period == "daily" else f"{r.first} to {r.last}"
    pdf.cell(
        0,
        6,
        pdf.t(f"{r.period.capitalize()} report for {span} ({r.creditor_id}); debtors' local days"),
        new_x="LMARGIN",
        new_y="NEXT",
    )
    pdf.cell(0, 6, f"Generated {generated_at:%Y-%m-%d %H:%M} UTC", new_x="LMARGIN", new_y="NEXT")
    pdf.ln(3)
    _heading(pdf, "Key figures")
    for name, label in HEADLINE:
        pdf.cell(80, 6, label)
        pdf.cell(0, 6, fmt(name, r.total.get(name)), new_x="LMARGIN", new_y="NEXT")
    pdf.ln(3)
    _heading(pdf, f"Contact and right-party rates, the {TREND_DAYS} days to {r.last}")
    _trend_chart(pdf, r)
    if r.campaigns:
        _heading(pdf, "By campaign")
        _table(
            pdf,
            ["campaign", "dialled", "contact", "RPC", "PTP", "collected"],
            [
                [
                    str(c["campaign"] or "-"),
                    str(c["dialled"]),
                    fmt("contact_rate", c["contact_rate"]),
                    fmt("rpc_rate", c["rpc_rate"]),
                    fmt("ptp_rate", c["ptp_rate"]),
                    fmt("collected", c["collected"]),
                ]
                for c in r.campaigns
            ],
        )
    _heading(pdf, f"Roll rates between DPD buckets, {r.first} to {r.last}")
    m = r.rolls
    _table(
        pdf,
        ["from \\ to", "accounts", *m.columns],
        [[b, str(m.from_bucket(b)), *(fmt("x_rate", m.rate(b, c)) for c in m.columns)] for b in m.buckets],
    )
    pdf.cell(0, 6, f"Cure rate: {fmt('cure_rate', m.cure_rate)}", new_x="LMARGIN", new_y="NEXT")
    pdf.ln(2)
    pdf.use(8)
    pdf.multi_cell(
        0,
        4,
        "Contact rate: answered / dialled. RPC rate: right-party contacts / answered. PTP rate: promises / "
        "right-party contacts. Promise-kept rate: kept / promises judged. Recovery: collected / balance "
        "placed. Roll rate i to j: accounts in bucket i on the first day that are in j on the last / "
        "accounts in i on the first day.",
        new_x="LMARGIN",
        new_y="NEXT",
    )
    return bytes(pdf.output())


def _heading(pdf: _Report, text: str) -> None:
    pdf.use(11, bold=True)
    pdf.cell(0, 7, pdf.t(text), new_x="LMARGIN", new_y="NEXT")
    pdf.use(9)


def _table(pdf: _Report, header: list[str], rows: list[list[str]]) -> None:
    width = (pdf.w - pdf.l_margin - pdf.r_margin) / len(header)
    pdf.use(9, bold=True)
    for h in header:
        pdf.cell(width, 6, pdf.t(h), border=1)
    pdf.ln()
    pdf.use(9)
    for row in rows:
        for v in row:
            pdf.cell(width, 6, pdf.t(v), border=1)
        pdf.ln()
    pdf.ln(2)


def _trend_chart(pdf: _Report, r: CreditorReport) -> None:
    """Two lines over the trailing days, drawn with fpdf2's lines: nothing but the PDF is needed."""
    by_day = {row["day"]: row for row in r.trend}
    days = [r.last - dt.timedelta(days=TREND_DAYS - 1 - i) for i in range(TREND_DAYS)]
    x0, y0, w, h = pdf.l_margin + 10, pdf.get_y() + 2, 160.0, 45.0
    pdf.set_draw_color(148, 163, 184)
    pdf.set_line_width(0.2)
    pdf.line(x0, y0, x0, y0 + h)
    pdf.line(x0, y0 + h, x0 + w, y0 + h)
    pdf.use(7)
    for frac in (0.0, 0.5, 1.0):
        pdf.text(x0 - 9, y0 + h - frac * h + 1, f"{100 * frac:.0f}%")
    for i in (0, TREND_DAYS // 2, TREND_DAYS - 1):
        pdf.text(x0 + i * w / (TREND_DAYS - 1) - 7, y0 + h + 4, days[i].isoformat())
    for (name, colour), ly in zip(
        (("contact_rate", (37, 99, 235)), ("rpc_rate", (22, 163, 74))), (y0 + 2, y0 + 6), strict=True
    ):
        pdf.set_draw_color(*colour)
        pdf.set_line_width(0.6)
        points = [
            (x0 + i * w / (TREND_DAYS - 1), y0 + h - by_day[d.isoformat()][name] * h)
            for i, d in enumerate(days)
            if by_day.get(d.isoformat(), {}).get(name) is not None
        ]
        if len(points) > 1:
            pdf.polyline(points)
        pdf.set_fill_color(*colour)
        for x, y in points:  # a mark per day, so a lone day shows too
            pdf.rect(x - 0.6, y - 0.6, 1.2, 1.2, style="F")
        pdf.line(x0 + w + 3, ly, x0 + w + 9, ly)
        pdf.text(x0 + w + 10, ly + 1, "contact" if name == "contact_rate" else "right party")
    pdf.set_draw_color(0, 0, 0)
    pdf.set_line_width(0.2)
    pdf.set_y(y0 + h + 8)
