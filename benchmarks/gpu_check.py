"""The CUDA path measured on a GPU: `fast` to 99% and `best` end to end, against references in the same run.

    python benchmarks/gpu_check.py --data-dir DIR [--fast-seeds 0 1 2 3 4] [--best-seeds 0] [--out FILE]

Each training run is a fresh `mnist-tui train ... --device cuda` process (python -m mnist_tui.cli, so it
runs from a checkout without installing). Figures per run: the whole process's wall time (start to
exit, model on disk: CUDA's start-up included), the engine's training time (train_seconds: the
epochs' steps, first batch included; validation and test excluded) and the test accuracy.

References in the same run, on the same machine: the seed notebook's one-epoch script on its CPU
(`fast_phases.SEED_SCRIPT`), and `fast` with --device cpu.

Then a step table: the median time of one training step (CUDA events around 100 steps after 30
to warm up) of each preset's network in fp32 and bf16 autocast, channels_last or not, with
cuDNN's autotuner (cudnn.benchmark) off or on: what the preset's defaults should be on a GPU.

`--device cpu --quick` runs the same plumbing without a GPU (a check of the script, no figures).
"""

from __future__ import annotations

import argparse
import itertools
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from fast_phases import SEED_SCRIPT  # noqa: E402 - the seed notebook's script


def say(line: str, log: list[str]) -> None:
    print(line, flush=True)
    log.append(line)


def train(preset: str, seed: int, data_dir: str, device: str, extra: list[str]) -> dict:
    """One whole `train` process: wall seconds, the engine's train_seconds, test accuracy."""
    with tempfile.TemporaryDirectory() as tmp:
        start = time.perf_counter()
        done = subprocess.run([sys.executable, "-m", "mnist_tui.cli", "train", "--preset", preset, "--seed", str(seed),
                               "--data-dir", data_dir, "--checkpoints", tmp, "--run-name", "r", "--device", device,
                               "--json", *extra], cwd=ROOT, capture_output=True, text=True)
        wall = time.perf_counter() - start
        if done.returncode:
            raise SystemExit(f"train {preset} seed {seed} failed ({done.returncode}): {done.stderr[-2000:]}")
        result = json.loads((Path(tmp) / "r" / "result.json").read_text())
        started = json.loads(done.stdout.splitlines()[0])
        first = json.loads((Path(tmp) / "r" / "points.jsonl").read_text().splitlines()[0])
    return {"wall": wall, "train": result["train_seconds"], "test": result["test_accuracy"],
            "device": started.get("device"), "trained_in": result.get("trained_in"),
            "first": f"first chart point (step {first['global_step']}) at {first['seconds']:.3f} s"}


def seed_script(data_dir: str) -> tuple[float, float]:
    """(whole process seconds, its one epoch's seconds) of the seed notebook's script on the CPU."""
    start = time.perf_counter()
    done = subprocess.run([sys.executable, "-c", SEED_SCRIPT, data_dir], capture_output=True, text=True, check=True)
    return time.perf_counter() - start, float(done.stdout.split("epoch seconds")[1].split()[0])


