import dataclasses
import json
import queue
import threading

import pytest
import torch

from mnist_tui.core.checkpoints import load_checkpoint
from mnist_tui.core.engine import RunControl, Trainer
from mnist_tui.core.runs import read_metrics
from mnist_tui.core.events import (
    CheckpointSaved, EpochEnd, Failed, Finished, Paused, Resumed, RunStarted, StepMetrics, Stopped,
)


def run_all(trainer, control=None):
    return list(trainer.run(control))


def test_a_tiny_run_reports_in_order_and_learns(synthetic_data, tiny_config, tmp_path):
    events = run_all(Trainer(tiny_config, synthetic_data, checkpoints_dir=tmp_path, points_per_epoch=1000))
    kinds = [type(e) for e in events]
    assert kinds[0] is RunStarted and kinds[-1] is Finished
    started, finished = events[0], events[-1]
    assert started.train_size == 500 and started.val_size == 100 and started.test_size == 200
    assert started.steps_per_epoch == 16
    epochs = [e for e in events if isinstance(e, EpochEnd)]
    assert [e.epoch for e in epochs] == [1, 2]
    # steps of epoch 1 come before its EpochEnd, which comes before its checkpoints
    first_end = kinds.index(EpochEnd)
    assert StepMetrics in kinds[:first_end] and CheckpointSaved in kinds[first_end:first_end + 3]
    assert finished.test_accuracy > 0.5  # ten classes: chance is 0.1
    assert len(finished.per_class_accuracy) == 10
    run_dir = tmp_path / started.run_name
    assert {p.name for p in run_dir.iterdir()} >= {"config.json", "metrics.jsonl", "last.pt", "best.pt",
                                                   "result.json"}
    assert len((run_dir / "metrics.jsonl").read_text().splitlines()) == 2


def test_metric_points_fall_on_fixed_steps_whatever_the_speed(synthetic_data, tiny_config, tmp_path):
    def points(sub, per_epoch):
        events = run_all(Trainer(tiny_config, synthetic_data, checkpoints_dir=tmp_path / sub,
                                 points_per_epoch=per_epoch))
        return [(e.epoch, e.step, e.loss, e.accuracy) for e in events if isinstance(e, StepMetrics)]

    every_fourth = points("a", 4)
    assert [(epoch, step) for epoch, step, *_ in every_fourth] == [(e, s) for e in (1, 2) for s in (4, 8, 12, 16)]
    assert every_fourth == points("b", 4)  # the same run draws the same curve
    assert len(points("c", 100)) == 2 * 16  # tiny epochs: a point every step
    saved = [line for line in (tmp_path / "a").glob("*/points.jsonl")][0].read_text().splitlines()
    assert len(saved) == 8


def test_same_seed_same_metrics(synthetic_data, tiny_config, tmp_path):
    def metrics(sub):
        events = run_all(Trainer(tiny_config, synthetic_data, checkpoints_dir=tmp_path / sub))
        return [(e.train_loss, e.val_accuracy) for e in events if isinstance(e, EpochEnd)]

    assert metrics("a") == metrics("b")


def test_pause_resume_stop_from_another_thread(synthetic_data, tiny_config, tmp_path):
    config = tiny_config.replace(epochs=20)
    control = RunControl()
    trainer = Trainer(config, synthetic_data, checkpoints_dir=tmp_path, points_per_epoch=1000)
    events: queue.Queue = queue.Queue()
    paused_requested = threading.Event()

    def consume():
        for event in trainer.run(control):
            events.put(event)
            if isinstance(event, StepMetrics) and not paused_requested.is_set():
                paused_requested.wait(timeout=30)  # hold the run until the test has asked to pause

    worker = threading.Thread(target=consume, daemon=True)
    worker.start()

    def next_of(kind):
        while True:
            event = events.get(timeout=60)
            if isinstance(event, kind):
                return event
            assert not isinstance(event, (Finished, Failed)), event

    next_of(StepMetrics)
    control.pause()
    paused_requested.set()
    paused = next_of(Paused)
    assert control.paused
    control.resume()
    assert next_of(Resumed).step == paused.step
    next_of(StepMetrics)
    control.stop()
    stopped = next_of(Stopped)
    worker.join(timeout=60)
    assert not worker.is_alive()
    saved = load_checkpoint(stopped.checkpoint)
    assert saved["epoch"] == stopped.epoch - 1 and saved["step"] == stopped.step
    assert saved["step"] > 0


