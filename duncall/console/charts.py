"""Charts drawn on the server as SVG: nothing is fetched at run time, nothing runs in the browser.

Each function takes plain numbers and returns one ``<svg>`` element as text; every label is
escaped.  The shapes a manager reads at a glance: a trend line, a funnel, a heat map, bars.
"""

from __future__ import annotations

from collections.abc import Sequence
from html import escape

PALETTE = ("#2563eb", "#16a34a", "#d97706", "#9333ea", "#dc2626", "#0891b2")
FONT = 'font-family="system-ui, sans-serif" font-size="11"'


def _pct(value: float | None) -> str:
    return "–" if value is None else f"{100 * value:.1f}%"


def _svg(width: int, height: int, title: str, body: list[str], chart: str) -> str:
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" width="{width}" '
        f'height="{height}" role="img" aria-label="{escape(title)}" data-chart="{chart}" {FONT}>'
        f"<title>{escape(title)}</title>" + "".join(body) + "</svg>"
    )


def trend(
    title: str, labels: Sequence[str], series: dict[str, Sequence[float | None]], *, width: int = 640
) -> str:
    """Rates (0..1) over time, one line per series; a gap where a day has nothing to divide."""
    height, left, right, top, bottom = 240, 44, 120, 24, 36
    plot_w, plot_h = width - left - right, height - top - bottom
    values: list[float] = [v for s in series.values() for v in s if v is not None]
    top_value = max([0.1, *values])
    top_value = min(1.0, (int(top_value * 10) + 1) / 10)
    n = max(1, len(labels) - 1)

    def x(i: int) -> float:
        return left + plot_w * (i / n if len(labels) > 1 else 0.5)

    def y(v: float) -> float:
        return top + plot_h * (1 - v / top_value)

    body = [f'<text x="{left}" y="14" font-weight="bold">{escape(title)}</text>']
    for k in range(6):
        v = top_value * k / 5
        body.append(
            f'<line x1="{left}" x2="{left + plot_w}" y1="{y(v):.1f}" y2="{y(v):.1f}" stroke="#e2e8f0"/>'
        )
        body.append(f'<text x="{left - 4}" y="{y(v) + 4:.1f}" text-anchor="end">{100 * v:.0f}%</text>')
    step = max(1, len(labels) // 8)
    for i, label in enumerate(labels):
        if i % step == 0 or (i == len(labels) - 1 and i % step > step // 2):
            body.append(
                f'<text x="{x(i):.1f}" y="{height - 18}" text-anchor="middle">{escape(label[5:])}</text>'
            )
    for colour, (name, points) in zip(PALETTE, series.items(), strict=False):
        runs: list[list[str]] = [[]]
        for i, point in enumerate(points):
            if point is None:
                runs.append([])
            else:
                runs[-1].append(f"{x(i):.1f},{y(point):.1f}")
        for run in runs:
            if len(run) > 1:
                body.append(
                    f'<polyline fill="none" stroke="{colour}" stroke-width="2" points="{" ".join(run)}"/>'
                )
            for xy in run:
                cx, cy = xy.split(",")
                body.append(f'<circle cx="{cx}" cy="{cy}" r="2.5" fill="{colour}"/>')
        legend_y = top + 14 * list(series).index(name)
        body.append(f'<rect x="{width - right + 12}" y="{legend_y}" width="10" height="10" fill="{colour}"/>')
        body.append(f'<text x="{width - right + 26}" y="{legend_y + 9}">{escape(name)}</text>')
    return _svg(width, height, title, body, "trend")


def funnel(title: str, stages: Sequence[tuple[str, int]], *, width: int = 640) -> str:
    """Each stage's count as a bar, with its share of the stage before (dialled → … → kept)."""
    bar_h, gap, top, left = 30, 8, 24, 90
    height = top + len(stages) * (bar_h + gap) + 4
    widest = max([1, *(c for _, c in stages)])
    plot_w = width - left - 150
    body = [f'<text x="0" y="14" font-weight="bold">{escape(title)}</text>']
    previous: int | None = None
    for i, (label, count) in enumerate(stages):
        w = max(2.0, plot_w * count / widest)
        yy = top + i * (bar_h + gap)
        xx = left + (plot_w - w) / 2
        share = "" if previous is None else f" ({_pct(count / previous if previous else None)} of previous)"
        body.append(f'<text x="{left - 6}" y="{yy + bar_h / 2 + 4}" text-anchor="end">{escape(label)}</text>')
        body.append(
            f'<rect x="{xx:.1f}" y="{yy}" width="{w:.1f}" height="{bar_h}" fill="{PALETTE[i % len(PALETTE)]}" rx="3"/>'
        )
        body.append(
            f'<text x="{left + plot_w + 6}" y="{yy + bar_h / 2 + 4}" data-stage="{escape(label)}">'
            f"{count}{escape(share)}</text>"
        )
        previous = count
    return _svg(width, height, title, body, "funnel")


def _heat_colour(v: float, top: float) -> str:
    # White to deep blue: a manager reads "darker is better" without a legend lookup.
    t = 0.0 if top <= 0 else min(1.0, v / top)
    r, g, b = (int(255 + (c - 255) * t) for c in (30, 64, 175))
    return f"rgb({r},{g},{b})"


def heatmap(
    title: str,
    rows: Sequence[str],
    columns: Sequence[str],
    cells: dict[tuple[int, int], tuple[float | None, int]],
    *,
    cell: int = 22,
    unit: str = "dialled",
    chart: str = "heatmap",
    left: int = 40,
    labels: bool = False,
) -> str:
    """A rate per (row, column) cell, coloured by value; the cell's count and rate in its tooltip
    (and, with ``labels``, written in the cell)."""
    top = 34
    width, height = left + cell * len(columns) + 10, top + cell * len(rows) + 10
    rates = [r for r, _ in cells.values() if r is not None]
    high = max(rates, default=0.0)
    body = [f'<text x="0" y="14" font-weight="bold">{escape(title)}</text>']
    for j, label in enumerate(columns):
        body.append(
            f'<text x="{left + j * cell + cell / 2}" y="{top - 4}" text-anchor="middle">{escape(label)}</text>'
        )
    for i, label in enumerate(rows):
        body.append(
            f'<text x="{left - 4}" y="{top + i * cell + cell / 2 + 4}" text-anchor="end">{escape(label)}</text>'
        )
        for j in range(len(columns)):
            rate, count = cells.get((i, j), (None, 0))
            fill = "#f1f5f9" if rate is None else _heat_colour(rate, high)
            tip = f"{label} {columns[j]}: {_pct(rate)} of {count} {unit}"
            body.append(
                f'<rect x="{left + j * cell}" y="{top + i * cell}" width="{cell - 1}" height="{cell - 1}" '
                f'fill="{fill}" data-cell="{i},{j}" data-rate="{"" if rate is None else f"{rate:.4f}"}">'
                f"<title>{escape(tip)}</title></rect>"
            )
            if labels and rate is not None:
                body.append(
                    f'<text x="{left + j * cell + cell / 2}" y="{top + i * cell + cell / 2 + 4}" '
                    f'text-anchor="middle">{_pct(rate)}</text>'
                )
    return _svg(width, height, title, body, chart)


def bars(
    title: str,
    groups: Sequence[str],
    series: dict[str, Sequence[float | None]],
    *,
    width: int = 640,
    chart: str = "bars",
) -> str:
    """Rates side by side per group (a script, a campaign): one bar per series in each group."""
    bar_h, gap, top, left = 12, 10, 24, 170
    n = max(1, len(series))
    height = top + len(groups) * (n * bar_h + gap) + 20
    plot_w = width - left - 60
    body = [f'<text x="0" y="14" font-weight="bold">{escape(title)}</text>']
    for g, group in enumerate(groups):
        y0 = top + g * (n * bar_h + gap)
        body.append(
            f'<text x="{left - 6}" y="{y0 + n * bar_h / 2 + 4}" text-anchor="end">{escape(group)}</text>'
        )
        for s, (colour, (_, values)) in enumerate(zip(PALETTE, series.items(), strict=False)):
            v = values[g]
            w = 0.0 if v is None else plot_w * v
            yy = y0 + s * bar_h
            body.append(f'<rect x="{left}" y="{yy}" width="{w:.1f}" height="{bar_h - 2}" fill="{colour}"/>')
            body.append(f'<text x="{left + w + 4:.1f}" y="{yy + bar_h - 3}">{_pct(v)}</text>')
    legend_y = height - 8
    for s, (colour, name) in enumerate(zip(PALETTE, series, strict=False)):
        body.append(f'<rect x="{left + s * 110}" y="{legend_y - 9}" width="10" height="10" fill="{colour}"/>')
        body.append(f'<text x="{left + s * 110 + 14}" y="{legend_y}">{escape(name)}</text>')
    return _svg(width, height, title, body, chart)
