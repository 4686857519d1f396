"""The Tune view's charts: optimisation history, validation accuracy per epoch, parameter importances.

They draw the Tune screen's trial records (dicts with number, state, value, params and
``curve``: {epoch: val accuracy}, from ``tune --json`` events and the storage's
intermediate values). Charts hold their data and redraw in ``replot()``; the screen calls
it when records arrive and the chart is shown. Accuracies are drawn in percent; points far
below the best (a diverged trial at 10%) are drawn at the floor so the good ones keep
their spread.
"""

from __future__ import annotations

import math
from typing import Any

from rich.text import Text
from textual.widgets import Static
from textual_plotext import PlotextPlot

from .fit import first_fitting

MIN_IMPORTANCE_TRIALS = 4  # importances are noise over fewer complete trials
FLOOR_POINTS = 5.0  # the y axis reaches this many points below the best value, no further
STATE_COLOUR = {"running": "yellow", "complete": "green", "pruned": "gray", "stopped": "yellow", "failed": "red",
                "waiting": "gray"}


def best_steps(points: list[tuple[int, float]], last: int | None = None) -> tuple[list[int], list[float]]:
    """The best value so far as a step line through ``(trial, value)`` points: flat until a trial beats it,
    then up at that trial (a line from point to point drew a climb across the trials between), on to ``last``."""
    xs: list[int] = []
    ys: list[float] = []
    for n, value in points:
        if ys and value <= ys[-1]:
            continue
        if ys:
            xs.append(n)
            ys.append(ys[-1])
        xs.append(n)
        ys.append(value)
    if xs and last is not None and last > xs[-1]:
        xs.append(last)
        ys.append(ys[-1])
    return xs, ys


def _floor(values: list[float]) -> float:
    return max(min(values), max(values) - FLOOR_POINTS)


def _below(values: list[float], floor: float) -> str:
    """What an x label adds when values lie under the axis (drawn on its bottom edge): "2 below 92%", else ""."""
    count = sum(1 for v in values if v < floor - 1e-9)
    return f"{count} below {floor:.0f}%" if count else ""


def nice_ticks(low: float, high: float, max_ticks: int = 5, whole: bool = False) -> list[float]:
    """Round tick positions (steps of 1, 2 or 5 times a power of ten) inside ``low``..``high``, at most
    ``max_ticks`` and, where a finer round step allows, at least three (98.93..99.17 got 99.0 and 99.1 alone,
    the upper rows unlabelled); ``whole`` keeps to integers (trial numbers, epochs)."""
    span = high - low
    if not (math.isfinite(span) and span > 0):
        return [round(low, 6)]
    raw = span / max(max_ticks - 1, 1)
    power = 10 ** math.floor(math.log10(raw))
    steps = [m * power for m in (10, 5, 2, 1, 0.5)]  # coarse to fine
    ticks: list[float] = []
    for step in steps[[i for i, s in enumerate(steps) if s >= raw * (1 - 1e-9)][-1]:]:
        if whole:
            step = max(1, round(step))
        first = math.ceil(low / step - 1e-9)
        finer = [round(k * step, 6) for k in range(first, math.floor(high / step + 1e-9) + 1)]
        if ticks and (len(finer) > max_ticks or len(ticks) >= 3 or whole):
            break
        ticks = finer
    return ticks


def tick_labels(ticks: list[float]) -> list[str]:
    """The ticks with as many decimals as the finest needs, all alike (plotext wrote 99.150, 99.100)."""
    decimals = max((len(f"{t:g}".partition(".")[2]) for t in ticks), default=0)
    return [f"{t:.{decimals}f}" for t in ticks]


def _axes(plt: Any, x_low: float, x_high: float, y_values: list[float], floor: float) -> None:
    """Axis limits with a little room, integer x ticks and round y ticks."""
    y_low, y_high = floor - 0.05, max(y_values) + 0.05
    plt.ylim(y_low, y_high)
    ys = nice_ticks(y_low, y_high, 5)
    plt.yticks(ys, tick_labels(ys))
    ticks = nice_ticks(x_low, x_high, 6, whole=True) if x_high > x_low else [x_low]  # only trials or epochs there are
    if x_high <= x_low:  # one point: room beside it, no negative trial or epoch
        x_low, x_high = max(0, x_low - 1), x_high + 1
    plt.xlim(x_low, x_high)
    plt.xticks(ticks)


