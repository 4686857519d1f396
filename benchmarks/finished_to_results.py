"""From "Finished" to Results on screen: a run's saved results vs evaluating its checkpoint again.

    python benchmarks/finished_to_results.py --data-dir ../shared/data [--preset fast] [--repeats 3]

Trains one run headless (`mnist-tui train --json`), then opens the app (Textual's
``run_test``, the dataset loaded as at start-up) and times, alternating, the two ways
Results can be filled for that run: the saved results the run wrote at its end
(``misclassified.pt`` + ``result.json``: what the app does on Finished now) and a
second evaluation of ``last.pt`` on the whole test set (what it did before, and what
Load still does for a run without saved results). Each figure runs from the call to
the moment the Results pane shows the accuracy. The last line is a summary.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def train(preset: str, data_dir: str, checkpoints: Path) -> Path:
    command = [sys.executable, "-m", "mnist_tui.cli", "train", "--preset", preset, "--json", "--run-name", "bench",
               "--checkpoints", str(checkpoints), "--data-dir", data_dir]
    subprocess.run(command, capture_output=True, text=True, check=True)
    return checkpoints / "bench"


async def measure(run_dir: Path, data_dir: str, repeats: int) -> dict[str, list[float]]:
    from mnist_tui.tui.app import MnistApp
    from mnist_tui.tui.panes.results import ResultsPane

    app = MnistApp(data_dir=data_dir, checkpoints_dir=run_dir.parent, download=False,
                   settings_path=run_dir.parent / "settings.json")
    times: dict[str, list[float]] = {"saved results": [], "evaluate again": []}
    async with app.run_test(size=(80, 24)) as pilot:
        await app.workers.wait_for_complete()
        pane = app.query_one(ResultsPane)
        for _ in range(repeats):
            for way in times:
                app.evaluation = None
                started = time.perf_counter()
                if way == "saved results":
                    pane.show_saved(str(run_dir), app.dataset_cache, app.checkpoints_dir)
                else:
                    pane.evaluate(str(run_dir / "last.pt"), app.dataset_cache)
                while app.evaluation is None:
                    await pilot.pause(0.005)
                times[way].append(time.perf_counter() - started)
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", required=True)
    parser.add_argument("--preset", default="fast")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        run_dir = train(args.preset, args.data_dir, Path(folder))
        times = asyncio.run(measure(run_dir, args.data_dir, args.repeats))
    for way, values in times.items():
        print(f"{way:15s} " + " ".join(f"{v * 1000:7.0f} ms" for v in values))
    saved, again = statistics.median(times["saved results"]), statistics.median(times["evaluate again"])
    print(f"summary: Finished -> Results {saved * 1000:.0f} ms from the saved results vs {again * 1000:.0f} ms "
          f"evaluating last.pt again (median of {args.repeats}; {again / saved:.1f}x)")


if __name__ == "__main__":
    main()
