"""The server-side SVG charts: round axis ticks, points inside the plot, gaps for missing values."""

from __future__ import annotations

import math

import pytest

from app.ops.charts import Series, line_chart, nice_ticks


@pytest.mark.parametrize(
    ("low", "high"), [(0.0, 1.0), (0.13, 0.91), (1.2, 3.4), (-5.0, 5.0), (1000.0, 10250.0), (0.5, 0.5)]
)
def test_it_chooses_round_ticks_that_cover_the_range(low: float, high: float) -> None:
    ticks = nice_ticks(low, high)
    assert ticks[0] <= low and ticks[-1] >= high
    assert 2 <= len(ticks) <= 12
    steps = {round(b - a, 9) for a, b in zip(ticks, ticks[1:])}
    assert len(steps) == 1, "evenly spaced"
    mantissa = steps.pop() / 10 ** math.floor(math.log10(ticks[1] - ticks[0]))
    assert round(mantissa, 6) in (1, 2, 2.5, 5)


def test_it_maps_the_extremes_to_the_plot_edges() -> None:
    chart = line_chart(
        chart_id="c", title="t", x_label="x", y_label="y", series=[Series("a", [(1, 0.0), (2, 0.5), (3, 1.0)])]
    )
    [line] = chart.lines
    [segment] = line.segments
    points = [tuple(map(float, p.split(","))) for p in segment.split()]
    assert points[0] == (chart.left, chart.bottom) and points[-1] == (chart.right, chart.top)
    assert [label for _, label in chart.y_ticks][0] == "0" and not chart.empty


def test_it_breaks_the_line_where_a_value_is_missing() -> None:
    chart = line_chart(
        chart_id="c",
        title="t",
        x_label="x",
        y_label="y",
        series=[Series("a", [(0, 1.0), (1, 2.0), (2, None), (3, 2.5), (4, 3.0), (5, float("nan"))])],
    )
    [line] = chart.lines
    assert [len(s.split()) for s in line.segments] == [2, 2]
    assert len(line.markers) == 4


def test_it_draws_nothing_but_says_so_without_data() -> None:
    chart = line_chart(
        chart_id="c", title="t", x_label="x", y_label="y", series=[Series("a", []), Series("b", [(1, None)])]
    )
    assert chart.empty and all(line.segments == [] for line in chart.lines)


def test_it_survives_a_single_constant_point() -> None:
    chart = line_chart(chart_id="c", title="t", x_label="x", y_label="y", series=[Series("a", [(3, 0.7)])])
    [line] = chart.lines
    x, y = line.markers[0]
    assert chart.left <= x <= chart.right and chart.top <= y <= chart.bottom


def test_it_labels_x_values_with_the_names_given_and_thins_them_out() -> None:
    points = [(float(d), 0.1 * d) for d in range(30)]
    chart = line_chart(
        chart_id="c",
        title="t",
        x_label="day",
        y_label="rate",
        series=[Series("a", points)],
        x_names={float(d): f"Jan {d + 1:02d}" for d in range(30)},
        max_x_ticks=8,
    )
    labels = [label for _, label in chart.x_ticks]
    assert labels[0] == "Jan 01" and len(labels) <= 8
