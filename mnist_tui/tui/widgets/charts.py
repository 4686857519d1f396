"""Live training charts: PlotextPlot subclasses that hold their own (bounded) series.

Points are appended as engine events arrive (a few per second); drawing happens
only in ``replot()``, which the app calls from a timer, so the redraw rate is
bounded whatever the batch rate.
"""

from __future__ import annotations

import math

from textual_plotext import PlotextPlot


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


class TrainingChart(PlotextPlot):
    """A chart of a training series (x in epochs) and, optionally, a per-epoch validation series."""

    DEFAULT_CSS = """
    TrainingChart { height: 1fr; min-height: 6; }
    """
    title = ""
    ylabel = ""
    val_label = "val"
    train_label = "train"

    def __init__(self, *, max_points: int = 1000, smoothing: float = 0.6, id: str | None = None,
                 classes: str | None = None) -> None:
        super().__init__(id=id, classes=classes)
        self.train = BoundedSeries(max_points)
        self.val = BoundedSeries(max_points)
        self._smoother = Smoother(smoothing) if smoothing else None
        self.dirty = True
        self.epochs: int | None = None
        self.waiting: str | None = None  # what an empty chart says (None: no run yet)

    def reset(self, epochs: int | None = None, waiting: str = "waiting for the first batches…") -> None:
        self.waiting = waiting
        self.train.clear()
        self.val.clear()
        if self._smoother:
            self._smoother.reset()
        self.epochs = epochs
        self.dirty = True

    def add_train(self, x: float, y: float) -> None:
        self.train.append(x, self._smoother(y) if self._smoother else y)
        self.dirty = True

    def add_val(self, x: float, y: float | None) -> None:
        if y is not None:
            self.val.append(x, y)
            self.dirty = True

    def transform(self, y: float) -> float:
        return y

    def on_mount(self) -> None:
        super().on_mount()
        self.replot()

    def on_resize(self) -> None:
        self.dirty = True

    def replot(self) -> None:
        """Redraw from the held series (cheap to call; the app calls it a few times a second)."""
        plt = self.plt
        plt.clear_data()
        plt.clear_figure()
        plt.title(self.title)
        plt.xlabel("epoch")
        if self.train:
            plt.plot(self.train.xs, [self.transform(y) for y in self.train.ys], label=self.train_label,
                     marker="braille")
        if self.val:
            plt.plot(self.val.xs, [self.transform(y) for y in self.val.ys], label=self.val_label,
                     marker="dot" if len(self.val) > 1 else "hd")
        if self.epochs:
            plt.xlim(0, self.epochs)
        if not self.train and not self.val:
            plt.ylim(0, 1)
            plt.xlim(0, self.epochs or 1)
            plt.title(self.waiting or "no run yet: f5 starts one")
        self.dirty = False
        self.refresh()


class LossChart(TrainingChart):
    title = "Loss (train smoothed, val per epoch)"


class AccuracyChart(TrainingChart):
    title = "Accuracy % (train, val)"

    def transform(self, y: float) -> float:
        return 100 * y


class LearningRateChart(TrainingChart):
    title = "Learning rate"
    train_label = "lr"

    def __init__(self, **kwargs) -> None:
        super().__init__(smoothing=0.0, **kwargs)
