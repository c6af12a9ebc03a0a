"""The statistics page's plots as server-rendered SVG, no JavaScript: a histogram of the test
scores, facility against discrimination per question, and option choice bars (top against
bottom 27%). The frame (size, margins, a y axis from 0 to a top) is app.lab.charts', and the
page's `.chart` styles (grid lines, tick labels) apply as they do to the lab's curves.

Each plot is built with ElementTree, so every label is escaped; each SVG carries role="img",
a <title> and a <desc> saying what it shows, and comes with its numbers as a table
(`Plot.header`, `Plot.rows`) that the page puts in a <details> beside it.
"""

from __future__ import annotations

import xml.etree.ElementTree as ElementTree
from collections.abc import Sequence
from dataclasses import dataclass

from markupsafe import Markup

from app.lab.charts import ACCURACY, BOTTOM, HEIGHT, LEFT, RIGHT, TOP, WIDTH, Scale
from app.statistics.flags import LOW_DISCRIMINATION, TOO_EASY, TOO_HARD

PLOT_WIDTH = WIDTH - LEFT - RIGHT
PLOT_BOTTOM = HEIGHT - BOTTOM
# Colours that read on a light and a dark page alike; bars differ by pattern too.
TOP_FILL, BOTTOM_FILL, POINT_FILL = "#0b57d0", "#b3261e", "#146c2e"
BINS = 10


@dataclass(frozen=True)
class Plot:
    title: str
    description: str
    svg: Markup
    header: tuple[str, ...]
    rows: Sequence[tuple[str, ...]]


