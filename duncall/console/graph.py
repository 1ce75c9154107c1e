"""A script's states and transitions drawn as SVG on the server (no JS library, no CDN).

States are laid out in rows by their distance from the start state, so the way a
call normally runs reads top to bottom.  Transitions a state declares are solid;
``next`` is bold; retry exits (no input, no match) are dashed.  Script-wide
(global) handlers would draw an arrow from every listening state, so they are
listed in a legend instead.
"""

from __future__ import annotations

from collections import Counter, deque
from dataclasses import dataclass
from html import escape

from bot.dialogue.model import Script, State

NODE_W = 164
NODE_H = 42
COL_GAP = 36
ROW_GAP = 78
MARGIN = 24
LEGEND_LINE = 16


@dataclass(frozen=True, slots=True)
class Edge:
    source: str
    target: str
    label: str
    kind: str  # on | next | retry


# The graph's own style; the console's Content-Security-Policy allows it by its hash (app.py).
GRAPH_STYLE = (
    ".script-graph{font:11px sans-serif}.script-graph rect{stroke:#333;fill:#fff}"
    ".script-graph .start rect{fill:#dbeafe}.script-graph .end rect{fill:#fee2e2}"
    ".script-graph .listen rect{fill:#ecfccb}.script-graph path.edge{fill:none;stroke:#555}"
    ".script-graph path.next{stroke-width:2}.script-graph path.retry{stroke-dasharray:4 3;stroke:#999}"
    ".script-graph text.label{fill:#444;font-size:9px}"
    ".script-graph text.sub{fill:#666;font-size:9px}"
)


def _retry_defaults(script: Script) -> tuple[str | None, str | None]:
    """The most common no_input / no_match exits: the script's defaults, shown once in the legend."""
    listening = [s for s in script.states.values() if s.listens]
    no_input = Counter(s.no_input.goto for s in listening).most_common(1)
    no_match = Counter(s.no_match.goto for s in listening).most_common(1)
    return (no_input[0][0] if no_input else None, no_match[0][0] if no_match else None)


def edges(script: Script) -> list[Edge]:
    default_no_input, default_no_match = _retry_defaults(script)
    out: list[Edge] = []
    for state in script.states.values():
        for intent, target in state.on.items():
            out.append(Edge(state.name, target, str(intent), "on"))
        if state.next:
            out.append(Edge(state.name, state.next, "next", "next"))
        if state.if_incomplete:
            out.append(Edge(state.name, state.if_incomplete, "if incomplete", "on"))
        if state.listens:
            if state.no_input.goto != default_no_input:
                out.append(Edge(state.name, state.no_input.goto, "no input", "retry"))
            if state.no_match.goto != default_no_match:
                out.append(Edge(state.name, state.no_match.goto, "no match", "retry"))
    return out


def layers(script: Script, all_edges: list[Edge]) -> list[list[str]]:
    """States by distance from the start (global handlers count as edges); unreachable ones last."""
    succ: dict[str, list[str]] = {name: [] for name in script.states}
    for e in all_edges:
        if e.source in succ and e.target in script.states:
            succ[e.source].append(e.target)
    for state in script.states.values():
        if state.listens and state.use_global:
            succ[state.name].extend(t for t in script.global_on.values() if t in script.states)
    depth: dict[str, int] = {}
    if script.start in script.states:
        depth[script.start] = 0
        queue = deque([script.start])
        while queue:
            name = queue.popleft()
            for target in succ[name]:
                if target not in depth:
                    depth[target] = depth[name] + 1
                    queue.append(target)
    rows: dict[int, list[str]] = {}
    unreachable = max(depth.values(), default=-1) + 1
    for name in script.states:  # file order within a row: the author's own order
        rows.setdefault(depth.get(name, unreachable), []).append(name)
    return [rows[k] for k in sorted(rows)]


def _node_class(state: State, start: str) -> str:
    if state.name == start:
        return "start"
    if state.end is not None:
        return "end"
    if state.listens:
        return "listen"
    return "step"