def test_a_diverging_run_fails_and_says_why(synthetic_data, tiny_config, tmp_path):
    config = tiny_config.replace(optimizer="sgd", lr=10.0, momentum=0.99, epochs=5)
    events = run_all(Trainer(config, synthetic_data, checkpoints_dir=tmp_path, points_per_epoch=1000))
    failed = events[-1]
    assert isinstance(failed, Failed)
    assert "diverged" in failed.reason and "lr 10" in failed.reason
    assert not any(isinstance(e, Finished) for e in events)


def test_a_run_steered_into_divergence_names_the_rate_it_trained_at(synthetic_data, tiny_config, tmp_path):
    """Steered x10000 from 0.001 it said "with lr 0.001 (configured learning rate 0.001); try a lower learning
    rate": the rate it diverged at was 10."""
    from mnist_tui.core.runtime import RunControl

    control = RunControl()
    control.set_lr_factor(10000.0)
    config = tiny_config.replace(optimizer="sgd", lr=1e-3, momentum=0.99, epochs=5, schedule="constant")
    failed = run_all(Trainer(config, synthetic_data, checkpoints_dir=tmp_path, points_per_epoch=1000), control)[-1]
    assert isinstance(failed, Failed), failed
    assert "with lr 10 (the schedule's 0.001 steered x10000); try a lower learning rate or less steering" \
        in failed.reason, failed.reason


def test_a_diverged_run_is_listed_as_failed_until_it_trains_again(synthetic_data, tiny_config, tmp_path):
    """`runs` and the Runs view called a diverged run "stopped": nothing wrote the failed.json they read."""
    from mnist_tui.core.runs import read_run

    config = tiny_config.replace(epochs=1, optimizer="sgd", lr=1e-3, momentum=0.99, schedule="constant")
    assert isinstance(run_all(Trainer(config, synthetic_data, checkpoints_dir=tmp_path, run_name="d"))[-1], Finished)
    control = RunControl()
    control.set_lr_factor(10000.0)
    failed = run_all(Trainer(None, synthetic_data, checkpoints_dir=tmp_path, resume=tmp_path / "d", extra_epochs=1),
                     control)[-1]
    assert isinstance(failed, Failed), failed
    assert read_run(tmp_path / "d").state == "failed"
    assert "diverged" in json.loads((tmp_path / "d" / "failed.json").read_text())["reason"]
    again = run_all(Trainer(None, synthetic_data, checkpoints_dir=tmp_path, resume=tmp_path / "d"))[-1]
    assert isinstance(again, Finished), again
    assert read_run(tmp_path / "d").state == "finished"
    assert not (tmp_path / "d" / "failed.json").exists()


def _final_weights(run_dir):
    return load_checkpoint(run_dir / "last.pt")["model_state"]


def _assert_same_weights(a, b):
    assert a.keys() == b.keys()
    for key in a:
        assert torch.equal(a[key], b[key]), key


