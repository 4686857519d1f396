"""Chart series stay bounded however long a run is."""

from __future__ import annotations

import math

from mnist_tui.tui.widgets.charts import BoundedSeries, Smoother, thinned


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


# -- ticks, log scale and smoothing ------------------------------------------------------------

import pytest  # noqa: E402
from textual.app import App, ComposeResult  # noqa: E402

from mnist_tui.tui.widgets.charts import AccuracyChart, LossChart  # noqa: E402
from mnist_tui.tui.widgets.ticks import linear_ticks, log_ticks  # noqa: E402


def _round_step(step: float) -> bool:
    mantissa = step / 10 ** math.floor(math.log10(step))
    return any(math.isclose(mantissa, m) for m in (1, 2, 5, 10))


@pytest.mark.parametrize("low, high", [(97.27, 99.10), (0.05, 2.3), (0.9, 1.0), (10, 90), (0.0004, 0.0031)])
def test_linear_ticks_are_evenly_spaced_round_numbers(low, high):
    axis_low, axis_high, positions, labels = linear_ticks(low, high, 5)
    assert axis_low <= low and axis_high >= high and 2 <= len(positions) <= 5
    steps = {round(b - a, 12) for a, b in zip(positions, positions[1:])}
    assert len(steps) == 1 and _round_step(steps.pop())
    assert [float(label) for label in labels] == pytest.approx(positions)
    assert len({len(label.split(".")[-1]) for label in labels if "." in label}) <= 1  # same decimals


@pytest.mark.parametrize("low, high, most, expected", [
    (0.11, 0.16, 2, [0.1, 0.2]),  # Compare at 60x20 drew this loss from 0.0 to 0.2: three quarters empty
    (0.11, 0.15, 3, [0.1, 0.15]),
    (97.1, 99.3, 5, [97.0, 98.0, 99.0, 100.0]),
    (0.3, 7.7, 2, [0.0, 10.0]),
])
def test_linear_ticks_keep_the_data_filling_the_axis(low, high, most, expected):
    axis_low, axis_high, positions, _ = linear_ticks(low, high, most)
    assert positions == pytest.approx(expected) and (axis_low, axis_high) == pytest.approx((expected[0], expected[-1]))


@pytest.mark.parametrize("most", [2, 3])
def test_a_first_epochs_loss_fills_the_chart_when_only_a_few_ticks_fit(most):
    # at 80x24 the loss chart has room for two or three ticks: 0.05 to 2.3 got an axis to 5 or 4,
    # the curve in the lower half of the chart
    axis_low, axis_high, positions, labels = linear_ticks(0.05, 2.3, most)
    assert axis_low <= 0.05 and axis_high >= 2.3 and (2.3 - 0.05) / (axis_high - axis_low) >= 0.9
    assert 2 <= len(positions) <= most and all(axis_low <= p <= axis_high for p in positions)
    assert [float(label) for label in labels] == pytest.approx(positions)


@pytest.mark.parametrize("low, high", [(0.05, 2.3), (0.011, 0.47), (91.2, 99.1), (0.3, 7.7), (0.11, 0.16), (3e-4, 0.02)])
@pytest.mark.parametrize("most", [2, 3, 4, 5, 6])
def test_ticks_stay_on_the_axis_round_and_few_enough(low, high, most):
    axis_low, axis_high, positions, labels = linear_ticks(low, high, most, within=(0.0, 100.0))
    assert axis_low <= low and axis_high >= high and 2 <= len(positions) <= most
    assert all(axis_low - 1e-9 <= p <= axis_high + 1e-9 for p in positions)
    steps = {round(b - a, 12) for a, b in zip(positions, positions[1:])}
    assert len(steps) == 1 and _round_step(steps.pop())


@pytest.mark.parametrize("value", [99.1, 100.0, 0.0])
def test_a_lone_accuracy_gets_an_axis_around_it_within_0_and_100(value):
    axis_low, axis_high, positions, labels = linear_ticks(value, value, 5, within=(0.0, 100.0))
    assert 0 <= axis_low <= value <= axis_high <= 100 and axis_high - axis_low <= 2
    assert len(positions) >= 2 and all(0 <= p <= 100 for p in positions) and len(labels) == len(positions)


