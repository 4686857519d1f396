"""`mnist-tui export`: the files it writes load outside mnist-tui and predict as the PyTorch model does."""

from __future__ import annotations

import os
import stat
import sys
from pathlib import Path

import pytest
import torch

from mnist_tui.cli import main
from mnist_tui.core.analysis import predict_probabilities
from mnist_tui.core.checkpoints import save_checkpoint
from mnist_tui.core.config import TrainConfig
from mnist_tui.core.engine import Trainer
from mnist_tui.core.events import Finished
from mnist_tui.core.export import CheckDigits, ExportError, export_model
from mnist_tui.core.models import build_model

TINY = TrainConfig(model="mlp", hidden=(32,), epochs=1, batch_size=32, optimizer="adam", lr=3e-3,
                   schedule="constant", weight_decay=0.0, dropout=0.0, val_size=100, seed=1, threads=1)


@pytest.fixture(scope="module")
def trained_run(synthetic_data, tmp_path_factory) -> Path:
    """A finished run of a tiny MLP on the synthetic digits."""
    checkpoints = tmp_path_factory.mktemp("runs")
    events = list(Trainer(TINY, synthetic_data, checkpoints_dir=checkpoints, run_name="tiny").run())
    assert isinstance(events[-1], Finished)
    return checkpoints / "tiny"


@pytest.fixture
def ensemble_checkpoint(tmp_path) -> Path:
    """An untrained ensemble of two small three-conv CNNs (batchnorm, padding) saved as a checkpoint."""
    config = TrainConfig(model="deepcnn", width=4, members=2, seed=0)
    torch.manual_seed(0)
    model = build_model(config)
    return save_checkpoint(tmp_path / "ens" / "best.pt", model_state=model.state_dict(), config=config, epoch=1)


def export(*argv: str) -> int:
    return main(["export", *argv])


def test_onnx_file_runs_in_onnxruntime_with_any_batch_size(trained_run, synthetic_root, synthetic_data, capsys):
    onnxruntime = pytest.importorskip("onnxruntime")
    assert export(str(trained_run), "--data-dir", str(synthetic_root)) == 0
    out = capsys.readouterr().out
    assert f"-> {trained_run / 'model.onnx'}" in out and "200 test digits from" in out
    assert "max abs difference of probabilities" in out and "same prediction on 200/200" in out
    lines = out.splitlines()  # a fact a line, each path on one of its own (the lines were 105-160 long)
    assert lines[1] == f"  -> {trained_run / 'model.onnx'}" and lines[2].startswith("  onnx, opset ")
    assert all(len(line) <= 80 for line in lines if str(trained_run) not in line and "from" not in line)

    session = onnxruntime.InferenceSession(str(trained_run / "model.onnx"), providers=["CPUExecutionProvider"])
    expected = predict_probabilities(_torch_model(trained_run), synthetic_data.test_images)
    for batch in (1, 7):  # exported with a batch of 2: the batch axis is dynamic
        digits = synthetic_data.test_images[:batch]
        (probabilities,) = session.run(None, {"pixels": digits.numpy()})
        assert probabilities.shape == (batch, 10)
        assert torch.allclose(torch.from_numpy(probabilities), expected[:batch], atol=1e-4)


@pytest.mark.filterwarnings("ignore:`torch.jit.load` is deprecated:FutureWarning")
def test_torchscript_file_loads_with_torch_jit(trained_run, synthetic_data, tmp_path, capsys):
    target = tmp_path / "deploy" / "digits.pt"
    target.parent.mkdir()  # a folder that does not exist is refused (test_insight_cli)
    assert export(str(trained_run), "--format", "torchscript", "--out", str(target),
                  "--data-dir", str(tmp_path / "no-data")) == 0
    captured = capsys.readouterr()
    out = captured.out
    assert "misclassified test digits saved with the run" in out  # no test set on disk: says what it used
    # and, the folder having been named, on stderr that it held none (it went on quietly: walk21 F19)
    assert captured.err.startswith(f"mnist-tui: note: no mnist test set in {tmp_path / 'no-data'}: checking on ")
    loaded = torch.jit.load(str(target))
    digits = synthetic_data.test_images[:5]
    with torch.no_grad():
        probabilities = loaded(digits)
    expected = predict_probabilities(_torch_model(trained_run), digits)
    assert torch.allclose(probabilities, expected, atol=1e-6)
    assert probabilities.argmax(1).tolist() == expected.argmax(1).tolist()
    # outside no_grad too, no "tensor with requires_grad=True" to convert (its weights were trainable: walk35 F15)
    assert not loaded(digits).requires_grad


