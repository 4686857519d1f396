"""The CUDA path, where torch sees a GPU (skipped cleanly elsewhere): the training digits live on the GPU,
a training step never waits for it, and a run stopped there resumes on the CPU.

CI has no GPU; these ran on a lent H200 (benchmarks/gpu_check.py runs them there).
"""

import pytest
import torch

from mnist_tui.core.analysis import saved_evaluation
from mnist_tui.core.checkpoints import load_checkpoint
from mnist_tui.core.data import batch_order, training_batches
from mnist_tui.core.engine import RunControl, Trainer
from mnist_tui.core.events import Finished, RunStarted, StepMetrics, Stopped
from mnist_tui.core.runtime import epoch_augmentation

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")


@pytest.fixture
def gpu_config(tiny_config):
    """Every part of a step that could touch the host: augmentation (elastic too), members with their own views,
    dropout, label smoothing, bf16 autocast, an EMA and a schedule."""
    return tiny_config.replace(model="cnn", width=8, members=2, member_views=True, rotate=10.0, translate=0.1,
                               scale=0.1, elastic=8.0, dropout=0.2, label_smoothing=0.1, ema=0.9, precision="bf16",
                               optimizer="adamw", schedule="onecycle", device="cuda", threads=0)


def test_a_training_step_never_waits_for_the_gpu(synthetic_data, gpu_config, tmp_path):
    trainer = Trainer(gpu_config, synthetic_data, checkpoints_dir=tmp_path)
    r = trainer._build()
    try:
        assert r.splits.train_images.is_cuda and r.splits.train_labels.is_cuda  # cut into batches there
        assert not r.splits.test_images.is_cuda  # evaluated in batches; misclassified.pt holds CPU tensors
        batches = training_batches(
            r.splits.train_images, r.splits.train_labels, gpu_config.batch_size,
            batch_order(len(r.splits.train_labels), gpu_config.seed, 1), device=r.device,
            **epoch_augmentation(gpu_config, 1), generator=torch.Generator().manual_seed(0), views=2)
        trainer._step(r, next(batches), True)  # the first one allocates and creates the libraries' handles
        torch.cuda.synchronize()
        torch.cuda.set_sync_debug_mode("error")  # any op that makes the host wait for the GPU raises
        try:
            for _ in range(5):
                loss, correct, n = trainer._step(r, next(batches), True)
        finally:
            torch.cuda.set_sync_debug_mode("default")
        assert loss.is_cuda and torch.isfinite(loss) and n == gpu_config.batch_size
    finally:
        trainer.lock.release()


def test_a_run_stopped_on_the_gpu_resumes_on_the_cpu(synthetic_data, gpu_config, tmp_path):
    control = RunControl()
    events = []
    for event in Trainer(gpu_config, synthetic_data, checkpoints_dir=tmp_path, run_name="moved",
                         points_per_epoch=1000).run(control):
        events.append(event)
        if isinstance(event, StepMetrics) and event.step == 4:
            control.stop()
    assert events[0].device.startswith("cuda") and isinstance(events[-1], Stopped)
    assert "cuda" in load_checkpoint(tmp_path / "moved" / "last.pt")["rng"]  # dropout's GPU stream

    resumed = list(Trainer(None, synthetic_data, checkpoints_dir=tmp_path, resume=tmp_path / "moved",
                           device="cpu").run())
    assert isinstance(resumed[0], RunStarted) and resumed[0].device == "cpu"
    assert isinstance(resumed[-1], Finished), resumed[-1]
    evaluation, images = saved_evaluation(tmp_path / "moved")
    assert images.device.type == "cpu" and evaluation.probabilities.device.type == "cpu"


def test_a_gpu_run_learns_what_a_cpu_run_learns(synthetic_data, tiny_config, tmp_path):
    config = tiny_config.replace(model="cnn", width=8, epochs=3, rotate=5.0)
    accuracy = {}
    for device in ("cpu", "cuda"):
        events = list(Trainer(config.replace(device=device), synthetic_data, checkpoints_dir=tmp_path,
                              run_name=device).run())
        assert isinstance(events[-1], Finished), events[-1]
        accuracy[device] = events[-1].test_accuracy
    assert accuracy["cuda"] > 0.8 and abs(accuracy["cuda"] - accuracy["cpu"]) < 0.1, accuracy
