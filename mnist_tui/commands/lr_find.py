"""``mnist-tui lr-find``: the learning-rate range test, drawn on a log-lr axis, with a suggestion."""

from __future__ import annotations

import argparse
import math
import time

from .common import EXIT_OK, UsageError, add_config_flags, config_from_args

PLOT_WIDTH, PLOT_HEIGHT = 72, 18


def register(sub) -> None:
    parser = sub.add_parser("lr-find", help="find a learning rate with a range test (saves nothing)",
                            description="Train a copy of the model for a few batches while the learning rate "
                            "grows exponentially; suggest the rate where the loss falls fastest. Saves nothing.")
    parser.add_argument("--data-dir", default=argparse.SUPPRESS, help="folder holding MNIST/raw")
    parser.add_argument("--start", type=float, default=1e-6, help="lowest learning rate (default: 1e-6)")
    parser.add_argument("--end", type=float, default=1.0, help="highest learning rate (default: 1)")
    parser.add_argument("--steps", type=int, default=100, help="batches, at most (default: 100)")
    parser.add_argument("--json", action="store_true", help="one JSON object per step; the last is lr_found")
    add_config_flags(parser)
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from ..core.data_files import find_data
    from ..core.lr_range import LrFinderError, check_range

    try:
        check_range(args.start, args.end, args.steps)
    except LrFinderError as exc:
        raise UsageError(str(exc)) from None
    config = config_from_args(args)
    found = find_data(args.data_dir, dataset=config.dataset)  # missing or damaged: said before torch loads
    from ..core.data import load_mnist
    from ..core.lr_finder import LrFound, find_lr

    data = load_mnist(args.data_dir, dataset=config.dataset, found=found)
    started = time.perf_counter()
    events = find_lr(config, data, start=args.start, end=args.end, steps=args.steps)
    if args.json:
        from ..reporting import JsonLines  # a closed stdout ends with exit 141, as elsewhere

        lines = JsonLines()
        for event in events:
            record = event.to_dict()
            if isinstance(event, LrFound):
                record["seconds"] = time.perf_counter() - started
            lines.write(record)
        return EXIT_OK
    from ..reporting import OutputConsole  # a closed stdout ends with exit 141, as elsewhere
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

    console = OutputConsole()
    found = None
    with Progress(TextColumn("[bold]lr range test"), BarColumn(), MofNCompleteColumn(),
                  TextColumn("lr {task.fields[lr]}  loss {task.fields[loss]}"), console=console,
                  transient=True) as progress:
        task = progress.add_task("lr", total=args.steps, lr="-", loss="-")
        for event in events:
            if isinstance(event, LrFound):
                found = event
            else:
                progress.update(task, completed=event.step, lr=f"{event.lr:.2e}", loss=f"{event.smoothed:.3f}")
    seconds = time.perf_counter() - started
    print_result(console, found, config, args.preset, seconds, args.data_dir, (args.start, args.end))
    return EXIT_OK


def curve_plot(found, span: tuple[float, float], width: int = PLOT_WIDTH, height: int = PLOT_HEIGHT) -> str:
    """The smoothed loss against the lr on a log axis over the range asked (``span``; it spanned only the
    steps taken) with ticks as rates (1e-6 ... 1, as the app has them), the suggestion marked by a line."""
    import plotext as plt

    from ..core.formatting import rate_label, rate_ticks

    plt.clear_figure()
    plt.plotsize(width, height)
    plt.theme("clear")
    x = [math.log10(lr) for lr in found.lrs]
    plt.plot(x, found.losses, marker="braille", label="smoothed loss")
    plt.xlabel("learning rate (log scale)")
    low, high = math.log10(span[0]), math.log10(span[1])
    positions, labels = rate_ticks(low, high)
    if positions:
        plt.xticks(positions, labels)
    plt.xlim(low, high)
    if found.suggested_lr is None:
        plt.title("no suggestion")
    else:
        plt.vline(math.log10(found.suggested_lr))
        plt.title(f"suggested lr {rate_label(found.suggested_lr)}")
    text = plt.build()
    plt.clear_figure()
    return text


def print_result(console, found, config, preset_name: str, seconds: float, data_dir: str | None = None,
                 span: tuple[float, float] = (1e-6, 1.0)) -> None:
    """The curve, the suggestion and the train command that uses it (with the data folder given, absolute:
    without it, run elsewhere, the command looked for MNIST in ./data)."""
    import shlex
    from pathlib import Path

    from rich.text import Text

    from ..core.tune_space import train_command

    console.print(Text.from_ansi(curve_plot(found, span)))
    if found.suggested_lr is None:  # a rate read off a curve that never fell would be noise, or a diverged one
        hint = {"diverged": "try a lower --start", "range end": "try a higher --end"}.get(found.stop_reason)
        console.print(f"[bold]No suggestion:[/] {found.why_none}" + (f"; {hint}" if hint else ""))
        console.print(f"{found.steps} steps in {seconds:.1f} s, stopped: {found.stop_reason}")
        return
    suggested = float(f"{found.suggested_lr:.3g}")
    console.print(f"[bold]Suggested lr[/] {suggested:g}   (lowest loss at {found.min_loss_lr:.3g})")
    console.print(f"{found.steps} steps in {seconds:.1f} s, stopped: {found.stop_reason}")
    console.print("Train with it:")
    extra = ("--data-dir", shlex.quote(str(Path(data_dir).resolve()))) if data_dir else ()
    console.print(train_command(config.replace(lr=suggested), preset_name, extra), markup=False, highlight=False,
                  soft_wrap=True)
