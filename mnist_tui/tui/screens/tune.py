"""The Tune screen: run ``mnist-tui tune --json`` as a subprocess and watch its trials, or attach to a study.

The search runs in its own process (``python -m mnist_tui.cli tune ... --json``), whose
trials train in their own child processes, so the app stays responsive; a thread worker
reads its JSON lines and posts them as messages. Another thread worker polls the storage
(Optuna, imported there) so trials from other machines feeding the same study show too.
Nothing here imports torch.

The app opens it with ``push_screen(TuneScreen(base_config, checkpoints_dir=..., data_dir=...))``
and handles :class:`TuneScreen.UseBest` (the best trial's TrainConfig) and
:class:`TuneScreen.OpenRun` (enter on a trial: its run folder).
"""

from __future__ import annotations

import json
import os
import shlex
import signal
import subprocess
import sys
import tempfile
import threading
from pathlib import Path
from typing import Any

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal
from textual.message import Message
from textual.screen import Screen
from textual.widgets import Button, DataTable, Footer, Input, Select, Static

from ...core.config import TrainConfig
from ...core.tune_space import DEFAULT_SPACES, SpaceError, apply, parse_space, train_command

SPACE_FOR_MODEL = {"mlp": "seed-mlp", "lenet5": "lenet5", "cnn": "fast", "deepcnn": "best"}
STATE_STYLE = {"running": "yellow", "complete": "green", "pruned": "dim", "failed": "red", "waiting": "dim"}
POLL_SECONDS = 3.0


def _params_text(params: dict[str, Any]) -> str:
    return " ".join(f"{k}={v:.3g}" if isinstance(v, float) else f"{k}={v}" for k, v in params.items())