def script_svg(script: Script) -> str:
    all_edges = edges(script)
    rows = layers(script, all_edges)
    widest = max((len(r) for r in rows), default=1)
    width = MARGIN * 2 + widest * NODE_W + (widest - 1) * COL_GAP + 120  # room for back-edge loops
    pos: dict[str, tuple[float, float]] = {}
    for r, row in enumerate(rows):
        row_w = len(row) * NODE_W + (len(row) - 1) * COL_GAP
        x0 = (width - 120 - row_w) / 2
        for c, name in enumerate(row):
            pos[name] = (
                x0 + c * (NODE_W + COL_GAP) + NODE_W / 2,
                MARGIN + r * (NODE_H + ROW_GAP) + NODE_H / 2,
            )
    default_no_input, default_no_match = _retry_defaults(script)
    legend = [f"global: {intent} → {target}" for intent, target in script.global_on.items()]
    if default_no_input:
        legend.append(f"every listening state: no input → {default_no_input}")
    if default_no_match:
        legend.append(f"every listening state: no match → {default_no_match}")
    graph_h = MARGIN + len(rows) * (NODE_H + ROW_GAP)
    height = graph_h + len(legend) * LEGEND_LINE + MARGIN
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="script-graph" '
        f'width="{width:.0f}" height="{height:.0f}" '
        f'viewBox="0 0 {width:.0f} {height:.0f}" role="img" aria-label="states of {escape(script.name)}">',
        '<defs><marker id="arrow" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="7" '
        'markerHeight="7" orient="auto-start-reverse"><path d="M 0 0 L 10 5 L 0 10 z"/></marker></defs>',
        f"<style>{GRAPH_STYLE}</style>",
    ]
    for e in all_edges:
        if e.source not in pos or e.target not in pos:
            continue  # a dangling target is a validation problem, reported there
        (x1, y1), (x2, y2) = pos[e.source], pos[e.target]
        if y2 > y1:
            sx, sy, tx, ty = x1, y1 + NODE_H / 2, x2, y2 - NODE_H / 2
            c1, c2 = (sx, sy + ROW_GAP / 2), (tx, ty - ROW_GAP / 2)
        else:  # back or sideways: loop out of the right side
            sx, sy, tx, ty = x1 + NODE_W / 2, y1, x2 + NODE_W / 2, y2
            bend = 60 + abs(y1 - y2) / 6
            c1, c2 = (sx + bend, sy), (tx + bend, ty)
        d = f"M {sx:.1f} {sy:.1f} C {c1[0]:.1f} {c1[1]:.1f} {c2[0]:.1f} {c2[1]:.1f} {tx:.1f} {ty:.1f}"
        mx = (sx + 3 * c1[0] + 3 * c2[0] + tx) / 8
        my = (sy + 3 * c1[1] + 3 * c2[1] + ty) / 8
        parts.append(
            f'<g class="transition" data-from="{escape(e.source)}" data-to="{escape(e.target)}">'
            f'<path class="edge {e.kind}" d="{d}" marker-end="url(#arrow)"/>'
            f'<text class="label" x="{mx:.1f}" y="{my:.1f}" text-anchor="middle">{escape(e.label)}</text></g>'
        )
    for name, (x, y) in pos.items():
        state = script.states[name]
        sub = f"end: {state.end}" if state.end else (f"action: {state.action}" if state.action else "")
        parts.append(
            f'<g class="state {_node_class(state, script.start)}" data-state="{escape(name)}">'
            f"<title>{escape(name)} (line {state.line})</title>"
            f'<rect x="{x - NODE_W / 2:.1f}" y="{y - NODE_H / 2:.1f}" '
            f'width="{NODE_W}" height="{NODE_H}" rx="6"/>'
            f'<text x="{x:.1f}" y="{y - (3 if sub else -4):.1f}" text-anchor="middle">{escape(name)}</text>'
            + (
                f'<text class="sub" x="{x:.1f}" y="{y + 12:.1f}" text-anchor="middle">{escape(sub)}</text>'
                if sub
                else ""
            )
            + "</g>"
        )
    for i, line in enumerate(legend):
        parts.append(
            f'<text class="legend" x="{MARGIN}" y="{graph_h + i * LEGEND_LINE:.0f}">{escape(line)}</text>'
        )
    parts.append("</svg>")
    return "".join(parts)