def step_table(data_dir: str, device: str, steps: int, log: list[str], profile: bool = False) -> None:
    """Median step time of each preset's network, per precision, memory format and cuDNN autotuning."""
    import torch

    from mnist_tui.core.config import preset as preset_config
    from mnist_tui.core.data import batch_order, load_mnist, training_batches
    from mnist_tui.core.engine import Trainer
    from mnist_tui.core.runtime import epoch_augmentation

    data = load_mnist(data_dir, download=False)
    cuda = device == "cuda"
    profiled = ""
    say(f"{'preset':<6} {'precision':<9} {'layout':<14} {'cudnn.benchmark':<15} {'ms/step':>8}", log)
    for name in ("fast", "best"):
        for precision in ("fp32", "bf16"):
            for channels_last in (True, False):
                for autotune in ((False, True) if cuda else (False,)):
                    torch.backends.cudnn.benchmark = autotune
                    config = preset_config(name, device=device, precision=precision)
                    with tempfile.TemporaryDirectory() as tmp:
                        trainer = Trainer(config, data, checkpoints_dir=tmp)
                        r = trainer._build()
                        r.scheduler = None  # a constant rate: the table runs more steps than a schedule has
                        try:
                            if not channels_last:
                                for module in filter(None, (r.model, r.ema)):
                                    module.to(memory_format=torch.contiguous_format)
                            views = config.members > 1 and config.member_views
                            def batches():  # full batches, epoch after epoch
                                for epoch in itertools.count(1):
                                    yield from itertools.islice(training_batches(
                                        r.splits.train_images, r.splits.train_labels, config.batch_size,
                                        batch_order(len(r.splits.train_labels), 0, epoch), device=r.device,
                                        **epoch_augmentation(config, 1), generator=torch.Generator().manual_seed(epoch),
                                        views=config.members if views else 1), r.steps_per_epoch - 1)
                            feed = batches()
                            times = []
                            for _ in range(3):
                                for _ in range(10):
                                    trainer._step(r, next(feed), views)
                                if cuda:
                                    torch.cuda.synchronize()
                                start = time.perf_counter()
                                for _ in range(steps):
                                    trainer._step(r, next(feed), views)
                                if cuda:
                                    torch.cuda.synchronize()
                                times.append((time.perf_counter() - start) / steps * 1000)
                            if profile and name == "fast" and precision == "fp32" and channels_last and not autotune:
                                profiled = _profile(lambda: trainer._step(r, next(feed), views), cuda)
                        finally:
                            trainer.lock.release()
                    layout = "channels_last" if channels_last else "contiguous"
                    say(f"{name:<6} {precision:<9} {layout:<14} {'on' if autotune else 'off':<15} "
                        f"{statistics.median(times):>8.3f}", log)
    torch.backends.cudnn.benchmark = False
    if profiled:
        say(profiled, log)


def _profile(step, cuda: bool) -> str:
    """Where 20 steps of fast's network spend their time: the top operations by CPU time, and the GPU's busy time."""
    import torch
    from torch.profiler import ProfilerActivity, profile

    activities = [ProfilerActivity.CPU] + ([ProfilerActivity.CUDA] if cuda else [])
    start = time.perf_counter()
    with profile(activities=activities) as prof:
        for _ in range(20):
            step()
        if cuda:
            torch.cuda.synchronize()
    wall = (time.perf_counter() - start) * 1000 / 20
    events = prof.key_averages()
    gpu = sum(getattr(e, "self_device_time_total", 0) for e in events) / 1000 / 20
    launches = sum(e.count for e in events if e.key in ("cudaLaunchKernel", "cuLaunchKernel", "cudaLaunchKernelExC"))
    table = events.table(sort_by="self_cpu_time_total", row_limit=12, max_name_column_width=40)
    return (f"profile of fast's step (fp32, channels_last; 20 steps under the profiler): {wall:.2f} ms a step, "
            f"GPU busy {gpu:.2f} ms a step, {launches / 20:.0f} kernel launches a step\n{table}")