def test_the_exported_file_and_its_name_are_synced_before_it_is_said_written(trained_run, tmp_path, monkeypatch):
    """A power cut after export said "wrote" keeps the whole file under its name (it was renamed unsynced)."""
    synced, real_fsync = [], os.fsync

    def fsync(fd):
        info = os.fstat(fd)
        synced.append(sorted(os.listdir(fd)) if stat.S_ISDIR(info.st_mode) else info.st_size)
        real_fsync(fd)

    monkeypatch.setattr(os, "fsync", fsync)
    target = tmp_path / "digits.pt"
    assert export(str(trained_run), "--format", "torchscript", "--out", str(target),
                  "--data-dir", str(tmp_path / "no-data")) == 0
    assert target.stat().st_size in synced  # its bytes, before the rename
    assert synced[-1] == ["digits.pt"]  # then its name, in its folder


@pytest.mark.parametrize("fmt", ["onnx", "torchscript"])
def test_an_ensemble_exports_as_its_averaged_probabilities(fmt, ensemble_checkpoint, synthetic_root, capsys):
    if fmt == "onnx":
        pytest.importorskip("onnxruntime")
    assert export(str(ensemble_checkpoint), "--format", fmt, "--data-dir", str(synthetic_root)) == 0
    assert "same prediction on 200/200" in capsys.readouterr().out
    name = "model.onnx" if fmt == "onnx" else "model.torchscript.pt"
    assert (ensemble_checkpoint.parent / name).is_file()


def test_a_check_that_fails_leaves_no_file(trained_run, synthetic_data, tmp_path):
    digits = CheckDigits(synthetic_data.test_images[:10], "10 digits")
    target = tmp_path / "model.pt"
    with pytest.raises(ExportError, match="max abs difference"):
        export_model(_torch_model(trained_run), target, "torchscript", digits, tolerance=-1.0)  # nothing passes
    assert list(tmp_path.iterdir()) == []  # neither the file nor its temporary


def test_missing_onnx_packages_exit_2_with_the_install_command(trained_run, monkeypatch, tmp_path, capsys):
    monkeypatch.setitem(sys.modules, "onnxscript", None)  # import onnxscript now fails, as if not installed
    target = tmp_path / "m.onnx"
    assert export(str(trained_run), "--out", str(target)) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "onnxscript" in err and "pip install 'mnist-tui[onnx]'" in err
    assert "Traceback" not in err and not target.exists()


def test_a_bad_run_exits_2_with_one_line(tmp_path, capsys):
    assert export("no-such-run", "--checkpoints", str(tmp_path)) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "no-such-run" in err and "Traceback" not in err
    broken = tmp_path / "broken.pt"
    broken.write_bytes(b"not a checkpoint")
    assert export(str(broken), "--format", "torchscript") == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "broken.pt" in err
    assert list(tmp_path.iterdir()) == [broken]


def _torch_model(run_dir: Path):
    from mnist_tui.core.checkpoints import load_checkpoint, model_from_checkpoint

    return model_from_checkpoint(load_checkpoint(run_dir / "best.pt"))[0]


@pytest.mark.parametrize("fmt", ["onnx", "torchscript"])
def test_an_unwritable_out_exits_2_with_one_line(fmt, trained_run, tmp_path, capsys):
    if fmt == "onnx":
        pytest.importorskip("onnxruntime")
    name = "m.onnx" if fmt == "onnx" else "m.pt"
    in_the_way = tmp_path / "afile"
    in_the_way.write_text("a file where the folder would be")
    assert export(str(trained_run), "--format", fmt, "--out", str(in_the_way / name),
                  "--data-dir", str(tmp_path / "no-data")) == 2
    err = capsys.readouterr().err
    assert err == f"mnist-tui: cannot write {in_the_way / name}: {in_the_way} is a file, not a folder\n"
    if os.geteuid() != 0:  # root writes into a read-only folder regardless
        locked = tmp_path / "locked"
        locked.mkdir(mode=0o500)
        assert export(str(trained_run), "--format", fmt, "--out", str(locked / name),
                      "--data-dir", str(tmp_path / "no-data")) == 2
        err = capsys.readouterr().err
        assert err == f"mnist-tui: cannot write {locked / name}: Permission denied\n"
        assert list(locked.iterdir()) == []


