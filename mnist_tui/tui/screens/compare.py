"""Compare runs: validation accuracy and loss per epoch overlaid, and what differs between them.

Each run gets one colour, used for its curves, its legend entry and its table column.
The run folders are read in a thread worker (the core's readers import torch).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal
from textual.message import Message
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Static
from textual_plotext import PlotextPlot

from ...core.formatting import percent
from ...core.config import TrainConfig

# distinct in dark and light themes; plotext takes the RGB tuple, Rich the hex
RUN_COLOURS = ((0, 175, 255), (255, 135, 0), (95, 215, 95), (255, 95, 175), (215, 215, 0), (175, 135, 255),
               (0, 215, 215), (255, 95, 95))


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
    result: dict[str, Any] = field(default_factory=dict)
    error: str | None = None

    @property
    def best_val_accuracy(self) -> float | None:
        values = [v for v in self.val_accuracy if v is not None]
        return max(values) if values else None

    def last(self, values: list[float | None]) -> float | None:
        present = [v for v in values if v is not None]
        return present[-1] if present else None


def load_compared_run(run_dir: str | Path) -> ComparedRun:
    """Read config.json, metrics.jsonl and result.json; a broken run carries ``error``."""
    from ...core.runs import read_metrics

    run_dir = Path(run_dir)
    try:
        config = TrainConfig.from_json((run_dir / "config.json").read_text())
    except Exception as exc:  # noqa: BLE001 - one bad run must not hide the others
        return ComparedRun(run_dir.name, str(run_dir), None, error=f"no readable config.json ({exc})")
    records = [r for r in read_metrics(run_dir) if "epoch" in r]
    result_path = run_dir / "result.json"
    try:
        result = json.loads(result_path.read_text()) if result_path.is_file() else {}
    except (OSError, json.JSONDecodeError):
        result = {}
    return ComparedRun(
        name=run_dir.name, path=str(run_dir), config=config,
        epochs=[int(r["epoch"]) for r in records],
        val_accuracy=[r.get("val_accuracy") for r in records],
        val_loss=[r.get("val_loss") for r in records],
        result=result,
    )


def differing_fields(configs: list[TrainConfig]) -> list[str]:
    """Config fields whose values are not all equal, in the config's own order."""
    if len(configs) < 2:
        return []
    dicts = [c.to_dict() for c in configs]
    return [name for name in dicts[0] if any(d[name] != dicts[0][name] for d in dicts[1:])]


def _format_value(value: Any) -> str:
    if isinstance(value, list):
        return ",".join(str(v) for v in value)
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)


_percent = percent


def _number(value: float | None) -> str:
    return "-" if value is None else f"{value:.4f}"


def comparison_rows(runs: list[ComparedRun]) -> list[tuple[str, list[str]]]:
    """(label, one cell per run): final metrics, then the config fields that differ."""
    readable = [r for r in runs if r.config is not None]
    rows: list[tuple[str, list[str]]] = [
        ("best val acc", [_percent(r.best_val_accuracy) for r in runs]),
        ("final val acc", [_percent(r.last(r.val_accuracy)) for r in runs]),
        ("final val loss", [_number(r.last(r.val_loss)) for r in runs]),
        ("test acc", [_percent(r.result.get("test_accuracy")) for r in runs]),
        ("epochs done", ["?" if r.config is None else f"{r.epochs[-1] if r.epochs else 0}/{r.config.epochs}"
                         for r in runs]),
        ("train time", ["-" if r.result.get("train_seconds") is None else f"{r.result['train_seconds']:.0f}s"
                        for r in runs]),
    ]
    fields = differing_fields([r.config for r in readable])
    for name in fields:
        rows.append((name, ["?" if r.config is None else _format_value(r.config.to_dict()[name]) for r in runs]))
    if not fields and len(readable) > 1:
        rows.append(("config", ["identical" if r.config is not None else "?" for r in runs]))
    if any(r.error for r in runs):
        rows.append(("error", [r.error or "" for r in runs]))
    return rows


