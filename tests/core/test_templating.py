"""Template filters: what every page shows the same way."""

from __future__ import annotations

from app.core.templating import points


def test_scores_read_as_learners_read_them() -> None:
    assert [points(v) for v in (1.0, 0.0, 0.5, 2 / 3, 0.25, 7.0)] == [
        "1",
        "0",
        "1/2",
        "2/3",
        "1/4",
        "7",
    ]
    assert points(0.6666667) == "0.67"  # not a small fraction: two decimals at most
    assert points(6.67) == "6.67"
