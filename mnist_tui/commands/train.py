"""``mnist-tui train``: train headless with a progress bar or JSON events."""

from __future__ import annotations

import argparse
import shlex
import signal
import time
from pathlib import Path
from typing import Any

from ..core.config import FIELD_SPECS, ConfigError, data_errors
from .common import (
    EXIT_INTERRUPTED, EXIT_OK, EXIT_OUTPUT_CLOSED, EXIT_OUTPUT_FAILED, EXIT_USAGE, UsageError, add_config_flags, add_path_flags,
    check_checkpoints_folder, check_device, config_from_args,
    given_config_fields, stderr,
)

CTRL_C_BURST_S = 1.0  # a second Ctrl+C this soon after the first is the same press repeated, not "quit now"


def register(sub) -> None:
    parser = sub.add_parser("train", help="train headless with a progress bar (or --json events)",
                            description="Train a model headless. Start from --preset and override any field.")
    add_path_flags(parser, checkpoints="where run folders go")
    parser.add_argument("--run-name", help="name of the run folder (default: model-date-time)")
    parser.add_argument("--resume", metavar="RUN_OR_FILE", help="continue a saved run (its folder, name or last.pt); "
                        "with --epochs N, train a finished run N more epochs; with --device, on another device")
    parser.add_argument("--json", action="store_true", help="one JSON object per event per line, no progress bar")
    parser.add_argument("--every-point", action="store_true",
                        help="with --json: every metrics point (~100 an epoch), not at most 4 a second")
    add_config_flags(parser)
    parser.set_defaults(handler=run)


def resume_command(args: argparse.Namespace) -> str:
    """The command that resumes the run, with the paths it was started with (absolute, so it works when pasted)."""
    command = ["mnist-tui", "train", "--resume", "{run_dir}"]
    if args.data_dir:
        command += ["--data-dir", str(Path(args.data_dir).resolve())]
    return " ".join(command[:4]) + "".join(f" {shlex.quote(part)}" for part in command[4:])


def resume_path(spec: str, checkpoints: Path) -> Path:
    """The checkpoint ``--resume`` continues; refused (exit 2) when another process trains the run or it has none."""
    from ..core.checkpoints import resolve_checkpoint
    from ..core.run_lock import owner
    from ..core.runs import CHECKPOINT_FILES, RunBusy, no_checkpoint_why

    folder = Path(spec)
    if not folder.exists() and (checkpoints / folder).exists():
        folder = checkpoints / folder
    if not folder.is_dir():
        folder = folder.parent
    if (pid := owner(folder)) is not None:
        raise RunBusy(folder, pid)
    if Path(spec).suffix != ".pt" and not any((folder / n).is_file() for n in CHECKPOINT_FILES) \
            and (folder / "config.json").is_file():
        raise UsageError(f"{folder} has no checkpoint ({no_checkpoint_why(folder)}), so there is nothing to "
                         f"resume; start it again with --run-name {folder.name}")
    return resolve_checkpoint(spec, checkpoints, prefer="last.pt")


