"""What pruning buys: one search space around the ``fast`` recipe, searched with and without the median pruner.

    python benchmarks/tune_benchmark.py --data-dir /path/to/data [--trials 20] [--epochs 3]

Runs the same number of 3-epoch trials twice (same TPE seed): with ``--pruner median``
and with none, each in its own SQLite study under a temporary folder, trials in a worker
child process exactly as ``mnist-tui tune`` runs them (one at a time, two threads). The
two studies take turns, a trial each, so that a change in whatever else the machine runs
hits both alike; each study's minutes are the sum of its own trials' times (its worker's
start and data load included). Prints minutes, epochs trained, best validation accuracy,
the share pruned and the best trial's test accuracy for each, and the ``fast`` preset's
own validation accuracy (trained once, as shipped).
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from mnist_tui.core.config import PRESETS  # noqa: E402
from mnist_tui.core.data_files import resolve_data_dir  # noqa: E402
from mnist_tui.core.events import Finished  # noqa: E402
from mnist_tui.core.process import TrainingProcess  # noqa: E402
from mnist_tui.core.tune import Tuner  # noqa: E402
from mnist_tui.core.tune_space import parse_space  # noqa: E402

SPACE = ["lr=2e-3:3e-2:log", "batch_size=128,256,512", "momentum=0.6:0.95", "width=16:40:8"]
PRUNERS = ("median", "none")


class Turns:
    """Trials of the studies run one at a time, in turn (a study that has finished gives up its turns)."""

    def __init__(self, names: tuple[str, ...]) -> None:
        self.names, self.turn, self.done = names, 0, set()
        self.cond = threading.Condition()

    def wait(self, name: str) -> None:
        with self.cond:
            self.cond.wait_for(lambda: self.names[self.turn] == name or set(self.names) - {name} <= self.done)

    def pass_on(self, name: str) -> None:
        with self.cond:
            self.turn = (self.names.index(name) + 1) % len(self.names)
            self.cond.notify_all()

    def finish(self, name: str) -> None:
        with self.cond:
            self.done.add(name)
            self.turn = (self.names.index(name) + 1) % len(self.names)
            self.cond.notify_all()


class TurnTakingTuner(Tuner):
    """A Tuner (one job) whose trials wait for their turn; ``busy`` sums its trials' seconds."""

    def __init__(self, *args, turns: Turns, label: str, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.turns, self.label, self.busy = turns, label, 0.0

    def _claim(self, started: float) -> bool:
        self.turns.wait(self.label)
        claimed = super()._claim(started)
        if not claimed:
            self.turns.finish(self.label)
        return claimed

    def _run_trial(self, study, events, worker) -> None:
        begun = time.perf_counter()
        try:
            super()._run_trial(study, events, worker)
        finally:
            self.busy += time.perf_counter() - begun
            self.turns.pass_on(self.label)


def run_study(tuner: TurnTakingTuner, results: dict) -> None:
    summary, epochs = None, 0
    for event in tuner.run():
        if event.kind == "trial_epoch":
            epochs += 1
        elif event.kind == "trial_ended":
            value = "-" if event.value is None else f"{event.value:.4f}"
            print(f"  [{tuner.label}] trial {event.number:2d} {event.state:8s} val {value}  {event.minutes:4.1f} min  "
                  + " ".join(f"{k}={v:.3g}" if isinstance(v, float) else f"{k}={v}" for k, v in event.params.items()),
                  flush=True)
        elif event.kind == "study_finished":
            summary = event
    result = json.loads((Path(summary.best_run_dir) / "result.json").read_text()) if summary.best_run_dir else {}
    results[tuner.label] = {
        "minutes": tuner.busy / 60, "epochs": epochs, "best_val": summary.best_value, "pruned": summary.pruned,
        "trials": summary.trials, "failed": summary.failed, "best_test": result.get("test_accuracy"),
        "best_params": summary.best_params}


def fast_preset_val(args, folder: Path) -> tuple[float | None, float | None]:
    process = TrainingProcess(PRESETS["fast"], data_dir=args.data_dir, download=False, dataset="mnist",
                              checkpoints_dir=folder / "preset")
    try:
        for event in process.events():
            if isinstance(event, Finished):
                return event.best_val_accuracy, event.test_accuracy
    finally:
        process.close()
    return None, None


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data-dir", required=True)
    parser.add_argument("--trials", type=int, default=20)
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--seed", type=int, default=0, help="TPE sampler seed, the same for both studies")
    parser.add_argument("--val-size", type=int, default=PRESETS["fast"].val_size, help="validation digits (the objective)")
    parser.add_argument("--keep", metavar="FOLDER", help="keep the runs and studies here (default: deleted)")
    args = parser.parse_args()
    args.data_dir = str(resolve_data_dir(args.data_dir))
    folder = Path(args.keep) if args.keep else Path(tempfile.mkdtemp(prefix="tune-bench-"))
    try:
        print(f"{args.trials} trials of {args.epochs} epochs for each pruner ({', '.join(PRUNERS)}), taking turns; "
              f"space {' '.join(SPACE)}", flush=True)
        base = PRESETS["fast"].replace(epochs=args.epochs, val_size=args.val_size)
        turns = Turns(PRUNERS)
        tuners = [TurnTakingTuner(base, parse_space(SPACE, base), checkpoints_dir=folder / pruner,
                                  data_dir=args.data_dir, study=f"bench-{pruner}", pruner=pruner, trials=args.trials,
                                  sampler_seed=args.seed, turns=turns, label=pruner) for pruner in PRUNERS]
        results: dict = {}
        started = time.perf_counter()
        threads = [threading.Thread(target=run_study, args=(tuner, results)) for tuner in tuners]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        total = (time.perf_counter() - started) / 60
        preset_val, preset_test = fast_preset_val(args, folder)
    finally:
        if not args.keep:
            shutil.rmtree(folder, ignore_errors=True)

    def pct(value):
        return "-" if value is None else f"{value:.2%}"

    print(f"\nsummary ({total:.1f} min in all)")
    for pruner in PRUNERS:
        r = results[pruner]
        share = r["pruned"] / max(r["trials"], 1)
        print(f"  pruner {pruner:6s}: {r['trials']} trials in {r['minutes']:.1f} min ({r['epochs']} epochs), "
              f"best val {pct(r['best_val'])}, pruned {share:.0%} ({r['pruned']}), failed {r['failed']}, "
              f"best trial's test {pct(r['best_test'])} "
              f"({' '.join(f'{k}={v:.3g}' if isinstance(v, float) else f'{k}={v}' for k, v in r['best_params'].items())})")
    with_p, without = results["median"], results["none"]
    saved = 1 - with_p["minutes"] / without["minutes"] if without["minutes"] else 0.0
    saved_epochs = 1 - with_p["epochs"] / without["epochs"] if without["epochs"] else 0.0
    gap = (with_p["best_val"] or 0) - (without["best_val"] or 0)
    print(f"  pruning saved {saved:.0%} of the time ({saved_epochs:.0%} of the epochs); "
          f"best val differs by {gap * 100:+.2f} points")
    print(f"  fast preset as shipped (1 epoch): val {pct(preset_val)}, test {pct(preset_test)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
