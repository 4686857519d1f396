"""What the headless commands share: exit codes, user errors, config flags, loading models."""

from __future__ import annotations

import argparse
import contextlib
import os
import shutil
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from ..core.config import (
    FIELD_SPECS, FIELD_TYPES, ConfigError, PRESETS, TrainConfig, checked, field_applies, field_flag, field_label, parse_field,
    unused_because,
)
from ..core.data_files import broken_symlink
from ..core.formatting import visible

EXIT_OK, EXIT_USAGE, EXIT_INTERRUPTED = 0, 2, 130
EXIT_OUTPUT_CLOSED = 141  # 128 + SIGPIPE: what a shell shows for `yes | head`, the writer whose reader left
EXIT_OUTPUT_FAILED = 1  # stdout could not be written (a full disk): as `echo > /dev/full` fails


class UsageError(Exception):
    """Bad input from the user: printed without a traceback, exit 2."""


def stderr(message: str) -> None:
    """``mnist-tui: message`` on stderr; on a terminal each line is wrapped at its width between words
    (the missing-data advice ran to 219 columns), a path or URL longer than that kept whole."""
    text = f"mnist-tui: {visible(message)}"
    if getattr(sys.stderr, "isatty", lambda: False)():
        width = shutil.get_terminal_size().columns
        text = "\n".join(textwrap.fill(line, width, break_long_words=False, break_on_hyphens=False) or line
                         for line in text.splitlines())
    print(text, file=sys.stderr)


def discard_stdout() -> None:
    """Point stdout at /dev/null once its reader has gone (`| head`), so what is still buffered, and
    Python's own flush at exit, go nowhere instead of raising BrokenPipeError again."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
    os.close(devnull)


class OutputError(OSError):
    """stdout could not be written for a reason other than its reader leaving (a full disk, an I/O error)."""


class _CheckedStdout:
    """sys.stdout whose write errors, other than a closed pipe, are :class:`OutputError` (for one line, not a
    traceback); everything else is the stream's own."""

    def __init__(self, stream: Any):
        self._stream = stream

    def __getattr__(self, name: str) -> Any:
        return getattr(self._stream, name)

    def _checked(self, call: Any, *args: Any) -> Any:
        try:
            return call(*args)
        except BrokenPipeError:
            raise
        except OSError as exc:
            raise OutputError(exc.errno, exc.strerror) from None

    def write(self, text: str) -> int:
        return self._checked(self._stream.write, text)

    def writelines(self, lines: Any) -> None:
        self._checked(self._stream.writelines, lines)

    def flush(self) -> None:
        self._checked(self._stream.flush)


@contextlib.contextmanager
def checked_stdout() -> Iterator[None]:
    """While a headless command runs, its stdout write errors raise :class:`OutputError`; what it left
    buffered is written (and checked) before the command returns."""
    stream, sys.stdout = sys.stdout, _CheckedStdout(sys.stdout)
    try:
        yield
        sys.stdout.flush()
    finally:
        sys.stdout = stream


def _parser_of(name: str):
    """argparse's type for a field: the config's own parser, its message on a bad value."""

    def parse(text: str):
        try:
            return parse_field(name, text)
        except ValueError as exc:
            raise argparse.ArgumentTypeError(str(exc)) from None

    parse.__name__ = FIELD_TYPES[name].__name__  # argparse names the type in some messages
    return parse


class _GivenPreset(argparse.Action):
    """--preset, remembering that it was typed (``args.preset_given``: --resume refuses it, as the fields)."""

    def __call__(self, parser: argparse.ArgumentParser, namespace: argparse.Namespace, values: Any,
                 option_string: str | None = None) -> None:
        namespace.preset, namespace.preset_given = values, True


def add_config_flags(parser: argparse.ArgumentParser) -> None:
    """One flag per TrainConfig field (from its FieldSpec), plus --preset, all defaulting to None (= the preset's)."""
    parser.add_argument("--preset", choices=list(PRESETS), default="fast", action=_GivenPreset,
                        help="starting config (default: fast)")
    group = parser.add_argument_group("training config (override the preset field by field)")
    for name, spec in FIELD_SPECS.items():
        kind = FIELD_TYPES[name]
        if kind is bool:
            group.add_argument(field_flag(name), dest=name, action=argparse.BooleanOptionalAction, default=None,
                               help=spec.help)
        else:
            metavar = ("{" + ",".join(spec.choices) + "}" if spec.choices else
                       "N,N" if kind is tuple else kind.__name__.upper())
            group.add_argument(field_flag(name), dest=name, type=_parser_of(name), default=None, metavar=metavar,
                               help=spec.help)


def add_path_flags(parser: argparse.ArgumentParser, data: bool = True, checkpoints: str = "folder of saved runs") -> None:
    """--data-dir/--checkpoints after the command too (they default to the global flags' values)."""
    if data:
        parser.add_argument("--data-dir", default=argparse.SUPPRESS, help="folder holding MNIST/raw")
    parser.add_argument("--checkpoints", default=argparse.SUPPRESS, help=f"{checkpoints} (default: checkpoints)")


