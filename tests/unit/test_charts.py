"""The console's SVG charts: well-formed, every text escaped, values where they belong."""

from __future__ import annotations

from datetime import UTC, datetime
from xml.etree import ElementTree

import pytest

from api.console.charts import MAX_WIDTH, bar_chart, line_chart, report_chart
from api.services.reports import AcwRow, Report

SVG = "{http://www.w3.org/2000/svg}"
HOSTILE = "<script>alert(\"x\")</script> & 'quoted'"


def parsed(markup: str) -> ElementTree.Element:
    return ElementTree.fromstring(markup)  # raises on anything that is not well-formed XML


@pytest.mark.parametrize("draw", [bar_chart, line_chart])
def test_labels_series_and_titles_are_escaped(draw) -> None:
    markup = str(draw(HOSTILE, [HOSTILE, "agent-1"], [(HOSTILE, [3, 4])], unit="<%>"))
    assert "<script>" not in markup and "alert(&quot;x&quot;)" in markup
    root = parsed(markup)
    assert root.get("aria-label") == HOSTILE  # as the reader sees it, once unescaped
    texts = ["".join(t.itertext()) for t in root.iter(f"{SVG}text")]
    assert any(HOSTILE[:15] in text for text in texts)  # the x label, shortened, its whole text in its title
    assert HOSTILE in [t.text for t in root.iter(f"{SVG}title")]
    assert not list(root.iter(f"{SVG}script")) and not list(root.iter(f"{SVG}foreignObject"))


def test_bars_are_as_tall_as_their_values() -> None:
    root = parsed(str(bar_chart("calls", ["a", "b"], [("calls", [10, 5])])))
    bars = [r for r in root.iter(f"{SVG}rect") if r.find(f"{SVG}title") is not None]
    heights = [float(r.get("height", "0")) for r in bars]
    assert len(bars) == 2 and heights[0] == pytest.approx(2 * heights[1])
    assert [r.find(f"{SVG}title").text for r in bars] == ["a · calls: 10", "b · calls: 5"]


def test_too_many_labels_are_cut_to_the_page_and_nothing_is_said_when_empty() -> None:
    labels = [f"agent-{n}" for n in range(500)]
    root = parsed(str(bar_chart("calls", labels, [("calls", list(range(500)))])))
    assert float(root.get("width", "0")) <= MAX_WIDTH
    assert "Nothing to chart" in str(line_chart("scores", [], [("score", [])]))


def test_a_reports_share_is_the_ratio_of_its_sums() -> None:
    rows = [
        AcwRow(day="2026-11-23", team="t", agent="a", acw_ended=1, timeouts=1, timeout_percent=100.0),
        AcwRow(day="2026-11-24", team="t", agent="a", acw_ended=3, timeouts=0, timeout_percent=0.0),
    ]
    moment = datetime(2026, 11, 23, tzinfo=UTC)
    report = Report(
        report="acw-timeouts", title="", started_from=moment, started_until=moment, filters={}, total=2, rows=rows
    )
    root = parsed(str(report_chart(report)))
    titles = [r.find(f"{SVG}title").text for r in root.iter(f"{SVG}rect") if r.find(f"{SVG}title") is not None]
    assert titles == ["a · timed out: 25%"]  # 1 of 4, not the mean of 100% and 0%
