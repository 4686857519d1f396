"""What the terminal app costs training: samples/s headless vs inside the app, same config, same process.

    python benchmarks/ui_overhead.py --data-dir ../shared/data [--preset fast] [--repeats 2] [--json]

The headless side is `mnist-tui train --json` in a fresh process. The app runs through
Textual's ``run_test`` (it still composes, lays out and redraws its charts and progress
line; only the terminal output is dropped), started with f5 like a person would. Both
sides read ``train_seconds`` from the engine (training steps only, evaluation excluded)
and the runs alternate headless/app so a drift in machine speed hits both; on a shared
2-core machine single runs vary by +-15%, so use several pairs. The last line is a summary.

The app trains in a child process (its main thread, like the CLI), and a thread of
the app forwards the child's events; the headless side trains in this process's
main thread.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

from mnist_tui.core.config import PRESETS
from mnist_tui.core.data import load_mnist


def headless_run(preset: str, epochs: int | None, data_dir: str | None, checkpoints: Path) -> float:
    """Training seconds of one run of the headless CLI (`mnist-tui train ... --json`, a fresh process like the app's)."""
    command = [sys.executable, "-m", "mnist_tui.cli", "train", "--preset", preset, "--json",
               "--checkpoints", str(checkpoints)]
    if epochs:
        command += ["--epochs", str(epochs)]
    if data_dir:
        command += ["--data-dir", data_dir]
    lines = subprocess.run(command, capture_output=True, text=True, check=True).stdout.splitlines()
    finished = [json.loads(line) for line in lines if '"finished"' in line]
    if not finished:
        raise SystemExit("headless run did not finish")
    return finished[0]["train_seconds"]


async def app_run(config, preset: str, data_dir: str | None, checkpoints: Path, size: tuple[int, int]) -> float:
    """Training seconds of the same run started with f5 in the real app."""
    from mnist_tui.tui.app import MnistApp
    from mnist_tui.tui.settings import save_form

    class WatchedApp(MnistApp):
        """The real app, which also tells this script when its run has ended."""

        def on_engine_events(self, message) -> None:
            super().on_engine_events(message)
            message.prevent_default()  # Textual would call the base class's handler again
            for event in message.events:
                if event.kind in ("finished", "stopped", "failed"):
                    ended.set_result(event)

    settings = checkpoints / "settings.json"
    save_form(settings, preset, config)
    ended: asyncio.Future = asyncio.get_running_loop().create_future()
    app = WatchedApp(data_dir=data_dir, checkpoints_dir=checkpoints, settings_path=settings,
                     download=False)
    async with app.run_test(size=size) as pilot:
        await app.workers.wait_for_complete()  # data loaded, as a person would wait for "Ready"
        await pilot.press("f5")
        event = await ended
        if event.kind != "finished":
            raise SystemExit(f"the app's run ended {event.kind}: {event}")
        await app.workers.wait_for_complete()
    return json.loads((Path(event.run_dir) / "result.json").read_text())["train_seconds"]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data-dir", help="folder holding MNIST/raw")
    parser.add_argument("--preset", default="fast", choices=list(PRESETS))
    parser.add_argument("--epochs", type=int, help="override the preset's epochs")
    parser.add_argument("--repeats", type=int, default=2, help="headless/app pairs (default 2)")
    parser.add_argument("--size", default="80x24", help="terminal size of the app (default 80x24)")
    parser.add_argument("--json", action="store_true", help="print one JSON object last")
    args = parser.parse_args()
    config = PRESETS[args.preset]
    if args.epochs:
        config = config.replace(epochs=args.epochs)
    size = tuple(int(v) for v in args.size.split("x"))
    data = load_mnist(args.data_dir, download=False)
    samples = (len(data.train_labels) - config.val_size) * config.epochs

    headless, in_app = [], []
    with tempfile.TemporaryDirectory(prefix="ui-overhead-") as tmp:
        for i in range(args.repeats):
            headless.append(samples / headless_run(args.preset, args.epochs, args.data_dir, Path(tmp) / f"headless-{i}"))
            print(f"pair {i + 1}: headless {headless[-1]:,.0f} samples/s", flush=True)
            in_app.append(samples / asyncio.run(app_run(config, args.preset, args.data_dir, Path(tmp) / f"app-{i}", size)))
            print(f"pair {i + 1}: in app   {in_app[-1]:,.0f} samples/s", flush=True)
    ratios = [a / h for a, h in zip(in_app, headless)]
    summary = {
        "preset": args.preset, "epochs": config.epochs, "size": args.size,
        "headless_samples_per_s": statistics.median(headless), "app_samples_per_s": statistics.median(in_app),
        "app_over_headless": statistics.median(ratios), "ratios": ratios,
    }
    if args.json:
        print(json.dumps(summary))
    else:
        print(f"ui_overhead {args.preset} x{args.repeats}: headless {summary['headless_samples_per_s']:,.0f} samples/s, "
              f"in app {summary['app_samples_per_s']:,.0f} samples/s, app/headless {summary['app_over_headless']:.1%} "
              f"(target >= 95%)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