def test_log_ticks_read_as_real_losses():
    _, _, positions, labels = log_ticks(math.log10(0.012), math.log10(2.3))
    assert labels == ["0.1", "1"] or labels == ["0.01", "0.1", "1"][-len(labels):]
    assert positions == pytest.approx([math.log10(float(label)) for label in labels])
    _, _, _, labels = log_ticks(math.log10(0.05), math.log10(0.6))
    assert labels == ["0.05", "0.1", "0.2", "0.5"]
    _, _, _, labels = log_ticks(math.log10(0.08), math.log10(2.3), 6)  # room for 1-2-5: it had 0.1 and 1 only
    assert labels == ["0.1", "0.2", "0.5", "1", "2"]
    low, high, positions, labels = log_ticks(math.log10(0.31), math.log10(0.35))  # narrow: round values
    assert low <= math.log10(0.31) and high >= math.log10(0.35) and all(float(x) > 0 for x in labels)


def plain(chart) -> str:
    """The chart as drawn, without colours."""
    from rich.text import Text

    return Text.from_ansi(chart.plt.build()).plain


async def plotted(pilot, chart, epochs: int, points) -> None:
    """A fresh run of ``epochs`` with these (x, y) training points, drawn."""
    chart.reset(epochs)
    for x, y in points:
        chart.add_train(x, y)
    chart.replot()
    await pilot.pause()


class ChartApp(App):
    def compose(self) -> ComposeResult:
        yield LossChart(id="loss")
        yield AccuracyChart(id="acc")


async def test_validation_is_a_dot_per_epoch_not_a_line_over_the_train_curve():
    """At 120x40 the val dots were joined into a line of dots that hid the train curve running beside it."""
    app = ChartApp()
    async with app.run_test(size=(120, 40)) as pilot:
        chart = app.query_one(LossChart)
        await plotted(pilot, chart, 3, [(i / 100, 0.1 + 0.002 * (i % 3)) for i in range(1, 301)])
        for epoch in (1, 2, 3):
            chart.add_val(epoch, 0.1)
        chart.replot()
        await pilot.pause()
        drawn = plain(chart)
        assert drawn.count("•") == 3 + 1, drawn  # three epochs, and the legend's


async def test_loss_chart_draws_log10_with_real_tick_labels_and_smoothing_levels():
    app = ChartApp()
    async with app.run_test(size=(60, 30)) as pilot:
        chart = app.query_one(LossChart)
        chart.reset(1)
        raw = [2.3 * math.exp(-4 * i / 100) + 0.01 * (i % 2) for i in range(100)]
        for i, loss in enumerate(raw):
            chart.add_train(i / 100, loss)
        chart.add_val(1, 0.05)
        chart.replot()
        await pilot.pause()
        assert chart.heading() == "Loss (smoothed 0.6)"
        assert chart.drawn["train"][1][0] == pytest.approx(raw[0])  # bias-corrected: starts at the first value
        chart.toggle_log_scale()
        chart.replot()
        assert chart.heading() == "Loss (log10, smoothed 0.6)"
        drawn = plain(chart)
        assert "Loss (log10, smoothed 0.6)" in drawn
        xs, ys = chart.drawn["val"]
        assert ys == [pytest.approx(math.log10(0.05))]
        for label in ("0.1", "1"):  # ticks read as losses, not as log10 values
            assert any(line.strip().startswith(label + "┤") for line in drawn.splitlines()), drawn
        assert "-1.0" not in drawn
        assert "train" in drawn and "val" in drawn  # the legend, under the x axis
        legend_row = next(i for i, line in enumerate(drawn.splitlines()) if "train" in line)
        axis_row = max(i for i, line in enumerate(drawn.splitlines()) if "└" in line)
        assert legend_row > axis_row  # never over the curves
        assert chart.cycle_smoothing() == 0.9 and chart.heading() == "Loss (log10, smoothed 0.9)"
        assert chart.cycle_smoothing() == 0.0 and chart.heading() == "Loss (log10)"
        chart.replot()
        assert chart.drawn["train"][1] == pytest.approx([math.log10(v) for v in raw])  # off: the raw values
        chart.toggle_log_scale()
        chart.replot()
        assert chart.heading() == "Loss" and chart.drawn["train"][1] == pytest.approx(raw)