class CompareChart(PlotextPlot):
    """One validation metric per epoch, a line per run in that run's colour."""

    DEFAULT_CSS = """
    CompareChart { width: 1fr; height: 1fr; min-height: 8; }
    """

    def __init__(self, metric: str, title: str, *, percent: bool = False, id: str | None = None) -> None:
        super().__init__(id=id)
        self.metric = metric
        self.title = title
        self.percent = percent
        self.runs: list[ComparedRun] = []
        self.lines: list[tuple[str, tuple[int, int, int], list[int], list[float]]] = []  # what was last drawn

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

    def replot(self) -> None:
        plt = self.plt
        plt.clear_data()
        plt.clear_figure()
        plt.title(self.title)
        plt.xlabel("epoch")
        longest = 1
        self.lines = []
        for index, run in enumerate(self.runs):
            xs, ys = self.series(run)
            if not xs:
                continue
            longest = max(longest, max(xs))
            marker = "braille" if len(xs) > 1 else "hd"  # a lone point needs a visible mark
            plt.plot(xs, ys, color=run_colour(index), marker=marker)
            self.lines.append((run.name, run_colour(index), xs, ys))
        plt.xlim(0.8 if longest == 1 else 1, longest + (0.2 if longest == 1 else 0))
        step = max(1, -(-longest // 8))  # whole epochs, at most about eight ticks
        plt.xticks(list(range(1, longest + 1, step)))
        self.refresh()


class CompareScreen(Screen):
    """Validation curves of two or more runs overlaid, and the config fields that differ."""

    DEFAULT_CSS = """
    CompareScreen { layout: vertical; }
    #compare-title { height: 1; padding: 0 1; background: $boost; }
    #compare-charts { height: 1fr; min-height: 9; }
    #compare-legend { height: auto; padding: 0 1; }
    #compare-table { height: auto; max-height: 50%; }
    """
    BINDINGS = [
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
            yield CompareChart("val_accuracy", "Validation accuracy %", percent=True, id="compare-accuracy")
            yield CompareChart("val_loss", "Validation loss", id="compare-loss")
        yield Static("", id="compare-legend")
        yield DataTable(id="compare-table", cursor_type="row", zebra_stripes=True)
        yield Footer(compact=True)

    def on_mount(self) -> None:
        self.load_runs()

    @work(thread=True, exclusive=True, exit_on_error=False, group="compare", name="read runs")
    def load_runs(self) -> None:
        self.post_message(self.RunsLoaded([load_compared_run(p) for p in self.run_dirs]))

    def on_compare_screen_runs_loaded(self, message: RunsLoaded) -> None:
        self.runs = message.runs
        self.query_one("#compare-title", Static).update(
            f"Compare {len(self.runs)} runs · validation per epoch · esc back")
        for chart in self.query(CompareChart):
            chart.set_runs(self.runs)
        legend = Text()
        for index, run in enumerate(self.runs):
            legend.append("━━ ", style=f"bold {hex_colour(run_colour(index))}")
            legend.append(run.name + ("  (unreadable)" if run.error else ""))
            legend.append("   ")
        self.query_one("#compare-legend", Static).update(legend)
        self._fill_table()

    def _fill_table(self) -> None:
        table = self.query_one(DataTable)
        table.clear(columns=True)
        table.add_column("", key="label")
        for index, run in enumerate(self.runs):
            table.add_column(Text(run.name, style=f"bold {hex_colour(run_colour(index))}"), key=run.path)
        for label, cells in comparison_rows(self.runs):
            table.add_row(Text(label, style="bold"), *cells, key=label)

    def action_reload(self) -> None:
        self.load_runs()

    def action_close(self) -> None:
        self.dismiss(None)


__all__ = ["CompareChart", "CompareScreen", "ComparedRun", "comparison_rows", "differing_fields",
           "load_compared_run"]