def first_steps(data_dir: str, device: str) -> None:
    """In a fresh process: what fast's first steps cost (libraries start, kernels load) against a warm step."""
    import torch

    from mnist_tui.core.config import preset as preset_config
    from mnist_tui.core.data import batch_order, load_mnist, training_batches
    from mnist_tui.core.engine import Trainer

    def timed(what: str, work) -> None:
        torch.cuda.synchronize() if device == "cuda" else None
        start = time.perf_counter()
        work()
        torch.cuda.synchronize() if device == "cuda" else None
        print(f"  {what}: {(time.perf_counter() - start) * 1000:.1f} ms", flush=True)

    data = load_mnist(data_dir, download=False)
    config = preset_config("fast", device=device)
    with tempfile.TemporaryDirectory() as tmp:
        trainer = Trainer(config, data, checkpoints_dir=tmp)
        start = time.perf_counter()
        r = trainer._build()
        print(f"  build (model to the device, digits to the device): {(time.perf_counter() - start) * 1000:.1f} ms")
        batches = training_batches(r.splits.train_images, r.splits.train_labels, config.batch_size,
                                   batch_order(len(r.splits.train_labels), 0, 1), device=r.device)
        for i in range(1, 4):
            x, y = next(batches)
            timed(f"step {i}: forward", lambda: r.model(x))
            timed(f"step {i}: whole step", lambda: trainer._step(r, (x, y), False))
        x, y = next(batches)
        timed("a step on a batch of 216 (the epoch's last)", lambda: trainer._step(r, (x[:216], y[:216]), False))
        timed("a step on a batch of 216 again", lambda: trainer._step(r, (x[:216], y[:216]), False))
        from mnist_tui.core.analysis import evaluate
        timed("first evaluation of 5000 digits", lambda: evaluate(r.model, r.splits.val_images, r.splits.val_labels,
                                                                   device=r.device))
        timed("second evaluation of 5000 digits", lambda: evaluate(r.model, r.splits.val_images,
                                                                    r.splits.val_labels, device=r.device))
        trainer.lock.release()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", required=True)
    parser.add_argument("--device", default="cuda")
    parser.add_argument("--fast-seeds", type=int, nargs="*", default=[0, 1, 2, 3, 4])
    parser.add_argument("--best-seeds", type=int, nargs="*", default=[0])
    parser.add_argument("--quick", action="store_true", help="a check of the script: 1 epoch of best, few steps")
    parser.add_argument("--no-reference", action="store_true", help="skip the CPU references")
    parser.add_argument("--no-steps", action="store_true", help="skip the step table")
    parser.add_argument("--profile", action="store_true", help="also profile 20 of fast's steps")
    parser.add_argument("--out", help="also write the lines printed here to this file")
    args = parser.parse_args()
    log: list[str] = []
    import torch

    gpu = torch.cuda.get_device_name(0) if torch.cuda.is_available() else "no GPU"
    say(f"torch {torch.__version__}, {gpu}, {torch.get_num_threads()} CPU threads", log)

    cpu = {"train": float("nan")}
    if not args.no_reference:
        whole, epoch = seed_script(args.data_dir)
        say(f"reference: seed script on the CPU: {whole:.2f} s whole process, its epoch {epoch:.2f} s", log)
        cpu = train("fast", 0, args.data_dir, "cpu", [])
        say(f"reference: fast --device cpu seed 0: {cpu['wall']:.2f} s whole process, {cpu['train']:.2f} s "
            f"training ({cpu['first']}), test {cpu['test']:.2%}", log)

    fast = []
    for seed in args.fast_seeds:
        run = train("fast", seed, args.data_dir, args.device, [])
        fast.append(run)
        say(f"fast --device {args.device} seed {seed}: {run['wall']:.2f} s whole process, {run['train']:.3f} s training, "
            f"test {run['test']:.2%} ({run['device']}, {run['trained_in']}; {run['first']})", log)
    if fast:
        bf16 = train("fast", args.fast_seeds[0], args.data_dir, args.device, ["--precision", "bf16"])
        say(f"fast --precision bf16 seed {args.fast_seeds[0]}: {bf16['wall']:.2f} s whole process, "
            f"{bf16['train']:.3f} s training, test {bf16['test']:.2%}", log)
        say(f"FAST on {args.device}: training median {statistics.median(r['train'] for r in fast):.3f} s "
            f"(aim < 1 s), whole process median {statistics.median(r['wall'] for r in fast):.2f} s, "
            f"test {min(r['test'] for r in fast):.2%}-{max(r['test'] for r in fast):.2%}; "
            f"the CPU reference trained in {cpu['train']:.2f} s", log)

    best = []
    for seed in args.best_seeds:
        run = train("best", seed, args.data_dir, args.device, ["--epochs", "1"] if args.quick else [])
        best.append(run)
        say(f"best --device {args.device} seed {seed}: {run['wall']:.1f} s whole process, {run['train']:.1f} s "
            f"training, test {run['test']:.2%} ({run['trained_in']})", log)
    if best:
        say(f"BEST on {args.device}: whole process median {statistics.median(r['wall'] for r in best):.1f} s "
            f"(aim < 60 s), test mean {statistics.mean(r['test'] for r in best):.3%}", log)

    if args.profile:
        say("fast's first steps in a fresh process:", log)
        done = subprocess.run([sys.executable, "-c", "import sys; sys.path.insert(0, 'benchmarks'); import gpu_check; "
                               f"gpu_check.first_steps({args.data_dir!r}, {args.device!r})"],
                              cwd=ROOT, capture_output=True, text=True)
        for line in (done.stdout + done.stderr[-1500:]).splitlines():
            say(line, log)
    if not args.no_steps:
        step_table(args.data_dir, args.device, 10 if args.quick else 100, log, args.profile)
    if args.out:
        Path(args.out).write_text("\n".join(log) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
