"""Where the whole `mnist-tui train --preset fast` process spends its time, against the seed script.

    python benchmarks/fast_phases.py --data-dir ../shared/data [--repeats 3]

Each round runs three fresh processes one after the other (so a neighbour's load
falls on all alike), and the figures are medians over the rounds:

1. **phases**: this script in a child process runs `mnist-tui train --preset fast`
   through the real `mnist_tui.cli.main`, after timing `import torch` and the
   imports of the mnist_tui modules on that path, with timers wrapped around the
   engine's real functions (load data, build, train epoch, evaluations, saves).
   Generators are timed only while they run, so the reporter's share is what is
   left of the command's time. Python's own start-up and exit are the child's
   wall time (measured outside) minus what it measured inside.
2. **fast**: the whole `mnist-tui train --preset fast` process, start to exit.
3. **seed**: the seed notebook's one-epoch script as a whole process: import torch
   and torchvision, `datasets.MNIST` (ToTensor + Normalize) + `DataLoader(batch 64,
   shuffle)`, the 784-128-64-10 MLP with Adam 1e-3, one epoch, test.

Stdout of the timed processes goes to /dev/null, as when output is piped.
Also printed: the mnist_tui-side imports that cost most (`python -X importtime`).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

SEED_SCRIPT = """
import sys
import time
import torch
from torch import nn
from torchvision import datasets, transforms

root = sys.argv[1]
transform = transforms.Compose([transforms.ToTensor(), transforms.Normalize((0.1307,), (0.3081,))])
train_set = datasets.MNIST(root, train=True, download=False, transform=transform)
test_set = datasets.MNIST(root, train=False, download=False, transform=transform)
train_loader = torch.utils.data.DataLoader(train_set, batch_size=64, shuffle=True)
test_loader = torch.utils.data.DataLoader(test_set, batch_size=64)
model = nn.Sequential(nn.Flatten(), nn.Linear(784, 128), nn.ReLU(), nn.Linear(128, 64), nn.ReLU(), nn.Linear(64, 10))
optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
loss_fn = nn.CrossEntropyLoss()
model.train()
start = time.perf_counter()
for images, labels in train_loader:
    optimizer.zero_grad()
    loss = loss_fn(model(images), labels)
    loss.backward()
    optimizer.step()
print(f"epoch seconds {time.perf_counter() - start:.4f}")  # benchmarks/fast_training.py reads it
model.eval()
correct = 0
with torch.no_grad():
    for images, labels in test_loader:
        correct += (model(images).argmax(1) == labels).sum().item()
print(f"test accuracy {correct / len(test_set):.4f}")
"""

# modules `mnist-tui train` imports on its way (missing ones are skipped: the tree may be mid-change)
MNIST_TUI_MODULES = ("mnist_tui.cli", "mnist_tui.commands.train", "mnist_tui.core.data", "mnist_tui.core.engine",
                     "mnist_tui.core.names", "mnist_tui.reporting")


# -- the child: one in-process run with timers --------------------------------------------------

class Timers:
    """Seconds per label, from wrappers put around real functions (and generator functions)."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = defaultdict(float)
        self.missing: list[str] = []

    def wrap(self, owner, attr: str, label, generator: bool = False) -> None:
        """Replace ``owner.attr`` by a timed version; ``label`` is a string or a function of the call's args."""
        original = getattr(owner, attr, None)
        if original is None:
            self.missing.append(f"{getattr(owner, '__name__', owner)}.{attr}")
            return
        name_of = label if callable(label) else (lambda *a, **k: label)
        seconds = self.seconds

        if generator:
            def timed(*args, **kwargs):
                name = name_of(*args, **kwargs)
                start = time.perf_counter()
                inner = original(*args, **kwargs)
                sent = None
                while True:
                    try:
                        item = inner.send(sent)
                    except StopIteration as stop:
                        seconds[name] += time.perf_counter() - start
                        return stop.value
                    seconds[name] += time.perf_counter() - start
                    sent = yield item  # the consumer's time is not counted
                    start = time.perf_counter()
        else:
            def timed(*args, **kwargs):
                name = name_of(*args, **kwargs)
                start = time.perf_counter()
                try:
                    return original(*args, **kwargs)
                finally:
                    seconds[name] += time.perf_counter() - start
        setattr(owner, attr, timed)