def test_resume_at_epoch_boundary_gives_the_same_weights(synthetic_data, tiny_config, tmp_path):
    config = tiny_config.replace(epochs=4, dropout=0.2, schedule="onecycle", optimizer="adamw")
    straight = run_all(Trainer(config, synthetic_data, checkpoints_dir=tmp_path, run_name="straight"))
    assert isinstance(straight[-1], Finished)

    control = RunControl()
    first_half = []
    for event in Trainer(config, synthetic_data, checkpoints_dir=tmp_path, run_name="halves").run(control):
        first_half.append(event)
        if isinstance(event, EpochEnd) and event.epoch == 2:
            control.stop()
    assert isinstance(first_half[-1], Stopped)
    resumed = run_all(Trainer(None, synthetic_data, checkpoints_dir=tmp_path, resume=tmp_path / "halves"))
    assert resumed[0].start_epoch == 2
    assert [e.epoch for e in resumed if isinstance(e, EpochEnd)] == [3, 4]
    assert isinstance(resumed[-1], Finished)
    _assert_same_weights(_final_weights(tmp_path / "straight"), _final_weights(tmp_path / "halves"))
    assert resumed[-1].test_accuracy == straight[-1].test_accuracy
    assert len((tmp_path / "halves" / "metrics.jsonl").read_text().splitlines()) == 4


def test_resume_mid_epoch_gives_the_same_weights(synthetic_data, tiny_config, tmp_path):
    config = tiny_config.replace(epochs=2, dropout=0.2, rotate=10, translate=0.1, scale=0.1, ema=0.9)
    run_all(Trainer(config, synthetic_data, checkpoints_dir=tmp_path, run_name="straight"))
    control = RunControl()
    for event in Trainer(config, synthetic_data, checkpoints_dir=tmp_path, run_name="split",
                         points_per_epoch=1000).run(control):
        if isinstance(event, StepMetrics) and event.epoch == 1 and event.step == 5:
            control.stop()
    assert load_checkpoint(tmp_path / "split" / "last.pt")["step"] == 5
    run_all(Trainer(None, synthetic_data, checkpoints_dir=tmp_path, resume=tmp_path / "split" / "last.pt"))
    _assert_same_weights(_final_weights(tmp_path / "straight"), _final_weights(tmp_path / "split"))


def test_each_ensemble_member_learns_as_if_trained_alone(synthetic_data, tiny_config, tmp_path):
    # SGD scales with the gradient, so a member that got a share of it would end elsewhere
    config = tiny_config.replace(optimizer="sgd", lr=0.05, epochs=1)
    alone = run_all(Trainer(config, synthetic_data, checkpoints_dir=tmp_path / "alone"))[-1]
    events = run_all(Trainer(config.replace(members=2), synthetic_data, checkpoints_dir=tmp_path / "pair",
                             points_per_epoch=1000))
    finished = events[-1]
    assert isinstance(finished, Finished) and finished.test_accuracy > 0.5
    single = load_checkpoint(f"{alone.run_dir}/last.pt")["model_state"]
    pair = load_checkpoint(f"{finished.run_dir}/last.pt")["model_state"]
    assert set(pair) == {f"members.{i}.{key}" for i in (0, 1) for key in single}
    for key, value in single.items():  # member 0 starts from the same init and sees the same batches
        assert torch.allclose(pair[f"members.0.{key}"], value, atol=1e-5)
    assert not torch.allclose(pair["members.1.net.1.weight"], single["net.1.weight"])
    steps = [e for e in events if isinstance(e, StepMetrics)]
    assert all(e.accuracy <= 1.0 for e in steps)  # accuracy is the members' mean, not their sum


def test_an_ensemble_with_member_views_trains_each_member_on_its_own_view(synthetic_data, tiny_config, tmp_path):
    config = tiny_config.replace(epochs=1, members=2, rotate=10.0)
    shared = run_all(Trainer(config, synthetic_data, checkpoints_dir=tmp_path, run_name="shared"))[-1]
    events = run_all(Trainer(config.replace(member_views=True), synthetic_data, checkpoints_dir=tmp_path,
                             run_name="views", points_per_epoch=1000))
    finished = events[-1]
    assert isinstance(finished, Finished) and finished.test_accuracy > 0.5
    assert all(e.accuracy <= 1.0 for e in events if isinstance(e, StepMetrics))
    one = load_checkpoint(f"{shared.run_dir}/last.pt")["model_state"]
    other = load_checkpoint(f"{finished.run_dir}/last.pt")["model_state"]
    assert not torch.allclose(one["members.1.net.1.weight"], other["members.1.net.1.weight"])


