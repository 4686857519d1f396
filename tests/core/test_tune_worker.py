"""The trial worker: one child trains trial after trial; a stop verdict ends a trial at the epoch boundary."""

from pathlib import Path

import pytest

from mnist_tui.core.config import TrainConfig
from mnist_tui.core.events import EpochEnd, Finished, RunStarted, Stopped
from mnist_tui.core.process import TrainingProcessError
from mnist_tui.core.runs import read_metrics
from mnist_tui.core.tune_worker import TrialWorker

CONFIG = TrainConfig(model="mlp", hidden=(16,), epochs=2, batch_size=64, optimizer="adam", lr=3e-3,
                     schedule="constant", weight_decay=0.0, dropout=0.0, val_size=100, threads=1)


def run_trial(worker, config, name, go_on=True):
    events = []
    for event in worker.trial(config, name):
        events.append(event)
        if isinstance(event, EpochEnd) and event.epoch < event.epochs:
            worker.verdict(event.epoch, go_on=go_on)
    return events


def test_one_worker_trains_trials_in_turn_and_a_stop_verdict_ends_at_the_epoch(synthetic_root, tmp_path):
    worker = TrialWorker(data_dir=synthetic_root, dataset="mnist", checkpoints_dir=tmp_path)
    try:
        pid = worker.pid
        first = run_trial(worker, CONFIG, "t-000")
        assert isinstance(first[0], RunStarted) and isinstance(first[-1], Finished)
        assert [e.epoch for e in first if isinstance(e, EpochEnd)] == [1, 2]

        pruned = run_trial(worker, CONFIG.replace(epochs=3, lr=1e-2), "t-001", go_on=False)
        stopped = pruned[-1]
        assert isinstance(stopped, Stopped)
        assert (stopped.epoch, stopped.step) == (2, 0)  # not a batch of epoch 2 was trained
        run = Path(stopped.run_dir)
        assert run.name == "t-001" and (run / "last.pt").is_file() and len(read_metrics(run)) == 1

        with pytest.raises(TrainingProcessError, match="kmnist"):  # the worker holds MNIST: this trial fails
            run_trial(worker, CONFIG.replace(dataset="kmnist"), "t-002")
        third = run_trial(worker, CONFIG.replace(epochs=1), "t-003")  # the worker is still good after a failure
        assert isinstance(third[-1], Finished) and Path(third[-1].run_dir).name == "t-003"
        assert worker.pid == pid and not worker.broken  # the same child all along
    finally:
        worker.close()


def test_stop_ends_the_running_trial_saved(synthetic_root, tmp_path, python_exits):
    """And the worker, told to exit, ends at once (Python's own exit took 0.8 s that the study waited for)."""
    worker = TrialWorker(data_dir=synthetic_root, dataset="mnist", checkpoints_dir=tmp_path)
    try:
        events = []
        for event in worker.trial(CONFIG.replace(epochs=1000), "long"):
            events.append(event)
            if isinstance(event, EpochEnd):
                worker.stop()  # Ctrl+C while the child waits for the verdict
                worker.verdict(event.epoch, go_on=True)
        assert isinstance(events[-1], Stopped) and (Path(events[-1].run_dir) / "last.pt").is_file()
        assert events[-1].epoch == 2
    finally:
        worker.close()
    assert worker._process.returncode == 0 and not python_exits.exists()
