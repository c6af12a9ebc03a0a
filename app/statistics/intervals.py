"""95% confidence intervals for the quiz statistics.

- Wilson score interval for a proportion k/n, with z = 1.959964 and p = k/n:
  centre = (p + z²/2n) / (1 + z²/n),
  half   = z / (1 + z²/n) · sqrt(p(1 - p)/n + z²/4n²).
- Fisher z for a Pearson correlation r over n pairs:
  tanh(atanh(r) ± z / sqrt(n - 3)); needs n > 3 and |r| < 1.
- Feldt (1965) for Cronbach's alpha over n attempts and k items, with
  d1 = n - 1 and d2 = (n - 1)(k - 1):
  [1 - (1 - alpha) · F(0.975; d1, d2), 1 - (1 - alpha) · F(0.025; d1, d2)].

The F quantile comes from bisection on the regularised incomplete beta
function, because scipy is not a dependency of the project.
Every function returns None when the interval is undefined, never NaN.
"""

import math
from dataclasses import dataclass

Z95 = 1.959963984540054


@dataclass(frozen=True)
class Interval:
    low: float
    high: float


def wilson(successes: int, n: int) -> Interval | None:
    """Wilson score interval for successes out of n."""
    if n <= 0 or not 0 <= successes <= n:
        return None
    p = successes / n
    z2 = Z95 * Z95
    denominator = 1 + z2 / n
    centre = (p + z2 / (2 * n)) / denominator
    half = Z95 / denominator * math.sqrt(p * (1 - p) / n + z2 / (4 * n * n))
    return Interval(max(0.0, centre - half), min(1.0, centre + half))


def fisher_z(r: float | None, n: int) -> Interval | None:
    """Fisher z interval for a correlation r computed over n pairs."""
    if r is None or n <= 3 or not -1 < r < 1:
        return None
    z = math.atanh(r)
    half = Z95 / math.sqrt(n - 3)
    return Interval(math.tanh(z - half), math.tanh(z + half))


def feldt(alpha: float | None, n: int, k: int) -> Interval | None:
    """Feldt interval for Cronbach's alpha over n attempts and k items."""
    if alpha is None or n < 2 or k < 2 or alpha >= 1:
        return None
    d1 = n - 1
    d2 = (n - 1) * (k - 1)
    low = 1 - (1 - alpha) * f_quantile(0.975, d1, d2)
    high = 1 - (1 - alpha) * f_quantile(0.025, d1, d2)
    return Interval(low, high)


def f_quantile(p: float, d1: float, d2: float) -> float:
    """The p quantile of the F(d1, d2) distribution."""
    if not 0 < p < 1 or d1 <= 0 or d2 <= 0:
        raise ValueError(f"F quantile needs 0 < p < 1 and positive df, got {p}, {d1}, {d2}")
    low, high = 0.0, 1.0
    while f_cdf(high, d1, d2) < p:
        high *= 2
    # 200 halvings take any bracket well below double precision.
    for _ in range(200):
        middle = (low + high) / 2
        if f_cdf(middle, d1, d2) < p:
            low = middle
        else:
            high = middle
    return (low + high) / 2


def f_cdf(x: float, d1: float, d2: float) -> float:
    """P(F <= x) for the F(d1, d2) distribution."""
    if x <= 0:
        return 0.0
    return regularized_beta(d1 * x / (d1 * x + d2), d1 / 2, d2 / 2)


def regularized_beta(x: float, a: float, b: float) -> float:
    """I_x(a, b), by the continued fraction (Numerical Recipes, betai)."""
    if x <= 0:
        return 0.0
    if x >= 1:
        return 1.0
    log_front = (
        math.lgamma(a + b) - math.lgamma(a) - math.lgamma(b) + a * math.log(x) + b * math.log1p(-x)
    )
    front = math.exp(log_front)
    # The continued fraction converges fast only on this side of the mean.
    if x < (a + 1) / (a + b + 2):
        return front * _beta_fraction(x, a, b) / a
    return 1 - front * _beta_fraction(1 - x, b, a) / b


def _beta_fraction(x: float, a: float, b: float) -> float:
    """Lentz's evaluation of the incomplete beta continued fraction."""
    tiny = 1e-300
    c, d = 1.0, 1 - (a + b) * x / (a + 1)
    d = 1 / (d if abs(d) > tiny else tiny)
    result = d
    for m in range(1, 1000):
        for numerator in (
            m * (b - m) * x / ((a + 2 * m - 1) * (a + 2 * m)),
            -(a + m) * (a + b + m) * x / ((a + 2 * m) * (a + 2 * m + 1)),
        ):
            d = 1 + numerator * d
            d = 1 / (d if abs(d) > tiny else tiny)
            c = 1 + numerator / c
            c = c if abs(c) > tiny else tiny
            result *= c * d
        if abs(c * d - 1) < 1e-15:
            break
    return result