def child(args: argparse.Namespace) -> int:
    import importlib

    begin = time.perf_counter()
    import torch  # noqa: F401 - timed on purpose

    imported_torch = time.perf_counter()
    for name in MNIST_TUI_MODULES:
        try:
            importlib.import_module(name)
        except ImportError:
            pass
    imported_ours = time.perf_counter()

    from mnist_tui import cli
    from mnist_tui.core import analysis, checkpoints, data, engine, runs

    timers = Timers()
    timers.wrap(data, "load_mnist", "load data (IDX files -> tensors)")
    timers.wrap(engine.Trainer, "_build", "build run (split, model, optimizer, run folder)")
    timers.wrap(engine, "split", "  of which: train/validation split")
    timers.wrap(engine, "build_model", "  of which: build model")
    timers.wrap(engine, "choose_device", "  of which: choose device (cuda/mps probes)")
    timers.wrap(engine, "build_optimizer", "  of which: optimizer")
    timers.wrap(engine, "build_scheduler", "  of which: scheduler")
    timers.wrap(runs, "new_run_dir", "  of which: new run folder")
    timers.wrap(engine.Trainer, "_train_epoch", "train epoch (all steps)", generator=True)
    timers.wrap(engine, "training_batches", "  of which: cutting + normalising batches", generator=True)
    timers.wrap(engine, "evaluate", lambda model, images, *a, **k: f"evaluate {len(images)} digits"
                + (" (test)" if len(images) == 10_000 else " (validation)" if len(images) == 5_000 else ""))
    timers.wrap(engine.Trainer, "_save", lambda self, r, name, *a, **k: f"save {name} (state dicts + torch.save + fsync)")
    timers.wrap(engine, "save_evaluation", "save misclassified.pt")
    for attr in ("write_text_atomic", "append_metrics", "append_event"):
        timers.wrap(runs, attr, "small run files (config, metrics, result json)")
    timers.wrap(runs, "append_points", "  of which: writing the epoch's metrics points")
    del analysis, checkpoints  # imported so they are loaded before timing starts

    before = set(sys.modules)
    command_start = time.perf_counter()
    code = cli.main(["train", "--preset", "fast", "--data-dir", args.data_dir, "--checkpoints", args.checkpoints])
    command_end = time.perf_counter()
    lazy = sorted({".".join(name.split(".")[:2]) for name in set(sys.modules) - before if name.startswith("torch.")})
    result = {
        "code": code,
        "phases": {"import torch": imported_torch - begin, "import mnist_tui modules": imported_ours - imported_torch,
                   **timers.seconds},
        "command": command_end - command_start,
        "inside": command_end - begin,
        "missing": timers.missing,
        "lazy_torch_modules": lazy,
        "eval_batch_sizes": eval_batch_sizes(args.data_dir, args.checkpoints) if args.eval_batches else {},
        "torchvision_imported": "torchvision" in sys.modules,
        "PIL_imported": "PIL" in sys.modules,
        "numpy_imported": "numpy" in sys.modules,
    }
    result["after"] = time.perf_counter() - command_end  # the extra measurements, not part of the run
    Path(args.result).write_text(json.dumps(result))
    return 0


def eval_batch_sizes(data_dir: str, checkpoints: str) -> dict[int, float]:
    """Seconds for the test-set evaluation of the run just trained, per evaluation batch size
    (after the run, so with its allocator settings and warm caches; best of 2)."""
    from mnist_tui.core.analysis import evaluate
    from mnist_tui.core.checkpoints import load_checkpoint, model_from_checkpoint
    from mnist_tui.core.data import load_mnist

    import torch

    run = next(p for p in Path(checkpoints).iterdir() if (p / "best.pt").is_file())
    model, _ = model_from_checkpoint(load_checkpoint(run / "best.pt"))
    model = model.to(memory_format=torch.channels_last)  # as the engine trains and evaluates it
    data = load_mnist(data_dir, download=False)
    seconds = {}
    for batch_size in (250, 500, 1000, 2000, 5000):
        times = []
        for _ in range(2):
            start = time.perf_counter()
            evaluate(model, data.test_images, data.test_labels, batch_size=batch_size)
            times.append(time.perf_counter() - start)
        seconds[batch_size] = min(times)
    return seconds


# -- the parent: rounds of three processes --------------------------------------------------------

def timed_process(command: list[str]) -> float:
    start = time.perf_counter()
    done = subprocess.run(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    seconds = time.perf_counter() - start
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(command)} failed ({done.returncode}):\n{done.stderr[-2000:]}")
    return seconds


def import_costs(top: int = 8) -> list[tuple[str, float]]:
    """The costliest top-level packages imported on `train`'s path besides torch (cumulative, seconds)."""
    code = "import torch; " + "; ".join(f"import {m}" for m in MNIST_TUI_MODULES if _importable(m))
    done = subprocess.run([sys.executable, "-X", "importtime", "-c", code], capture_output=True, text=True,
                          cwd=ROOT)
    costs = {}
    for line in done.stderr.splitlines():
        if not line.startswith("import time:") or "|" not in line:
            continue
        _, cumulative, name = line.split(":", 1)[1].split("|")
        if name.startswith(" ") and not name.startswith("  ") and cumulative.strip().isdigit():  # top level
            costs[name.strip()] = int(cumulative) / 1e6
    costs.pop("torch", None)
    return sorted(costs.items(), key=lambda kv: -kv[1])[:top]


