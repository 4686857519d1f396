import os
import pickle
from pathlib import Path

import pytest
import torch

from mnist_tui.core.checkpoints import load_checkpoint, model_from_checkpoint, resolve_checkpoint, save_checkpoint
from mnist_tui.core.runs import CheckpointError, list_runs, take_run_dir, write_atomic, write_text_atomic
from mnist_tui.core.config import TrainConfig
from mnist_tui.core.models import build_model


def test_round_trip_restores_the_model(tmp_path):
    config = TrainConfig(model="lenet5")
    model = build_model(config).eval()
    path = save_checkpoint(tmp_path / "run" / "best.pt", model_state=model.state_dict(), config=config, epoch=3,
                           metrics={"val_accuracy": 0.5})
    checkpoint = load_checkpoint(path)
    assert checkpoint["format_version"] == 1 and checkpoint["epoch"] == 3
    assert checkpoint["metrics"] == {"val_accuracy": 0.5}
    restored, restored_config = model_from_checkpoint(checkpoint)
    assert restored_config == config
    x = torch.randn(2, 1, 28, 28)
    assert torch.equal(restored(x), model(x))


def test_older_files_without_optional_keys_are_upgraded(tmp_path):
    config = TrainConfig(model="mlp")
    torch.save({"model_state": build_model(config).state_dict(), "config": config.to_dict()}, tmp_path / "old.pt")
    checkpoint = load_checkpoint(tmp_path / "old.pt")
    assert checkpoint["epoch"] == 0 and checkpoint["optimizer_state"] is None and checkpoint["format_version"] == 1


class Payload:
    """Pickles to a call that would create a marker file if it ever ran."""

    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self):
        return (os.makedirs, (str(self.marker),))


def test_a_file_carrying_pickled_code_is_refused_and_nothing_runs(tmp_path):
    marker = tmp_path / "code-ran"
    path = tmp_path / "evil.pt"
    torch.save({"model_state": {}, "config": {}, "payload": Payload(marker)}, path)
    with pytest.raises(CheckpointError) as info:
        load_checkpoint(path)
    assert "never loaded" in str(info.value)
    assert not marker.exists()
    # the same payload does run under plain pickle: the test would notice a loader that allowed it
    pickle.loads(pickle.dumps(Payload(marker)))
    assert marker.exists()


