"""Learning curves as SVG geometry: the templates draw it, for the live page and without
JavaScript alike (the server renders every state of a run, the browser only swaps it in)."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

WIDTH, HEIGHT = 560, 220
LEFT, RIGHT, TOP, BOTTOM = 44, 12, 10, 30  # room for the axes' labels
# Lines differ by dash pattern as well as colour, so they are told apart without colour.
STYLES = (("line-a", ""), ("line-b", "7 4"), ("line-c", "2 3"), ("line-d", "10 3 2 3"))
STYLE_WORDS = {"": "solid", "7 4": "dashed", "2 3": "dotted", "10 3 2 3": "dash-dot"}


@dataclass(frozen=True)
class Scale:
    """The y axis: from 0 to `top`, its ticks and its values in words (accuracy in percent)."""

    top: float
    percent: bool

    def y(self, value: float) -> float:
        share = value / self.top if math.isfinite(value) else 1.0
        return TOP + (HEIGHT - TOP - BOTTOM) * (1 - max(0.0, min(1.0, share)))

    def tick_label(self, value: float) -> str:
        return f"{value:.0%}" if self.percent else f"{value:.1f}"

    def shown(self, value: float) -> str:
        """A value as the table of numbers shows it."""
        return f"{value * 100:.1f}%" if self.percent else f"{value:.3f}"


ACCURACY = Scale(top=1.0, percent=True)


def loss_scale(values: list[float]) -> Scale:
    """From 0 to a round top over the highest loss: four steps of a tenth's multiple."""
    highest = max((v for v in values if math.isfinite(v)), default=1.0)
    step = max(1, math.ceil(highest * 10 / 4)) / 10
    return Scale(top=4 * step, percent=False)


@dataclass(frozen=True)
class Line:
    label: str
    points: str  # the SVG polyline's points
    css: str
    dash: str
    pattern: str  # the dash pattern in words, for the legend
    values: tuple[float, ...]


@dataclass(frozen=True)
class Chart:
    title: str
    lines: tuple[Line, ...]
    epochs: int
    scale: Scale = field(default=ACCURACY)
    width: int = WIDTH
    height: int = HEIGHT

    @property
    def rows(self) -> int:
        """Epochs with at least one value (a live run has fewer than planned)."""
        return max((len(line.values) for line in self.lines), default=0)

    @property
    def x_ticks(self) -> list[tuple[float, int]]:
        step = max(1, round(self.epochs / 10))
        return [
            (_x(e, self.epochs), e) for e in range(1, self.epochs + 1) if e == 1 or e % step == 0
        ]

    @property
    def y_ticks(self) -> list[tuple[float, str]]:
        values = [self.scale.top * i / 4 for i in range(5)]
        return [(self.scale.y(v), self.scale.tick_label(v)) for v in values]

    @property
    def plot_left(self) -> int:
        return LEFT

    @property
    def plot_right(self) -> int:
        return WIDTH - RIGHT

    @property
    def plot_bottom(self) -> int:
        return HEIGHT - BOTTOM


Series = list[tuple[str, list[float]]]


def accuracy_chart(title: str, series: Series, epochs: int) -> Chart:
    """One line per (label, accuracy per epoch); `epochs` sets the x axis (all planned)."""
    return _chart(title, series, epochs, ACCURACY)


def loss_chart(title: str, series: Series, epochs: int) -> Chart:
    """One line per (label, mean cross-entropy per epoch), on an axis fitted to the highest."""
    return _chart(title, series, epochs, loss_scale([v for _, values in series for v in values]))


def _chart(title: str, series: Series, epochs: int, scale: Scale) -> Chart:
    lines = []
    for (label, values), (css, dash) in zip(series, STYLES * 4, strict=False):
        points = " ".join(f"{_x(i + 1, epochs):.1f},{scale.y(v):.1f}" for i, v in enumerate(values))
        lines.append(Line(label, points, css, dash, STYLE_WORDS[dash], tuple(values)))
    return Chart(title, tuple(lines), max(epochs, 1), scale)


def _x(epoch: int, epochs: int) -> float:
    span = WIDTH - LEFT - RIGHT
    return LEFT + (span * (epoch - 1) / (epochs - 1) if epochs > 1 else span / 2)
