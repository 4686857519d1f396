"""Compare runs: validation accuracy and loss per epoch overlaid, and what differs between them.

Each run gets one colour, used for its curves, its legend entry and its table column.
The run folders are read by the core's readers (core.runs) in a thread worker, off the UI.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal
from textual.message import Message
from textual.screen import Screen
from textual.widgets import DataTable, Static
from textual_plotext import PlotextPlot

from ...core.config import TrainConfig, field_applies, field_label, field_names, format_field
from ...core.formatting import percent, test_cell
from ..keys import QUIT_NOT_SHOWN, main_view_keys
from ..widgets.column_table import ColumnTable
from ..widgets.fit import first_fitting
from ..widgets.footer import FittingFooter
from ..widgets.progress import format_duration
from ..widgets.ticks import linear_ticks

# distinct in dark and light themes; plotext takes the RGB tuple, Rich the hex
RUN_COLOURS = ((0, 175, 255), (255, 135, 0), (95, 215, 95), (255, 95, 175), (215, 215, 0), (175, 135, 255),
               (0, 215, 215), (255, 95, 95))
POLL_S = 2.0  # how often the compared run folders are looked at for a run that trains on
NOT_APPLICABLE = "–"  # a field that changes nothing for that run (width for an mlp)


def run_colour(index: int) -> tuple[int, int, int]:
    return RUN_COLOURS[index % len(RUN_COLOURS)]


def hex_colour(rgb: tuple[int, int, int]) -> str:
    return "#{:02x}{:02x}{:02x}".format(*rgb)


@dataclass
class ComparedRun:
    """One run folder as the comparison needs it (plain values only)."""

    name: str
    path: str
    config: TrainConfig | None
    epochs: list[int] = field(default_factory=list)
    val_accuracy: list[float | None] = field(default_factory=list)
    val_loss: list[float | None] = field(default_factory=list)
    test_accuracy: float | None = None
    test_checkpoint: str | None = None  # the checkpoint the test figure is of, "last (epoch 3)"
    train_seconds: float | None = None
    error: str | None = None
    state: str = "stopped"  # as Runs says it: training (or paused) while a process trains it
    test_tta: bool = False  # the test figure averages shifted copies too

    @property
    def best_val_accuracy(self) -> float | None:
        values = [v for v in self.val_accuracy if v is not None]
        return max(values) if values else None

    def last(self, values: list[float | None]) -> float | None:
        present = [v for v in values if v is not None]
        return present[-1] if present else None


def compared_run(run_dir: str | Path) -> ComparedRun:
    """A run folder through the core's readers (config, per-epoch metrics, the run's summary)."""
    from ...core.runs import read_config, read_metrics, read_run

    run_dir = Path(run_dir)
    if not run_dir.is_dir():  # deleted since Runs listed it
        return ComparedRun(run_dir.name, str(run_dir), None, error="the run folder no longer exists")
    try:
        config = read_config(run_dir)
    except Exception as exc:  # noqa: BLE001 - one bad run must not hide the others
        return ComparedRun(run_dir.name, str(run_dir), None, error=f"no readable config.json ({exc})")
    records = read_metrics(run_dir)
    info = read_run(run_dir)
    return ComparedRun(
        name=run_dir.name, path=str(run_dir), config=config,
        epochs=[int(r["epoch"]) for r in records],
        val_accuracy=[r.get("val_accuracy") for r in records],
        val_loss=[r.get("val_loss") for r in records],
        test_accuracy=info.test_accuracy, test_checkpoint=info.test_checkpoint, test_tta=info.test_tta,
        train_seconds=info.train_seconds if not info.error else None, error=info.error, state=info.state,
    )


def folder_stamp(run_dirs: list[Path]) -> tuple:
    """Each run folder's files, their sizes and times: a run that trains on (here, in another app or
    `mnist-tui train`) changes it at each epoch and at its end (not its chart points, every half second)."""
    stamp = []
    for run_dir in run_dirs:
        try:
            with os.scandir(run_dir) as entries:
                stamp.append(tuple(sorted((e.name, e.stat().st_size, e.stat().st_mtime_ns) for e in entries
                                          if e.name != "points.jsonl")))
        except OSError:
            stamp.append(None)
    return tuple(stamp)


def _curves(run: ComparedRun) -> list[tuple[int, float | None, float | None]]:
    return [(e, None if a is None else round(a, 6), None if v is None else round(v, 6))
            for e, a, v in zip(run.epochs, run.val_accuracy, run.val_loss) if a is not None or v is not None]


def hidden_under(runs: list[ComparedRun]) -> dict[int, int]:
    """{run index: index of the later run drawn over it} for runs whose curves are the other's exactly
    (a copied run, or the same config and seed trained twice): the chart cannot show both."""
    curves = [_curves(run) for run in runs]
    hidden = {}
    for i, curve in enumerate(curves):
        over = [j for j in range(i + 1, len(runs)) if curve and curves[j] == curve]
        if over:
            hidden[i] = over[-1]
    return hidden


def config_cells(runs: list[ComparedRun]) -> list[tuple[str, list[str]]]:
    """(form label, one cell per run) for the config fields whose shown values differ.

    A field that does not apply to a run reads "–" there; one that applies to none is left out.
    """
    readable = [r for r in runs if r.config is not None]
    if len(readable) < 2:
        return []
    rows = []
    for name in field_names():
        if not any(field_applies(name, r.config) for r in readable):
            continue
        cells = ["?" if r.config is None else format_field(name, getattr(r.config, name))
                 if field_applies(name, r.config) else NOT_APPLICABLE for r in runs]
        if len({cell for cell, r in zip(cells, runs) if r.config is not None}) > 1:
            rows.append((field_label(name), cells))
    return rows


def _number(value: float | None) -> str:
    return "-" if value is None else f"{value:.4f}"


def comparison_rows(runs: list[ComparedRun]) -> list[tuple[str, list[str]]]:
    """(label, one cell per run): final metrics, then the config fields that differ (form labels)."""
    readable = [r for r in runs if r.config is not None]
    rows: list[tuple[str, list[str]]] = [
        ("best val acc", [percent(r.best_val_accuracy) for r in runs]),
        ("final val acc", [percent(r.last(r.val_accuracy)) for r in runs]),
        ("final val loss", [_number(r.last(r.val_loss)) for r in runs]),
        ("test acc", [test_cell(r.test_accuracy, None, 0, r.test_tta) for r in runs]),  # its checkpoint: "tested"
        ("tested", [r.test_checkpoint or "-" for r in runs]),
        ("epochs done", ["?" if r.config is None else f"{r.epochs[-1] if r.epochs else 0}/{r.config.epochs}"
                         + (f" {r.state}" if r.state in ("training", "paused") else "") for r in runs]),
        ("train time", ["-" if r.train_seconds is None else format_duration(r.train_seconds) for r in runs]),
    ]
    fields = config_cells(runs)
    rows += fields
    if not fields and len(readable) > 1:
        rows.append(("config", ["identical" if r.config is not None else "?" for r in runs]))
    if any(r.error for r in runs):
        rows.append(("error", [r.error or "" for r in runs]))
    return rows


class CompareChart(PlotextPlot):
    """One validation metric per epoch, a line per run in that run's colour (the legend is below the charts)."""

    DEFAULT_CSS = """
    CompareChart { width: 1fr; height: 1fr; min-height: 8; }
    """

    def __init__(self, metric: str, *titles: str, percent: bool = False, id: str | None = None) -> None:
        super().__init__(id=id)
        self.metric = metric
        self.titles = titles  # the longest first: the first that fits is drawn
        self.percent = percent
        self.runs: list[ComparedRun] = []
        self.lines: list[tuple[str, tuple[int, int, int], list[int], list[float]]] = []  # what was last drawn
        self.y_ticks: tuple[list[float], list[str]] = ([], [])

    def set_runs(self, runs: list[ComparedRun]) -> None:
        self.runs = runs
        self.replot()

    def series(self, run: ComparedRun) -> tuple[list[int], list[float]]:
        """The points plotted for a run: epochs where the metric exists (accuracy in %)."""
        values = getattr(run, self.metric)
        points = [(e, v) for e, v in zip(run.epochs, values) if v is not None]
        scale = 100.0 if self.percent else 1.0
        return [e for e, _ in points], [v * scale for _, v in points]

    def on_mount(self) -> None:
        self.replot()

    def on_resize(self) -> None:
        self.replot()  # how many ticks fit follows the height

    def replot(self) -> None:
        plt = self.plt
        plt.clear_data()
        plt.clear_figure()
        plt.xlabel("epoch")
        longest = 1
        self.lines = []
        for index, run in enumerate(self.runs):
            xs, ys = self.series(run)
            if not xs:
                continue
            longest = max(longest, max(xs))
            marker = "braille" if len(xs) > 1 else "hd"  # a lone point needs a visible mark
            plt.plot(xs, ys, color=run_colour(index), marker=marker)  # no label: no legend over the data
            self.lines.append((run.name, run_colour(index), xs, ys))
        plt.xlim(0.8 if longest == 1 else 1, longest + (0.2 if longest == 1 else 0))
        step = max(1, -(-longest // 8))  # whole epochs, at most about eight ticks
        plt.xticks(list(range(1, longest + 1, step)))
        values = [y for _, _, _, ys in self.lines for y in ys]
        if values:  # round, evenly spaced ticks (plotext's own split the range: 99.10, 98.49, 97.27)
            low, high, positions, labels = linear_ticks(min(values), max(values),
                                                        max(2, min(6, (self.size.height - 4) // 2)),
                                                        within=(0.0, 100.0) if self.percent else None)
            plt.ylim(low, high)
            plt.yticks(positions, labels)
            self.y_ticks = (positions, labels)
        # plotext drops a title that does not fit centred over the plot, beside the y ticks: with ? open it read
        # only "Validation loss" (walk41 F12)
        room = self.size.width - max((len(label) for label in self.y_ticks[1]), default=3) - 4
        plt.title(first_fitting(self.titles, room))
        self.refresh()


class CompareLegend(Static):
    """A run's colour and name per entry, entries packed into lines whole (a swatch was left at a line's end)."""

    def __init__(self, **kwargs) -> None:
        super().__init__("", **kwargs)
        self.entries: list[Text] = []

    def show(self, entries: list[Text]) -> None:
        self.entries = entries
        self.refresh(layout=True)

    def render(self) -> Text:
        width = self.content_region.width or self.size.width or 80
        lines, line = [], Text()
        for entry in self.entries:
            if line and line.cell_len + 3 + entry.cell_len > width:
                lines.append(line)
                line = Text()
            line = line + Text("   ") + entry if line else entry.copy()
        return Text("\n").join([*lines, line])

CHARTS_MIN_HEIGHT = 9


class CompareScreen(Screen):
    """Validation curves of two or more runs overlaid, and the config fields that differ."""

    DEFAULT_CSS = """
    CompareScreen { layout: vertical; }
    #compare-title { height: 1; padding: 0 1; background: $boost; }
    #compare-charts { height: 1fr; min-height: %d; }
    #compare-legend { height: auto; padding: 0 1; }
    #compare-table { height: auto; max-height: 50%%; }
    """ % CHARTS_MIN_HEIGHT
    BINDINGS = [
        QUIT_NOT_SHOWN,
        *main_view_keys(),
        Binding("escape", "close", "Back"),
        Binding("ctrl+r", "reload", "Reload"),
    ]

    class RunsLoaded(Message):
        def __init__(self, runs: list[ComparedRun]) -> None:
            super().__init__()
            self.runs = runs

    def __init__(self, run_dirs: list[str | Path]) -> None:
        super().__init__()
        self.run_dirs = [Path(p) for p in run_dirs]
        self.runs: list[ComparedRun] = []

    def compose(self) -> ComposeResult:
        yield Static(f"Compare {len(self.run_dirs)} runs · reading…", id="compare-title")
        with Horizontal(id="compare-charts"):
            yield CompareChart("val_accuracy", "Validation accuracy %", "Val accuracy %", "Val acc %", percent=True,
                               id="compare-accuracy")
            yield CompareChart("val_loss", "Validation loss", "Val loss", id="compare-loss")
        yield CompareLegend(id="compare-legend")
        # the row labels stay put while the runs' columns scroll sideways
        table = ColumnTable(id="compare-table", cursor_type="row", zebra_stripes=True, fixed_columns=1)
        table.selectable = False  # the facts of the runs: nothing to open
        table.noun = "run"
        yield table
        yield FittingFooter(compact=True)

    def on_mount(self) -> None:
        self._stamp: tuple | None = None
        self.load_runs()
        self.set_interval(POLL_S, self._read_again_if_changed)

    @work(thread=True, exclusive=True, exit_on_error=False, group="compare", name="read runs")
    def load_runs(self) -> None:
        self._stamp = folder_stamp(self.run_dirs)  # before reading: a change meanwhile is seen next time
        self.post_message(self.RunsLoaded([compared_run(p) for p in self.run_dirs]))

    def _read_again_if_changed(self) -> None:
        """A compared run that trains on is read again: its column kept the figures of when Compare opened."""
        if self.is_current:
            self._check_the_folders()

    @work(thread=True, exclusive=True, exit_on_error=False, group="compare-poll", name="check compared runs")
    def _check_the_folders(self) -> None:
        if self._stamp is not None and folder_stamp(self.run_dirs) != self._stamp:
            self.app.call_from_thread(self.load_runs)

    def on_compare_screen_runs_loaded(self, message: RunsLoaded) -> None:
        self.runs = message.runs
        self.query_one("#compare-title", Static).update(
            f"Compare {len(self.runs)} runs · validation per epoch · esc back")
        for chart in self.query(CompareChart):
            chart.set_runs(self.runs)
        entries = []
        hidden = hidden_under(self.runs)
        for index, run in enumerate(self.runs):
            entry = Text()
            entry.append("━━ ", style=f"bold {hex_colour(run_colour(index))}")
            entry.append(run.name + ("  (unreadable)" if run.error else ""))
            if index in hidden:
                entry.append(f" (hidden: same curves as {self.runs[hidden[index]].name})", style="dim")
            entries.append(entry)
        self.query_one(CompareLegend).show(entries)
        self._fill_table()
        self.call_after_refresh(self._fit_table)

    def on_resize(self) -> None:
        self.call_after_refresh(self._fit_table)

    def _fit_table(self) -> None:
        """Half the screen at most, and not the charts' least nor the footer's row: its scrollbar ran into the
        footer when the legend took three lines (walk33 F6)."""
        legend = self.query_one(CompareLegend).outer_size.height
        room = self.size.height - 1 - CHARTS_MIN_HEIGHT - legend - 1  # the title and the footer a line each
        self.query_one(DataTable).styles.max_height = max(3, min(self.size.height // 2, room))

    def _fill_table(self) -> None:
        table = self.query_one(DataTable)
        cursor, scrolled = table.cursor_coordinate, table.scroll_offset  # kept when a training run is read again
        table.clear(columns=True)
        table.add_column("", key="label")
        for index, run in enumerate(self.runs):
            table.add_column(Text(run.name, style=f"bold {hex_colour(run_colour(index))}"), key=run.path)
        for label, cells in comparison_rows(self.runs):
            table.add_row(Text(label, style="bold"), *cells, key=label)
        table.cursor_coordinate = cursor
        self.call_after_refresh(table.scroll_to, *scrolled, animate=False)

    def action_reload(self) -> None:
        self.load_runs()

    def action_close(self) -> None:
        self.dismiss(None)


__all__ = ["CompareChart", "CompareScreen", "ComparedRun", "compared_run", "comparison_rows", "config_cells",
           "hidden_under"]