def test_truncated_and_foreign_files_are_refused(tmp_path):
    config = TrainConfig(model="mlp")
    good = save_checkpoint(tmp_path / "good.pt", model_state=build_model(config).state_dict(), config=config, epoch=1)
    truncated = tmp_path / "truncated.pt"
    truncated.write_bytes(good.read_bytes()[: good.stat().st_size // 2])
    text = tmp_path / "notes.pt"
    text.write_text("hello")
    other = tmp_path / "tensor.pt"
    torch.save(torch.zeros(3), other)
    for path in (truncated, text, other, tmp_path / "missing.pt"):
        with pytest.raises(CheckpointError) as info:
            load_checkpoint(path)
        assert str(path) in str(info.value)


def test_random_bytes_read_as_corrupt_not_as_code(tmp_path):
    import random

    rng = random.Random(0)
    for n in range(20):
        path = tmp_path / f"random{n}.pt"
        prefix = b"\x80\x02" if n % 2 else b""  # a pickle header makes torch try to unpickle the rest
        path.write_bytes(prefix + bytes(rng.randrange(256) for _ in range(2000)))
        with pytest.raises(CheckpointError) as info:
            load_checkpoint(path)
        assert "corrupt or truncated" in str(info.value), str(info.value)


def test_a_crash_mid_write_leaves_the_old_file_and_no_debris(tmp_path):
    path = tmp_path / "last.pt"
    path.write_bytes(b"old")

    def crash(tmp):
        Path(tmp).write_bytes(b"half")
        raise OSError("disk full")

    with pytest.raises(OSError):
        write_atomic(path, crash)
    assert path.read_bytes() == b"old"
    assert [p.name for p in tmp_path.iterdir()] == ["last.pt"]


def test_new_names_are_synced_so_a_power_cut_keeps_them(tmp_path, monkeypatch):
    """A file's fsync keeps its bytes, not its name: the folder holding a renamed file or a new run is synced too,
    after the rename (what the folder holds at its sync is what a power cut keeps)."""
    synced, real_fsync = [], os.fsync

    def fsync(fd):
        info = os.fstat(fd)
        if os.path.stat.S_ISDIR(info.st_mode):
            synced.append((info.st_ino, sorted(os.listdir(fd))))
        real_fsync(fd)

    monkeypatch.setattr(os, "fsync", fsync)
    checkpoints = tmp_path / "checkpoints"
    run_dir, lock, _ = take_run_dir(checkpoints, "r1", "cnn")
    lock.release()
    assert (checkpoints.stat().st_ino, ["r1"]) in synced
    write_text_atomic(run_dir / "result.json", "{}")
    assert synced[-1][0] == run_dir.stat().st_ino
    assert "result.json" in synced[-1][1] and not any(n.endswith(".tmp") for n in synced[-1][1])


def test_a_full_disk_names_the_size_it_needed_never_0_kb(tmp_path):
    """Saving over a 970 KB last.pt on a full disk said "needs about 0 KB": nothing had been written yet
    (walk26 F11). The file it replaces tells the size; with none, no size is guessed."""
    import errno

    from mnist_tui.core.atomic import DiskFull

    def full(tmp):
        raise OSError(errno.ENOSPC, "No space left on device")

    (tmp_path / "last.pt").write_bytes(bytes(970_000))
    with pytest.raises(DiskFull) as replacing:
        write_atomic(tmp_path / "last.pt", full)
    with pytest.raises(DiskFull) as new:
        write_atomic(tmp_path / "best.pt", full)
    assert str(replacing.value) == f"no space left on {tmp_path} (needs about 970 KB)"
    assert str(new.value) == f"no space left on {tmp_path}"


def test_weights_that_do_not_fit_the_model_are_refused(tmp_path):
    config = TrainConfig(model="mlp")
    state = build_model(TrainConfig(model="lenet5")).state_dict()
    path = save_checkpoint(tmp_path / "x.pt", model_state=state, config=config, epoch=1)
    with pytest.raises(CheckpointError):
        model_from_checkpoint(load_checkpoint(path))


def test_runs_are_listed_and_a_bad_one_does_not_hide_the_rest(synthetic_data, tiny_config, tmp_path):
    from mnist_tui.core.engine import Trainer

    list(Trainer(tiny_config, synthetic_data, checkpoints_dir=tmp_path, run_name="good").run())
    (tmp_path / "broken").mkdir()
    (tmp_path / "broken" / "config.json").write_text("{not json")
    runs = {r.name: r for r in list_runs(tmp_path)}
    assert runs["good"].error is None and runs["good"].finished
    assert runs["good"].epochs_done == 2 and runs["good"].test_accuracy is not None
    assert runs["broken"].error
    assert resolve_checkpoint("good", tmp_path) == tmp_path / "good" / "best.pt"
    with pytest.raises(CheckpointError):
        resolve_checkpoint("nothing-here", tmp_path)


def test_delete_run_removes_a_run_and_refuses_other_folders(tmp_path):
    from mnist_tui.core.runs import delete_run

    config = TrainConfig(model="mlp")
    save_checkpoint(tmp_path / "runs" / "r" / "last.pt", model_state=build_model(config).state_dict(),
                    config=config, epoch=1)
    (tmp_path / "precious").mkdir()
    with pytest.raises(CheckpointError):
        delete_run(tmp_path / "precious")
    with pytest.raises(CheckpointError):
        delete_run(tmp_path / "runs" / "r", checkpoints_dir=tmp_path / "elsewhere")
    delete_run(tmp_path / "runs" / "r", checkpoints_dir=tmp_path / "runs")
    assert not (tmp_path / "runs" / "r").exists() and (tmp_path / "precious").exists()


def test_a_pickle_of_another_kind_is_said_so_without_torchs_warning(tmp_path, capsys):
    """A plain pickle of {'a': 1} printed torch's two-line UserWarning, then "corrupt or truncated" (walk38 F12)."""
    import pickle
    import warnings

    path = tmp_path / "dict.pt"
    path.write_bytes(pickle.dumps({"a": 1}, protocol=4))
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # any warning fails the test
        with pytest.raises(CheckpointError) as info:
            load_checkpoint(path)
    assert str(info.value) == f"{path} is not a usable checkpoint: a pickle of another kind, not one torch.save wrote"
