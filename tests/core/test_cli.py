import json
import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from PIL import Image

from mnist_tui.cli import main
from mnist_tui.core.runs import DEFAULT_MODEL_RUN
from tests.conftest import files_in, real_data_dir

TINY = ["--model", "mlp", "--hidden", "32", "--batch-size", "32", "--val-size", "100", "--optimizer", "adam",
        "--lr", "0.003", "--schedule", "constant", "--threads", "1"]


def train(tmp_path, synthetic_root, *extra):
    return main(["train", "--data-dir", str(synthetic_root), "--checkpoints", str(tmp_path), *TINY, *extra])


def test_train_json_ends_with_the_finished_event(tmp_path, synthetic_root, capsys):
    assert train(tmp_path, synthetic_root, "--epochs", "2", "--json", "--run-name", "r1") == 0
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert lines[0]["event"] == "started" and lines[0]["config"]["model"] == "mlp"
    last = lines[-1]
    assert last["event"] == "finished"
    assert {"test_accuracy", "test_loss", "epochs", "train_seconds", "run_dir"} <= last.keys()
    assert last["epochs"] == 2 and last["run_dir"] == str(tmp_path / "r1")
    assert (tmp_path / "r1" / "best.pt").is_file()


def test_train_says_when_the_network_ended_no_better_than_guessing(tmp_path, synthetic_root, capsys):
    """A collapsed run (every digit read "1", 11.35%) read like any other (walk36 F3)."""
    assert train(tmp_path, synthetic_root, "--epochs", "1", "--lr", "1e-9") == 0  # too low to move the weights
    out = " ".join(capsys.readouterr().out.split())
    assert "no better than guessing" in out and "Train again with another lr." in out
    assert train(tmp_path, synthetic_root, "--epochs", "1") == 0
    assert "guessing" not in capsys.readouterr().out


def test_train_with_progress_bar_prints_a_summary(tmp_path, synthetic_root, capsys):
    assert train(tmp_path, synthetic_root, "--epochs", "1") == 0
    out = capsys.readouterr().out
    assert "Test accuracy" in out and "Epochs" in out
    summary = next(line for line in out.splitlines() if line.startswith("Test accuracy"))
    assert summary.endswith("s of training.") and "(last, epoch 1; loss " in summary and len(summary) <= 80


def test_invalid_config_exits_2_with_the_message(tmp_path, synthetic_root, capsys):
    assert train(tmp_path, synthetic_root, "--lr", "-1", "--epochs", "0") == 2
    err = capsys.readouterr().err
    # the form's label, with the flag in brackets
    assert "learning rate (--lr) must be > 0 and <= 10, got -1" in err
    assert "epochs (--epochs) must be between 1 and 1000, got 0" in err
    assert "Traceback" not in err
    assert not any(tmp_path.iterdir())  # nothing started
    # a label that has a note in brackets takes the flag inside them: "threads (0=auto) (--threads)" read twice
    assert train(tmp_path, synthetic_root, "--threads", "-2") == 2
    assert "threads (--threads, 0=auto) must be between 0 and 256, got -2" in capsys.readouterr().err
    assert not any(tmp_path.iterdir())  # nothing started


def test_a_batch_larger_than_the_training_set_exits_2(tmp_path, synthetic_root, capsys):
    # 600 synthetic training digits, 100 held out: at most 500 a batch (it used to train one step an epoch)
    assert train(tmp_path, synthetic_root, "--val-size", "100", "--batch-size", "501") == 2
    err = capsys.readouterr().err
    assert err.strip() == ("mnist-tui: batch size (--batch-size) must be at most the 500 digits left to train on "
                           "(training set minus val size), got 501")
    assert not any(tmp_path.iterdir())


def test_the_engine_refuses_a_batch_that_does_not_fit_in_its_own_words(tmp_path, synthetic_data, tiny_config):
    from mnist_tui.core.engine import Trainer
    from mnist_tui.core.runtime import RunControl

    events = list(Trainer(tiny_config.replace(batch_size=501), synthetic_data, checkpoints_dir=tmp_path)
                  .run(RunControl()))
    assert events[-1].kind == "failed"
    assert events[-1].reason.startswith("batch size must be at most the 500 digits")  # no class name


def test_missing_data_exits_2_with_the_fix(tmp_path, capsys):
    code = main(["train", "--data-dir", str(tmp_path / "empty"), "--checkpoints", str(tmp_path), *TINY])
    assert code == 2
    err = capsys.readouterr().err
    assert "train-images-idx3-ubyte" in err and "--data-dir" in err and "Traceback" not in err


def test_on_a_terminal_the_missing_data_advice_wraps_at_its_width(tmp_path, monkeypatch):
    import io

    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    err = Terminal()
    monkeypatch.setattr(sys, "stderr", err)
    monkeypatch.setenv("COLUMNS", "80")
    data = tmp_path / "empty"
    assert main(["train", "--data-dir", str(data), "--checkpoints", str(tmp_path), *TINY]) == 2
    lines = err.getvalue().splitlines()
    assert lines[0].startswith("mnist-tui: ") and "To fix:" in err.getvalue()
    assert all(len(line) <= 80 for line in lines if " " in line.strip()), lines  # its 184-column line before
    assert str(data / "MNIST" / "raw") in err.getvalue()  # a path is never broken