class TuneChart(PlotextPlot):
    """A chart of the trial records; ``set_trials`` marks it for the next ``replot``."""

    DEFAULT_CSS = "TuneChart { height: 1fr; width: 1fr; min-height: 6; }"

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.trials: dict[int, dict[str, Any]] = {}
        self.epochs = 1
        self.dirty = True
        self.best_line: tuple[list[int], list[float]] = ([], [])  # HistoryChart's, as drawn

    def set_trials(self, trials: dict[int, dict[str, Any]], epochs: int) -> None:
        self.trials, self.epochs = trials, max(epochs, 1)
        self.dirty = True

    def on_resize(self) -> None:
        self.dirty = True
        if self.size.width:  # shown (f8), or resized: drawn for its size (its titles were picked at width 0)
            self.replot()

    def replot(self) -> None:
        if not self.dirty:
            return
        self.dirty = False
        plt = self.plt
        plt.clear_data()
        plt.clear_figure()
        self.draw(plt)
        self.refresh()

    def draw(self, plt: Any) -> None:
        raise NotImplementedError

    def title(self, plt: Any, *choices: str) -> None:
        """The first of ``choices`` that fits: plotext drops a title that does not fit centred over the plot,
        beside the y ticks (at 60x20, "Val acc % by epoch (1 running)" was not shown: walk41 F12)."""
        room = self.size.width - 8 if self.size.width else 1_000  # the y ticks and the frame, at most
        plt.title(first_fitting(choices, room))


class HistoryChart(TuneChart):
    """Each finished trial's value by trial number (complete: green o, pruned: grey x at its last
    reported value; a v on the bottom edge when under the axis) and the best complete value so far (a yellow line)."""

    def draw(self, plt: Any) -> None:
        finished = [(n, t) for n, t in sorted(self.trials.items())
                    if t.get("state") in ("complete", "pruned") and t.get("value") is not None]
        plt.xlabel("trial (o done, x pruned)")
        if not finished:
            self.title(plt, "History: no finished trial yet", "History: none yet")
            plt.ylim(0, 100)
            return
        values = [100 * t["value"] for _, t in finished]
        floor = _floor(values)
        low = _below(values, floor)  # under the axis: drawn on its bottom edge as a v, and counted
        plt.xlabel(f"trial (o done x pruned v {low})" if low else "trial (o done, x pruned)")

        def scatter(state: str, marker: str, colour: str) -> None:
            points = [(n, 100 * t["value"]) for n, t in finished if t["state"] == state]
            for under in (False, True):
                shown = [(n, max(v, floor)) for n, v in points if (v < floor - 1e-9) == under]
                if shown:
                    plt.scatter([n for n, _ in shown], [v for _, v in shown], marker="v" if under else marker,
                                color=colour)

        scatter("pruned", "x", "gray")
        complete = [(n, 100 * t["value"]) for n, t in finished if t["state"] == "complete"]
        titles = ("History: none complete yet", "History: none yet")
        if complete:
            xs, best = best_steps(complete, last=finished[-1][0])
            self.best_line = (xs, [max(v, floor) for v in best])
            plt.plot(*self.best_line, color="yellow", marker="braille")
            titles = (f"History: best {best[-1]:.2f}%", f"best {best[-1]:.2f}%")
        scatter("complete", "o", "green")
        self.title(plt, *titles)
        _axes(plt, finished[0][0], finished[-1][0], values, floor)


