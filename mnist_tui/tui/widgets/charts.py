"""Live training charts: PlotextPlot subclasses that hold their own (bounded) series.

Points are appended as engine events arrive (in batches, a few times a second); drawing
happens only in ``replot()``, so the redraw rate is bounded whatever the batch rate.
Series hold the raw values: smoothing and the log10 view are applied when drawing, so
both can be toggled on a curve that is already drawn.
"""

from __future__ import annotations

import itertools
import math

from textual_plotext import PlotextPlot

from ...core.formatting import clip
from .ticks import linear_ticks, log_ticks

SMOOTHING_LEVELS = (0.0, 0.6, 0.9)  # off, light, heavy: EMA weights for the train curve
TRAIN_COLOUR = (0, 175, 255)
VAL_COLOUR = (255, 135, 0)


class BoundedSeries:
    """x/y points that never grow past ``max_points``.

    Incoming points are averaged in buckets of ``stride``; when the series is full, neighbouring
    points are merged in pairs and the stride doubles. Every stored point then stands for the
    same number of inputs, so memory stays bounded and a long run keeps its shape.
    """

    def __init__(self, max_points: int = 1000) -> None:
        if max_points < 2:
            raise ValueError("max_points must be at least 2")
        self.max_points = max_points
        self.clear()

    def clear(self) -> None:
        self._xs: list[float] = []
        self._ys: list[float] = []
        self.stride = 1
        self._pending = [0.0, 0.0, 0]  # sum x, sum y, count of the bucket being filled

    def __len__(self) -> int:
        return len(self._xs) + (1 if self._pending[2] else 0)

    @property
    def xs(self) -> list[float]:
        sx, _, n = self._pending
        return self._xs + [sx / n] if n else list(self._xs)

    @property
    def ys(self) -> list[float]:
        _, sy, n = self._pending
        return self._ys + [sy / n] if n else list(self._ys)

    def append(self, x: float, y: float) -> None:
        if not math.isfinite(y):
            return
        pending = self._pending
        pending[0] += x
        pending[1] += y
        pending[2] += 1
        if pending[2] < self.stride:
            return
        self._xs.append(pending[0] / pending[2])
        self._ys.append(pending[1] / pending[2])
        self._pending = [0.0, 0.0, 0]
        if len(self._xs) >= self.max_points:
            self._halve()

    def _halve(self) -> None:
        n = len(self._xs) - len(self._xs) % 2
        leftover_x, leftover_y = self._xs[n:], self._ys[n:]
        self._xs = [(self._xs[i] + self._xs[i + 1]) / 2 for i in range(0, n, 2)]
        self._ys = [(self._ys[i] + self._ys[i + 1]) / 2 for i in range(0, n, 2)]
        self.stride *= 2
        if leftover_x:  # an unpaired newest point becomes the start of the next bucket
            self._pending = [leftover_x[0] * self.stride / 2, leftover_y[0] * self.stride / 2, self.stride // 2]


class Smoother:
    """Exponential moving average with bias correction (as TensorBoard's smoothing)."""

    def __init__(self, weight: float = 0.6) -> None:
        self.weight = weight
        self._value = 0.0
        self._count = 0

    def __call__(self, value: float) -> float:
        if not math.isfinite(value):
            return value
        self._count += 1
        self._value = self.weight * self._value + (1 - self.weight) * value
        return self._value / (1 - self.weight**self._count)

    def reset(self) -> None:
        self._value, self._count = 0.0, 0


def smoothed(values: list[float], weight: float) -> list[float]:
    """``values`` through a fresh bias-corrected EMA (``weight`` 0: unchanged)."""
    if not weight:
        return list(values)
    smoother = Smoother(weight)
    return [smoother(v) for v in values]


def thinned(xs: list[float], ys: list[float], columns: int, right: float) -> tuple[list[float], list[float]]:
    """About two points per column of ``columns`` across [0, right]: each column's lowest and highest,
    in x order, and the curve's first and last points. What is drawn looks the same at the chart's
    resolution, and plotext's time grows with the points it is given (a 1000-point curve took 2-3x
    as long to build as one of 100)."""
    if len(xs) <= 2 * columns or right <= 0:
        return xs, ys

    def column(i: int) -> int:
        return min(columns - 1, int(xs[i] / right * columns))

    kept = {0, len(xs) - 1}  # the curve starts and ends where the data do
    for _, group in itertools.groupby(range(len(xs)), key=column):  # xs ascend: a column's points are adjacent
        span = list(group)
        kept |= {min(span, key=ys.__getitem__), max(span, key=ys.__getitem__)}
    order = sorted(kept)
    return [xs[i] for i in order], [ys[i] for i in order]


class TrainingChart(PlotextPlot):
    """A chart of a training series (x in epochs) and, optionally, a per-epoch validation series.

    The legend is written under the x axis (never over the data) and the y ticks are round values.
    """

    DEFAULT_CSS = """
    TrainingChart { height: 1fr; min-height: 6; }
    """
    title = ""
    val_label = "val"
    train_label = "train"
    y_range: tuple[float, float] | None = None  # what the values can be (the axis stays inside it)

    def __init__(self, *, max_points: int = 1000, smoothing: float = 0.6, id: str | None = None,
                 classes: str | None = None) -> None:
        super().__init__(id=id, classes=classes)
        self.train = BoundedSeries(max_points)
        self.val = BoundedSeries(max_points)
        self.smoothing = smoothing  # EMA weight applied to the train curve when drawn
        self.log_scale = False  # draw log10 of the values (on a linear axis: plotext's log scale breaks)
        self.dirty = True
        self.epochs: int | None = None
        self.waiting: str | None = None  # what an empty chart says (None: no run yet)
        self.cleared = (self.train, self.val, self.epochs, self.waiting)
        self.drawn: dict[str, tuple[list[float], list[float]]] = {}  # what the last replot plotted

    def reset(self, epochs: int | None = None, waiting: str = "waiting for the first batches…") -> None:
        self.cleared = (self.train, self.val, self.epochs, self.waiting)  # for a start that never began: undo_reset
        self.train, self.val = BoundedSeries(self.train.max_points), BoundedSeries(self.val.max_points)
        self.waiting = waiting
        self.epochs = epochs
        self.dirty = True

    def undo_reset(self) -> None:
        """The curves the last reset cleared, back: a start that failed before its run began (the dataset
        missing) left "no run yet" over the run just trained (walk34 F2)."""
        self.train, self.val, self.epochs, self.waiting = self.cleared
        self.dirty = True

    def add_train(self, x: float, y: float) -> None:
        self.train.append(x, y)
        self.dirty = True

    def add_val(self, x: float, y: float | None) -> None:
        if y is not None:
            self.val.append(x, y)
            self.dirty = True

    def transform(self, y: float) -> float:
        return y

    def heading(self, width: int = 0) -> str:
        """The title, with how the curve is drawn: "Loss (log10, smoothed 0.9)"; narrower than ``width`` (plotext
        drops a title as wide as the plot: at 60 columns the log view lost its whole title) as "Loss (log10, s 0.9)"."""
        for smoothing in (f"smoothed {self.smoothing:g}", f"s {self.smoothing:g}"):
            notes = (["log10"] if self.log_scale else []) + ([smoothing] if self.smoothing else [])
            title = f"{self.title} ({', '.join(notes)})" if notes else self.title
            if not width or len(title) < width:
                break
        return title

    def legend(self) -> str:
        """Under the x axis, so it never covers the curves."""
        shown = [f"⣀⣀ {self.train_label}"] if self.train else []
        shown += [f"• {self.val_label}"] if self.val else []
        return "epoch" + ("   " + "   ".join(shown) if len(shown) > 1 else "")

    def _curve(self, xs: list[float], ys: list[float]) -> tuple[list[float], list[float]]:
        """Transformed values, as log10 when asked (points <= 0 have no log and are left out)."""
        ys = [self.transform(y) for y in ys]
        if not self.log_scale:
            return list(xs), ys
        kept = [(x, math.log10(y)) for x, y in zip(xs, ys) if y > 0]
        return [x for x, _ in kept], [y for _, y in kept]

    def on_mount(self) -> None:
        super().on_mount()
        self.replot()

    def on_resize(self) -> None:
        self.replot()  # the ticks' count follows the size (a chart shown again gets its size only now)

    def on_show(self) -> None:
        if self.dirty:  # shown again (a taller terminal, the Train tab): drawn at the size it now has
            self.replot()

    def replot(self) -> None:
        """Redraw from the held series (cheap to call; the pane calls it at a bounded rate). Not while the
        chart has no size (hidden, not yet laid out): thinned to one column and two ticks, its curve stayed
        a straight line when no resize came after; it stays dirty for its Show or Resize."""
        if not (self.size.width and self.size.height):
            self.dirty = True
            return
        plt = self.plt
        plt.clear_data()
        plt.clear_figure()
        plt.title(self.heading(self.size.width))
        self.drawn = {}
        width, height = self.size
        if self.train:
            xs, ys = self._curve(self.train.xs, smoothed(self.train.ys, self.smoothing))
            # braille draws 2 dots a cell across: 4 points a cell at most
            self.drawn["train"] = thinned(xs, ys, max(1, 2 * width), self.epochs or (xs[-1] if xs else 0))
        if self.val:
            self.drawn["val"] = self._curve(self.val.xs, self.val.ys)
        for name, (xs, ys) in self.drawn.items():
            if not xs:
                continue
            if name == "train":
                plt.plot(xs, ys, marker="braille", color=TRAIN_COLOUR)
            else:
                # points, not a line: joined, the dots covered the train curve wherever the two ran close
                plt.scatter(xs, ys, marker="dot" if len(xs) > 1 else "hd", color=VAL_COLOUR)
        plt.xlabel(self.legend())
        ys = [y for _, values in self.drawn.values() for y in values]
        if ys:
            count = max(2, min(6, (height - 4) // 2))
            low, high, positions, labels = (log_ticks(min(ys), max(ys), count) if self.log_scale
                                            else linear_ticks(min(ys), max(ys), count, self.y_range))
            plt.ylim(low, high)
            plt.yticks(positions, labels)
        right = self.epochs or max((x for xs, _ in self.drawn.values() for x in xs), default=1) or 1
        _, _, positions, labels = linear_ticks(0, right, max(2, min(11, width // 8)))
        plt.xlim(0, right)
        plt.xticks(positions, labels)
        if not ys:
            plt.ylim(0, 1)
            plt.yticks([])
            # cut to fit, with a sign: plotext drops a title as wide as the plot
            plt.title(clip(self.waiting or "no run yet: f5 starts one", max(width - 4, 8)))
        self.dirty = False
        self.refresh()


class LossChart(TrainingChart):
    title = "Loss"

    def toggle_log_scale(self) -> bool:
        self.log_scale = not self.log_scale
        self.dirty = True
        return self.log_scale

    def cycle_smoothing(self) -> float:
        """Off, light, heavy, off ... for the train curve; returns the new EMA weight."""
        later = [w for w in SMOOTHING_LEVELS if w > self.smoothing]
        self.smoothing = later[0] if later else SMOOTHING_LEVELS[0]
        self.dirty = True
        return self.smoothing


class AccuracyChart(TrainingChart):
    title = "Accuracy %"
    y_range = (0.0, 100.0)

    def transform(self, y: float) -> float:
        return 100 * y


class LearningRateChart(TrainingChart):
    title = "Learning rate"
    train_label = "lr"

    def __init__(self, **kwargs) -> None:
        super().__init__(smoothing=0.0, **kwargs)