def test_unparseable_flag_exits_2(capsys):
    with pytest.raises(SystemExit) as info:
        main(["train", "--epochs", "many"])
    assert info.value.code == 2


def test_eval_lists_the_wrong_digits_for_explain(tmp_path, synthetic_root, synthetic_data, capsys):
    """eval said "76 of 10,000 wrong" and no more: finding a digit for `explain --index` took the app or
    reading misclassified.pt in Python (walk32 F8)."""
    assert train(tmp_path, synthetic_root, "--epochs", "1", "--run-name", "r1") == 0
    capsys.readouterr()
    args = ["eval", "r1", "--checkpoints", str(tmp_path), "--data-dir", str(synthetic_root)]
    assert main([*args, "--json"]) == 0
    evaluation = json.loads(capsys.readouterr().out)
    wrong = evaluation["misclassified"]
    assert evaluation["errors"] == len(wrong) > 0
    assert all(synthetic_data.test_labels[w["index"]] == w["label"] != w["predicted"] for w in wrong)
    assert [w["confidence"] for w in wrong] == sorted((w["confidence"] for w in wrong), reverse=True)
    assert main(args) == 0
    lines = capsys.readouterr().out.splitlines()
    first = wrong[0]
    listed = next(line for line in lines if line.startswith("Most confidently wrong: "))
    assert f"#{first['index']} {first['label']}→{first['predicted']} " in listed and len(listed) <= 80, listed
    assert lines[-1] == listed


def test_eval_predict_and_runs(tmp_path, synthetic_root, synthetic_data, capsys):
    assert train(tmp_path, synthetic_root, "--epochs", "3", "--run-name", "r1", "--json") == 0
    capsys.readouterr()
    assert main(["eval", "r1", "--checkpoints", str(tmp_path), "--data-dir", str(synthetic_root), "--json"]) == 0
    evaluation = json.loads(capsys.readouterr().out)
    assert evaluation["test_size"] == 200 and evaluation["test_accuracy"] > 0.5
    assert len(evaluation["confusion"]) == 10

    assert main(["eval", "r1", str(tmp_path / "r1" / "best.pt"), "--tta", "--checkpoints", str(tmp_path),
                 "--data-dir", str(synthetic_root)]) == 0
    assert "Test accuracy" in capsys.readouterr().out
    # the same checkpoint twice, by its name and its folder: it was evaluated as an ensemble of two, no word said
    assert main(["eval", "r1", str(tmp_path / "r1"), "--checkpoints", str(tmp_path),
                 "--data-dir", str(synthetic_root)]) == 2
    assert capsys.readouterr().err.strip() == (f"mnist-tui: {tmp_path / 'r1'} is {tmp_path / 'r1' / 'last.pt'}, "
                                               "given already: an ensemble needs different checkpoints")

    # a synthetic test digit saved as a large dark-on-light PNG, as a person would draw it
    digit = synthetic_data.test_images[0].numpy()
    picture = Image.fromarray(255 - digit).resize((280, 280))
    picture.save(tmp_path / "digit.png")
    assert main(["predict", str(tmp_path / "r1"), str(tmp_path / "digit.png"), "--json"]) == 0
    prediction = json.loads(capsys.readouterr().out)
    assert prediction["predicted"] in range(10) and len(prediction["probabilities"]) == 10
    assert "label" not in prediction  # "label" is the true label in eval, explain and map (walk35 F4)
    assert prediction["confidence"] == max(prediction["probabilities"])  # rounded alike
    assert abs(sum(prediction["probabilities"]) - 1) < 1e-3
    # a line for each image, in order: one that cannot be read says why (only stderr did: walk35 F5)
    digit_png, missing = str(tmp_path / "digit.png"), str(tmp_path / "missing.png")
    assert main(["predict", str(tmp_path / "r1"), digit_png, missing, digit_png, "--json"]) == 2
    out, err = capsys.readouterr()
    lines = [json.loads(line) for line in out.splitlines()]
    assert [line["image"] for line in lines] == [digit_png, missing, digit_png]
    assert lines[0] == lines[2] and lines[0]["predicted"] == prediction["predicted"]
    assert lines[1] == {"image": missing, "error": err.strip().removeprefix("mnist-tui: ")}
    # and on a terminal (both streams in one) too, a line each in the order given (walk36 F10)
    together = subprocess.run([sys.executable, "-m", "mnist_tui.cli", "predict", str(tmp_path / "r1"), digit_png,
                               missing], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True).stdout
    heads = [line.split(":")[0] for line in together.splitlines() if not line.startswith("  ")]  # (not the bars)
    assert heads == [digit_png, "mnist-tui"], together

    assert main(["runs", "--checkpoints", str(tmp_path), "--json"]) == 0
    runs = json.loads(capsys.readouterr().out)
    assert [r["name"] for r in runs] == ["r1"] and runs[0]["finished"]

    # without a model, the shipped one reads the picture (from the checkpoints folder, here a copy of r1)
    shutil.copytree(tmp_path / "r1", tmp_path / DEFAULT_MODEL_RUN)
    assert main(["predict", str(tmp_path / "digit.png"), "--checkpoints", str(tmp_path), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["probabilities"] == prediction["probabilities"]


def test_bad_checkpoint_and_bad_image_exit_2(tmp_path, capsys):
    (tmp_path / "junk.pt").write_text("not a checkpoint")
    assert main(["eval", str(tmp_path / "junk.pt")]) == 2
    assert "not a usable checkpoint" in capsys.readouterr().err
    assert main(["predict", str(tmp_path / "missing.pt"), "x.png"]) == 2


def test_resume_refuses_config_flags(tmp_path, synthetic_root, capsys):
    assert train(tmp_path, synthetic_root, "--resume", "whatever") == 2
    assert "--resume continues a run with its saved config" in capsys.readouterr().err
    # --preset too: `--resume RUN --preset lenet5` went on training the run's own model
    assert main(["train", "--checkpoints", str(tmp_path), "--resume", "whatever", "--preset", "lenet5"]) == 2
    assert capsys.readouterr().err == ("mnist-tui: --resume continues a run with its saved config; drop --preset\n")


def _cli(*args: str, **kwargs) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "mnist_tui.cli", *args], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, **kwargs)


