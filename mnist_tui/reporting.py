"""How the headless CLI shows engine events: a Rich progress bar, or JSON lines."""

from __future__ import annotations

import json
import math
import os
import select
import shlex
import stat
import sys
import threading
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from rich import box
from rich.console import Console
from rich.markup import escape
from rich.segment import Segment
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn
from rich.table import Table
from rich.text import Text

from .commands.common import OutputError, discard_stdout
from .core.formatting import COLLAPSED, collapsed, json_safe, percent, test_cell, tested
from .core.events import (
    CheckpointSaved, EpochEnd, Event, Failed, Finished, LrChanged, Paused, Resumed, RunStarted, StepMetrics,
    Stopped,
)

TERMINAL = (Finished, Stopped, Failed)


class OutputConsole(Console):
    """A Console whose closed stdout (`| head`) calls ``on_closed`` and goes quiet, or, without it, raises
    BrokenPipeError for the CLI to end quietly (exit 141); rich's own choice is SystemExit(1). A stdout
    that cannot be written (a full disk: :class:`OutputError`, kept in ``error``) is handled the same way,
    except that, without ``on_closed``, the OutputError is raised."""

    def __init__(self, *args: Any, on_closed: Any = None, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.on_closed = on_closed
        self.error: OutputError | None = None

    def _check_buffer(self) -> None:
        try:
            super()._check_buffer()
        except OutputError as exc:
            self.error = exc
            self.on_broken_pipe()

    def on_broken_pipe(self) -> None:
        self.quiet = True
        discard_stdout()
        if self.on_closed is None:
            raise self.error or BrokenPipeError(32, "stdout closed")
        self.on_closed()


class JsonLines:
    """JSON objects on stdout, one a line (NaN/inf as null). Once stdout's reader has gone (`| head`)
    it calls ``on_closed`` once and drops the rest; without ``on_closed`` it raises BrokenPipeError for
    the CLI to end quietly (exit 141). A stdout that cannot be written (:class:`OutputError`, a full disk)
    counts as closed too, the error kept in ``error``."""

    def __init__(self, on_closed: Any = None):
        self.on_closed = on_closed
        self.closed = False
        self.error: OutputError | None = None
        self._lock = threading.Lock()

    def write(self, record: dict[str, Any]) -> None:
        if self.closed:
            return
        try:
            print(json.dumps(json_safe(record)), flush=True)
        except (BrokenPipeError, OutputError) as exc:
            self.error = exc if isinstance(exc, OutputError) else None
            discard_stdout()
            if self.on_closed is None:
                raise
            self._close()

    def _close(self) -> None:
        with self._lock:
            if self.closed:
                return
            self.closed = True
        self.on_closed()

    def watch_reader(self, every_s: float = 0.5) -> None:
        """Notice a pipe's reader leaving while nothing is written (a tuning trial's epoch takes minutes: it
        trained on to the next line): the write end of a pipe with no reader reports POLLERR."""
        try:
            fd = sys.stdout.fileno()
            if self.on_closed is None or not stat.S_ISFIFO(os.fstat(fd).st_mode):
                return
        except (OSError, ValueError):  # no real stdout (a test's capture)
            return

        def watch() -> None:
            poller = select.poll()
            poller.register(fd, 0)  # errors and hang-ups are reported whatever is asked for
            while not self.closed:
                if poller.poll(every_s * 1000):
                    self._close()
                    return

        threading.Thread(target=watch, name="stdout reader", daemon=True).start()


class JsonReporter:
    """One JSON object per event per line on stdout; the last line is the terminal event.

    Metrics points come at most every ``step_interval_s`` seconds (each epoch's last always),
    so a fast run does not flood a pipe; ``step_interval_s=0`` prints every point.
    """

    def __init__(self, step_interval_s: float = 0.25, on_output_closed: Any = None):
        self.step_interval_s = step_interval_s
        self.lines = JsonLines(on_output_closed)  # on_output_closed: called once if stdout's reader goes

    @property
    def output_closed(self) -> bool:
        return self.lines.closed

    @property
    def output_error(self) -> OutputError | None:
        return self.lines.error

    def consume(self, events: Iterable[Event]) -> Event:
        last: Event | None = None
        printed_at = -math.inf
        for event in events:
            last = event
            if isinstance(event, StepMetrics) and event.step != event.steps_per_epoch:
                now = time.monotonic()
                if now - printed_at < self.step_interval_s:
                    continue
                printed_at = now
            self.lines.write(event.to_dict())  # once stdout has closed, the stopping run's events go nowhere
        assert last is not None
        return last


_pct = percent


def progress_bar(console: Console) -> Progress:
    """`train`'s bar: epoch, bar, steps, loss, accuracy, pace, times. One space between the figures: with two,
    a 10-epoch run's "2150/2150" was cut to "2150/21…" at 80 columns."""
    return Progress(
        TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
        TextColumn("loss {task.fields[loss]} acc {task.fields[acc]} {task.fields[speed]}"),
        TimeElapsedColumn(), TimeRemainingColumn(), console=console, transient=False,
    )


class RichReporter:
    """A live progress bar (loss, accuracy, samples/s) and a summary table at the end."""

    def __init__(self, console: Console | None = None, resume_command: str = "mnist-tui train --resume {run_dir}",
                 on_output_closed: Any = None):
        self.output_closed = False
        self.on_output_closed = on_output_closed  # called once if stdout's reader goes (`| head -2`)
        self.console = console or OutputConsole(on_closed=self._closed if on_output_closed else None)
        self.resume_command = resume_command  # with {run_dir}: a command that works when pasted

    @property
    def output_error(self) -> OutputError | None:
        return getattr(self.console, "error", None)

    def _closed(self) -> None:
        if not self.output_closed:  # the progress bar's refresh thread may find it closed too
            self.output_closed = True
            self.on_output_closed()

    def consume(self, events: Iterable[Event]) -> Event:
        progress = progress_bar(self.console)
        epochs: list[EpochEnd] = []
        last: Event | None = None
        task = None
        with progress:
            for event in events:
                last = event
                if isinstance(event, RunStarted):
                    self._epochs, self._train_size, self._steps = event.epochs, event.train_size, event.steps_per_epoch
                    self.console.print(
                        f"[bold]{escape(event.run_name)}[/]: {event.config['model']} with {event.param_count:,} "
                        f"parameters on {event.device}; {event.train_size:,} train / {event.val_size:,} validation / "
                        f"{event.test_size:,} test digits; saving to {escape(event.run_dir)}",
                        soft_wrap=True,  # piped, Rich cut the path in the middle of the run's name (walk35 F12)
                    )
                    task = progress.add_task(f"epoch {min(event.start_epoch + 1, event.epochs)}/{event.epochs}",
                                             total=event.epochs * event.steps_per_epoch,
                                             completed=event.start_epoch * event.steps_per_epoch,
                                             loss="-", acc="-", speed="")
                elif isinstance(event, StepMetrics) and task is not None:
                    progress.update(task, completed=event.global_step,
                                    description=f"epoch {event.epoch}/{self._epochs}", loss=f"{event.loss:.4f}",
                                    acc=f"{event.accuracy:.2%}", speed=f"{event.samples_per_s:,.0f}/s")
                elif isinstance(event, EpochEnd):
                    epochs.append(event)
                    if task is not None and event.seconds > 0:  # the epoch's pace, not its last few batches'
                        progress.update(task, speed=f"{self._train_size / event.seconds:,.0f}/s")
                    progress.console.print(
                        f"epoch {event.epoch}/{event.epochs}: train loss {event.train_loss:.4f} "
                        f"acc {_pct(event.train_accuracy)} | val loss "
                        f"{'-' if event.val_loss is None else f'{event.val_loss:.4f}'} acc {_pct(event.val_accuracy)} "
                        f"| {event.seconds:.1f}s"
                    )
                elif isinstance(event, Paused):
                    progress.console.print("paused")
                elif isinstance(event, Resumed):
                    progress.console.print("resumed")
                elif isinstance(event, Stopped) and task is not None:  # the bar ends where the run did: it read
                    # 15/1075 (its last point) over "Stopped in epoch 1 after step 16" (walk35 F13)
                    progress.update(task, completed=(event.epoch - 1) * self._steps + event.step,
                                    description=f"epoch {event.epoch}/{self._epochs}")
                elif isinstance(event, CheckpointSaved) and event.reason == "stopped":
                    progress.console.print(f"saved {escape(str(event.path))}")
                elif isinstance(event, LrChanged):
                    progress.console.print(f"learning rate x{event.factor:g} from epoch {event.epoch}, "
                                           f"step {event.step}")
        assert last is not None
        self._summary(last, epochs)
        return last

    def _summary(self, last: Event, epochs: list[EpochEnd]) -> None:
        if epochs:
            table = Table(title="Epochs")
            for column in ("epoch", "train loss", "train acc", "val loss", "val acc", "seconds"):
                table.add_column(column, justify="right")
            for e in epochs:
                table.add_row(str(e.epoch), f"{e.train_loss:.4f}", _pct(e.train_accuracy),
                              "-" if e.val_loss is None else f"{e.val_loss:.4f}", _pct(e.val_accuracy),
                              f"{e.seconds:.1f}")
            self.console.print(table)
        if isinstance(last, Finished):
            self.console.print(  # under 80 columns ("after 1 epoch" repeated "epoch 1" and made it 82)
                f"[bold green]Test accuracy {tested(last.test_accuracy, last.tta)}[/] (last, epoch {last.epochs}; loss "
                f"{last.test_loss:.4f}) after {last.train_seconds:.1f}s of training.", soft_wrap=True)
            self.console.print(f"Saved in {escape(last.run_dir)}", soft_wrap=True, crop=False, overflow="ignore")
            if collapsed(last.test_accuracy):
                self.console.print(f"[yellow]{COLLAPSED}[/]")
            if last.study_note:
                self.console.print(f"Tuning: {last.study_note}", soft_wrap=True, markup=False)
        elif isinstance(last, Stopped):
            self.console.print(
                f"[yellow]Stopped[/] {last.place}; saved {escape(last.checkpoint)}.\nResume with: "
                f"{escape(self.resume_command.format(run_dir=shlex.quote(str(Path(last.run_dir).resolve()))))}",
                soft_wrap=True,
            )
        elif isinstance(last, Failed):
            print(f"mnist-tui: run failed: {last.reason}", file=sys.stderr)


def print_evaluation(summary: dict[str, Any], console: Console | None = None) -> None:
    console = console or OutputConsole()
    names = ", ".join(summary.get("checkpoint_labels") or summary["checkpoints"])
    console.print(f"[bold]{escape(names)}[/]{' with TTA' if summary['tta'] else ''}")  # a run "[red]x" (walk38 F10)
    console.print(f"Test accuracy [bold]{summary['test_accuracy']:.2%}[/], loss {summary['test_loss']:.4f}, "
                  f"{summary['errors']:,} of {summary['test_size']:,} wrong")
    # no outer edge: 12 columns of counts up to 1,135 and "100.00%" fit in 80 columns, nothing cut
    table = Table(title="Confusion matrix (rows: true, columns: predicted)", show_edge=False)
    accuracies = [_pct(a) for a in summary["per_class_accuracy"]]
    table.add_column("true", no_wrap=True)
    for d in range(10):
        widest = max(len(str(row[d])) for row in summary["confusion"])
        table.add_column(str(d), justify="right", no_wrap=True, min_width=widest)
    table.add_column("acc", justify="right", no_wrap=True, min_width=max(len(a) for a in accuracies))
    for t, row in enumerate(summary["confusion"]):
        cells = [f"[bold]{v}[/]" if p == t else (str(v) if v else "[dim]·[/]") for p, v in enumerate(row)]
        table.add_row(str(t), *cells, accuracies[t])
    # wider than the terminal (more than its right pad): its lines run on, never cut (884 read as 88, walk38 F11)
    widest = max(map(Segment.get_line_length, Segment.split_lines(console.render(table))), default=0)
    console.print(table, crop=widest <= console.width + 1)
    listed = "Most confidently wrong:"
    for w in summary.get("misclassified") or []:  # as many as fit one line, for `explain --index`
        item = f" #{w['index']} {w['label']}→{w['predicted']} {w['confidence']:.0%}"
        if len(listed) + len(item) + 1 > min(console.width, 80):
            break
        listed += item + ","
    if listed.endswith(","):
        console.print(listed.rstrip(","), highlight=False)


def run_time(seconds: float) -> str:
    """A run's training time in the CLI's tables: 2s, 95s, 11m."""
    return f"{seconds:.0f}s" if seconds < 120 else f"{seconds / 60:.0f}m"


def fold_name(name: str, width: int) -> list[str]:
    """``name`` in lines of at most ``width``, broken after a hyphen where one is in reach (kmnist-fast-9a1b- over
    trial0104, not kmnist-fast-9a1b-trial010 over 4)."""
    lines = []
    while len(name) > width:
        cut = name.rfind("-", 0, width) + 1 or width
        lines.append(name[:cut])
        name = name[cut:]
    return [*lines, name]


def print_runs(runs, folder: str, console: Console | None = None) -> None:
    """The runs as a table that reads at 80 columns: names are never cut (people type them; one too long
    for the room the values leave folds onto a second line), short values keep their width, the date (and
    a test note) wrap instead; unreadable runs' reasons follow it."""
    console = console or OutputConsole()
    if not runs:
        console.print(f"No runs in {escape(str(folder))}")
        return
    rows = []  # every cell but the name: (state, model, epochs, best val, test, time, date)
    for r in runs:
        date = r.modified[5:16].replace("T", " ")  # MM-DD HH:MM
        # "error", as wide as the column's header: "unreadable" (its reason follows the table) widened the
        # state column so much that every other row's date wrapped
        rows.append(("error", r.model, "", "", "", "", date) if r.error else (
            r.state, r.model, f"{r.epochs_done}/{r.epochs}", _pct(r.best_val_accuracy),
            test_cell(r.test_accuracy, r.test_checkpoint, r.epochs_done, r.test_tta),
            run_time(r.train_seconds), date))
    # the widths the value columns need (the test note and the date may wrap at their spaces) and the one
    # space between columns (two would wrap the date of a default name, fastcnn-20261203-091011, at 80
    # columns): the rest is the name's, and a longer name folds (Rich, left to fold it, pushed the date off
    # the right edge), so no column is ever cut
    widths = [max([len(header)] + [max(map(len, str(row[i]).split() or [""])) for row in rows])
              for i, header in enumerate(("state", "model", "epochs", "best", "test", "time", "date"))]
    others = sum(widths) + len(widths)  # a space before each value column
    longest = max(len(r.name) for r in runs)
    room = max(console.width - others, 8)  # the date on two lines; a name folds at 8 (12 pushed the date off at 60)
    one_line_date = room - (len("MM-DD HH:MM") - widths[-1])
    if longest <= one_line_date or one_line_date >= len("fastcnn-20261203-091011"):
        room = one_line_date  # every name fits beside a one-line date, or an automatic one does and longer ones
        # fold (a study's trial names, mnist-seed-mlp-c3fa-trial0012, wrapped every row's date instead)
    table = Table(title=f"Runs in {folder}", box=box.SIMPLE_HEAD, show_edge=False,
                  pad_edge=False, collapse_padding=True, padding=0)
    table.add_column("name", no_wrap=True, min_width=min(longest, room))
    table.add_column("state", no_wrap=True, min_width=widths[0])
    table.add_column("model", no_wrap=True, min_width=widths[1])
    table.add_column("epochs", no_wrap=True, min_width=widths[2], justify="right")
    table.add_column("best\nval", no_wrap=True, min_width=widths[3], justify="right")
    table.add_column("test", min_width=widths[4])  # "98.12%" over "best·e2"
    table.add_column("time", no_wrap=True, min_width=widths[5], justify="right")
    table.add_column("date", min_width=widths[6])  # MM-DD HH:MM, on two lines when narrow
    for r, row in zip(runs, rows):
        name = Text("\n".join(fold_name(r.name, room)))  # as it is: "[red]secret" was listed as "secret"
        test = Text(row[4], justify="right") if row[4] == "-" else row[4]  # under the figures' ends, like val's
        table.add_row(name, "[red]error[/]" if r.error else row[0], *row[1:4], test, *row[5:])
    console.print(table)
    for r in runs:
        if r.error:
            # whole lines (a long path is not cut into pieces); "[Errno 13]" is not markup
            console.print(f"[red]{escape(r.name)}[/]: {escape(r.error)}", highlight=False, soft_wrap=True)
        elif r.state not in ("finished", "training", "paused") and (Path(r.path) / "result.json").is_file():  # F12
            console.print(f"[yellow]{escape(r.name)}[/]: its result.json cannot be read, so its test figure is "
                          f"lost: mnist-tui eval {escape(shlex.quote(r.name))} measures it again", highlight=False)