def histogram(percents: list[float]) -> Plot:
    """Test totals (0..100%) in ten bins of 10 points; 100% falls in the last."""
    counts = [0] * BINS
    for value in percents:
        counts[min(BINS - 1, max(0, int(value // 10)))] += 1
    top = max(counts, default=0) or 1
    scale = Scale(top=float(top), percent=False)
    svg, frame = _svg("Score histogram", _histogram_words(counts, len(percents)))
    _y_axis(frame, scale, [0, top / 2, top], lambda v: f"{v:g}")
    width = PLOT_WIDTH / BINS
    for index, count in enumerate(counts):
        x = LEFT + index * width
        y = scale.y(count)
        _rect(frame, x + 2, y, width - 4, PLOT_BOTTOM - y, POINT_FILL, f"{_bin(index)}: {count}")
        _text(frame, x + width / 2, PLOT_BOTTOM + 14, f"{index * 10}", "middle")
    _text(frame, WIDTH - RIGHT, HEIGHT - 2, "score %", "end")
    rows = [(_bin(i), str(c)) for i, c in enumerate(counts)]
    return Plot("Score histogram", _histogram_words(counts, len(percents)), _markup(svg),
                ("Score", "Attempts"), rows)  # fmt: skip


def _bin(index: int) -> str:
    return f"{index * 10} to {index * 10 + 10}%" + ("" if index < BINS - 1 else " (100 included)")


def _histogram_words(counts: list[int], n: int) -> str:
    if n == 0:
        return "No submitted attempts yet."
    busiest = max(range(BINS), key=lambda i: counts[i])
    most = f"the most, {counts[busiest]}, in {_bin(busiest)}"
    return f"{n} attempts by score in bins of 10 points; {most}."


def scatter(points: list[tuple[str, float | None, float | None]]) -> Plot:
    """One labelled point per question: facility (x, 0..1) against discrimination (y, -1..1),
    with the thresholds 0.2 and 0.9 of facility and 0.2 of discrimination drawn."""
    shown = [(label, f, d) for label, f, d in points if f is not None and d is not None]
    words = (
        f"{len(shown)} of {len(points)} questions have both figures; dashed lines mark "
        f"facility {TOO_HARD} and {TOO_EASY} and discrimination {LOW_DISCRIMINATION}."
    )
    svg, frame = _svg("Facility against discrimination", words)

    def y(value: float) -> float:
        return ACCURACY.y((value + 1) / 2)  # -1..1 onto the chart's 0..1 axis

    def x(value: float) -> float:
        return LEFT + PLOT_WIDTH * max(0.0, min(1.0, value))

    for tick in (-1.0, -0.5, 0.0, 0.5, 1.0):
        _grid(frame, y(tick))
        _text(frame, LEFT - 6, y(tick) + 4, f"{tick:g}", "end")
    for tick in (0.0, 0.5, 1.0):
        _text(frame, x(tick), PLOT_BOTTOM + 14, f"{tick:g}", "middle")
    _dashed(frame, LEFT, y(LOW_DISCRIMINATION), WIDTH - RIGHT, y(LOW_DISCRIMINATION))
    for threshold in (TOO_HARD, TOO_EASY):
        _dashed(frame, x(threshold), TOP, x(threshold), PLOT_BOTTOM)
    _text(frame, WIDTH - RIGHT, HEIGHT - 2, "facility", "end")
    _text(frame, LEFT + 4, TOP + 10, "discrimination", "start")
    for label, facility, discrimination in shown:
        assert facility is not None and discrimination is not None
        cx, cy = x(facility), y(discrimination)
        point = ElementTree.SubElement(
            frame, "circle", cx=f"{cx:.1f}", cy=f"{cy:.1f}", r="4", fill=POINT_FILL
        )
        ElementTree.SubElement(
            point, "title"
        ).text = f"{label}: facility {facility:.2f}, discrimination {discrimination:.2f}"
        _text(frame, cx + 6, cy - 4, label, "start")
    rows = [(label, _number(f), _number(d)) for label, f, d in points]
    return Plot("Facility against discrimination", words, _markup(svg),
                ("Question", "Facility", "Discrimination"), rows)  # fmt: skip


def option_bars(question: str, options: list[tuple[str, float | None, float | None]]) -> Plot:
    """Per option (letter, top 27% share, bottom 27% share): two bars, solid for the top
    group and hatched by a dash outline for the bottom group."""
    title = f"Options of {question}: top against bottom 27%"
    words = "; ".join(
        f"option {letter}: top {_percent(top)}, bottom {_percent(bottom)}"
        for letter, top, bottom in options
    )
    svg, frame = _svg(title, words or "No options.")
    _y_axis(frame, ACCURACY, [0.0, 0.5, 1.0], lambda v: f"{v:.0%}")
    width = PLOT_WIDTH / max(len(options), 1)
    for index, (letter, top, bottom) in enumerate(options):
        x = LEFT + index * width
        for offset, share, fill, group in ((0.1, top, TOP_FILL, "top"),
                                           (0.5, bottom, BOTTOM_FILL, "bottom")):  # fmt: skip
            value = share or 0.0
            bar_y = ACCURACY.y(value)
            bar = _rect(frame, x + offset * width, bar_y, width * 0.4, PLOT_BOTTOM - bar_y, fill,
                        f"option {letter}, {group} 27%: {_percent(share)}")  # fmt: skip
            if group == "bottom":
                bar.set("stroke", "currentColor")
                bar.set("stroke-dasharray", "3 2")
        _text(frame, x + width / 2, PLOT_BOTTOM + 14, letter, "middle")
    rows = [(letter, _percent(top), _percent(bottom)) for letter, top, bottom in options]
    return Plot(title, words, _markup(svg), ("Option", "Top 27%", "Bottom 27%"), rows)


def _svg(title: str, description: str) -> tuple[ElementTree.Element, ElementTree.Element]:
    svg = ElementTree.Element(
        "svg",
        xmlns="http://www.w3.org/2000/svg",
        viewBox=f"0 0 {WIDTH} {HEIGHT}",
        role="img",
        focusable="false",
    )
    ElementTree.SubElement(svg, "title").text = title
    ElementTree.SubElement(svg, "desc").text = description
    return svg, svg


def _y_axis(frame: ElementTree.Element, scale: Scale, ticks: list[float], label: object) -> None:
    for tick in ticks:
        _grid(frame, scale.y(tick))
        _text(frame, LEFT - 6, scale.y(tick) + 4, label(tick), "end")  # type: ignore[operator]


def _grid(frame: ElementTree.Element, y: float) -> None:
    ElementTree.SubElement(
        frame, "line", {"class": "grid", "x1": str(LEFT), "x2": str(WIDTH - RIGHT),
                        "y1": f"{y:.1f}", "y2": f"{y:.1f}"}
    )  # fmt: skip


def _dashed(frame: ElementTree.Element, x1: float, y1: float, x2: float, y2: float) -> None:
    ElementTree.SubElement(
        frame, "line", {"x1": f"{x1:.1f}", "y1": f"{y1:.1f}", "x2": f"{x2:.1f}",
                        "y2": f"{y2:.1f}", "stroke": "currentColor", "stroke-dasharray": "6 4"}
    )  # fmt: skip


def _rect(frame: ElementTree.Element, x: float, y: float, width: float, height: float,
          fill: str, label: str) -> ElementTree.Element:  # fmt: skip
    rect = ElementTree.SubElement(
        frame, "rect", x=f"{x:.1f}", y=f"{y:.1f}", width=f"{max(width, 0):.1f}",
        height=f"{max(height, 0):.1f}", fill=fill
    )  # fmt: skip
    ElementTree.SubElement(rect, "title").text = label
    return rect


def _text(frame: ElementTree.Element, x: float, y: float, words: str, anchor: str) -> None:
    ElementTree.SubElement(
        frame, "text", {"class": "tick", "x": f"{x:.1f}", "y": f"{y:.1f}", "text-anchor": anchor}
    ).text = words


def _markup(svg: ElementTree.Element) -> Markup:
    # Safe: ElementTree escaped every text and attribute it wrote.
    return Markup(ElementTree.tostring(svg, encoding="unicode"))  # noqa: S704


def _number(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.2f}"


def _percent(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.0%}"