class EpochChart(TuneChart):
    """Validation accuracy per epoch, one line per trial: running trials yellow, complete green,
    pruned grey (so a running trial reads against the ones before it)."""

    def draw(self, plt: Any) -> None:
        curves = [(n, t) for n, t in sorted(self.trials.items()) if t.get("curve")]
        plt.xlabel("epoch")
        # every running trial, as the status line counts them: one still in its first epoch has no curve yet
        running = sum(1 for t in self.trials.values() if t.get("state") == "running")
        self.title(plt, f"Val acc % by epoch ({running} running)", f"Val acc % ({running} running)", "Val acc %")
        if not curves:
            plt.ylim(0, 100)
            plt.xlim(1, max(self.epochs, 2))
            return
        values = [100 * v for _, t in curves for v in t["curve"].values() if v is not None]
        if not values:
            return
        floor = _floor(values)
        low = _below(values, floor)
        plt.xlabel(f"epoch ({low}, on the edge)" if low else "epoch")
        # running trials last, so they are drawn on top
        for n, t in sorted(curves, key=lambda item: (item[1].get("state") == "running", item[0])):
            points = sorted((int(e), max(100 * v, floor)) for e, v in t["curve"].items() if v is not None)
            if not points:
                continue
            colour = STATE_COLOUR.get(t.get("state", ""), "gray")
            plt.plot([e for e, _ in points], [v for _, v in points], color=colour,
                     marker="hd" if len(points) == 1 else "braille")
        _axes(plt, 1, self.epochs, values, floor)


class ImportanceBars(Static):
    """Parameter importances (Optuna's default evaluator) as text bars, largest first."""

    DEFAULT_CSS = "ImportanceBars { height: 1fr; padding: 0 1; }"

    def show_importances(self, importances: dict[str, float] | None, complete: int, seconds: float | None = None,
                         error: str | None = None) -> None:
        self.update(importance_text(importances, complete, seconds, error, self.size.width or 78))


def importance_text(importances: dict[str, float] | None, complete: int, seconds: float | None = None,
                    error: str | None = None, width: int = 78) -> Text:
    """The importance table as Rich text: a heading, then ``name ████ 0.62`` per parameter."""
    text = Text()
    if error:
        text.append(f"Parameter importances could not be computed: {error}", "red")
        return text
    if not importances:
        need = max(MIN_IMPORTANCE_TRIALS - complete, 0)
        text.append(f"Parameter importances appear once {MIN_IMPORTANCE_TRIALS} trials are complete "
                    f"({complete} so far{f', {need} to go' if need else ''}).", "dim")
        return text
    took = f", {seconds * 1000:.0f} ms" if seconds is not None else ""
    text.append(f"Parameter importances over {complete} complete trials (Optuna's PED-ANOVA{took})\n\n", "bold")
    name_width = max(len(name) for name in importances)
    bar_width = max(width - name_width - 10, 10)
    top = max(importances.values()) or 1.0
    for name, value in sorted(importances.items(), key=lambda item: -item[1]):
        cells = round(bar_width * value / top)
        text.append(f"{name:<{name_width}} ")
        text.append("█" * cells, "green")
        text.append(" " * (bar_width - cells))
        text.append(f" {value:.2f}\n")
    return text


class ViewSwitch(Static):
    """Which view the lower area shows, and that f8 cycles them: "f8: Trials [History] Importance"; where that
    does not fit (60 columns), the one shown alone, "f8: [History]" (the names were cut: it read "f8: Trials" on
    every view)."""

    def __init__(self, views: dict[str, str], *, id: str | None = None) -> None:
        super().__init__("", id=id)
        self.views, self.current = views, next(iter(views))

    def show(self, view: str) -> None:
        self.current = view
        self._draw()

    def on_resize(self) -> None:
        self._draw()

    def _draw(self) -> None:
        # every name padded alike, the one shown reversed: the names stay put as f8 moves (they shifted: walk41 F20)
        names = [Text(f" {name} ", style="b reverse" if key == self.current else "")
                 for key, name in self.views.items()]
        full = Text.assemble("f8:", *names)
        fits = not self.size.width or full.cell_len <= self.size.width
        self.update(full if fits else Text.assemble("f8:", names[list(self.views).index(self.current)]))


__all__ = ["MIN_IMPORTANCE_TRIALS", "EpochChart", "HistoryChart", "ImportanceBars", "TuneChart", "ViewSwitch",
           "best_steps",
           "importance_text", "nice_ticks"]
