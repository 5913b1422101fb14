"""Small SVG charts drawn on the server: grouped bars, or lines over time.

No script and no style sheet: the console's Content-Security-Policy allows neither inline,
and SVG presentation attributes need neither. Every text that reaches the drawing (labels,
series names, titles) is escaped here, so a name like ``<script>`` is shown, never run.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Sequence
from html import escape

import msgspec
from markupsafe import Markup

from api.services.reports import REPORTS, Report

PALETTE = ("#2563eb", "#f59e0b", "#10b981", "#dc2626", "#7c3aed", "#0891b2")
HEIGHT = 260
PLOT_TOP, PLOT_BOTTOM, PLOT_LEFT, PLOT_RIGHT = 34, 196, 56, 16
MIN_WIDTH, MAX_WIDTH = 360, 1400  # wider would not fit the console's page: the table below has every row
LABEL_CHARS = 16

Series = tuple[str, Sequence[float]]  # a name and one value per label


def _text(value: object) -> str:
    return escape(str(value), quote=True)


def _number(value: float) -> str:
    return f"{value:,.0f}" if float(value).is_integer() else f"{value:,.1f}"


def _short(label: str) -> str:
    return label if len(label) <= LABEL_CHARS else label[: LABEL_CHARS - 1] + "…"


def _top(values: Sequence[float], unit: str) -> float:
    """A round upper bound of the axis: 1, 2 or 5 times a power of ten (100 for percentages)."""
    highest = max(values, default=0.0)
    if unit == "%" and highest <= 100:
        return 100.0
    if highest <= 0:
        return 1.0
    power = 10.0 ** math.floor(math.log10(highest))
    return next(step * power for step in (1.0, 2.0, 5.0, 10.0) if step * power >= highest)


def _frame(
    title: str, labels: Sequence[str], series: Sequence[Series], unit: str, slot: float
) -> tuple[list[str], float]:
    """The SVG's opening, title, legend, y axis and x labels; returns the parts and the axis' top."""
    width = max(MIN_WIDTH, PLOT_LEFT + PLOT_RIGHT + slot * len(labels))
    top = _top([v for _, values in series for v in values], unit)
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" role="img" aria-label="{_text(title)}" '
        f'viewBox="0 0 {width:.0f} {HEIGHT}" width="{width:.0f}" height="{HEIGHT}" font-family="sans-serif" '
        'font-size="11">',
        f"<title>{_text(title)}</title>",
    ]
    x = PLOT_LEFT
    for i, (name, _) in enumerate(series):
        parts.append(f'<rect x="{x}" y="8" width="10" height="10" fill="{PALETTE[i % len(PALETTE)]}"/>')
        parts.append(f'<text x="{x + 14}" y="17">{_text(name)}</text>')
        x += 24 + 7 * len(name)
    for tick in range(5):
        value = top * tick / 4
        y = _y(value, top)
        parts.append(
            f'<line x1="{PLOT_LEFT}" x2="{width - PLOT_RIGHT:.0f}" y1="{y:.1f}" y2="{y:.1f}" stroke="#e5e7eb"/>'
        )
        parts.append(
            f'<text x="{PLOT_LEFT - 6}" y="{y + 4:.1f}" text-anchor="end">{_number(value)}{_text(unit)}</text>'
        )
    for i, label in enumerate(labels):
        middle, below = PLOT_LEFT + slot * (i + 0.5), PLOT_BOTTOM + 12
        parts.append(
            f'<text x="{middle:.1f}" y="{below}" text-anchor="end" transform="rotate(-40 {middle:.1f} {below})">'
            f"<title>{_text(label)}</title>{_text(_short(label))}</text>"
        )
    return parts, top


def _fitting(labels: Sequence[str], slot: float) -> list[str]:
    return list(labels)[: int((MAX_WIDTH - PLOT_LEFT - PLOT_RIGHT) // slot)]


def _y(value: float, top: float) -> float:
    return PLOT_BOTTOM - (PLOT_BOTTOM - PLOT_TOP) * value / top


def _empty(title: str) -> Markup:
    return Markup(
        f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" role="img" aria-label="{_text(title)}" '
        f'viewBox="0 0 {MIN_WIDTH} 40" width="{MIN_WIDTH}" height="40" font-family="sans-serif" font-size="12">'
        f'<title>{_text(title)}</title><text x="8" y="24">Nothing to chart in this range.</text></svg>'
    )


def bar_chart(title: str, labels: Sequence[str], series: Sequence[Series], unit: str = "") -> Markup:
    """Bars grouped by label, one per series; each bar's exact value in its tooltip."""
    slot = max(28.0, 12.0 * len(series) + 10)
    labels = _fitting(labels, slot)
    if not labels or not series:
        return _empty(title)
    parts, top = _frame(title, labels, series, unit, slot)
    bar = (slot - 8) / len(series)
    for s, (name, values) in enumerate(series):
        for i, value in enumerate(list(values)[: len(labels)]):
            x, y = PLOT_LEFT + slot * i + 4 + bar * s, _y(value, top)
            parts.append(
                f'<rect x="{x:.1f}" y="{y:.1f}" width="{bar:.1f}" height="{PLOT_BOTTOM - y:.1f}" '
                f'fill="{PALETTE[s % len(PALETTE)]}"><title>{_text(labels[i])} · {_text(name)}: '
                f"{_number(value)}{_text(unit)}</title></rect>"
            )
    parts.append("</svg>")
    return Markup("".join(parts))