class TuneScreen(Screen):
    """Pick a search space, start a study (or attach to one), watch the trials, use the best."""

    DEFAULT_CSS = """
    TuneScreen { layout: vertical; }
    TuneScreen #tune-search { width: 1fr; }
    TuneScreen .tune-row { height: 3; }
    TuneScreen #tune-trials { width: 10; }
    TuneScreen #tune-pruner { width: 16; }
    TuneScreen #tune-study { width: 18; }
    TuneScreen #tune-storage { width: 1fr; }
    TuneScreen Button { min-width: 10; margin: 0 1 0 0; }
    TuneScreen #tune-status { height: 2; padding: 0 1; }
    TuneScreen #tune-status.error { color: $error; }
    TuneScreen DataTable { height: 1fr; }
    """

    BINDINGS = [
        Binding("escape", "close", "Back"),
        Binding("ctrl+s", "start", "Start"),
        Binding("ctrl+x", "stop", "Stop"),
        Binding("ctrl+b", "use_best", "Use best"),
    ]

    class UseBest(Message):
        """The best trial's config, for the Train form."""

        def __init__(self, config: TrainConfig, run_dir: str | None, value: float) -> None:
            super().__init__()
            self.config, self.run_dir, self.value = config, run_dir, value

    class OpenRun(Message):
        """Enter on a trial: open its run folder (Results, Misclassified...)."""

        def __init__(self, run_dir: str) -> None:
            super().__init__()
            self.run_dir = run_dir

    class TrialRecords(Message):
        """Trial rows from the subprocess or the storage: dicts with number, state, value, params, run_dir."""

        def __init__(self, records: list[dict[str, Any]], source: str, finished: dict[str, Any] | None = None):
            super().__init__()
            self.records, self.source, self.finished = records, source, finished

    def __init__(self, base: TrainConfig, *, checkpoints_dir: str | Path, data_dir: str | Path | None = None,
                 preset: str = "fast", study: str | None = None, storage: str | None = None,
                 poll_seconds: float = POLL_SECONDS, name: str | None = None) -> None:
        super().__init__(name=name)
        self.base = base
        self.preset = preset
        self.checkpoints_dir = Path(checkpoints_dir)
        self.data_dir = data_dir
        self.default_storage = f"sqlite:///{self.checkpoints_dir.resolve() / 'tune.db'}"
        self.initial_study = study or f"mnist-{preset}"
        self.initial_storage = storage or ""
        self.poll_seconds = poll_seconds
        self.trials: dict[int, dict[str, Any]] = {}
        self.process: subprocess.Popen | None = None
        self.tune_worker = None
        self.poll_worker = None
        self._poll_stop = threading.Event()
        self.first_poll_applied = threading.Event()
        self.last_finished: dict[str, Any] | None = None

    def compose(self) -> ComposeResult:
        space = DEFAULT_SPACES[SPACE_FOR_MODEL.get(self.base.model, "fast")]
        yield Input(" ".join(space), id="tune-search", tooltip="FIELD=SPEC ... e.g. lr=1e-4:1e-1:log batch_size=64,128")
        with Horizontal(classes="tune-row"):
            yield Input("10", id="tune-trials", type="integer", tooltip="trials")
            yield Select([(p, p) for p in ("median", "hyperband", "none")], value="median", allow_blank=False,
                         id="tune-pruner")
            yield Input(self.initial_study, id="tune-study", tooltip="study name")
            yield Input(self.initial_storage, placeholder=self.default_storage, id="tune-storage",
                        tooltip="storage URL (empty: the default shown)")
        with Horizontal(classes="tune-row"):
            yield Button("Start", id="tune-start", variant="primary")
            yield Button("Stop", id="tune-stop", disabled=True)
            yield Button("Attach", id="tune-attach", tooltip="watch this study's trials (other machines' too)")
            yield Button("Use best", id="tune-best", disabled=True)
        yield Static("", id="tune-status")
        table = DataTable(id="tune-table", cursor_type="row", zebra_stripes=True)
        table.add_columns("#", "state", "val acc", "params", "run")
        yield table
        yield Footer()

    # -- inputs ---------------------------------------------------------------------------

    def space_specs(self) -> list[str]:
        return shlex.split(self.query_one("#tune-search", Input).value)

    def storage_url(self) -> str:
        return self.query_one("#tune-storage", Input).value.strip() or self.default_storage

    def study_name(self) -> str:
        return self.query_one("#tune-study", Input).value.strip() or self.initial_study

    def validation_error(self) -> str | None:
        """The search spec's problems (the core's messages), or None when it can run."""
        try:
            if not parse_space(self.space_specs(), self.base):
                return "give at least one FIELD=SPEC to search"
        except SpaceError as exc:
            return "; ".join(exc.errors.values())
        except ValueError as exc:  # unbalanced quotes
            return str(exc)
        trials = self.query_one("#tune-trials", Input).value
        if not trials.isdigit() or int(trials) < 1:
            return "trials must be a whole number, 1 or more"
        return None

    def on_mount(self) -> None:
        self._revalidate()
        self.query_one("#tune-table", DataTable).focus()

    @on(Input.Changed)
    def _revalidate(self, event: Input.Changed | None = None) -> None:
        error = self.validation_error()
        status = self.query_one("#tune-status", Static)
        status.set_class(error is not None, "error")
        if error is not None:
            status.update(error)
        elif event is not None:
            status.update("")
        self.query_one("#tune-start", Button).disabled = error is not None or self.running

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "start":
            return not self.running and self.validation_error() is None
        if action == "stop":
            return self.running
        if action == "use_best":
            return self.best() is not None
        return True

    # -- running a study ----------------------------------------------------------------

    def command(self) -> list[str]:
        """The ``mnist-tui tune ... --json`` command line the Start button runs."""
        base_flags = shlex.split(train_command(self.base, self.preset))[2:]
        args = [sys.executable, "-m", "mnist_tui.cli", "tune", "--json", "--checkpoints", str(self.checkpoints_dir),
                *base_flags, "--trials", self.query_one("#tune-trials", Input).value,
                "--pruner", str(self.query_one("#tune-pruner", Select).value), "--study", self.study_name(),
                "--storage", self.storage_url()]
        if self.data_dir:
            args += ["--data-dir", str(self.data_dir)]
        for spec in self.space_specs():
            args += ["--search", spec]
        return args

    @on(Button.Pressed, "#tune-start")
    def action_start(self) -> None:
        if self.running or self.validation_error() is not None:
            return
        self._stderr = tempfile.TemporaryFile()
        self.process = subprocess.Popen(self.command(), stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                        stderr=self._stderr, text=True, start_new_session=True,
                                        env={**os.environ, "PYTHONUNBUFFERED": "1"})
        self.query_one("#tune-status", Static).update(f"study {self.study_name()} in {self.storage_url()}: starting")
        self._set_running(True)
        self.tune_worker = self._read_tune_output(self.process)
        self.action_attach()  # other machines' trials, and ours while they train

    @on(Button.Pressed, "#tune-stop")
    def action_stop(self) -> None:
        """Like Ctrl+C on the CLI: the running trials stop, save and are marked failed (interrupted)."""
        if self.running:
            self.process.send_signal(signal.SIGINT)
            self.query_one("#tune-status", Static).update("stopping: the running trials save and end")

    @on(Button.Pressed, "#tune-attach")
    def action_attach(self) -> None:
        self._poll_stop.set()  # a previous poller (another study) ends
        self._poll_stop = threading.Event()
        self.poll_worker = self._poll_storage(self.storage_url(), self.study_name(), self._poll_stop)

    def _set_running(self, running: bool) -> None:
        self.query_one("#tune-stop", Button).disabled = not running
        self.query_one("#tune-start", Button).disabled = running or self.validation_error() is not None
        self.refresh_bindings()

    @work(thread=True, exclusive=True, group="tune", exit_on_error=False)
    def _read_tune_output(self, process: subprocess.Popen) -> int:
        for line in process.stdout:
            try:
                record = json.loads(line)
            except json.JSONDecodeError:
                continue
            if record.get("event") == "study_finished":
                self.post_message(self.TrialRecords([], "tune", finished=record))
            elif record.get("event") in ("trial_started", "trial_epoch", "trial_ended"):
                self.post_message(self.TrialRecords([_row_from_event(record)], "tune"))
        code = process.wait()
        self.post_message(self.TrialRecords([], "tune", finished={"event": "exited", "code": code}))
        return code

    @work(thread=True, group="poll", exit_on_error=False)
    def _poll_storage(self, storage: str, study: str, stop: threading.Event) -> None:
        while not stop.is_set():
            try:
                records = poll_trials(storage, study)
            except Exception as exc:  # noqa: BLE001 - no study yet, or the storage is unreachable: say so, retry
                self.post_message(self.TrialRecords([], "poll", finished={"event": "poll_error", "error": str(exc)}))
            else:
                self.post_message(self.TrialRecords(records, "poll"))
            stop.wait(self.poll_seconds)

    def on_tune_screen_trial_records(self, message: TrialRecords) -> None:
        for record in message.records:
            known = self.trials.setdefault(record["number"], {})
            if known.get("state") in ("complete", "pruned", "failed") and record.get("state") == "running":
                continue  # a storage snapshot taken before the trial ended
            for key, value in record.items():
                if value is not None or key not in known:
                    known[key] = value
        status = self.query_one("#tune-status", Static)
        finished = message.finished or {}
        if finished.get("event") == "study_finished":
            self.last_finished = finished
        elif finished.get("event") == "exited":
            self._set_running(False)
            summary = self.last_finished or {}
            text = f"study {self.study_name()}: {summary.get('trials', len(self.trials))} trials, " \
                   f"{summary.get('pruned', 0)} pruned"
            if finished["code"] == 130:
                text += "; stopped"
            elif finished["code"] not in (0, 130):
                text = f"tune exited with code {finished['code']}: {self._stderr_tail()}"
            status.set_class(finished["code"] not in (0, 130), "error")
            status.update(text)
            if self.poll_worker is not None:
                self._poll_stop.set()
                self.action_attach()  # one last look at the storage, then keep watching
        elif finished.get("event") == "poll_error" and not self.trials:
            status.update(f"waiting for study {self.study_name()}: {finished['error'][:120]}")
        if message.source == "poll" and not finished:
            self.first_poll_applied.set()
        self._redraw()

    def _stderr_tail(self) -> str:
        try:
            self._stderr.seek(0)
            lines = self._stderr.read().decode(errors="replace").strip().splitlines()
        except (AttributeError, ValueError, OSError):
            return ""
        return lines[-1] if lines else ""

    # -- the table and the best trial ------------------------------------------------------

    def best(self) -> dict[str, Any] | None:
        complete = [t for t in self.trials.values() if t.get("state") == "complete" and t.get("value") is not None]
        return max(complete, key=lambda t: t["value"]) if complete else None

    def _redraw(self) -> None:
        table = self.query_one("#tune-table", DataTable)
        best = self.best()
        row = table.cursor_row
        table.clear()
        for number in sorted(self.trials):
            t = self.trials[number]
            style = "bold green" if t is best else ""
            value = "-" if t.get("value") is None else f"{t['value']:.2%}"
            state = Text(t.get("state", "?"), style=style or STATE_STYLE.get(t.get("state", ""), ""))
            run = Path(t["run_dir"]).name if t.get("run_dir") else ""
            table.add_row(Text(str(number), style=style), state, Text(value, style=style),
                          Text(_params_text(t.get("params") or {}), style=style), run, key=str(number))
        if self.trials:
            table.move_cursor(row=min(row, len(self.trials) - 1))
        self.query_one("#tune-best", Button).disabled = best is None
        self.refresh_bindings()

    @on(Button.Pressed, "#tune-best")
    def action_use_best(self) -> None:
        best = self.best()
        if best is None:
            return
        config = apply(self.base, best.get("params") or {})
        self.post_message(self.UseBest(config, best.get("run_dir"), best["value"]))
        self.query_one("#tune-status", Static).update(
            f"best trial {best['number']} ({best['value']:.2%}) sent to the Train form: {_params_text(best['params'])}")

    @on(DataTable.RowSelected, "#tune-table")
    def _open_trial(self, event: DataTable.RowSelected) -> None:
        trial = self.trials.get(int(event.row_key.value))
        if trial and trial.get("run_dir"):
            self.post_message(self.OpenRun(trial["run_dir"]))

    def action_close(self) -> None:
        self.app.pop_screen()

    def on_unmount(self) -> None:
        self._poll_stop.set()
        if self.running:  # leaving the screen stops the search cleanly (trials saved, marked interrupted)
            self.process.send_signal(signal.SIGINT)


