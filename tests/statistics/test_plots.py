"""The plots are valid SVG with a title and a description, and their numbers as a table."""

import xml.etree.ElementTree as ElementTree

from app.statistics import plots

SVG = "{http://www.w3.org/2000/svg}"


def _parsed(plot: plots.Plot) -> ElementTree.Element:
    root = ElementTree.fromstring(str(plot.svg))
    assert root.tag == f"{SVG}svg" and root.get("role") == "img"
    assert root.find(f"{SVG}title") is not None and root.find(f"{SVG}title").text  # type: ignore[union-attr]
    assert root.find(f"{SVG}desc") is not None and root.find(f"{SVG}desc").text  # type: ignore[union-attr]
    return root


def test_the_histogram_puts_each_score_in_its_bin_of_10_points() -> None:
    plot = plots.histogram([0, 5, 55, 100, 100, 99.9])
    root = _parsed(plot)
    bars = root.findall(f"{SVG}rect")
    assert len(bars) == 10
    counts = dict(plot.rows)
    assert counts["0 to 10%"] == "2" and counts["50 to 60%"] == "1"
    assert counts["90 to 100% (100 included)"] == "3"
    assert "6 attempts" in plot.description


def test_the_scatter_has_one_labelled_point_per_question_and_the_thresholds() -> None:
    plot = plots.scatter([("q1 v1", 0.5, 0.4), ("q2 v1", 0.95, 0.1), ("q<3> v1", None, None)])
    root = _parsed(plot)
    points = root.findall(f"{SVG}circle")
    assert len(points) == 2
    labels = [t.text for t in root.findall(f"{SVG}text")]
    assert "q1 v1" in labels and "q2 v1" in labels
    dashed = [line for line in root.findall(f"{SVG}line") if line.get("stroke-dasharray")]
    assert len(dashed) == 3  # discrimination 0.2, facility 0.2 and 0.9
    assert ("q<3> v1", "n/a", "n/a") in plot.rows


def test_option_bars_draw_the_top_and_bottom_group_of_each_option() -> None:
    plot = plots.option_bars("q1 v1", [("A", 1.0, 0.2), ("B", 0.0, 0.5), ("C", None, None)])
    root = _parsed(plot)
    titles = [r.find(f"{SVG}title").text for r in root.findall(f"{SVG}rect")]  # type: ignore[union-attr]
    assert titles[:2] == ["option A, top 27%: 100%", "option A, bottom 27%: 20%"]
    assert len(titles) == 6
    assert plot.rows[0] == ("A", "100%", "20%")


def test_empty_plots_still_render() -> None:
    for plot in (plots.histogram([]), plots.scatter([]), plots.option_bars("q", [])):
        _parsed(plot)
