"""``mnist-tui``: the terminal app, and the headless commands in ``mnist_tui.commands``.

torch is imported only inside the commands that need it, so ``--help`` is instant.
Exit codes: 0 success, 1 stdout not writable (a full disk), an export that failed its check or a run that
diverged, 2 bad arguments/config/data/checkpoint or a run folder to fix (busy, damaged, its disk full),
128 + the signal when stopped by one (130 Ctrl+C, 143 SIGTERM, 129 SIGHUP), 141 stdout closed early
(`| head`; train then stops and saves as on Ctrl+C).
"""

from __future__ import annotations

import argparse
import errno
import io
import os
import sys
import threading
from pathlib import Path

from . import __version__
from .commands import register_all
from .commands.common import (
    EXIT_INTERRUPTED, EXIT_OK, EXIT_OUTPUT_CLOSED, EXIT_OUTPUT_FAILED, EXIT_USAGE, OutputError, UsageError,
    check_checkpoints_folder, checked_stdout, discard_stdout, flag_messages, stderr,
)
from .core.config import PRESETS, ConfigError


class Parser(argparse.ArgumentParser):
    """argparse with its error on one line: the usage it printed first (18 lines for train) buried it.
    The subcommands' parsers are of this class too (add_subparsers takes the parser's type)."""

    def error(self, message: str):  # type: ignore[override]
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def build_parser() -> argparse.ArgumentParser:
    parser = Parser(
        prog="mnist-tui",
        description="Train, watch and inspect PyTorch MNIST classifiers in the terminal. "
        "With no command, opens the terminal app.",
        epilog="Data: --data-dir, else $MNIST_TUI_DATA, else a per-user cache folder "
        "(downloaded there when missing). The app's form keeps its last values in $MNIST_TUI_SETTINGS (a file's "
        "path), else last-form.json in the user config folder. Exit codes: 0: ok; 1: stdout not writable (a full "
        "disk), an export that failed its check, or a run that diverged; 2: bad input, an --out file that cannot be "
        "written, or a run folder on a full disk; 130: interrupted (143: SIGTERM; 129: SIGHUP); 141: output closed "
        "early (| head).",
    )
    parser.add_argument("--version", action="version", version=f"mnist-tui {__version__}")
    parser.add_argument("--data-dir", help="folder holding MNIST/raw (torchvision's layout)")
    parser.add_argument("--checkpoints", default="checkpoints", help="folder of saved runs (default: checkpoints)")
    parser.add_argument("--preset", choices=list(PRESETS), default=None,
                        help="preset the app's form starts from (default: the last values used, else seed-mlp)")
    parser.set_defaults(handler=run_app)
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    register_all(commands)
    parser.set_defaults(command_parsers=commands.choices)  # for a command's own usage on an unknown flag
    return parser


def run_app(args: argparse.Namespace) -> int:
    check_checkpoints_folder(Path(args.checkpoints), missing_ok=True)  # a file there failed the first training
    if not os.environ.get("TEXTUAL_DRIVER") and not (sys.stdin.isatty() and sys.stdout.isatty()):
        # from a script or cron it drew into a file and waited for keys for ever (serve's tabs set the driver)
        raise UsageError("the app needs a terminal; in a script use a command: train, eval, predict, runs "
                         "(see mnist-tui --help)")
    from .tui.app import MnistApp

    # the form remembers the last values used; only an explicit --preset overrides them
    said = MnistApp(data_dir=args.data_dir, checkpoints_dir=Path(args.checkpoints), preset=args.preset).run()
    if isinstance(said, str):  # how to resume a run stopped in it: print, as Rich would wrap the command
        print(said)
    return EXIT_OK


def main(argv: list[str] | None = None) -> int:
    """Run ``mnist-tui ARGV`` in this process and return its exit code."""
    return _dispatch(parse_args(argv))