def test_clean_epochs_train_the_last_epochs_without_augmentation(synthetic_data, tiny_config, tmp_path):
    config = tiny_config.replace(epochs=2, rotate=30.0, translate=0.2)

    def final(name, **changes):
        run_all(Trainer(config.replace(**changes), synthetic_data, checkpoints_dir=tmp_path, run_name=name))
        return _final_weights(tmp_path / name), read_metrics(tmp_path / name)

    plain, _ = final("plain", rotate=0.0, translate=0.0)
    all_clean, _ = final("all-clean", clean_epochs=2)
    _assert_same_weights(all_clean, plain)  # every epoch clean is a run without augmentation
    augmented, augmented_epochs = final("augmented")
    last_clean, last_clean_epochs = final("last-clean", clean_epochs=1)
    assert last_clean_epochs[0]["train_loss"] == augmented_epochs[0]["train_loss"]  # epoch 1 still augmented
    assert last_clean_epochs[1]["train_loss"] != augmented_epochs[1]["train_loss"]
    for other in (plain, augmented):
        assert any(not torch.equal(last_clean[key], other[key]) for key in other)


def test_a_clean_epoch_with_member_views_gives_each_member_the_same_batch(synthetic_data, tiny_config, tmp_path):
    config = tiny_config.replace(epochs=2, members=2, rotate=10.0, member_views=True, clean_epochs=1)
    events = run_all(Trainer(config, synthetic_data, checkpoints_dir=tmp_path))
    assert isinstance(events[-1], Finished), events[-1]


def test_bf16_precision_trains_in_bfloat16_and_keeps_fp32_weights(synthetic_data, tiny_config, tmp_path):
    config = tiny_config.replace(epochs=1)
    fp32 = run_all(Trainer(config, synthetic_data, checkpoints_dir=tmp_path, run_name="fp32"))[-1]
    bf16 = run_all(Trainer(config.replace(precision="bf16"), synthetic_data, checkpoints_dir=tmp_path,
                           run_name="bf16"))[-1]
    assert isinstance(bf16, Finished) and bf16.test_accuracy > 0.5
    results = {name: json.loads((tmp_path / name / "result.json").read_text()) for name in ("fp32", "bf16")}
    assert results["fp32"]["trained_in"] == "fp32" and results["bf16"]["trained_in"] == "bf16"
    weights = _final_weights(tmp_path / "bf16")
    assert all(w.dtype == torch.float32 for w in weights.values())
    assert any(not torch.equal(weights[key], value) for key, value in _final_weights(tmp_path / "fp32").items())
    assert fp32.test_accuracy > 0.5


def test_a_resumed_epoch_counts_its_batches_from_before_the_stop(synthetic_data, tiny_config, tmp_path):
    config = tiny_config.replace(epochs=1)
    straight = run_all(Trainer(config, synthetic_data, checkpoints_dir=tmp_path, run_name="straight"))
    control = RunControl()
    for event in Trainer(config, synthetic_data, checkpoints_dir=tmp_path, run_name="split").run(control):
        if isinstance(event, StepMetrics) and event.step == 8:
            control.stop()
    resumed = run_all(Trainer(None, synthetic_data, checkpoints_dir=tmp_path, resume=tmp_path / "split"))
    assert resumed[0].start_step == 8
    whole = next(e for e in straight if isinstance(e, EpochEnd))
    halves = next(e for e in resumed if isinstance(e, EpochEnd))
    assert halves.train_accuracy == pytest.approx(whole.train_accuracy, abs=1e-6)
    assert halves.train_loss == pytest.approx(whole.train_loss, rel=1e-5)
    from mnist_tui.core.runs import read_points

    assert len(read_points(tmp_path / "split")) == len(read_points(tmp_path / "straight")) == 16