def _importable(module: str) -> bool:
    import importlib.util

    try:
        return importlib.util.find_spec(module) is not None
    except ModuleNotFoundError:
        return False


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", required=True, help="torchvision root holding MNIST/raw/")
    parser.add_argument("--repeats", type=int, default=3, help="rounds of the three processes (default 3)")
    parser.add_argument("--phases", action="store_true", help=argparse.SUPPRESS)  # the child's mode
    parser.add_argument("--checkpoints", help=argparse.SUPPRESS)
    parser.add_argument("--result", help=argparse.SUPPRESS)
    parser.add_argument("--eval-batches", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.phases:  # ends as the console script ends a headless command (mnist_tui.cli.run): os._exit
        code = child(args)
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)

    mnist_tui = str(Path(sys.executable).with_name("mnist-tui"))
    phases: dict[str, list[float]] = defaultdict(list)
    walls: dict[str, list[float]] = defaultdict(list)
    notes: dict = {}
    with tempfile.TemporaryDirectory(prefix="fast-phases-") as tmp:
        seed = Path(tmp) / "seed_script.py"
        seed.write_text(SEED_SCRIPT)
        for round_ in range(args.repeats):
            checkpoints, result = str(Path(tmp) / f"runs{round_}"), Path(tmp) / f"phases{round_}.json"
            walls["fast"].append(timed_process([mnist_tui, "train", "--preset", "fast", "--data-dir", args.data_dir,
                                                "--checkpoints", checkpoints]))
            walls["seed"].append(timed_process([sys.executable, str(seed), args.data_dir]))
            last = round_ == args.repeats - 1
            wall = timed_process([sys.executable, __file__, "--phases", "--data-dir", args.data_dir,
                                  "--checkpoints", checkpoints, "--result", str(result)]
                                 + (["--eval-batches"] if last else []))
            notes = json.loads(result.read_text())
            walls["phases child"].append(wall - notes["after"])
            for name, seconds in notes["phases"].items():
                phases[name].append(seconds)
            phases["reporter, CLI and event handling (the rest of the command)"].append(
                notes["command"] - sum(s for n, s in notes["phases"].items()
                                       if not n.startswith(" ") and not n.startswith("import")))
            phases["python start-up and exit"].append(walls["phases child"][-1] - notes["inside"])
            phases["  of which: a bare interpreter (python -c pass)"].append(
                timed_process([sys.executable, "-c", "pass"]))
            print(f"  round {round_ + 1}: fast {walls['fast'][-1]:.2f} s, seed {walls['seed'][-1]:.2f} s, "
                  f"fast/seed {walls['fast'][-1] / walls['seed'][-1]:.2f}", flush=True)

    import torch

    median = {name: statistics.median(values) for name, values in phases.items()}
    child_wall = statistics.median(walls["phases child"])
    print(f"\nphases of `mnist-tui train --preset fast` in one process, median of {args.repeats} "
          f"({torch.get_num_threads()} torch threads)")
    print(f"{'phase':<62}{'seconds':>8}{'share':>8}")
    for name, seconds in sorted(median.items(), key=lambda kv: _order(kv[0])):
        share = "" if name.startswith(" ") else f"{seconds / child_wall:>7.0%}"
        print(f"{name:<62}{seconds:>8.2f}{share:>8}")
    print(f"{'whole phases child (wall)':<62}{child_wall:>8.2f}")
    if notes.get("missing"):
        print(f"not timed (not in this tree): {', '.join(notes['missing'])}")
    print(f"imported on this path: torchvision {notes['torchvision_imported']}, PIL {notes['PIL_imported']}, "
          f"numpy {notes['numpy_imported']}")
    print(f"torch modules first imported inside the command: {', '.join(notes['lazy_torch_modules']) or 'none'}")
    print("test-set evaluation (10,000 digits) by evaluation batch size, in the last round's child after its run, best of 2: "
          + ", ".join(f"{size}: {seconds:.2f} s" for size, seconds in notes["eval_batch_sizes"].items()))
    print("costliest imports besides torch (python -X importtime, cumulative): "
          + ", ".join(f"{name} {seconds:.2f} s" for name, seconds in import_costs()))
    fast, seed_s = statistics.median(walls["fast"]), statistics.median(walls["seed"])
    ratios = [f / s for f, s in zip(walls["fast"], walls["seed"])]
    print(f"\nwhole processes, median of {args.repeats}: `mnist-tui train --preset fast` {fast:.2f} s, "
          f"seed script {seed_s:.2f} s; fast/seed {statistics.median(ratios):.2f} "
          f"(per round: {', '.join(f'{r:.2f}' for r in ratios)}; target <= 0.50)")
    return 0


def _order(name: str) -> tuple[int, str]:
    """Table order: start-up and imports, then the run's phases as they happen, then the rest."""
    keys = ["python", "  of which: a bare", "import torch", "import mnist_tui", "load data", "build run", "  of which: choose", "  of which: train/",
            "  of which: build model", "  of which: optim", "  of which: sched", "  of which: new run", "train epoch", "  of which: cutting", "  of which: writing", "evaluate 5000", "evaluate",
            "save last", "save best", "save misc", "small run", "reporter"]
    for i, key in enumerate(keys):
        if name.startswith(key):
            return i, name
    return len(keys), name


if __name__ == "__main__":
    sys.exit(main())