def test_training_a_run_further_removes_its_exported_files(synthetic_data, synthetic_root, tmp_path, capsys):
    """A model.onnx / model.torchscript.pt beside weights that have since changed would deploy the old model."""
    list(Trainer(TINY.replace(epochs=1), synthetic_data, checkpoints_dir=tmp_path, run_name="r").run())
    assert export(str(tmp_path / "r"), "--format", "torchscript", "--data-dir", str(synthetic_root)) == 0
    assert (tmp_path / "r" / "model.torchscript.pt").is_file()
    events = list(Trainer(None, synthetic_data, checkpoints_dir=tmp_path, resume=tmp_path / "r", extra_epochs=1).run())
    assert isinstance(events[-1], Finished)
    assert not (tmp_path / "r" / "model.torchscript.pt").exists()


@pytest.mark.parametrize("name,flags,said", [
    ("m.pt", [], "names a TorchScript file, but --format is onnx: add --format torchscript, or name the file .onnx"),
    ("m.onnx", ["--format", "torchscript"], "names an ONNX file, but --format is torchscript: add --format onnx, "
                                            "or name the file .pt"),
])
def test_an_out_named_for_the_other_format_is_refused(name, flags, said, trained_run, tmp_path, capsys):
    """`--out m.pt` wrote an ONNX file under a TorchScript name."""
    assert export(str(trained_run), "--out", str(tmp_path / name), *flags) == 2
    assert capsys.readouterr().err == f"mnist-tui: --out {tmp_path / name} {said}\n"
    assert not (tmp_path / name).exists()


def test_an_out_with_a_name_of_neither_format_is_written_and_said(trained_run, tmp_path, capsys):
    """`--out x.txt` wrote a model into a .txt without a word (walk41 F18)."""
    target = tmp_path / "x.txt"
    assert export(str(trained_run), "--format", "torchscript", "--out", str(target),
                  "--data-dir", str(tmp_path / "no-data")) == 0
    assert torch.jit.load(str(target))  # written as asked
    err = capsys.readouterr().err
    assert f"note: {target} holds a TorchScript model, though its name does not end in .pt\n" in err, err


def test_a_run_with_damaged_saved_digits_is_checked_on_random_images(trained_run, tmp_path, capsys):
    import shutil

    run = tmp_path / "runs" / "damaged"
    shutil.copytree(trained_run, run)
    (run / "misclassified.pt").write_bytes((run / "misclassified.pt").read_bytes()[:100])
    target = tmp_path / "digits.pt"
    assert export(str(run), "--format", "torchscript", "--out", str(target), "--data-dir", str(tmp_path / "no-data")) == 0
    assert "random images (no test digits on disk or saved with the run)" in capsys.readouterr().out
    assert target.is_file()