def line_chart(title: str, labels: Sequence[str], series: Sequence[Series], unit: str = "") -> Markup:
    """One line per series over the labels (days), a dot at each value with its tooltip."""
    slot = 48.0
    labels = _fitting(labels, slot)
    if not labels or not series:
        return _empty(title)
    parts, top = _frame(title, labels, series, unit, slot)
    for s, (name, values) in enumerate(series):
        color = PALETTE[s % len(PALETTE)]
        points = [(PLOT_LEFT + slot * (i + 0.5), _y(v, top), v) for i, v in enumerate(list(values)[: len(labels)])]
        path = " ".join(f"{x:.1f},{y:.1f}" for x, y, _ in points)
        parts.append(f'<polyline points="{path}" fill="none" stroke="{color}" stroke-width="2"/>')
        for i, (x, y, value) in enumerate(points):
            parts.append(
                f'<circle cx="{x:.1f}" cy="{y:.1f}" r="3" fill="{color}"><title>{_text(labels[i])} · '
                f"{_text(name)}: {_number(value)}{_text(unit)}</title></circle>"
            )
    parts.append("</svg>")
    return Markup("".join(parts))


def report_chart(report: Report) -> Markup:
    """The report's chart as its kind describes it: each series summed per label (a share as the
    ratio of the sums, a mean weighted by its rows' counts: never an average of ratios); over
    days a line, else bars."""
    chart = REPORTS[report.report].chart
    rows = msgspec.to_builtins(report.rows)
    labels = sorted({str(row[chart.by]) for row in rows})
    drawn: list[Series] = []
    for measure in chart.series:
        sums: defaultdict[str, float] = defaultdict(float)
        wholes: defaultdict[str, float] = defaultdict(float)
        for row in rows:
            weight = row[measure.weight] if measure.weight else 1
            sums[str(row[chart.by])] += row[measure.field] * weight if measure.field else 1
            if measure.per or measure.weight:
                wholes[str(row[chart.by])] += row[measure.per] if measure.per else weight
        if measure.per or measure.weight:
            scale = 100 if measure.per else 1
            values = [scale * sums[label] / wholes[label] if wholes[label] else 0.0 for label in labels]
        else:
            values = [sums[label] for label in labels]
        drawn.append((measure.label, values))
    draw = line_chart if chart.by == "day" else bar_chart
    return draw(REPORTS[report.report].title, labels, drawn, chart.unit)