def _row_from_event(record: dict[str, Any]) -> dict[str, Any]:
    kind = record["event"]
    row: dict[str, Any] = {"number": record["number"]}
    if kind == "trial_started":
        row.update(state="running", params=record["params"], run_dir=record["run_dir"])
    elif kind == "trial_epoch":
        row.update(state="running", value=record["val_accuracy"])
    else:
        row.update(state=record["state"], value=record["value"], params=record["params"], run_dir=record["run_dir"])
    return row


def poll_trials(storage: str, study: str) -> list[dict[str, Any]]:
    """Every trial of ``study`` in ``storage`` as table rows (Optuna imported here, in the caller's thread)."""
    from ...core.tune import open_storage

    import optuna

    loaded = optuna.load_study(study_name=study, storage=open_storage(storage))
    rows = []
    for trial in loaded.get_trials(deepcopy=False):
        state = {"RUNNING": "running", "COMPLETE": "complete", "PRUNED": "pruned", "FAIL": "failed",
                 "WAITING": "waiting"}.get(trial.state.name, trial.state.name.lower())
        value = trial.value
        if value is None and trial.intermediate_values:
            value = trial.intermediate_values[max(trial.intermediate_values)]
        rows.append({"number": trial.number, "state": state, "value": value, "params": dict(trial.params),
                     "run_dir": trial.user_attrs.get("run_dir")})
    return rows


__all__ = ["TuneScreen", "poll_trials"]