def _intermixed(parser: argparse.ArgumentParser, args: argparse.Namespace, argv: list[str],
                unknown: list[str]) -> list[str]:
    """The command's arguments parsed again with options and positionals in any order, into ``args``;
    what is still unknown. argparse takes a command's positionals from their first run only, so
    `explain RUN --method occlusion IMAGE` called IMAGE an unrecognized argument."""
    valued = {flag for action in parser._actions if action.nargs != 0 for flag in action.option_strings}
    i = 0
    while i < len(argv) and argv[i] != args.command:  # past mnist-tui's own options and their values
        i += 2 if argv[i] in valued else 1
    try:
        parsed, unknown = args.command_parsers[args.command].parse_known_intermixed_args(argv[i + 1:])
    except TypeError:  # a parser that intermixed parsing cannot take: argparse's first answer stands
        return unknown
    for key, value in vars(parsed).items():
        setattr(args, key, value)
    return unknown


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """The parsed command line. ``--help`` and ``--version`` (argparse's SystemExit(0)) print here, not in
    argparse, which would drop a write error: a stdout that cannot take them exits 1 (141 for a closed
    pipe) and says so."""
    stdout, sys.stdout = sys.stdout, io.StringIO()
    try:
        parser = build_parser()
        args, unknown = parser.parse_known_args(argv)
        if unknown and args.command:  # `eval RUN --json RUN2`: a positional after an option, parsed again
            unknown = _intermixed(parser, args, sys.argv[1:] if argv is None else argv, unknown)
        if unknown:  # argparse would show mnist-tui's usage, not the command's
            (args.command_parsers.get(args.command) or parser).error(f"unrecognized arguments: {' '.join(unknown)}")
        command_parser = args.command_parsers.get(args.command)
        _refuse_empty_values(command_parser or parser, [parser, command_parser], args)
        if args.command not in (None, "serve") and _before_command("--preset", sys.argv[1:] if argv is None else argv,
                                                                   args.command):
            # `mnist-tui --preset seed-mlp train` trained `fast` (train's own --preset default) without a word
            own = "--preset" in args.command_parsers[args.command]._option_string_actions
            parser.error(f"--preset before {args.command} is the app's; "
                         + (f"put it after: mnist-tui {args.command} --preset NAME" if own else
                            f"{args.command} takes none"))
        return args
    except SystemExit as exc:
        printed, sys.stdout = sys.stdout.getvalue(), stdout
        if exc.code == 0:
            try:
                sys.stdout.write(printed)
                sys.stdout.flush()
            except BrokenPipeError:
                discard_stdout()
                raise SystemExit(EXIT_OUTPUT_CLOSED) from None
            except OSError as error:
                discard_stdout()
                stderr(f"cannot write the output: {error.strerror}")
                raise SystemExit(EXIT_OUTPUT_FAILED) from None
        raise
    finally:
        sys.stdout = stdout


def _refuse_empty_values(reporter: argparse.ArgumentParser, parsers: list, args: argparse.Namespace) -> None:
    """A flag given an empty value (`--resume ""`, `--out ""`, a variable that was never set) is an error:
    taken as left out, `train --resume ""` trained a whole new run, and `export --out ""` wrote the default file.
    Said by the parser that has the flag: the command's, else mnist-tui's own (`--data-dir "" runs` pointed to
    `runs --help`, which has no --data-dir)."""
    for action in (a for p in parsers if p is not None for a in p._actions if a.option_strings):
        if getattr(args, action.dest, None) == "":
            owner = reporter if any(a.dest == action.dest for a in reporter._actions) else parsers[0]
            owner.error(f"{action.option_strings[0]} must not be empty: give a value, or leave the flag out")


def _before_command(flag: str, argv: list[str], command: str) -> bool:
    """Whether ``flag`` is among mnist-tui's own options, before ``command``."""
    for token in argv:
        if token == flag or token.startswith(flag + "="):
            return True
        if token == command:
            return False
    return False


