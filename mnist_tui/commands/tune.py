"""``mnist-tui tune``: an Optuna study whose trials are ordinary runs, each in a child process."""

from __future__ import annotations

import argparse
import contextlib
import shlex
import signal
from pathlib import Path
from typing import Any

from ..core.formatting import params_text
from ..core.tune_space import PRUNERS  # (Optuna-free: --help stays fast)
from .common import (
    EXIT_INTERRUPTED, EXIT_OK, EXIT_OUTPUT_CLOSED, EXIT_OUTPUT_FAILED, UsageError, add_config_flags, add_path_flags,
    check_checkpoints_folder, config_from_args, given_config_fields, stderr,
)

EPILOG = """\
search specs: lr=1e-4:1e-1:log (log-uniform), dropout=0:0.5 (uniform),
width=16:48:8 (with a step), batch_size=64,128,256 or model=cnn,lenet5
(choices), hidden=128-64,256 (MLP sizes; '-' between layers).
Without --search, a default space around the preset is searched.

storage: default sqlite:///<checkpoints>/tune.db. Several machines join one
study with the same --study and --storage:
  postgresql://user:password@host/db (pip install 'mnist-tui[postgres]'), or
  journal:/shared/folder/tune.log (Optuna's journal file, a shared filesystem).
optuna-dashboard <storage URL> and
optuna.load_study(study_name=..., storage=...) open the study.

Ctrl+C: the running trials stop (last.pt saved; shown as "stopped", FAIL to
Optuna); exit 130. SIGTERM and SIGHUP do the same (exit 143, 129).
Exit 0 once a trial of the study has completed; 1 if none has, or the study
stopped by itself (its storage failed, a full disk); 2 for bad input.
"""


