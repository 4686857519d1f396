"""Training in a child process (what the app does): events, commands, failures, a vanished parent."""

from __future__ import annotations

import os
import signal
from pathlib import Path

import pytest
import torch

from mnist_tui.core.checkpoints import load_checkpoint
from mnist_tui.core.engine import Trainer
from mnist_tui.core.process import TrainingProcess, TrainingProcessError


def start(config, root: Path, runs: Path, **kwargs) -> TrainingProcess:
    return TrainingProcess(config, data_dir=root, download=False, dataset="mnist", checkpoints_dir=runs,
                           **kwargs)


def test_the_child_trains_exactly_like_the_engine_and_obeys_pause_and_resume(
        tiny_config, synthetic_root, synthetic_data, tmp_path):
    process = start(tiny_config, synthetic_root, tmp_path / "child")
    process.send("pause")  # before the first batch: the pipe keeps it until the child listens
    kinds = []
    try:
        for event in process.events():
            kinds.append(event.kind)
            if event.kind == "paused":
                process.send("resume")
            if event.kind == "finished":
                child_run = Path(event.run_dir)
    finally:
        process.close()
    assert kinds[:3] == ["started", "paused", "resumed"] and kinds[-1] == "finished"
    assert kinds.count("epoch") == 2

    # the same config in this process ends with the same weights: the child is the engine, nothing else
    here = [e for e in Trainer(tiny_config, synthetic_data, checkpoints_dir=tmp_path / "here").run()][-1]
    theirs = load_checkpoint(child_run / "last.pt")["model_state"]
    ours = load_checkpoint(Path(here.run_dir) / "last.pt")["model_state"]
    assert all(torch.equal(theirs[k], ours[k]) for k in ours)


def test_points_leave_the_child_in_bundles_and_everything_else_at_once(tiny_config, synthetic_root, tmp_path):
    # each message wakes the app, which takes a core from the training child: points travel together
    process = start(tiny_config.replace(epochs=3), synthetic_root, tmp_path)
    receive, messages = process._events.recv, []

    def counting_recv():
        messages.append(receive())
        return messages[-1]

    process._events.recv = counting_recv
    try:
        events = list(process.events())
    finally:
        process.close()
    assert events[0].kind == "started" and events[-1].kind == "finished"
    points = [e for e in events if e.kind == "step"]
    assert len(points) >= 3 * 16  # every point still arrives, in order
    assert [e.global_step for e in points] == sorted(e.global_step for e in points)
    assert len(messages) < len(events) / 2
    for kind, payload in messages:  # a bundle ends at the first event that is not a point
        assert kind != "events" or all(e.kind == "step" for e in payload[:-1])


def test_stop_saves_a_resumable_checkpoint(tiny_config, synthetic_root, tmp_path):
    process = start(tiny_config.replace(epochs=50), synthetic_root, tmp_path)
    events = []
    try:
        for event in process.events():
            events.append(event)
            if event.kind == "epoch":
                process.send("stop")
    finally:
        process.close()
    stopped = events[-1]
    assert stopped.kind == "stopped" and Path(stopped.checkpoint).is_file()
    assert load_checkpoint(stopped.checkpoint)["epoch"] >= 1


def test_missing_data_is_reported_as_such(tiny_config, tmp_path):
    process = start(tiny_config, tmp_path / "no-data", tmp_path / "runs")
    with pytest.raises(TrainingProcessError) as raised:
        list(process.events())
    process.close()
    assert raised.value.data_unavailable
    assert "MNIST" in str(raised.value)


def test_a_child_whose_parent_vanishes_stops_and_saves(tiny_config, synthetic_root, tmp_path):
    process = start(tiny_config.replace(epochs=1000), synthetic_root, tmp_path)
    process.send("pause")
    events = process.events()
    assert next(events).kind == "started"
    assert next(events).kind == "paused"
    # what a crashed app leaves behind: its ends of the pipes close without a word
    process._commands.close()
    process._events.close()
    assert process._process.wait(timeout=120) == 0
    (run,) = [p for p in tmp_path.iterdir() if p.is_dir()]
    assert load_checkpoint(run / "last.pt")["epoch"] == 0  # stopped before any batch, resumable


def test_a_terminated_child_stops_at_the_next_batch_and_saves(tiny_config, synthetic_root, tmp_path):
    process = start(tiny_config.replace(epochs=1000), synthetic_root, tmp_path)
    kinds = []
    try:
        for event in process.events():
            kinds.append(event.kind)
            if event.kind == "step" and kinds.count("step") == 1:
                os.kill(process.pid, signal.SIGTERM)  # what a closing session or `kill` sends
    finally:
        process.close()
    assert kinds[-1] == "stopped"
    assert Path(event.checkpoint).is_file()


def test_the_child_ends_at_once_once_its_run_is_saved(tiny_config, synthetic_root, tmp_path, python_exits):
    """Python's own exit in the child freed torch's objects one by one, 0.7-0.9 s after the run's end that the app
    waited for before the run read as over (here, each run a test trained). The child ends with os._exit."""
    from mnist_tui.core.run_lock import owner
    from mnist_tui.core.runs import read_result

    process = start(tiny_config, synthetic_root, tmp_path / "runs", run_name="r")
    try:
        kinds = [event.kind for event in process.events()]
    finally:
        process.close()
    run = tmp_path / "runs" / "r"
    assert kinds[-1] == "finished" and not python_exits.exists()
    assert load_checkpoint(run / "last.pt")["epoch"] == 2 and load_checkpoint(run / "best.pt")
    assert read_result(run)["test_accuracy"] > 0 and owner(run) is None and not list(run.glob(".*.tmp"))

