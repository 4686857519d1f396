"""The run controller's lifecycle, without an app: a real child process on synthetic data."""

import queue

import pytest

from mnist_tui.core.controller import ALLOWED, RunController, RunState
from mnist_tui.core.events import Finished, Paused, RunStarted, StepMetrics, Stopped


class Recorder:
    """Plays the app: events arrive on a queue and are handed to the controller in order."""

    def __init__(self, root, runs):
        self.inbox: queue.Queue = queue.Queue()
        self.controller = RunController(lambda events: self.inbox.put(("events", events)),
                                        lambda reason, unavailable: self.inbox.put(("crashed", reason)),
                                        lambda serial: self.inbox.put(("ended", serial)),
                                        checkpoints_dir=runs, data_dir=root)
        self.seen: list = []

    def until(self, kind):
        """Handle what arrives until an event of ``kind`` (or the end, for kind None)."""
        while True:
            what, payload = self.inbox.get(timeout=120)
            if what == "ended":
                self.controller.handle_end(payload)
                if kind is None:
                    return None
                raise AssertionError(f"the run ended before {kind.__name__}: {self.seen[-1:]}")
            if what == "crashed":
                self.seen.append(payload)
                continue
            for event in payload:
                self.controller.handle(event)
                self.seen.append(event)
                if kind is not None and isinstance(event, kind):
                    return event


def test_one_table_says_what_each_state_allows():
    assert {state for state in RunState if state in ALLOWED["pause"]} == {RunState.STARTING, RunState.RUNNING}
    assert ALLOWED["start"] == {RunState.IDLE}
    assert RunState.STOPPING not in ALLOWED["stop"]


def test_a_run_goes_through_its_states_and_a_second_run_follows(tiny_config, synthetic_root, tmp_path):
    recorder = Recorder(synthetic_root, tmp_path / "runs")
    controller = recorder.controller
    assert controller.allowed("start") and not controller.allowed("pause")
    controller.start(tiny_config.replace(epochs=30))
    assert controller.state == RunState.STARTING and not controller.allowed("start")
    controller.pause()  # before the child exists: kept and sent when it does
    recorder.until(RunStarted)
    assert controller.state == RunState.RUNNING and controller.run_dir
    recorder.until(Paused)
    assert controller.state == RunState.PAUSED and controller.allowed("resume") and not controller.allowed("pause")
    assert controller.steer(0.5) == 0.5
    controller.resume()
    recorder.until(StepMetrics)
    assert controller.state == RunState.RUNNING
    controller.stop()
    assert controller.state == RunState.STOPPING and not controller.allowed("stop")
    recorder.until(Stopped)
    recorder.until(None)
    assert controller.state == RunState.IDLE and controller.wait(30)

    first_run = controller.run_dir
    controller.start(tiny_config.replace(epochs=1))
    recorder.until(Finished)
    recorder.until(None)
    assert controller.state == RunState.IDLE and controller.run_dir != first_run
    with pytest.raises(RuntimeError):
        controller.steer(2.0)


def test_a_run_that_cannot_start_reports_and_ends_idle(tiny_config, tmp_path):
    recorder = Recorder(tmp_path / "no-data", tmp_path / "runs")
    recorder.controller.start(tiny_config)
    recorder.until(None)
    assert recorder.controller.state == RunState.IDLE
    assert any(isinstance(item, str) and "no-data" in item for item in recorder.seen)


def test_steering_a_resumed_run_before_it_starts_goes_on_from_its_own_factor(tiny_config, synthetic_root,
                                                                              synthetic_data, tmp_path):
    from mnist_tui.core.engine import Trainer
    from mnist_tui.core.runs import read_lr_changes
    from mnist_tui.core.runtime import RunControl

    runs = tmp_path / "runs"
    control = RunControl()
    control.set_lr_factor(2.0)  # steered x2 from its first batch, then stopped
    for event in Trainer(tiny_config.replace(epochs=2), synthetic_data, checkpoints_dir=runs, run_name="r").run(control):
        if isinstance(event, StepMetrics):
            control.stop()
    recorder = Recorder(synthetic_root, runs)
    controller = recorder.controller
    controller.start(None, resume=str(runs / "r"))
    assert controller.steer(0.5) == 0.5  # before the child has said which factor it goes on with
    started = recorder.until(RunStarted)
    assert started.lr_factor == 2.0 and controller.lr_factor == 1.0  # halved from x2
    recorder.until(None)
    assert [c["lr_factor"] for c in read_lr_changes(runs / "r")] == [2.0, 1.0]  # never x0.5


def test_steering_never_takes_the_lr_above_the_forms_limit(tiny_config, synthetic_root, tmp_path):
    """x10 four times made an lr of 0.01 into 100 (the form refuses anything above 10)."""
    recorder = Recorder(synthetic_root, tmp_path / "runs")
    controller = recorder.controller
    controller.start(tiny_config.replace(epochs=30, lr=0.01))
    controller.pause()
    recorder.until(Paused)
    assert [controller.steer(10.0) for _ in range(4)] == [10.0, 100.0, 1000.0, 1000.0]  # lr 0.1, 1, 10, 10
    assert controller.steer(0.5) == 500.0
    controller.stop()
    recorder.until(None)
