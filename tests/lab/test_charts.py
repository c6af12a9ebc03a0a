"""The lab's charts: accuracy on a fixed percent axis, loss on an axis fitted to the run."""

from __future__ import annotations

import math

import pytest

from app.lab.charts import HEIGHT, TOP, accuracy_chart, loss_chart, loss_scale


@pytest.mark.parametrize(("highest", "top"), [(1.62, 2.0), (0.9, 1.2), (0.03, 0.4), (3.1, 3.2)])
def test_the_loss_axis_tops_the_highest_loss_in_four_round_steps(
    highest: float, top: float
) -> None:
    scale = loss_scale([0.01, highest])
    assert math.isclose(scale.top, top) and scale.top >= highest


def test_a_loss_chart_draws_each_series_within_its_axis_and_shows_the_numbers() -> None:
    chart = loss_chart("Loss", [("Training", [1.6, 0.8, 0.2]), ("Validation", [1.6, 1.4, 1.9])], 3)
    assert [label for _, label in chart.y_ticks] == ["0.0", "0.5", "1.0", "1.5", "2.0"]
    ys = [float(p.split(",")[1]) for line in chart.lines for p in line.points.split()]
    assert min(ys) >= TOP and max(ys) <= HEIGHT
    assert chart.scale.shown(chart.lines[1].values[2]) == "1.900"


def test_an_unfinite_loss_is_drawn_at_the_top_and_does_not_stretch_the_axis() -> None:
    chart = loss_chart("Loss", [("Diverged", [1.0, math.inf, math.nan])], 3)
    assert chart.scale.top == 1.2
    assert {float(p.split(",")[1]) for p in chart.lines[0].points.split()[1:]} == {float(TOP)}


def test_accuracy_stays_on_its_percent_axis() -> None:
    chart = accuracy_chart("Accuracy", [("Validation", [0.5, 0.875])], 2)
    assert chart.y_ticks[-1][1] == "100%" and chart.scale.shown(0.875) == "87.5%"