@pytest.mark.parametrize("fmt, kind", [("torchscript", "a TorchScript export"), ("onnx", "an ONNX export")])
def test_an_exported_file_given_as_a_checkpoint_is_named_for_what_it_is(fmt, kind, trained_run, tmp_path, capsys,
                                                                        recwarn):
    # eval, predict, explain, resume... said "corrupt or truncated", after torch's 2-line TorchScript warning
    if fmt == "onnx":
        pytest.importorskip("onnxscript")
    target = tmp_path / f"model.{'pt' if fmt == 'torchscript' else 'onnx'}"
    assert export(str(trained_run), "--format", fmt, "--out", str(target), "--data-dir", str(tmp_path)) == 0
    capsys.readouterr()
    recwarn.clear()
    assert main(["eval", str(target), "--data-dir", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert err == (f"mnist-tui: {target} is {kind} (what `mnist-tui export` writes), not a checkpoint: give the "
                   "run folder or its last.pt or best.pt\n")
    assert not [w for w in recwarn if "TorchScript" in str(w.message)]


@pytest.mark.parametrize("tolerance", ["-1", "nan", "inf"])
def test_a_tolerance_that_is_not_a_number_at_or_above_0_is_refused(tolerance, trained_run, tmp_path, capsys):
    # nan was read as "must be >= 0"; inf let any difference pass the check
    assert export(str(trained_run), "--format", "torchscript", "--out", str(tmp_path / "m.pt"),
                  "--tolerance", tolerance) == 2
    assert capsys.readouterr().err == f"mnist-tui: --tolerance must be a number >= 0, got {tolerance}\n"  # as typed
    assert not (tmp_path / "m.pt").exists()


def test_a_shipped_run_exports_into_the_current_folder(tmp_path, monkeypatch, capsys):
    """`export fast-pretrained` wrote model.onnx into the source tree's shipped run (walk21 F2)."""
    from mnist_tui.core.runs import REPO_CHECKPOINTS

    monkeypatch.chdir(tmp_path)
    assert export("fast-pretrained", "--format", "torchscript", "--checkpoints", str(tmp_path),
                  "--data-dir", str(tmp_path)) == 0
    assert (tmp_path / "fast-pretrained-model.torchscript.pt").is_file()
    assert not (REPO_CHECKPOINTS / "fast-pretrained" / "model.torchscript.pt").exists()
    assert "fast-pretrained-model.torchscript.pt" in capsys.readouterr().out


def test_train_resume_says_it_removes_the_runs_exported_files(synthetic_data, synthetic_root, tmp_path, capsys):
    """The exported file vanished without a word: found missing only once deployed (walk21 F4)."""
    list(Trainer(TINY.replace(epochs=1), synthetic_data, checkpoints_dir=tmp_path, run_name="r").run())
    assert export(str(tmp_path / "r"), "--format", "torchscript", "--data-dir", str(synthetic_root)) == 0
    capsys.readouterr()
    # refused, it said the file "is removed", and left it; and "got 1001" for --epochs 1000 (walk38 F7)
    assert main(["train", "--resume", "r", "--epochs", "1000", "--checkpoints", str(tmp_path),
                 "--data-dir", str(synthetic_root)]) == 2
    assert capsys.readouterr().err == ("mnist-tui: r has trained 1 epoch: 1000 more make 1001, over the 1000 a run may "
                                       "have (--epochs 999 at most)\n")
    assert (tmp_path / "r" / "model.torchscript.pt").exists()
    assert main(["train", "--resume", "r", "--epochs", "1", "--checkpoints", str(tmp_path), "--json",
                 "--data-dir", str(synthetic_root)]) == 0
    assert ("mnist-tui: r's model.torchscript.pt describes its weights before this training: it goes once it saves "
            "(export again after)\n") in capsys.readouterr().err
    assert not (tmp_path / "r" / "model.torchscript.pt").exists()


def test_an_onnx_package_that_is_installed_but_broken_is_one_line(trained_run, monkeypatch, tmp_path, capsys):
    """An onnxruntime whose library does not load gave a traceback: only a missing one was looked for (walk21 F6)."""
    pytest.importorskip("onnxscript")
    broken = tmp_path / "site" / "onnxruntime"
    broken.mkdir(parents=True)
    (broken / "__init__.py").write_text("raise ImportError('libonnxruntime.so.1: cannot open shared object file')\n")
    monkeypatch.syspath_prepend(str(tmp_path / "site"))
    monkeypatch.delitem(sys.modules, "onnxruntime", raising=False)
    target = tmp_path / "m.onnx"
    assert export(str(trained_run), "--out", str(target)) == 2
    err = capsys.readouterr().err
    assert err == ("mnist-tui: onnxruntime is installed but does not import (libonnxruntime.so.1: cannot open shared "
                   "object file): reinstall it: pip install --force-reinstall 'mnist-tui[onnx]'\n"), err
    assert not target.exists()


@pytest.mark.parametrize("name,fmt,content", [("notes", "onnx", b"lr 3e-3 looked best"),
                                              ("last.pt", "torchscript", None), ("last.pt", "onnx", None)])
def test_an_out_that_holds_another_file_is_not_written_over(name, fmt, content, trained_run, tmp_path, capsys):
    """`--out notes` replaced a text file with the ONNX model, and `--format torchscript --out RUN/last.pt`
    would have replaced the run's checkpoint (walk21 F10); an earlier export is written over. `--out RUN/last.pt`
    alone was called "a TorchScript file", with advice (add --format torchscript) that was then refused (walk31 F9)."""
    target = tmp_path / name
    target.write_bytes(content if content is not None else (trained_run / "last.pt").read_bytes())
    before = target.read_bytes()
    assert export(str(trained_run), "--format", fmt, "--out", str(target)) == 2
    kind = "an ONNX" if fmt == "onnx" else "a TorchScript"
    assert capsys.readouterr().err == (f"mnist-tui: --out {target} exists and is not {kind} export: give another "
                                       "name, or delete it first\n")
    assert target.read_bytes() == before
    again = tmp_path / "model.pt"
    assert export(str(trained_run), "--format", "torchscript", "--out", str(again)) == 0
    assert export(str(trained_run), "--format", "torchscript", "--out", str(again)) == 0