def test_steering_scales_the_learning_rate_and_survives_a_resume(synthetic_data, tiny_config, tmp_path):
    from mnist_tui.core.events import LrChanged
    from mnist_tui.core.runs import read_lr_changes

    config = tiny_config.replace(epochs=2, schedule="constant", optimizer="adam", lr=1e-3)
    control = RunControl()
    events = []
    for event in Trainer(config, synthetic_data, checkpoints_dir=tmp_path, run_name="steered").run(control):
        events.append(event)
        if isinstance(event, StepMetrics) and event.epoch == 1 and event.step == 4:
            control.set_lr_factor(0.5)
        if isinstance(event, StepMetrics) and event.epoch == 1 and event.step == 10:
            control.stop()
    changed = next(e for e in events if isinstance(e, LrChanged))
    assert (changed.epoch, changed.step, changed.factor) == (1, 4, 0.5)
    lrs = [e.lr for e in events if isinstance(e, StepMetrics)]
    assert lrs[3] == pytest.approx(1e-3) and lrs[4] == pytest.approx(5e-4)
    assert read_lr_changes(tmp_path / "steered") == [{"lr_factor": 0.5, "epoch": 1, "step": 4, "global_step": 4}]
    resumed = run_all(Trainer(None, synthetic_data, checkpoints_dir=tmp_path, resume=tmp_path / "steered"))
    assert all(e.lr == pytest.approx(5e-4) for e in resumed if isinstance(e, StepMetrics))
    with pytest.raises(ValueError):
        control.set_lr_factor(float("nan"))


def test_a_finished_run_trains_more_epochs(synthetic_data, tiny_config, tmp_path):
    config = tiny_config.replace(epochs=1, schedule="onecycle")
    first = run_all(Trainer(config, synthetic_data, checkpoints_dir=tmp_path, run_name="more"))[-1]
    assert isinstance(first, Finished)
    more = run_all(Trainer(None, synthetic_data, checkpoints_dir=tmp_path, resume=tmp_path / "more", extra_epochs=2))
    assert more[0].start_epoch == 1 and more[0].epochs == 3
    assert [e.epoch for e in more if isinstance(e, EpochEnd)] == [2, 3]
    assert isinstance(more[-1], Finished) and more[-1].epochs == 3
    assert len((tmp_path / "more" / "metrics.jsonl").read_text().splitlines()) == 3
    lrs = [e.lr for e in more if isinstance(e, StepMetrics)]
    assert max(lrs) <= config.lr / 10 + 1e-12 and lrs[-1] < lrs[0]  # a gentle cosine, no second warm-up


def test_a_run_trained_more_epochs_records_its_schedules(synthetic_data, tiny_config, tmp_path):
    """Its config says 4 epochs, the total: read as one schedule, "train it again" made another run (walk29 F15)."""
    from mnist_tui.core.runs import read_run

    run_all(Trainer(tiny_config.replace(epochs=1), synthetic_data, checkpoints_dir=tmp_path, run_name="more"))
    assert read_run(tmp_path / "more").schedules == ()
    for extra in (2, 1):
        run_all(Trainer(None, synthetic_data, checkpoints_dir=tmp_path, resume=tmp_path / "more", extra_epochs=extra))
    info = read_run(tmp_path / "more")
    assert info.epochs == 4 and info.schedules == (1, 2, 1) and info.finished


def test_a_run_stopped_while_training_more_epochs_resumes_where_it_stopped(synthetic_data, tiny_config, tmp_path):
    config = tiny_config.replace(epochs=1, schedule="onecycle")
    for name in ("straight", "split"):
        run_all(Trainer(config, synthetic_data, checkpoints_dir=tmp_path, run_name=name))
    run_all(Trainer(None, synthetic_data, checkpoints_dir=tmp_path, resume=tmp_path / "straight", extra_epochs=2))
    control = RunControl()
    for event in Trainer(None, synthetic_data, checkpoints_dir=tmp_path, resume=tmp_path / "split",
                         extra_epochs=2, points_per_epoch=1000).run(control):
        if isinstance(event, StepMetrics) and event.epoch == 2 and event.step == 5:
            control.stop()
    assert load_checkpoint(tmp_path / "split" / "last.pt")["step"] == 5

    resumed = run_all(Trainer(None, synthetic_data, checkpoints_dir=tmp_path, resume=tmp_path / "split"))
    assert isinstance(resumed[-1], Finished), resumed[-1]
    assert [e.epoch for e in resumed if isinstance(e, EpochEnd)] == [2, 3]
    _assert_same_weights(_final_weights(tmp_path / "straight"), _final_weights(tmp_path / "split"))