def run(args: argparse.Namespace) -> int:
    from ..core.data_files import find_data
    from ..core.runs import CheckpointError, DiskFull, check_new_run

    if args.resume:
        given = [g for g in given_config_fields(args) if g not in ("epochs", "device", "threads")]
        given = ["preset"] * bool(getattr(args, "preset_given", False)) + given  # it went on with its own model
        if given:
            raise UsageError("--resume continues a run with its saved config; drop "
                             + ", ".join("--" + g.replace("_", "-") for g in given))
        if args.run_name is not None:  # it was ignored: the run went on in place, under its own name
            raise UsageError("--resume continues the run in its own folder, under its own name; drop --run-name")
        if args.epochs is not None and args.epochs < 1:
            raise UsageError(f"--epochs with --resume is how many more epochs to train: at least 1, got {args.epochs}")
        from ..core.checkpoints import checkpoint_config, load_checkpoint
        from ..core.run_lock import check_writable
        from ..core.runs import exports_dropped, read_result

        path = resume_path(args.resume, Path(args.checkpoints))  # before the data loads
        checkpoint = load_checkpoint(path)
        saved = checkpoint_config(checkpoint)
        finished = bool(read_result(path.parent))
        if args.epochs is not None and not finished:
            raise UsageError(f"{path.parent.name} has not finished its {saved.epochs} epoch{'' if saved.epochs == 1 else 's'}; resume it without "
                             "--epochs first (--epochs N with --resume trains a finished run N more epochs)")
        if args.epochs is None and finished:
            raise UsageError(f"{path.parent.name} already finished its {saved.epochs} epoch{'' if saved.epochs == 1 else 's'}; add --epochs N to "
                             "train it N more")
        most = FIELD_SPECS["epochs"].high
        if args.epochs is not None and saved.epochs + args.epochs > most:  # "got 1001" for --epochs 1000 (walk38 F7)
            raise UsageError(f"{path.parent.name} has trained {saved.epochs} epoch{'' if saved.epochs == 1 else 's'}: "
                             f"{args.epochs} more make {saved.epochs + args.epochs}, over the {most} a run may have "
                             f"(--epochs {most - saved.epochs} at most)")
        check_device(args.device or saved.device, None if args.device else path.parent.name)
        check_writable(Path(args.checkpoints), path.parent)  # a read-only run: refused before the data loads
        if dropped := exports_dropped(path.parent):  # drop_outputs' files
            stderr(dropped)
        found = find_data(args.data_dir, dataset=saved.dataset)  # missing or damaged: said before torch loads
        from ..core.data import load_mnist
        from ..core.engine import Trainer

        data = load_mnist(args.data_dir, dataset=saved.dataset, found=found)
        trainer = Trainer(None, data, checkpoints_dir=Path(args.checkpoints),
                          resume=path, extra_epochs=args.epochs or 0, device=args.device,
                          threads=args.threads)
    else:
        config = config_from_args(args)
        check_checkpoints_folder(Path(args.checkpoints), writable=True)  # before the data loads
        if args.run_name is not None and (notice := check_new_run(Path(args.checkpoints), args.run_name)):
            stderr(notice)  # checked before the data loads: a bad, taken or busy name is refused here
        found = find_data(args.data_dir, dataset=config.dataset)  # missing or damaged: said before torch (2 s)
        from ..core.data import load_mnist
        from ..core.engine import Trainer

        data = load_mnist(args.data_dir, dataset=config.dataset, found=found)
        if problems := data_errors(config, len(data.train_labels)):  # a batch must fit the training set
            raise ConfigError(problems)
        trainer = Trainer(config, data, checkpoints_dir=Path(args.checkpoints), run_name=args.run_name)
    from ..core.engine import RunControl

    control = RunControl()

    stopped_by: list[tuple[int, float]] = []

    def on_stop_signal(signum: int, frame: Any) -> None:
        # first Ctrl+C (or SIGTERM, or SIGHUP from a closed SSH session): stop at the next batch and save;
        # a second Ctrl+C interrupts at once, unless it comes within a second (a burst of presses interrupted
        # the save and left a run that could not be resumed)
        if stopped_by:
            if signum == signal.SIGINT and time.monotonic() - stopped_by[0][1] > CTRL_C_BURST_S:
                raise KeyboardInterrupt
            return
        stopped_by.append((signum, time.monotonic()))
        control.stop()
        if signum == signal.SIGINT and trainer.saved_epoch == trainer.config.epochs:  # its test: no batch to stop at
            stderr("the run has trained and is saved; its test ends, then it exits (Ctrl+C again quits now)")
        elif signum == signal.SIGINT:
            stderr("stopping at the next batch and saving; Ctrl+C again quits unsaved")

    # a signal ignored when this started (nohup's SIGHUP, a script's `cmd &` SIGINT) stays ignored (walk35 F11)
    stop_signals = [s for s in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP) if signal.getsignal(s) != signal.SIG_IGN]
    previous = {signum: signal.signal(signum, on_stop_signal) for signum in stop_signals}
    try:
        from ..reporting import JsonReporter, RichReporter

        # stdout's reader gone (`| head -2`) stops the run like Ctrl+C: saved, resumable
        reporter = (JsonReporter(0 if args.every_point else 0.25, on_output_closed=control.stop) if args.json
                    else RichReporter(resume_command=resume_command(args), on_output_closed=control.stop))
        outcome = reporter.consume(trainer.run(control))
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
    if reporter.output_closed:
        error = reporter.output_error  # a full disk, not a reader that left
        why = f"cannot write the output ({error.strerror})" if error else "output closed"
        if outcome.kind == "stopped":
            hint = resume_command(args).format(run_dir=shlex.quote(str(Path(outcome.run_dir).resolve())))
            stderr(f"{why}: stopped in epoch {outcome.epoch} and saved {outcome.checkpoint}; resume with: {hint}")
        elif outcome.kind == "failed":
            stderr(f"run failed: {outcome.reason}")
        elif error:
            stderr(f"{why}; the run finished and is saved in {outcome.run_dir}")
        return EXIT_OUTPUT_FAILED if error else EXIT_OUTPUT_CLOSED
    if outcome.kind == "stopped":  # 128 + the signal, as a shell reports it: 130 Ctrl+C, 143 SIGTERM, 129 SIGHUP
        if args.json:  # the table's last line says it without --json
            hint = resume_command(args).format(run_dir=shlex.quote(str(Path(outcome.run_dir).resolve())))
            stderr(f"stopped {outcome.place} and saved {outcome.checkpoint}; resume with: {hint}")
        return 128 + stopped_by[0][0] if stopped_by else EXIT_INTERRUPTED
    if outcome.kind == "failed":
        if args.json:  # the event says it on stdout; the terminal gets the same one line as without --json
            stderr(f"run failed: {outcome.reason}")
        if isinstance(trainer.error, DiskFull) and trainer.saved_epoch is not None:
            hint = resume_command(args).format(run_dir=shlex.quote(str(trainer.run_dir.resolve())))
            if trainer.unsaved_resume and trainer.extra_epochs:  # the run is as it was: its epochs are still to add
                hint += f" --epochs {trainer.extra_epochs}"  # (without, resume re-tested it: walk35 F3)
            stderr(f"free some space, then resume with: {hint}")
        # a busy, damaged or full run folder is the user's to fix (exit 2); a crash is ours (exit 1)
        return EXIT_USAGE if isinstance(trainer.error, CheckpointError) else 1
    return EXIT_OK
