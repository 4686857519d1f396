"""Chart series stay bounded however long a run is."""

from __future__ import annotations

import math

from mnist_tui.tui.widgets.charts import BoundedSeries, Smoother


def test_series_never_exceeds_its_bound_and_keeps_the_ends():
    series = BoundedSeries(max_points=100)
    for i in range(10_000):
        series.append(i, float(i))
    assert 50 <= len(series) <= 100
    xs = series.xs
    assert xs[0] < series.stride and xs[-1] > 9999 - series.stride  # both ends of the run are kept
    gaps = {round(b - a) for a, b in zip(xs[:-2], xs[1:-1])}
    assert gaps == {series.stride}  # every stored point stands for the same number of inputs
    assert series.ys == xs


def test_series_skips_non_finite_values():
    series = BoundedSeries(max_points=10)
    series.append(0, math.nan)
    series.append(1, math.inf)
    series.append(2, 1.0)
    assert series.xs == [2.0] and series.ys == [1.0]


def test_smoother_is_bias_corrected():
    smooth = Smoother(0.9)
    assert smooth(2.0) == 2.0  # the first value is not pulled towards zero
    assert 2.0 < smooth(4.0) < 4.0