def _dispatch(args: argparse.Namespace) -> int:
    try:
        if args.command in (None, "serve"):  # the terminal app and serve own the terminal
            return args.handler(args)
        with checked_stdout():
            return args.handler(args)
    except OutputError as exc:  # `> /dev/full`: one line, not a traceback
        discard_stdout()
        stderr(f"cannot write the output: {exc.strerror}")
        return EXIT_OUTPUT_FAILED
    except ConfigError as exc:
        for message in flag_messages(exc.errors):
            stderr(message)
        return EXIT_USAGE
    except KeyboardInterrupt:
        stderr("interrupted")
        return EXIT_INTERRUPTED
    except BrokenPipeError:  # stdout's reader left (`| head`): the rest of the output has nowhere to go
        discard_stdout()
        return EXIT_OUTPUT_CLOSED
    except Exception as exc:  # noqa: BLE001 - known user-facing errors become exit 2, the rest re-raise
        from .core.data_files import DataUnavailable
        from .core.runs import CheckpointError

        known: tuple[type[Exception], ...] = (UsageError, CheckpointError, DataUnavailable)
        if preprocess := sys.modules.get("mnist_tui.core.preprocess"):  # (its import imports torch: 3 s, for nothing)
            known += (preprocess.ImageError,)
        if isinstance(exc, known):
            stderr(str(exc))
            return EXIT_USAGE
        if isinstance(exc, PermissionError):  # a run or folder of another user's: it was a traceback (walk35 F1)
            stderr(f"cannot read {exc.filename}: permission denied" if exc.filename else str(exc))
            return EXIT_USAGE
        if isinstance(exc, OSError) and exc.errno in (errno.ENAMETOOLONG, errno.ELOOP):  # a path no file can have
            # (a name over 255 bytes, a link loop): tracebacks in nine commands (walk38 F2, F5)
            stderr(f"{exc.filename}: {exc.strerror.lower()}" if exc.filename else str(exc))
            return EXIT_USAGE
        if _caused_by_interrupt(exc):  # torch.onnx's exporter turns Ctrl+C into its own error
            stderr("interrupted")
            return EXIT_INTERRUPTED
        raise


def _caused_by_interrupt(exc: BaseException) -> bool:
    """Whether a KeyboardInterrupt is in the exception's chain (raised from it, or while handling it)."""
    seen: set[int] = set()
    while exc is not None and id(exc) not in seen:
        if isinstance(exc, KeyboardInterrupt):
            return True
        seen.add(id(exc))
        exc = exc.__cause__ or exc.__context__
    return False


# headless commands whose files are written and closed (checkpoints fsynced) when they return and
# that leave no child process; not the app (None) or serve, which restore the terminal and stop their
# children at exit, nor tune, whose study storage and trial workers close at exit
FAST_EXIT_COMMANDS = frozenset({"train", "eval", "predict", "runs", "export", "explain", "lr-find", "label-errors",
                                "map"})


def run() -> int:
    """The ``mnist-tui`` console script: ``main``, then, after a headless command, ``os._exit``.

    Python's own exit after a run frees torch's and the data's objects one by one (~0.4 s after
    `train --preset fast`, an eighth of the run); the OS drops them at once. Output is flushed first.
    """
    _closed_streams_to_null()
    args = parse_args()
    code = _dispatch(args)
    if args.command in FAST_EXIT_COMMANDS and _nothing_left_running():
        if (logging := sys.modules.get("logging")) is not None:
            logging.shutdown()  # what its exit hook would flush
        try:
            sys.stdout.flush()
            sys.stderr.flush()
        except (OSError, ValueError):  # a closed pipe: Python's own exit reports it as usual
            return code
        os._exit(code)
    return code


def _closed_streams_to_null() -> None:
    """A standard stream the shell closed (``>&-``, ``2>&-``) is None in Python: writing to it raised a
    traceback (and exit 1, even after success). It goes to the null device instead, which takes the closed
    descriptor, so a child inheriting it cannot write into whatever file is opened there next."""
    for fd, name, mode in ((0, "stdin", "r"), (1, "stdout", "w"), (2, "stderr", "w")):
        if getattr(sys, name) is not None:
            continue
        null = os.open(os.devnull, os.O_RDWR)
        if null != fd:
            os.dup2(null, fd)
            os.close(null)
        setattr(sys, name, open(fd, mode, closefd=False))


def _nothing_left_running() -> bool:
    """No thread that Python's exit would wait for, and no multiprocessing child."""
    if any(not t.daemon for t in threading.enumerate() if t is not threading.main_thread()):
        return False
    multiprocessing = sys.modules.get("multiprocessing")
    return not (multiprocessing and multiprocessing.active_children())


if __name__ == "__main__":
    sys.exit(run())
