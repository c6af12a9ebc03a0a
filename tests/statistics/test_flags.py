"""Flags at their sample minimums and thresholds: pure, no database."""

from app.statistics.flags import (
    band_of,
    claim_flags,
    difficulty_flags,
    discrimination_flags,
    distractor_flags,
    facility_flags,
    newcombe,
)
from app.statistics.intervals import Interval, fisher_z, wilson
from app.statistics.items import Figure


def share(successes: int, n: int) -> Figure:
    return Figure(successes / n, n, wilson(successes, n))


def correlation(r: float, n: int) -> Figure:
    return Figure(r, n, fisher_z(r, n))


def kinds(flags) -> list[str]:  # type: ignore[no-untyped-def]
    return [f.kind for f in flags]


def test_too_easy_is_flagged_from_30_attempts_on() -> None:
    clear = Interval(0.95, 1.0)
    assert kinds(facility_flags("q", Figure(1.0, 30, clear))) == ["too-easy"]
    assert facility_flags("q", Figure(1.0, 29, clear)) == []


def test_everyone_right_over_30_is_not_yet_beyond_noise_but_over_40_is() -> None:
    # Wilson for 30/30 starts at 0.886, below 0.9; for 40/40 at 0.912.
    assert facility_flags("q", share(30, 30)) == []
    assert kinds(facility_flags("q", share(40, 40))) == ["too-easy"]


def test_too_easy_needs_the_whole_interval_above_0_9() -> None:
    # 29/30 = 0.97 but its interval starts at 0.83: not clear enough.
    assert facility_flags("q", share(29, 30)) == []
    flag = facility_flags("q", share(199, 200))[0]
    assert flag.kind == "too-easy" and flag.n == 200 and "above 0.9" in flag.message


def test_too_hard_needs_the_whole_interval_below_0_2() -> None:
    assert kinds(facility_flags("q", share(0, 30))) == ["too-hard"]
    assert facility_flags("q", share(0, 29)) == []
    assert facility_flags("q", share(3, 30)) == []  # 0.1, interval up to 0.26
    assert kinds(facility_flags("q", share(10, 200))) == ["too-hard"]


def test_a_facility_with_no_interval_is_not_flagged() -> None:
    assert facility_flags("q", Figure(1.0, 500, None)) == []


def test_low_discrimination_from_100_attempts_with_the_interval_below_0_2() -> None:
    assert kinds(discrimination_flags("q", correlation(0.0, 100))) == ["low-discrimination"]
    assert discrimination_flags("q", correlation(0.0, 99)) == []
    # 0.1 over 100: the interval reaches 0.29, so not flagged; over 1000 it is.
    assert discrimination_flags("q", correlation(0.1, 100)) == []
    assert kinds(discrimination_flags("q", correlation(0.1, 1000))) == ["low-discrimination"]


def test_a_negative_discrimination_says_check_the_key() -> None:
    flag = discrimination_flags("q", correlation(-0.3, 100))[0]
    assert flag.kind == "check-key" and "check the key" in flag.message
    # -0.1 over 100: interval up to 0.1, below 0.2 but not below 0.
    assert kinds(discrimination_flags("q", correlation(-0.1, 100))) == ["low-discrimination"]
    assert discrimination_flags("q", correlation(-0.9, 99)) == []


def test_a_distractor_chosen_by_under_5_percent_from_100_attempts() -> None:
    half = share(50, 100)
    assert kinds(distractor_flags("q", "B", share(0, 100), half, half)) == ["rare-distractor"]
    assert distractor_flags("q", "B", share(0, 99), half, half) == []
    # 2 of 100 is under 5% but its interval reaches 7%.
    assert distractor_flags("q", "B", share(2, 100), half, half) == []


def test_a_distractor_the_strong_choose_more_than_the_weak() -> None:
    overall = share(30, 100)
    flags = distractor_flags("q", "C", overall, share(20, 27), share(2, 27))
    assert kinds(flags) == ["distractor-attracts-strong"] and "option C" in flags[0].message
    assert distractor_flags("q", "C", overall, share(12, 27), share(8, 27)) == []
    assert distractor_flags("q", "C", share(30, 99), share(20, 27), share(2, 27)) == []


def test_newcombe_interval_for_a_difference_matches_the_published_example() -> None:
    # Newcombe (1998), table II example (a): 56/70 - 48/80, method 10: 0.0524 to 0.3339.
    interval = newcombe(share(56, 70), share(48, 80))
    assert interval is not None
    assert (round(interval.low, 4), round(interval.high, 4)) == (0.0524, 0.3339)


def test_a_claim_torch_disagrees_with_is_flagged_whatever_the_sample() -> None:
    assert kinds(claim_flags("q", False, 1)) == ["claim-disagrees"]
    assert claim_flags("q", True, 1) == []
    assert claim_flags("q", None, 1) == []


def test_difficulty_bands() -> None:
    assert [band_of(f) for f in (0.7, 0.69, 0.4, 0.39)] == ["easy", "medium", "medium", "hard"]


def test_author_difficulty_two_bands_from_the_measured_facility_is_flagged() -> None:
    assert kinds(difficulty_flags("q", "easy", share(3, 30))) == ["difficulty-disagrees"]
    assert kinds(difficulty_flags("q", "hard", share(30, 30))) == ["difficulty-disagrees"]
    assert difficulty_flags("q", "easy", share(3, 29)) == []


def test_author_difficulty_one_band_away_or_unclear_is_not_flagged() -> None:
    assert difficulty_flags("q", "medium", share(0, 100)) == []
    assert difficulty_flags("q", "easy", share(50, 100)) == []  # medium: one band
    assert difficulty_flags("q", "easy", share(11, 30)) == []  # interval spans 0.4
    assert difficulty_flags("q", None, share(0, 100)) == []
