"""Line charts as inline SVG, computed on the server: no JavaScript, no CDN, nothing to build.

`line_chart` turns named series of (x, y) points into geometry — polyline point lists, axis
ticks, legend entries — in SVG user units; `templates/ops/_line_chart.html` draws it. A
missing y (None) breaks the line instead of dropping to zero.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

WIDTH, HEIGHT = 560, 260
MARGIN_LEFT, MARGIN_RIGHT, MARGIN_TOP, MARGIN_BOTTOM = 60, 30, 16, 44
# Distinct on white and for the common colour-vision deficiencies (Okabe-Ito).
PALETTE = ("#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9")


@dataclass(frozen=True)
class Series:
    name: str
    points: Sequence[tuple[float, float | None]]
    dashed: bool = False


@dataclass
class Line:
    name: str
    color: str
    dashed: bool
    segments: list[str]  # each a polyline's `points` attribute
    markers: list[tuple[float, float]]  # every point, for a single-point segment to show


@dataclass
class Chart:
    chart_id: str
    title: str
    x_label: str
    y_label: str
    width: int = WIDTH
    height: int = HEIGHT
    left: float = MARGIN_LEFT
    right: float = WIDTH - MARGIN_RIGHT
    top: float = MARGIN_TOP
    bottom: float = HEIGHT - MARGIN_BOTTOM
    x_ticks: list[tuple[float, str]] = field(default_factory=list)
    y_ticks: list[tuple[float, str]] = field(default_factory=list)
    lines: list[Line] = field(default_factory=list)

    @property
    def empty(self) -> bool:
        return not any(line.markers for line in self.lines)

    # Where the axis labels go, so the template does no arithmetic.
    @property
    def y_tick_label_x(self) -> float:
        return self.left - 6

    @property
    def x_tick_end(self) -> float:
        return self.bottom + 4

    @property
    def x_tick_label_y(self) -> float:
        return self.bottom + 16

    @property
    def x_title_y(self) -> float:
        return self.height - 6

    @property
    def middle_x(self) -> float:
        return (self.left + self.right) / 2

    @property
    def middle_y(self) -> float:
        return (self.top + self.bottom) / 2


def nice_ticks(low: float, high: float, count: int = 5) -> list[float]:
    """About `count` round values (1, 2, 2.5 or 5 times a power of ten) covering [low, high]."""
    if not (math.isfinite(low) and math.isfinite(high)):
        return [0.0, 1.0]
    if high - low < 1e-12:
        pad = abs(high) * 0.1 or 1.0
        low, high = low - pad, high + pad
    raw = (high - low) / count
    magnitude = 10 ** math.floor(math.log10(raw))
    step = next(m * magnitude for m in (1, 2, 2.5, 5, 10) if m * magnitude >= raw)
    start, end = math.floor(low / step) * step, math.ceil(high / step) * step
    n = round((end - start) / step)
    return [round(start + i * step, 12) for i in range(n + 1)]


def _label(value: float) -> str:
    return f"{value:g}" if abs(value) >= 1e-4 or value == 0 else f"{value:.1e}"


# One SVG drawn top to bottom (axes, grid, series, labels): it reads best in one piece.
def line_chart(
    *,
    chart_id: str,
    title: str,
    series: Sequence[Series],
    x_label: str,
    y_label: str,
    x_names: dict[float, str] | None = None,
    y_format: Callable[[float], str] = _label,
    y_floor: float | None = None,
    max_x_ticks: int = 8,
    width: int = WIDTH,
    height: int = HEIGHT,
) -> Chart:
    """Scale every series into one plot; `x_names` labels x values (dates for a day index).

    `width` and `height` are the viewBox: give a chart shown twice as wide twice the width, so
    its text keeps the size of the others'.
    """
    chart = Chart(
        chart_id=chart_id,
        title=title,
        x_label=x_label,
        y_label=y_label,
        width=width,
        height=height,
        right=width - MARGIN_RIGHT,
        bottom=height - MARGIN_BOTTOM,
    )
    xs = [x for s in series for x, _ in s.points]
    ys = [y for s in series for _, y in s.points if y is not None and math.isfinite(y)]
    if not xs or not ys:
        chart.lines = [Line(s.name, PALETTE[i % len(PALETTE)], s.dashed, [], []) for i, s in enumerate(series)]
        return chart
    x_low, x_high = min(xs), max(xs)
    if x_high == x_low:
        x_low, x_high = x_low - 1, x_high + 1
    y_ticks = nice_ticks(min(ys) if y_floor is None else min(y_floor, min(ys)), max(ys))
    y_low, y_high = y_ticks[0], y_ticks[-1]

    def sx(x: float) -> float:
        return round(chart.left + (x - x_low) / (x_high - x_low) * (chart.right - chart.left), 1)

    def sy(y: float) -> float:
        return round(chart.bottom - (y - y_low) / (y_high - y_low) * (chart.bottom - chart.top), 1)

    chart.y_ticks = [(sy(t), y_format(t)) for t in y_ticks]
    distinct = sorted(set(xs))
    stride = max(1, math.ceil(len(distinct) / max_x_ticks))
    shown = distinct[::stride]
    chart.x_ticks = [(sx(x), (x_names or {}).get(x, _label(x))) for x in shown]
    for i, s in enumerate(series):
        segments, current, markers = [], [], []
        for x, y in sorted(s.points, key=lambda p: p[0]):
            if y is None or not math.isfinite(y):
                if current:
                    segments.append(current)
                current = []
                continue
            point = (sx(x), sy(y))
            current.append(point)
            markers.append(point)
        if current:
            segments.append(current)
        chart.lines.append(
            Line(
                name=s.name,
                color=PALETTE[i % len(PALETTE)],
                dashed=s.dashed,
                markers=markers,
                segments=[" ".join(f"{px:g},{py:g}" for px, py in seg) for seg in segments],
            )
        )
    return chart