def test_the_train_loss_is_plain_cross_entropy_as_the_validation_loss_is(synthetic_data, tiny_config, tmp_path):
    # label smoothing 0.5 puts the smoothed loss's floor at the smoothed target's entropy, 1.68 here; the
    # train loss the charts and tables show is plain cross entropy, comparable with the validation loss
    config = dataclasses.replace(tiny_config, label_smoothing=0.5, epochs=4)
    events = run_all(Trainer(config, synthetic_data, checkpoints_dir=tmp_path))
    last = [e for e in events if isinstance(e, EpochEnd)][-1]
    assert last.val_accuracy > 0.9
    assert last.train_loss < 1.2 and abs(last.train_loss - last.val_loss) < 0.4
    points = [e for e in events if isinstance(e, StepMetrics)]
    assert points[-1].loss < 1.2


def test_a_run_stopped_at_an_epochs_end_says_after_that_epoch():
    """"Stopped in epoch 4 after step 0" followed a table of three epochs."""
    assert Stopped(4, 0, "last.pt", "r").place == "after epoch 3"
    assert Stopped(4, 120, "last.pt", "r").place == "in epoch 4 after step 120"
    assert Stopped(1, 0, "last.pt", "r").place == "in epoch 1 after step 0"


def test_a_run_that_diverged_before_its_first_save_says_so(synthetic_data, tiny_config, tmp_path):
    """`runs` said "no checkpoint: it stopped before its first save" of a run that diverged at step 9."""
    from mnist_tui.core.runs import read_run

    config = tiny_config.replace(optimizer="sgd", lr=10.0, momentum=0.99, epochs=5)
    failed = run_all(Trainer(config, synthetic_data, checkpoints_dir=tmp_path, points_per_epoch=1000,
                             run_name="boom"))[-1]
    assert isinstance(failed, Failed) and failed.epoch == 1
    info = read_run(tmp_path / "boom")  # failed, as Runs and `runs` say it (it read "unreadable", walk22 F1)
    assert (info.state, info.error, info.epochs_done) == ("failed", None, 0), info
    from mnist_tui.commands.train import resume_path
    from mnist_tui.commands.common import UsageError

    with pytest.raises(UsageError, match="has no checkpoint .it diverged before its first save., so there is nothing"):
        resume_path("boom", tmp_path)


def test_a_run_killed_between_its_checkpoint_and_its_epochs_line_gets_the_line_back(synthetic_data, tiny_config,
                                                                                   tmp_path):
    """An epoch's metrics line now follows its last.pt (a full disk left a line no checkpoint held): a kill
    between the two leaves the checkpoint ahead, and the resume writes the line the checkpoint carries."""
    config = tiny_config.replace(epochs=2)
    assert isinstance(run_all(Trainer(config, synthetic_data, checkpoints_dir=tmp_path, run_name="k"))[-1], Finished)
    metrics = tmp_path / "k" / "metrics.jsonl"
    lines = metrics.read_text().splitlines()
    whole = read_metrics(tmp_path / "k")
    metrics.write_text("".join(line + "\n" for line in lines if json.loads(line).get("epoch") != 2))
    (tmp_path / "k" / "result.json").unlink()  # as if killed before the test
    assert [m["epoch"] for m in read_metrics(tmp_path / "k")] == [1]
    again = run_all(Trainer(None, synthetic_data, checkpoints_dir=tmp_path, resume=tmp_path / "k"))[-1]
    assert isinstance(again, Finished) and again.best_val_accuracy == max(m["val_accuracy"] for m in whole)
    assert read_metrics(tmp_path / "k") == whole