def register(sub) -> None:
    parser = sub.add_parser("tune", help="search hyperparameters with Optuna (each trial is a run)",
                            description="Search hyperparameters: each trial trains an ordinary run in a child\n"
                            "process; the objective is validation accuracy; hopeless trials are pruned.",
                            epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_path_flags(parser, checkpoints="where trial runs and tune.db go")
    parser.add_argument("--search", action="append", default=[], metavar="FIELD=SPEC",
                        help="a field to search and its range or choices (repeat for several)")
    parser.add_argument("--trials", type=int, default=20, help="trials this worker runs (default: 20)")
    parser.add_argument("--timeout", type=float, metavar="SECONDS", help="start no trial after this long")
    parser.add_argument("--study", help="study name; workers with the same name and storage share it "
                        "(default: DATASET-PRESET, as mnist-fast; other fixed values add a digest, "
                        "as mnist-fast-3fa2)")
    parser.add_argument("--storage", metavar="URL", help="Optuna storage URL or journal:PATH "
                        "(default: sqlite:///<checkpoints>/tune.db)")
    parser.add_argument("--pruner", choices=PRUNERS, default="median", help="default: median")
    parser.add_argument("--jobs", type=int, default=1,
                        help="trials at once on this machine, at most one per CPU (default: 1)")
    parser.add_argument("--sampler-seed", type=int, help="seed of the TPE sampler (default: random)")
    parser.add_argument("--json", action="store_true", help="one JSON object per trial event; the last is "
                        "study_finished")
    add_config_flags(parser)
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from ..core.storage_url import default_storage, storage_problem
    from ..core.tune_space import (
        SpaceError, default_space, default_study, held_out_for_tuning, parse_space, preset_for,
    )
    from ..reporting import JsonLines

    if args.study is not None and not args.study.strip():
        raise UsageError("--study must not be empty (leave it out for the default name)")
    base = asked = config_from_args(args)  # the study is named after the config asked for (the Tune view's name)
    held_out = None
    if (held := held_out_for_tuning(base)) is not None and "val_size" not in given_config_fields(args):
        base = base.replace(val_size=held)  # best trains on all 60,000 digits
        held_out = (f"the trials hold out {base.val_size:,} training digits for validation (the objective); "
                    f"the {args.preset} preset trains on all of them")
    args.preset = preset_for(base, args.preset)  # `--model mlp` on the default fast preset: seed-mlp's search and name
    try:
        space = parse_space(args.search, base) if args.search else default_space(args.preset)
    except SpaceError as exc:  # which flag: "lr must be a number, got 'abc'" did not say (walk40 F11)
        specs = {spec.partition("=")[0].strip(): spec for spec in args.search}
        raise UsageError("\n".join(message if message.startswith("--search") else f"--search {specs.get(name, name)}: "
                                    f"{message}" for name, message in exc.errors.items())) from None
    # its trials' runs go there; checked before default_storage resolves it (a symlink loop was a traceback)
    check_checkpoints_folder(Path(args.checkpoints), writable=True)
    if args.storage == default_storage(Path(args.checkpoints)):  # as the app names it: made with the runs' folder
        args.storage = None
    if args.storage is not None and (problem := storage_problem(args.storage)) is not None:
        raise UsageError(problem)
    from ..core.tune_space import tune_problem

    if problem := tune_problem(base, space, trials=args.trials, jobs=args.jobs, timeout_s=args.timeout,
                               pruner=args.pruner, sampler_seed=args.sampler_seed):
        raise UsageError(problem)  # before the data is looked for (and perhaps downloaded)
    from ..core.data_files import find_data, resolve_data_dir

    # fail now (exit 2) if the data is missing or damaged, not per trial; torch is the trials' (importing it here
    # held the first trial back by its import, 2-4 s)
    find_data(args.data_dir, dataset=base.dataset)
    from ..core.tune import StudyFinished, TrialEnded, TrialEpoch, TrialProgress, TrialStarted, TuneError, Tuner

    try:
        tuner = Tuner(base, space, checkpoints_dir=Path(args.checkpoints), data_dir=resolve_data_dir(args.data_dir),
                      study=args.study or default_study(asked, args.preset, tuple(p.name for p in space)),
                      storage=args.storage, pruner=args.pruner,
                      trials=args.trials, timeout_s=args.timeout, jobs=args.jobs, sampler_seed=args.sampler_seed)
    except TuneError as exc:
        raise UsageError(str(exc)) from None

    stopped_by: list[int] = []

    def on_stop_signal(signum: int, frame: Any) -> None:
        # the first Ctrl+C, SIGTERM (a scheduler preempting this worker) or SIGHUP (its SSH session closed): stop
        # the running trials (they save) and start no more; a Ctrl+C after that exits at once
        signal.signal(signal.SIGINT, signal.default_int_handler)
        if stopped_by:
            return
        stopped_by.append(signum)
        again = "; Ctrl+C again to quit now" if signum == signal.SIGINT else f" ({signal.Signals(signum).name})"
        with contextlib.suppress(OSError):  # a closed SSH session's terminal
            stderr(f"stopping: running trials save last.pt and are marked stopped{again}")
        tuner.stop()

    def output_closed() -> None:  # `| head` (or a full disk): the running trials stop and save, as on Ctrl+C
        why = f"cannot write the output ({lines.error.strerror})" if lines.error else "output closed"
        stderr(f"{why}: stopping; running trials save last.pt and are marked stopped")
        tuner.stop()

    lines = JsonLines(on_closed=output_closed)
    if args.json:
        lines.watch_reader()
    previous = {signum: signal.signal(signum, on_stop_signal) for signum in (signal.SIGINT, signal.SIGTERM,
                                                                             signal.SIGHUP)
                if signal.getsignal(signum) != signal.SIG_IGN}  # nohup's SIGHUP stays ignored
    try:
        try:
            tuner.open()  # a study that refuses this worker says so alone, with no tune_started before it
        except TuneError as exc:
            raise UsageError(str(exc)) from None
        for note in [held_out] * bool(held_out) + tuner.notes:
            stderr(f"note: {note}")
            if args.json:  # the Tune view's child: its stderr is read only when it fails (walk30 F7)
                lines.write({"event": "note", "message": note})
        if args.json:  # from here on Ctrl+C (SIGINT) stops cleanly: a front end may wait for this line to send it
            lines.write({"event": "tune_started", "study": tuner.study_name, "storage": _redacted(tuner)})
        view = None if args.json else TrialTable(space_names=[p.name for p in space])
        summary = None
        try:
            for event in tuner.run():
                if isinstance(event, StudyFinished):
                    summary = event
                if args.json:
                    record = event.to_dict()
                    if isinstance(event, StudyFinished) and event.best_config:
                        record["train_command"] = _best_command(event, base, args.preset, args)
                    lines.write(record)
                elif isinstance(event, (TrialStarted, TrialEnded, TrialEpoch, TrialProgress)):
                    view.update(event)
        except TuneError as exc:
            raise UsageError(str(exc)) from None
        finally:
            if view is not None:
                view.close()
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
    if view is not None and summary is not None:
        print_summary(view.console, summary, _best_command(summary, base, args.preset, args))
    if lines.closed:
        return EXIT_OUTPUT_FAILED if lines.error else EXIT_OUTPUT_CLOSED
    if summary is not None and summary.error:
        stderr(f"the study stopped: {summary.error}")
        return 1
    if summary is None or summary.interrupted:  # 128 + the signal, as a shell reports it (and train exits)
        return 128 + stopped_by[0] if stopped_by else EXIT_INTERRUPTED
    return EXIT_OK if summary.best_value is not None else 1


def _redacted(tuner) -> str:
    from ..core.tune import redact

    return redact(tuner.storage_url)


def _best_command(summary, base, preset_name: str, args: argparse.Namespace) -> str | None:
    """The best trial's train command, with the data and checkpoints folders the study used (absolute)."""
    from ..core.tune_space import apply, train_command

    places = [("--data-dir", args.data_dir), ("--checkpoints", args.checkpoints)]
    extra = tuple(part for flag, path in places if path for part in (flag, shlex.quote(str(Path(path).resolve()))))
    return train_command(apply(base, summary.best_params), preset_name, extra) if summary.best_config else None


STATE_STYLE = {"running": "yellow", "complete": "green", "pruned": "dim", "stopped": "yellow", "failed": "red"}


class TrialTable:
    """A live Rich table of this worker's trials: a row per trial, updated as it trains and ends."""

    def __init__(self, space_names: list[str]):
        from rich.live import Live

        from ..reporting import OutputConsole  # a closed stdout ends with exit 141, as elsewhere

        self.console = OutputConsole()
        self.rows: dict[int, dict[str, Any]] = {}
        self.live = Live(self._render(), console=self.console, auto_refresh=False, transient=False)
        self.started = False  # at the first trial: a study that cannot open prints its error alone

    def update(self, event) -> None:
        row = self.rows.setdefault(event.number, {"state": "running", "value": None, "params": {}, "minutes": None,
                                                  "epoch": ""})
        if event.kind == "trial_started":
            row["params"] = event.params
        elif event.kind == "trial_epoch":
            row["epoch"] = f"epoch {event.epoch}/{event.epochs}"
            row["value"] = event.val_accuracy
        elif event.kind == "trial_progress":
            row["epoch"] = f"{event.done:.0%} trained"
        else:
            # a stopped or failed trial has no value of its own: its last epoch's accuracy stays in sight
            row.update(state=event.state, value=row["value"] if event.value is None else event.value,
                       params=event.params or row["params"],
                       minutes=event.minutes, epoch=event.reason if event.state != "complete" else "")
        if not self.started:
            self.started = True
            self.live.start()
        self.live.update(self._render(), refresh=True)

    def _render(self):
        from rich.constrain import Constrain
        from rich.table import Table

        from ..reporting import run_time

        table = Table(title="Trials", expand=False)
        for name, justify in (("#", "right"), ("state", "left"), ("val acc", "right"), ("params", "left"),
                              ("time", "right"), ("note", "left")):
            table.add_column(name, justify=justify, overflow="fold")
        complete = [(r["value"], n) for n, r in self.rows.items() if r["state"] == "complete" and r["value"] is not None]
        best = max(complete)[1] if complete else None
        for number in sorted(self.rows):
            r = self.rows[number]
            value = "-" if r["value"] is None else f"{r['value']:.2%}"
            # as `runs` says it: a 2 s trial read "0.0" in a "min" column (walk41 F15)
            minutes = "-" if r["minutes"] is None else run_time(r["minutes"] * 60)
            style = "bold green" if number == best else None
            table.add_row(str(number), f"[{STATE_STYLE.get(r['state'], '')}]{r['state']}[/]", value,
                          params_text(r["params"]), minutes, r["epoch"], style=style)
        # room for "^C" after its last line: on a table as wide as the terminal the terminal's echo of Ctrl+C
        # wrapped the cursor to the next line, and the redraw under the "stopping" message then left the title
        # line behind (walk30 F6)
        return Constrain(table, max(self.console.width - len("^C") - 1, 20))

    def close(self) -> None:
        if self.started:
            self.live.stop()
            self.console.line()


def print_summary(console, summary, command: str | None) -> None:
    stopped = f", {summary.stopped} stopped" if summary.stopped else ""
    trials = f"{summary.trials} trial" + ("" if summary.trials == 1 else "s")
    complete = summary.trials - summary.pruned - summary.failed - summary.stopped
    console.print(f"Study [bold]{summary.study}[/] in {summary.storage}: {trials} ({complete} complete, "
                  f"{summary.pruned} pruned, {summary.failed} failed{stopped}), {summary.run_here} run here in "
                  f"{summary.minutes:.1f} min" + ("; interrupted" if summary.interrupted else ""))
    if summary.best_value is None:
        console.print("No trial has completed yet.")
        return
    elsewhere = "" if summary.best_run_dir and Path(summary.best_run_dir).is_dir() else \
        " on the worker that trained it (not on this machine)"  # another machine's folder, not a path here
    console.print(f"Best: trial {summary.best_trial}, validation accuracy [bold]{summary.best_value:.2%}[/] "
                  f"({params_text(summary.best_params)}); run {summary.best_run_dir}{elsewhere}")
    console.print("Train it again:")
    console.print(command, markup=False, highlight=False, soft_wrap=True)