def output_file(path: Path, flag: str = "--out", example: str = "") -> Path:
    """Where ``flag``'s file is written: a symlink's target (the link stays), never a folder, device or pipe
    (the file is written beside it and moved over it, which would replace them)."""
    target = Path(os.path.realpath(path))
    hint = f" such as {example}" if example else ""
    if target.is_dir():
        raise UsageError(f"{flag} {path} is a folder; give a file name{hint}")
    if target.exists() and not target.is_file():
        raise UsageError(f"{flag} {path} is not a regular file; give a file name{hint}")
    blocking = next((p for p in target.parents if p.exists() and not p.is_dir()), None)
    if blocking is not None:  # said before the work, not as "File exists" once it is done
        raise UsageError(f"cannot write {path}: {blocking} is a file, not a folder")
    if not target.parent.is_dir():  # a typo in the folder: say so, rather than make the whole tree
        missing = next(p for p in reversed((target.parent, *target.parent.parents)) if not p.exists())
        raise UsageError(f"cannot write {path}: there is no folder {missing}")
    return target


def check_checkpoints_folder(folder: Path, *, writable: bool = False, missing_ok: bool = False) -> None:
    """Raise UsageError unless ``folder`` is a folder of runs (``runs``, ``eval``; ``missing_ok``: or not made
    yet, the app), or, ``writable``, one that is or can be made and written in (``train``): checked before
    the data loads, and nothing made."""
    try:
        existing = next(p for p in (folder, *folder.parents) if p.exists() or p.is_symlink())
    except OSError as exc:  # a parent that may not be looked into
        raise UsageError(f"{folder}: cannot use the checkpoints folder: {exc.strerror}") from None
    if problem := broken_symlink(existing):  # it was "run failed: FileExistsError", exit 1 (walk38 F5)
        which = "it" if existing == folder else existing
        raise UsageError(f"{folder}: cannot be a checkpoints folder: {which} {problem}")
    if not existing.is_dir():
        raise UsageError(f"{folder} is a file, not a checkpoints folder" if existing == folder else
                         f"{folder}: cannot be a checkpoints folder ({existing} is a file)")
    if not writable:
        if existing != folder and not missing_ok:
            raise UsageError(f"{folder}: no such checkpoints folder (--checkpoints DIR says where the runs are)")
        return
    from ..core.run_lock import NotWritable, check_writable  # the app's training thread asks the same

    try:
        check_writable(folder)
    except NotWritable as exc:
        raise UsageError(str(exc)) from None


def given_config_fields(args: argparse.Namespace) -> list[str]:
    return [name for name in FIELD_SPECS if getattr(args, name, None) is not None]


def config_from_args(args: argparse.Namespace) -> TrainConfig:
    """The preset with every flag the user gave laid over it; raises ConfigError if invalid, or if
    its device is not on this machine (checked here, before any data loads)."""
    overrides = {name: getattr(args, name) for name in given_config_fields(args)}
    config = checked(PRESETS[args.preset].replace(**overrides))
    check_device(config.device)
    for name in overrides:
        if not field_applies(name, config):
            stderr(f"note: {field_flag(name)} ignored: {unused_because(name, config)}")
    return config


def check_device(device: str, saved_in: str | None = None) -> None:
    """ConfigError unless ``device`` is on this machine; ``saved_in``: the run whose config names it."""
    if device != "auto":
        from ..core.runtime import choose_device

        try:
            choose_device(device)
        except RuntimeError as exc:  # "device cuda was asked for but torch sees no CUDA GPU"
            if saved_in:
                raise ConfigError({"device": f"{saved_in} was trained with --device {device}, which this machine "
                                             "lacks; resume it with --device auto or cpu"}) from None
            raise ConfigError({"device": f"--{exc}; --device auto or cpu trains here"}) from None


def flag_messages(errors: dict[str, str]) -> list[str]:
    """Config messages as the CLI prints them: each field's label with its flag ("learning rate (--lr) ...")."""
    lines = []
    for name, message in errors.items():
        label = field_label(name)
        if name in FIELD_SPECS and message.startswith(label):
            base, _, note = label.partition(" (")  # "threads (0=auto)" -> "threads (--threads, 0=auto)"
            flag = field_flag(name) + (f", {note[:-1]}" if note else "")
            message = f"{base} ({flag}){message[len(label):]}"
        lines.append(message)
    return lines


def load_models(specs: list[str], checkpoints_dir: Path, device: str):
    """(models, configs, paths) for checkpoint files, run folders or run names (see load_labelled_models)."""
    return load_labelled_models(specs, checkpoints_dir, device)[:3]


def load_labelled_models(specs: list[str], checkpoints_dir: Path, device: str):
    """(models, configs, paths, labels) for checkpoint files, run folders or run names.

    A run is read through the one rule of ``core.evaluation.run_checkpoint`` (last.pt of a
    finished run, else best.pt); ``labels`` name each as "run · best (epoch 2)".
    """
    from ..core.checkpoints import load_checkpoint, model_from_checkpoint
    from ..core.evaluation import checkpoint_label, resolve_model

    models, configs, paths, labels = [], [], [], []
    for spec in specs:
        path = resolve_model(spec, checkpoints_dir)
        if str(path) in paths:  # an "ensemble" of a model with itself was reported as one, silently
            raise UsageError(f"{spec} is {path}, given already: an ensemble needs different checkpoints")
        checkpoint = load_checkpoint(path)
        model, config = model_from_checkpoint(checkpoint, device)
        models.append(model)
        configs.append(config)
        paths.append(str(path))
        labels.append(f"{path.parent.name} · {checkpoint_label(path, checkpoint['epoch'], checkpoint['step'])}")
    return models, configs, paths, labels
