"""Learning curves as SVG geometry: the templates draw it, for the live page and without
JavaScript alike (the server renders every state of a run, the browser only swaps it in)."""

from __future__ import annotations

from dataclasses import dataclass

WIDTH, HEIGHT = 560, 220
LEFT, RIGHT, TOP, BOTTOM = 44, 12, 10, 30  # room for the axes' labels
# Lines differ by dash pattern as well as colour, so they are told apart without colour.
STYLES = (("line-a", ""), ("line-b", "7 4"), ("line-c", "2 3"), ("line-d", "10 3 2 3"))
STYLE_WORDS = {"": "solid", "7 4": "dashed", "2 3": "dotted", "10 3 2 3": "dash-dot"}


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
        return [(_y(v), f"{v:.0%}") for v in (0, 0.25, 0.5, 0.75, 1.0)]

    @property
    def plot_left(self) -> int:
        return LEFT

    @property
    def plot_right(self) -> int:
        return WIDTH - RIGHT

    @property
    def plot_bottom(self) -> int:
        return HEIGHT - BOTTOM


def accuracy_chart(title: str, series: list[tuple[str, list[float]]], epochs: int) -> Chart:
    """One line per (label, accuracy per epoch); `epochs` sets the x axis (all planned)."""
    lines = []
    for (label, values), (css, dash) in zip(series, STYLES * 4, strict=False):
        points = " ".join(f"{_x(i + 1, epochs):.1f},{_y(v):.1f}" for i, v in enumerate(values))
        lines.append(Line(label, points, css, dash, STYLE_WORDS[dash], tuple(values)))
    return Chart(title, tuple(lines), max(epochs, 1))


def _x(epoch: int, epochs: int) -> float:
    span = WIDTH - LEFT - RIGHT
    return LEFT + (span * (epoch - 1) / (epochs - 1) if epochs > 1 else span / 2)


def _y(value: float) -> float:
    return TOP + (HEIGHT - TOP - BOTTOM) * (1 - max(0.0, min(1.0, value)))