def test_ctrl_c_saves_a_resumable_checkpoint_and_exits_130(tmp_path, synthetic_root):
    proc = _cli("train", "--data-dir", str(synthetic_root), "--checkpoints", str(tmp_path), *TINY,
                "--epochs", "1000", "--run-name", "long")
    for line in proc.stdout:
        if "saving to" in line:  # the run has started
            break
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    assert "Traceback" not in err
    assert f"Resume with: mnist-tui train --resume {tmp_path / 'long'}" in out
    checkpoint = tmp_path / "long" / "last.pt"
    from mnist_tui.core.checkpoints import load_checkpoint

    assert load_checkpoint(checkpoint)["config"]["epochs"] == 1000


def test_core_and_help_stay_light():
    code = (  # every core module (the ones added later too), and the CLI
        "import importlib, pkgutil, sys, mnist_tui.core, mnist_tui.cli;"
        "[importlib.import_module(f'mnist_tui.core.{m.name}') for m in pkgutil.iter_modules(mnist_tui.core.__path__)];"
        "assert 'textual' not in sys.modules, 'core imported textual'"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
    help_only = "import sys; from mnist_tui.cli import build_parser; build_parser(); assert 'torch' not in sys.modules"
    subprocess.run([sys.executable, "-c", help_only], check=True)


@pytest.mark.skipif(real_data_dir() is None, reason="real MNIST not available (set MNIST_TUI_DATA)")
def test_seed_mlp_on_real_mnist_passes_95_percent(tmp_path, capsys):
    code = main(["train", "--preset", "seed-mlp", "--epochs", "1", "--data-dir", str(real_data_dir()),
                 "--checkpoints", str(tmp_path), "--json"])
    assert code == 0
    finished = json.loads(capsys.readouterr().out.splitlines()[-1])
    assert finished["test_accuracy"] >= 0.95


def test_eval_refuses_another_dataset(tmp_path, synthetic_root, capsys):
    assert train(tmp_path, synthetic_root, "--epochs", "1", "--run-name", "m", "--json") == 0
    capsys.readouterr()
    code = main(["eval", "m", "--dataset", "fashion-mnist", "--checkpoints", str(tmp_path),
                 "--data-dir", str(synthetic_root)])
    assert code == 2
    assert "was trained on mnist; evaluating it on fashion-mnist is refused" in capsys.readouterr().err


@pytest.mark.parametrize("kind", ["file", "under-a-file", "read-only", "symlink-loop", "dangling-symlink"])
def test_train_refuses_an_unwritable_checkpoints_folder_before_the_data_loads(tmp_path, capsys, kind):
    """A symlink loop or a symlink to nowhere got "run failed: FileExistsError" and exit 1 (walk38 F5)."""
    a_file = tmp_path / "some_file.png"
    a_file.write_bytes(b"not a folder")
    if kind == "symlink-loop":
        (tmp_path / "b").symlink_to("a")
        (tmp_path / "a").symlink_to("b")
        folder, why = tmp_path / "a", f"{tmp_path / 'a'}: cannot be a checkpoints folder: it is a symlink loop"
    elif kind == "dangling-symlink":
        (tmp_path / "runs").symlink_to(tmp_path / "gone" / "runs")
        folder, why = tmp_path / "runs", (f"{tmp_path / 'runs'}: cannot be a checkpoints folder: it is a symlink to "
                                          f"{tmp_path / 'gone' / 'runs'}, which does not exist")
    elif kind == "file":
        folder, why = a_file, f"{a_file} is a file, not a checkpoints folder"  # "no such ... (it is a file)"
    elif kind == "under-a-file":
        folder, why = a_file / "runs", f"{a_file / 'runs'}: cannot be a checkpoints folder ({a_file} is a file)"
    elif os.geteuid() == 0:  # root writes through file modes: /proc takes no new files from anyone
        folder, why = Path("/proc/mnist-tui-runs"), "/proc/mnist-tui-runs: cannot write in the checkpoints folder (/proc"
    else:
        (tmp_path / "locked").mkdir(mode=0o500)
        folder, why = tmp_path / "locked", f"{tmp_path / 'locked'}: cannot write in the checkpoints folder: Permission"
    # no data there: the folder is refused first, not "run failed: FileExistsError" after the data loads
    code = main(["train", "--data-dir", str(tmp_path / "no-data"), "--checkpoints", str(folder), *TINY, "--epochs", "1"])
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1 and err.startswith(f"mnist-tui: {why}"), err
    assert not folder.exists() or folder.is_file() or not any(folder.iterdir())
    if kind.endswith("symlink") or kind.endswith("loop"):  # and the other commands say the same (tune with its own
        # storage: resolving the folder for the default one raised "Symlink loop" as a traceback)
        for args in (["runs"], ["tune", "--storage", f"sqlite:///{tmp_path / 's.db'}", "--trials", "1"]):
            assert main([*args, "--checkpoints", str(folder)]) == 2, args
            assert capsys.readouterr().err == f"mnist-tui: {why}\n"


@pytest.mark.parametrize("json_flag", [[], ["--json"]])
def test_resume_refuses_a_read_only_run_folder_and_changes_nothing(tmp_path, synthetic_root, capsys, read_only,
                                                                   json_flag):
    assert train(tmp_path, synthetic_root, "--epochs", "1", "--run-name", "r", "--json") == 0
    capsys.readouterr()
    before = files_in(tmp_path)
    read_only(tmp_path)  # not "run failed: OSError: [Errno 30] Read-only file system: '.../r/.lock'", exit 1
    code = main(["train", "--resume", "r", "--epochs", "1", "--checkpoints", str(tmp_path),
                 "--data-dir", str(synthetic_root), *json_flag])
    out, err = capsys.readouterr()
    assert (code, out) == (2, ""), (code, out, err)
    assert err == f"mnist-tui: {tmp_path / 'r'}: cannot write in the run folder: Read-only file system\n"
    assert files_in(tmp_path) == before


def _missing_devices() -> list[str]:
    import torch

    missing = [] if torch.cuda.is_available() else ["cuda"]
    return missing + ([] if torch.backends.mps.is_available() else ["mps"])


@pytest.mark.parametrize("device", _missing_devices())
@pytest.mark.parametrize("command", ["train", "lr-find"])
def test_a_device_this_machine_lacks_exits_2_before_the_data_loads(tmp_path, synthetic_root, capsys, command, device):
    code = main(["--checkpoints", str(tmp_path), command, "--data-dir", str(synthetic_root), *TINY,
                 "--device", device])
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1 and "run failed" not in err, err
    assert err.startswith(f"mnist-tui: --device {device} was asked for but ")
    assert err.endswith("; --device auto or cpu trains here\n") and not any(tmp_path.iterdir())


def test_predict_keeps_80_columns_with_the_probabilities_on_a_line_of_their_own(tmp_path, synthetic_data, capsys,
                                                                                monkeypatch):
    from tests.core.tiny_runs import train_tiny_run

    run = train_tiny_run(synthetic_data, tmp_path, "r")
    picture = tmp_path / "pictures-of-digits-from-the-scanner" / "digit.png"
    picture.parent.mkdir()
    Image.fromarray(255 - synthetic_data.test_images[0].numpy()).resize((280, 280)).save(picture)
    monkeypatch.setenv("COLUMNS", "80")
    assert main(["predict", str(run), str(picture)]) == 0
    head, bars = capsys.readouterr().out.splitlines()
    assert head.startswith(f"{picture}: ") and head.endswith("%)") and bars.startswith("  0:")
    assert len(bars) <= 80 and bars.count(":") == 10
    monkeypatch.setenv("COLUMNS", str(len(f"{head}   {bars.strip()}")))  # just room for one line (tmp_path's
    # length varies: a worker of a parallel run has a longer one)
    assert main(["predict", str(run), str(picture)]) == 0
    assert capsys.readouterr().out == f"{head}   {bars.strip()}\n"


def test_predict_with_only_a_run_asks_for_an_image_after_it(tmp_path, synthetic_data, capsys):
    from tests.core.tiny_runs import TINY as TINY_CONFIG, train_tiny_run

    run = train_tiny_run(synthetic_data, tmp_path, "f1", TINY_CONFIG.replace(epochs=1))
    for given, kind in (("f1", "run"), (str(run), "run"), (str(run / "best.pt"), "checkpoint")):
        assert main(["predict", "--checkpoints", str(tmp_path), given]) == 2
        assert capsys.readouterr().err == (f"mnist-tui: {given} is a {kind}, not an image; name the images after "
                                           f"it: mnist-tui predict {given} IMAGE...\n")
    assert main(["predict", "--checkpoints", str(tmp_path), "missing"]) == 2  # neither a run nor a file
    assert "not an image" not in capsys.readouterr().err
    # the run after the images: it read as a missing image and the shipped model read them (walk21 F12)
    assert main(["predict", "--checkpoints", str(tmp_path), "seven.png", "f1"]) == 2
    assert capsys.readouterr().err == "mnist-tui: f1 is a run; name it first: mnist-tui predict f1 IMAGE...\n"


@pytest.mark.parametrize("device", _missing_devices())
def test_a_run_saved_on_a_device_this_machine_lacks_resumes_with_device_cpu(tmp_path, synthetic_root, capsys, device):
    import torch

    assert train(tmp_path, synthetic_root, "--epochs", "2", "--run-name", "moved") == 0
    last = tmp_path / "moved" / "last.pt"
    saved = torch.load(last, weights_only=True)
    saved["epoch"], saved["config"]["device"] = 1, device  # as if stopped after epoch 1 on that device
    torch.save(saved, last)
    (tmp_path / "moved" / "result.json").unlink()
    capsys.readouterr()

    resume = ["train", "--data-dir", str(synthetic_root), "--checkpoints", str(tmp_path), "--resume", "moved"]
    assert main(resume) == 2
    assert capsys.readouterr().err == (f"mnist-tui: moved was trained with --device {device}, which this machine "
                                       "lacks; resume it with --device auto or cpu\n")
    assert main([*resume, "--device", "cpu", "--json"]) == 0
    assert json.loads(capsys.readouterr().out.splitlines()[-1])["event"] == "finished"
    assert json.loads((tmp_path / "moved" / "config.json").read_text())["device"] == "cpu"


def test_version_names_the_installed_package():
    from importlib.metadata import version

    done = subprocess.run([sys.executable, "-m", "mnist_tui.cli", "--version"], capture_output=True, text=True)
    assert (done.returncode, done.stdout, done.stderr) == (0, f"mnist-tui {version('mnist-tui')}\n", "")


@pytest.mark.parametrize("command", [[], ["train"], ["eval"], ["predict"], ["runs"], ["serve"], ["export"],
                                     ["explain"], ["lr-find"], ["tune"], ["label-errors"], ["map"]],
                         ids=lambda c: c[0] if c else "app")
def test_help_fits_an_80_column_terminal(command, monkeypatch, capsys):
    monkeypatch.setenv("COLUMNS", "80")
    with pytest.raises(SystemExit) as done:
        main([*command, "--help"])
    long = [line for line in capsys.readouterr().out.splitlines() if len(line) > 80]
    assert done.value.code == 0 and long == []


def test_predict_help_says_how_a_picture_is_prepared(monkeypatch, capsys):
    """A test digit saved as a PNG scored 93.2% in predict and 88.8% in eval, and nothing said why."""
    monkeypatch.setenv("COLUMNS", "200")
    with pytest.raises(SystemExit):
        main(["predict", "--help"])
    said = " ".join(capsys.readouterr().out.split())
    assert "cropped to its ink, fitted in 20x20 and centred by mass in 28x28" in said


@pytest.mark.parametrize("more", ["0", "-1"])
def test_resume_with_no_more_epochs_is_refused(more, tmp_path, synthetic_root, capsys):
    """--epochs 0 with --resume printed the old result and 'Saved' (exit 0); -1 quoted 0 as the bad value."""
    assert train(tmp_path, synthetic_root, "--epochs", "1", "--run-name", "done") == 0
    capsys.readouterr()
    assert main(["train", "--data-dir", str(synthetic_root), "--checkpoints", str(tmp_path), "--resume", "done",
                 "--epochs", more]) == 2
    assert capsys.readouterr().err == (f"mnist-tui: --epochs with --resume is how many more epochs to train: "
                                       f"at least 1, got {more}\n")


def test_the_app_refuses_a_file_as_its_checkpoints_folder(tmp_path, capsys):
    """The app opened on it (Runs: 'No runs in … yet') and the first f5 failed with FileExistsError."""
    (tmp_path / "one.png").write_bytes(b"not a folder")
    assert main(["--checkpoints", str(tmp_path / "one.png")]) == 2
    assert capsys.readouterr().err == f"mnist-tui: {tmp_path / 'one.png'} is a file, not a checkpoints folder\n"


@pytest.mark.parametrize("command", [["train"], ["runs"], []], ids=lambda c: c[0] if c else "app")
def test_an_unknown_flag_is_one_line_naming_its_command(command, capsys):
    """`train --name x` showed mnist-tui's usage, which lists no train flags; then train's, 18 lines."""
    with pytest.raises(SystemExit) as done:
        main([*command, "--name=x"])
    prog = " ".join(["mnist-tui", *command])
    assert done.value.code == 2
    assert capsys.readouterr().err == f"{prog}: error: unrecognized arguments: --name=x (see {prog} --help)\n"


@pytest.mark.parametrize("argv", [["train", "--hidden", "abc"], ["train", "--epochs", "x"], ["eval"],
                                  ["tune", "--pruner", "best"]])
def test_a_bad_flag_value_is_one_line(argv, capsys):
    """argparse printed the command's whole usage (19 lines for train) before the error."""
    with pytest.raises(SystemExit) as done:
        main(argv)
    err = capsys.readouterr().err
    assert done.value.code == 2 and err.count("\n") == 1 and err.startswith(f"mnist-tui {argv[0]}: error: ")


def test_the_shipped_models_are_found_by_name_from_any_folder(tmp_path, capsys):
    """The README's `explain strong-pretrained ...` failed outside the repository (predict found it)."""
    from mnist_tui.core.checkpoints import resolve_checkpoint
    from mnist_tui.core.runs import REPO_CHECKPOINTS

    shipped = REPO_CHECKPOINTS / DEFAULT_MODEL_RUN
    if not shipped.is_dir():
        pytest.skip("no shipped model in this tree")
    found = resolve_checkpoint(DEFAULT_MODEL_RUN, tmp_path / "checkpoints", prefer="last.pt")
    assert found.parent == shipped
    (tmp_path / "checkpoints" / DEFAULT_MODEL_RUN).mkdir(parents=True)  # a run of that name here comes first
    with pytest.raises(Exception, match="holds no best.pt or last.pt"):
        resolve_checkpoint(DEFAULT_MODEL_RUN, tmp_path / "checkpoints")


def test_resume_takes_threads_like_device(tmp_path, synthetic_root, capsys):
    """The machine's own settings may change on resume (--threads was refused as a config flag)."""
    assert train(tmp_path, synthetic_root, "--epochs", "1", "--run-name", "done") == 0
    resume = ["train", "--data-dir", str(synthetic_root), "--checkpoints", str(tmp_path), "--resume", "done",
              "--epochs", "1"]
    capsys.readouterr()
    assert main([*resume, "--threads", "300"]) == 2
    assert "threads" in capsys.readouterr().err
    assert main([*resume, "--threads", "2", "--json"]) == 0
    assert json.loads(capsys.readouterr().out.splitlines()[-1])["event"] == "finished"
    assert json.loads((tmp_path / "done" / "config.json").read_text())["threads"] == 2


def test_resuming_a_finished_run_without_epochs_says_how_many_it_trained(tmp_path, synthetic_root, capsys):
    flags = ["--data-dir", str(synthetic_root), "--checkpoints", str(tmp_path)]
    assert main(["train", *TINY, "--epochs", "1", "--run-name", "one", *flags]) == 0
    capsys.readouterr()
    assert main(["train", "--resume", "one", *flags]) == 2
    assert capsys.readouterr().err == ("mnist-tui: one already finished its 1 epoch; add --epochs N to train it "
                                       "N more\n")  # not "all 1 epochs"


def test_the_progress_bar_ends_on_the_epochs_pace(synthetic_data, tiny_config, tmp_path):
    """The finished bar showed the pace of the epoch's last window, its partial last batch: 508/s on one run,
    9,208/s on the same run again, against ~22,000/s for the epoch."""
    import io
    import re

    from rich.console import Console

    from mnist_tui.core.engine import Trainer
    from mnist_tui.core.events import EpochEnd
    from mnist_tui.reporting import RichReporter

    events = list(Trainer(tiny_config.replace(epochs=1), synthetic_data, checkpoints_dir=tmp_path).run())
    epoch = next(e for e in events if isinstance(e, EpochEnd))
    out = io.StringIO()
    RichReporter(Console(file=out, force_terminal=True, width=160, color_system=None)).consume(iter(events))
    assert re.findall(r"([\d,]+)/s", out.getvalue())[-1] == f"{events[0].train_size / epoch.seconds:,.0f}"


def test_resume_refuses_a_run_name_it_would_ignore(tmp_path, synthetic_root, capsys):
    """--resume RUN --run-name NEW trained RUN on in place, without a word, and made no NEW."""
    assert train(tmp_path, synthetic_root, "--epochs", "1", "--run-name", "done") == 0
    before = (tmp_path / "done" / "result.json").read_bytes()
    capsys.readouterr()
    assert main(["train", "--data-dir", str(synthetic_root), "--checkpoints", str(tmp_path), "--resume", "done",
                 "--epochs", "1", "--run-name", "branch"]) == 2
    assert capsys.readouterr().err == ("mnist-tui: --resume continues the run in its own folder, under its own "
                                       "name; drop --run-name\n")
    assert not (tmp_path / "branch").exists() and (tmp_path / "done" / "result.json").read_bytes() == before


@pytest.mark.parametrize("flags, said", [
    (["--trials", "0"], "--trials must be at least 1, got 0"),
    (["--jobs", "0"], "--jobs must be at least 1, got 0"),
    (["--timeout", "-5"], "--timeout must be above 0 seconds, got -5"),
    # NaN compared false with 0 (no time limit at all); inf is no limit either
    (["--timeout", "nan"], "--timeout must be a finite number of seconds above 0, got nan"),
    (["--timeout", "inf"], "--timeout must be a finite number of seconds above 0, got inf"),
    # Optuna's sampler raised "Seed must be between 0 and 2**32 - 1" as a traceback, exit 1
    (["--sampler-seed", "-1"], "--sampler-seed must be between 0 and 4294967295, got -1"),
    (["--sampler-seed", "4294967296"], "--sampler-seed must be between 0 and 4294967295, got 4294967296"),
    # 100 trainings at once on 2 cores (about 500 MB each): each trial trains with its own threads
    (["--jobs", "100"], f"--jobs must be at most {len(os.sched_getaffinity(0))} (this machine's CPUs), got 100"),
    # Optuna warned from site-packages that it would search 16:44 instead, and went on
    (["--search", "width=16:48:7"], "width range 16:48 is not a whole number of steps of 7: end it at 44"),
    (["--val-size", "0"], "tuning needs a validation split"),
    (["--study", "  "], "--study must not be empty"),  # blank, as "" is (which the parser refuses)
    # the fast preset's fastcnn has no hidden layers: every trial trained the same network
    (["--search", "hidden=64,128"], "--search hidden changes nothing here: a fastcnn model has no hidden layers "
                                    "(they are an mlp's); every trial would train the same"),
    (["--search", "lr=1e-3:1e-2:log", "--search", "nesterov=on,off"],
     "--search nesterov changes nothing here: the optimizer is adam (it is sgd's)"),
])
def test_tune_refuses_a_bad_budget_before_it_looks_for_the_data(flags, said, tmp_path, capsys):
    """`tune --trials 0` with no data here tried to download MNIST, then said the data was missing."""
    assert main(["tune", "--data-dir", str(tmp_path / "nothing"), "--checkpoints", str(tmp_path / "ck"),
                 "--preset", "fast", *flags]) == 2
    err = capsys.readouterr().err
    assert said in err and err.count("\n") == 1 and not (tmp_path / "nothing").exists()


def test_a_field_that_applies_to_some_searched_configs_may_be_searched():
    from mnist_tui.core.config import PRESETS
    from mnist_tui.core.tune_space import parse_space, tune_problem

    fast = PRESETS["fast"]
    for specs in (["model=mlp,fastcnn", "hidden=64,128"], ["optimizer=adam,sgd", "nesterov=on,off"]):
        assert tune_problem(fast, parse_space(specs, fast), trials=2, jobs=1, timeout_s=None, pruner="median") is None
    assert "hidden changes nothing" in tune_problem(fast, parse_space(["model=cnn,fastcnn", "hidden=64,128"], fast),
                                                    trials=2, jobs=1, timeout_s=None, pruner="median")


def test_a_flag_the_config_does_not_use_is_named_in_a_note(tmp_path, synthetic_root, capsys):
    # `train --hidden 64` trained the fast preset's fastcnn and said nothing of the 64
    assert train(tmp_path, synthetic_root, "--epochs", "1", "--width", "64", "--nesterov", "--gamma", "0.5",
                 "--run-name", "r") == 0
    notes = [line for line in capsys.readouterr().err.splitlines() if "ignored" in line]
    assert notes == [
        "mnist-tui: note: --width ignored: an mlp model has no convolutions",
        "mnist-tui: note: --nesterov ignored: the optimizer is adam (it is sgd's)",
        "mnist-tui: note: --gamma ignored: the schedule is constant (it is the step schedule's)",
    ]


@pytest.mark.parametrize("closed, argv, code", [
    (1, ["runs"], 0), (1, ["--version"], 0), (2, ["runs"], 0), (2, ["train", "--epochs", "0"], 2),
])
def test_a_closed_standard_stream_is_written_to_nowhere(closed, argv, code, tmp_path):
    # `mnist-tui runs >&-` ended in a traceback ('NoneType' object has no attribute 'write') and exit 1
    (tmp_path / "ck").mkdir()
    done = subprocess.run([sys.executable, "-m", "mnist_tui.cli", *argv, *(["--checkpoints", str(tmp_path / "ck")]
                                                                          if argv[0] != "--version" else [])],
                          capture_output=True, text=True, preexec_fn=lambda: os.close(closed), timeout=120)
    assert done.returncode == code, done.stderr
    assert "Traceback" not in done.stderr and "Traceback" not in done.stdout


def test_the_app_without_a_terminal_says_so_and_exits_2(tmp_path):
    # from a script or cron, `mnist-tui` drew the app into the output file and waited for keys for ever
    env = {k: v for k, v in os.environ.items() if k != "TEXTUAL_DRIVER"}
    done = subprocess.run([sys.executable, "-m", "mnist_tui.cli", "--checkpoints", str(tmp_path)],
                          stdin=subprocess.DEVNULL, capture_output=True, text=True, env=env, timeout=60)
    assert done.returncode == 2 and done.stdout == ""
    assert done.stderr == ("mnist-tui: the app needs a terminal; in a script use a command: train, eval, predict, "
                           "runs (see mnist-tui --help)\n")


def test_a_missing_checkpoints_folder_says_which_flag_names_it(tmp_path, capsys, monkeypatch):
    # `runs` in a folder with no checkpoints/ said only "checkpoints: no such checkpoints folder"
    monkeypatch.chdir(tmp_path)
    assert main(["runs"]) == 2
    assert capsys.readouterr().err == ("mnist-tui: checkpoints: no such checkpoints folder "
                                       "(--checkpoints DIR says where the runs are)\n")


def test_an_interrupt_a_library_wraps_in_its_own_error_still_reads_interrupted(capsys):
    """Ctrl+C during `export --format onnx`: torch.onnx turned the KeyboardInterrupt into its TorchExportError,
    and a 121-line traceback ended with exit 1 (walk21 F1)."""
    import argparse

    from mnist_tui.cli import EXIT_INTERRUPTED, _dispatch

    def exporting(args):
        try:
            raise KeyboardInterrupt
        except KeyboardInterrupt as interrupt:
            raise RuntimeError("Failed to export the model with torch.export") from interrupt

    def wrapped_later(args):
        try:
            raise KeyboardInterrupt
        except KeyboardInterrupt:
            raise AttributeError("partially initialized module 'torch._dynamo'")  # raised while handling it

    for handler in (exporting, wrapped_later):
        assert _dispatch(argparse.Namespace(command="export", handler=handler)) == EXIT_INTERRUPTED
        assert capsys.readouterr().err == "mnist-tui: interrupted\n"


@pytest.mark.parametrize("argv, said", [
    (["--preset", "seed-mlp", "train"],
     "--preset before train is the app's; put it after: mnist-tui train --preset NAME"),
    (["--preset=best", "tune"], "--preset before tune is the app's; put it after: mnist-tui tune --preset NAME"),
    (["--preset", "fast", "runs"], "--preset before runs is the app's; runs takes none"),
])
def test_the_apps_preset_before_a_command_is_refused(argv, said, capsys):
    """`mnist-tui --preset seed-mlp train` trained the fast model without a word (walk21 F3)."""
    with pytest.raises(SystemExit) as exited:
        main(argv)
    assert exited.value.code == 2
    assert capsys.readouterr().err == f"mnist-tui: error: {said} (see mnist-tui --help)\n"


@pytest.mark.parametrize("command", [["eval", "f1"], ["predict", "f1", "seven.png"], ["export", "f1"]])
def test_a_file_as_the_checkpoints_folder_of_a_run_name_is_named(command, tmp_path, capsys):
    """`eval f1 --checkpoints FILE` said "f1: no such checkpoint file, run folder, or run in FILE", where train,
    runs and tune say the file is not a checkpoints folder (walk21 F18)."""
    a_file = tmp_path / "afile"
    a_file.write_text("hi")
    assert main([*command, "--checkpoints", str(a_file)]) == 2
    said = capsys.readouterr().err
    assert said == f"mnist-tui: f1: no run of that name: {a_file} is a file, not a checkpoints folder\n"


@pytest.mark.parametrize("argv", [
    ["train", "--resume", ""],  # it trained a whole new run and exited 0 (walk29 F1)
    ["export", "r1", "--out", ""],  # wrote runs/r1/model.onnx, as if --out were left out
    ["map", "r1", "--out", ""],  # wrote the CSV to stdout
    ["runs", "--checkpoints", ""],  # "No runs in " (a blank name), exit 0
    ["lr-find", "--data-dir", ""],  # looked in the cache folder without a word
    ["--data-dir", "", "runs"],  # mnist-tui's own flag
    ["train", "--run-name", ""],
    ["tune", "--storage", ""],
    ["tune", "--study", ""],  # it went on under the default name
    ["serve", "--public-url", ""],
])
def test_an_empty_value_for_a_flag_is_refused_not_taken_as_its_default(argv, tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(SystemExit) as done:
        main(argv)
    err = capsys.readouterr().err
    assert done.value.code == 2
    flag = argv[argv.index("") - 1]
    assert f"{flag} must not be empty" in err and err.count("\n") == 1, err
    # the help named is the one that has the flag ("see mnist-tui runs --help" for mnist-tui's own: walk40 F11)
    assert err.endswith(f"(see mnist-tui {argv[0] + ' ' if argv[0] != '--data-dir' else ''}--help)\n"), err
    assert list(tmp_path.iterdir()) == []  # nothing trained, written or made


def test_piped_train_output_keeps_the_run_folder_whole_on_its_line(tmp_path, synthetic_root, capsys):
    """Into a file, the "saving to" path was wrapped at 80 columns in the middle of the run's name (walk35 F12)."""
    folder = tmp_path / ("a_rather_long_checkpoints_folder_name" * 2)
    name = "a-very-long-run-name-that-goes-on-and-on-for-testing-1234567890"
    assert train(folder, synthetic_root, "--epochs", "1", "--run-name", name) == 0
    out = capsys.readouterr().out
    assert any(line.endswith(f"saving to {folder / name}") for line in out.splitlines()), out


@pytest.mark.parametrize("command", [["train", "--preset", "fast", "--checkpoints", "runs"], ["lr-find"],
                                     ["lr-find", "--end", "0"]])
def test_a_data_folder_that_cannot_serve_is_said_before_torch_loads(command, synthetic_root, tmp_path):
    """A damaged label file: train and lr-find imported torch (about 2 s) before they looked at the data. A bad
    range is lr-find's own usage error, said as early."""
    data = tmp_path / "data"
    shutil.copytree(synthetic_root, data)
    labels = data / "MNIST" / "raw" / "train-labels-idx1-ubyte"
    labels.write_bytes(labels.read_bytes()[:-5])  # truncated
    done = subprocess.run([sys.executable, "-X", "importtime", "-m", "mnist_tui.cli", *command,
                           "--data-dir", str(data)], capture_output=True, text=True, cwd=tmp_path)
    said = [line for line in done.stderr.splitlines() if not line.startswith("import time")]
    imported = [line.rpartition("|")[2].strip() for line in done.stderr.splitlines() if line.startswith("import time")]
    assert done.returncode == 2 and said[0].startswith("mnist-tui: "), done.stderr[-2000:]
    assert ("--end must be above --start" if "--end" in command else "train-labels-idx1-ubyte") in said[0], said
    assert "torch" not in imported
    assert not (tmp_path / "runs").exists()