async def test_accuracy_chart_ticks_are_round_percentages():
    app = ChartApp()
    async with app.run_test(size=(60, 30)) as pilot:
        chart = app.query_one(AccuracyChart)
        await plotted(pilot, chart, 2, [(i / 25, 0.9727 + 0.0183 * i / 49) for i in range(50)])
        lines = [line.strip() for line in plain(chart).splitlines() if "┤" in line]
        labels = [float(line.split("┤")[0]) for line in lines]
        steps = {round(a - b, 9) for a, b in zip(labels, labels[1:])}
        assert len(labels) >= 2 and len(steps) == 1 and _round_step(steps.pop()), lines


# -- thinning to the chart's resolution -----------------------------------------------------------


def test_thinning_keeps_each_columns_extremes_in_order():
    xs = [i / 1000 for i in range(10_000)]  # 10 epochs of points
    ys = [math.exp(-x) + 0.1 * math.sin(i * 0.7) for i, x in enumerate(xs)]
    txs, tys = thinned(xs, ys, 40, 10)
    assert 40 <= len(txs) <= 82 and (txs[0], txs[-1]) == (xs[0], xs[-1])
    assert txs == sorted(txs) and set(zip(txs, tys)) <= set(zip(xs, ys))
    assert min(tys) == min(ys) and max(tys) == max(ys)
    for column in range(40):  # every column's lowest and highest point survives
        inside = [y for x, y in zip(xs, ys) if min(39, int(x / 10 * 40)) == column]
        kept = [y for x, y in zip(txs, tys) if min(39, int(x / 10 * 40)) == column]
        assert min(kept) == min(inside) and max(kept) == max(inside)
    assert thinned(xs[:50], ys[:50], 40, 10) == (xs[:50], ys[:50])  # few points: unchanged


async def test_a_long_runs_curve_is_drawn_at_the_charts_resolution():
    app = ChartApp()
    async with app.run_test(size=(60, 30)) as pilot:
        chart = app.query_one(LossChart)
        await plotted(pilot, chart, 20, [(i / 250, 2.3 * math.exp(-i / 500) + 0.05 * (i % 7)) for i in range(5000)])
        xs, ys = chart.drawn["train"]
        assert len(xs) <= 4 * chart.size.width + 2 < len(chart.train.xs)  # two dots a cell, two points a dot
        assert xs[-1] == chart.train.xs[-1]  # the curve ends at the newest point
        assert "Loss" in plain(chart)


async def test_a_chart_replotted_while_hidden_draws_its_whole_curve_once_shown():
    # replotted at width 0 it kept two points and two x ticks ("0 … 1"): a straight line until something redrew it
    app = ChartApp()
    async with app.run_test(size=(60, 30)) as pilot:
        chart = app.query_one(LossChart)
        chart.display = False
        await pilot.pause()
        await plotted(pilot, chart, 1, [(i / 86, 2.3 * math.exp(-i / 5) + 0.1) for i in range(1, 87)])
        assert chart.dirty and chart.drawn == {}  # nothing drawn at no size
        chart.display = True
        await pilot.pause()
        await pilot.pause()
        assert not chart.dirty and len(chart.drawn["train"][0]) == 86


async def test_a_narrow_loss_chart_keeps_a_short_title_rather_than_none():
    """At 60 columns (charts side by side) the log view's "Loss (log10, smoothed 0.9)" was as wide as its plot,
    and plotext drew no title at all: nothing said the axis was log10 (walk25 F11)."""
    app = ChartApp()
    async with app.run_test(size=(25, 16)) as pilot:
        chart = app.query_one(LossChart)
        chart.reset(1)
        for i in range(1, 50):
            chart.add_train(i / 50, 2.3 / i)
        chart.toggle_log_scale()
        chart.cycle_smoothing()
        chart.replot()
        await pilot.pause()
        drawn = plain(chart)
    assert chart.heading() == "Loss (log10, smoothed 0.9)"
    assert "Loss (log10, s 0.9)" in drawn, drawn


async def test_an_empty_charts_message_wider_than_the_plot_is_cut_with_a_sign_rather_than_dropped():
    """plotext drops a title as wide as its plot: at 60 columns the idle chart said nothing (walk29 F10), and
    "RUN was deleted ..." was lost at 80."""
    app = ChartApp()
    async with app.run_test(size=(30, 16)) as pilot:
        chart = app.query_one(LossChart)
        chart.reset(None, "no run yet: f5 starts one, or load one from Runs")
        chart.replot()
        await pilot.pause()
        drawn = plain(chart)
    assert "no run yet: f5 starts…" in drawn, drawn
