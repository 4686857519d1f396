"""The label-errors and map commands end to end on the synthetic data with a tiny real run."""

import csv
import json
import re
import shlex
import os
import stat

import pytest

from mnist_tui.cli import main
from tests.core.tiny_runs import train_tiny_run


@pytest.fixture(scope="module")
def tiny_run(synthetic_data, tmp_path_factory):
    return train_tiny_run(synthetic_data, tmp_path_factory.mktemp("runs"), "tiny")


def test_label_errors_json_and_table(tiny_run, synthetic_root, capsys):
    base = ["label-errors", str(tiny_run), "--data-dir", str(synthetic_root)]
    assert main([*base, "--json", "--candidates", "--top", "0"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert all({"index", "given_label", "suggested_label", "score", "flagged"} <= row.keys() for row in rows)
    assert all(row["given_label"] != row["suggested_label"] for row in rows)
    flags = [row["flagged"] for row in rows]
    assert flags == sorted(flags, reverse=True)  # flagged digits first
    assert main(base) == 0
    out = capsys.readouterr().out
    assert "digits flagged" in out and "score = 1 - P(given label)" in out
    # a command that can be pasted (it said RUN), with the run's path and the data folder
    assert out.splitlines()[-2:] == ["score = 1 - P(given label); see a digit with:",
                                     f"mnist-tui explain {tiny_run.resolve()} --data-dir {synthetic_root.resolve()} "
                                     "--index N"]
    flagged, others = sum(flags), len(flags) - sum(flags)  # the heading fits 80 columns (it wrapped at the
    assert others  # narrower table's width, then at 80), and says that --candidates lists the other mistakes
    assert out.splitlines()[:3] == [f"{flagged} of 200 test digits flagged (prune_by_noise_rate)",
                                    f"{others} more predicted otherwise, not flagged (--candidates lists them)",
                                    f"{flagged} shown, the most disputed first:"], out
    assert main([*base, "--candidates", "--top", "2"]) == 0
    assert capsys.readouterr().out.splitlines()[1:3] == [f"{others} more predicted otherwise, not flagged",
                                                         f"{min(2, len(flags))} shown, the most disputed first:"]
    assert list(tiny_run.glob("embeddings-*-test.pt"))  # the test probabilities come from the cache


def test_the_explain_command_label_errors_suggests_works_when_pasted(tiny_run, synthetic_root, capsys,
                                                                     monkeypatch, tmp_path):
    """A run named within --checkpoints: the suggested `explain NAME --index N` found no such run."""
    monkeypatch.chdir(tmp_path)
    assert main(["label-errors", tiny_run.name, "--checkpoints", str(tiny_run.parent), "--data-dir",
                 str(synthetic_root)]) == 0
    command = capsys.readouterr().out.splitlines()[-1].replace("--index N", "--index 0")
    assert shlex.split(command)[0] == "mnist-tui"
    assert main(shlex.split(command)[1:]) == 0, capsys.readouterr().err
    assert "predicted" in capsys.readouterr().out


def test_folds_on_the_test_split_are_noted_as_ignored(tiny_run, synthetic_root, capsys):
    """--folds without --split train changed nothing, silently (walk24 12)."""
    assert main(["label-errors", str(tiny_run), "--folds", "3", "--cv-epochs", "2", "--data-dir",
                 str(synthetic_root)]) == 0
    assert capsys.readouterr().err == ("mnist-tui: note: --folds and --cv-epochs ignored: the test split uses the "
                                       "model's own probabilities (cross-validation is for --split train)\n")


def test_label_errors_on_the_training_split_cross_validates(tiny_run, synthetic_root, capsys):
    assert main(["label-errors", str(tiny_run), "--split", "train", "--folds", "2", "--json",
                 "--data-dir", str(synthetic_root)]) == 0
    captured = capsys.readouterr()
    assert isinstance(json.loads(captured.out), list)
    assert "fold 2 of 2 done" in captured.err
    # the time it took, and after the first fold what is left: four folds of a deepcnn take minutes (walk24 12)
    assert re.search(r"fold 1 of 2 done \(\d+ s, about \d+ s left\)\n", captured.err), captured.err
    assert re.search(r"fold 2 of 2 done \(\d+ s\)\n", captured.err), captured.err


def test_map_writes_csv_and_json(tiny_run, synthetic_root, tmp_path, capsys, monkeypatch):
    out = tmp_path / "map.csv"
    assert main(["map", str(tiny_run), "--out", str(out), "--data-dir", str(synthetic_root)]) == 0
    said = capsys.readouterr().out.splitlines()  # in two lines: one was 104 columns
    assert said[0].startswith("wrote 200 points") and said[1].startswith("PCA axes explain"), said
    rows = list(csv.DictReader(out.open()))
    assert len(rows) == 200 and set(rows[0]) == {"index", "x", "y", "label", "predicted"}
    assert main(["map", str(tiny_run), "--json", "--data-dir", str(synthetic_root)]) == 0
    points = json.loads(capsys.readouterr().out)["points"]
    assert [p["index"] for p in points] == list(range(200))
    assert points[7]["x"] == pytest.approx(float(rows[7]["x"]), abs=1e-4)
    # `--out -` made a file named "-" (walk21 F9): it is the standard output, as for other tools
    monkeypatch.chdir(tmp_path)
    assert main(["map", str(tiny_run), "--out", "-", "--data-dir", str(synthetic_root)]) == 0
    assert capsys.readouterr().out == out.read_text() and not (tmp_path / "-").exists()


def test_map_writes_over_an_earlier_map_only(tiny_run, synthetic_root, tmp_path, capsys):
    """--out last.pt in a run folder replaced the run's weights with a CSV, exit 0 (walk27 F4): refused, as export
    refuses a file that is not an earlier export."""
    out = tmp_path / "map.csv"
    assert main(["map", str(tiny_run), "--out", str(out), "--data-dir", str(synthetic_root)]) == 0
    assert main(["map", str(tiny_run), "--out", str(out), "--data-dir", str(synthetic_root)]) == 0  # a map: again
    out.write_text("index,x,y,label,prediction\n0,1.0,2.0,7,7\n")  # one written before "prediction" was renamed
    assert main(["map", str(tiny_run), "--out", str(out), "--data-dir", str(synthetic_root)]) == 0
    assert out.read_text().startswith("index,x,y,label,predicted\n")
    capsys.readouterr()
    weights = (tiny_run / "last.pt").read_bytes()
    for name in ("last.pt", "config.json"):
        before = (tiny_run / name).read_bytes()
        assert main(["map", str(tiny_run), "--out", str(tiny_run / name), "--data-dir", str(synthetic_root)]) == 2
        err = capsys.readouterr().err
        assert err == f"mnist-tui: --out {tiny_run / name} exists and is not a map (index,x,y,label,predicted): " \
                      "give another name, or delete it first\n", err
        assert (tiny_run / name).read_bytes() == before
    assert (tiny_run / "last.pt").read_bytes() == weights


@pytest.mark.parametrize("argv,message", [
    (["label-errors", "RUN", "--top", "-1"], "--top must be 0 (all) or more"),
    (["label-errors", "RUN", "--folds", "1"], "--folds must be between 2 and 20, got 1"),
    (["label-errors", "RUN", "--cv-epochs", "0"], "--cv-epochs must be between 1 and 100, got 0"),
    (["map", "RUN", "--out", "DIR"], "is a folder"),
    (["label-errors", "RUN", "--data-dir", "MISSING"], "label-errors needs the mnist test set"),
    (["map", "RUN", "--json", "--data-dir", "MISSING"], "map needs the mnist test set"),
    # where it looked, as train and eval say it (walk21 F18)
    (["explain", "RUN", "--index", "3", "--data-dir", "MISSING"], "looked in MISSING/MNIST/raw; point --data-dir"),
    (["label-errors", "no-such-run"], "no such checkpoint"),
    # it said ". holds no best.pt or last.pt", and a run's config.json was "corrupt or truncated" (walk24 12)
    (["explain", "", "--index", "3"], "the run named is empty: give a run name, a run folder or a checkpoint file"),
    (["explain", "RUN/config.json", "--index", "3"], "config.json is not a checkpoint (a .pt file): give the run"),
])
def test_bad_input_exits_2_with_one_line(tiny_run, tmp_path, capsys, argv, message):
    argv = [a.replace("RUN", str(tiny_run)) if a.startswith("RUN") else str(tmp_path) if a == "DIR" else str(tmp_path / "none")
            if a == "MISSING" else a for a in argv]
    assert main([*argv, "--checkpoints", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    message = message.replace("MISSING", str(tmp_path / "none"))
    assert message in err and "Traceback" not in err and len(err.strip().splitlines()) == 1, err


def test_map_needs_an_output(tiny_run, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["map", str(tiny_run)])
    assert exit_info.value.code == 2


@pytest.mark.parametrize("method,module,package", [("umap", "umap", "umap-learn"), ("tsne", "openTSNE", "openTSNE")])
def test_map_method_umap_or_tsne(tiny_run, synthetic_root, tmp_path, capsys, method, module, package):
    import importlib.util

    argv = ["map", str(tiny_run), "--method", method, "--json", "--data-dir", str(synthetic_root)]
    if importlib.util.find_spec(module) is None:  # not installed: one line saying what to install
        assert main(argv) == 2
        err = capsys.readouterr().err
        assert f"pip install {package}" in err and len(err.strip().splitlines()) == 1 and "Traceback" not in err
        return
    assert main(argv) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["method"] == method and len(result["points"]) == 200
    assert list(tiny_run.glob(f"embeddings-*-test-{method}.pt"))  # cached beside the checkpoint


@pytest.mark.parametrize("command", ["map", "export"])
def test_out_never_replaces_a_device_or_a_link(command, tiny_run, synthetic_root, tmp_path, capsys):
    """--out onto a pipe (or /dev/full as root) replaced it with a plain file, and a symlink with a file."""
    argv = [command, str(tiny_run), "--data-dir", str(synthetic_root), "--checkpoints", str(tmp_path)]
    argv += ["--format", "torchscript"] if command == "export" else []
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    assert main([*argv, "--out", str(fifo)]) == 2
    hint = " such as map.csv" if command == "map" else ""
    assert capsys.readouterr().err == f"mnist-tui: --out {fifo} is not a regular file; give a file name{hint}\n"
    assert stat.S_ISFIFO(fifo.lstat().st_mode)

    (tmp_path / "real").mkdir()
    link = tmp_path / "link.out"
    link.symlink_to(tmp_path / "real" / "target.out")  # a link to a file not written yet: written through it
    assert main([*argv, "--out", str(link)]) == 0
    assert link.is_symlink() and (tmp_path / "real" / "target.out").stat().st_size > 0


def test_explain_with_a_picture_and_no_run_says_the_run_comes_first(tmp_path, capsys):
    """It said 'explain needs exactly one digit: --index N ... or an IMAGE file', the image given."""
    assert main(["explain", "my-digit.png", "--checkpoints", str(tmp_path)]) == 2
    assert capsys.readouterr().err == ("mnist-tui: explain takes the run first: mnist-tui explain RUN my-digit.png "
                                       "(the shipped model: strong-pretrained)\n")


@pytest.mark.parametrize("command", ["map", "export"])
def test_out_under_a_file_is_refused_before_any_work(command, tiny_run, tmp_path, capsys):
    """map said "File exists", and only once the embedding and the projection were done."""
    (tmp_path / "seven.png").write_bytes(b"not a folder")
    out = tmp_path / "seven.png" / "x.out"
    argv = [command, str(tiny_run), "--out", str(out), "--data-dir", str(tmp_path / "no-data"),
            "--checkpoints", str(tmp_path)] + (["--format", "torchscript"] if command == "export" else [])
    assert main(argv) == 2
    # said first: not "map needs the mnist test set", which the missing data would say after
    assert capsys.readouterr().err == f"mnist-tui: cannot write {out}: {tmp_path / 'seven.png'} is a file, not a folder\n"


@pytest.mark.parametrize("command", ["map", "export"])
def test_out_in_a_folder_that_does_not_exist_is_refused_and_none_is_made(command, tiny_run, tmp_path, capsys):
    """A typo in --out's folder made the whole tree (the walkthrough found /nonexistent/dir at the root)."""
    out = tmp_path / "typo" / "deeper" / "x.out"
    argv = [command, str(tiny_run), "--out", str(out), "--data-dir", str(tmp_path / "no-data"),
            "--checkpoints", str(tmp_path)] + (["--format", "torchscript"] if command == "export" else [])
    assert main(argv) == 2
    assert capsys.readouterr().err == f"mnist-tui: cannot write {out}: there is no folder {tmp_path / 'typo'}\n"
    assert not (tmp_path / "typo").exists()


def test_positionals_may_follow_options(tiny_run, synthetic_root, tmp_path, capsys):
    # argparse takes a command's positionals from their first run only: `eval RUN --json RUN2` and
    # `predict RUN --json IMAGE` said "unrecognized arguments" about the second run or the picture
    from PIL import Image

    picture = tmp_path / "one.png"
    ink = Image.new("L", (28, 28), 0)
    ink.paste(255, (12, 4, 16, 24))
    ink.save(picture)
    data = ["--data-dir", str(synthetic_root)]
    assert main(["eval", str(tiny_run), "--json", *data, str(tiny_run / "best.pt")]) == 0
    assert json.loads(capsys.readouterr().out)["checkpoints"] == [str(tiny_run / "last.pt"), str(tiny_run / "best.pt")]
    assert main(["predict", str(tiny_run), "--json", str(picture)]) == 0
    assert json.loads(capsys.readouterr().out.splitlines()[0])["image"] == str(picture)
    assert main(["--checkpoints", str(tiny_run.parent), "explain", tiny_run.name, "--method", "occlusion",
                 str(picture)]) == 0
    capsys.readouterr()
    with pytest.raises(SystemExit) as exited:  # an unknown flag is still one
        main(["eval", str(tiny_run), "--bogus"])
    assert exited.value.code == 2
    assert capsys.readouterr().err.startswith("mnist-tui eval: error: unrecognized arguments: --bogus")


def test_help_gives_the_exit_code_an_unwritable_out_file_gets(tiny_run, tmp_path, capsys):
    """--help said "1 output not writable"; an --out file that cannot be written exits 2 (bad input)."""
    with pytest.raises(SystemExit):
        main(["--help"])
    epilog = " ".join(capsys.readouterr().out.split())
    # one clause a code ("1 ..., an export ..., 2 bad input (...)" was hard to parse: walk42 D5)
    assert ("1: stdout not writable (a full disk), an export that failed its check, or a run that diverged; 2: bad "
            "input, an --out file that cannot be written, or a run folder on a full disk;") in epilog
    assert main(["map", str(tiny_run), "--out", str(tmp_path / "nowhere" / "m.csv")]) == 2


def test_map_and_explain_figures_never_read_minus_zero():
    # map's CSV and --json wrote a coordinate of -0.000001 as -0.0, which reads as a sign
    from mnist_tui.core.formatting import rounded

    assert str(rounded(-1e-7, 5)) == "0.0" and str(rounded(-0.123456, 5)) == "-0.12346"
    assert str(rounded(2e-7, 6)) == "0.0"


def test_a_model_near_chance_is_told_it_flags_nothing(synthetic_root, tmp_path, capsys):
    """An untrained network reads about a tenth of the digits right: it disputed nearly every label (walk22 F5)."""
    import torch

    from mnist_tui.core.checkpoints import save_checkpoint
    from mnist_tui.core.models import build_model
    from tests.core.tiny_runs import TINY

    torch.manual_seed(0)
    checkpoint = save_checkpoint(tmp_path / "untrained" / "best.pt", model_state=build_model(TINY).state_dict(),
                                 config=TINY, epoch=1)
    assert main(["label-errors", str(checkpoint), "--data-dir", str(synthetic_root)]) == 0
    out, err = capsys.readouterr()
    assert out.startswith("0 of 200 test digits flagged"), out
    assert err.startswith("mnist-tui: note: the model reads only ") and "none is flagged" in err, err


def test_explain_index_without_the_data_uses_the_wrong_digits_saved_with_the_run(tiny_run, tmp_path, capsys):
    """The app's Misclassified explains the saved wrong digits offline; `explain --index` refused them (walk24 12)."""
    from mnist_tui.core.analysis import saved_evaluation

    evaluation, _ = saved_evaluation(tiny_run)
    wrong = (evaluation.predictions != evaluation.labels).nonzero().flatten().tolist()
    right = next(i for i in range(len(evaluation.labels)) if i not in wrong)
    offline = ["--data-dir", str(tmp_path / "none")]
    assert main(["explain", str(tiny_run), "--index", str(wrong[0]), *offline]) == 0
    out, err = capsys.readouterr()
    assert out.startswith(f"#{wrong[0]} · label {int(evaluation.labels[wrong[0]])} · predicted "), out
    assert err == (f"mnist-tui: note: the test set is not on disk: #{wrong[0]} is one of the misclassified digits "
                   "saved with the run\n")
    assert main(["explain", str(tiny_run), "--index", str(right), *offline]) == 2
    err = capsys.readouterr().err
    assert f"only the {len(wrong)} misclassified digits saved with the run can be explained" in err, err
    assert len(err.strip().splitlines()) == 1


def test_test_set_commands_need_only_the_test_files(tiny_run, synthetic_root, tmp_path, capsys):
    """A truncated training file stopped eval, explain --index and map, which said the test set was missing; export
    then checked itself on the run's few saved digits instead of the test set (walk35 F7)."""
    import shutil

    data = tmp_path / "data"
    shutil.copytree(synthetic_root, data)
    damaged = data / "MNIST" / "raw" / "train-images-idx3-ubyte"
    damaged.write_bytes(damaged.read_bytes()[:1000])
    for argv in (["eval", str(tiny_run)], ["explain", str(tiny_run), "--index", "3"], ["map", str(tiny_run), "--json"],
                 ["export", str(tiny_run), "--out", str(tmp_path / "tiny.pt"), "--format", "torchscript"]):
        assert main([*argv, "--data-dir", str(data)]) == 0, (argv, capsys.readouterr().err)
        out, err = capsys.readouterr()
        assert "truncated" not in err and "misclassified test digits saved" not in out + err, (argv, err)
    assert main(["explain", str(tiny_run), "--index", "3", "--split", "train", "--data-dir", str(data)]) == 2
    assert "train-images-idx3-ubyte is truncated" in capsys.readouterr().err


@pytest.mark.parametrize("argv", [
    ["eval", "LONG"], ["predict", "LONG", "IMAGE"], ["explain", "LONG", "--index", "1"], ["map", "LONG", "--json"],
    ["label-errors", "LONG"], ["export", "LONG"], ["train", "--resume", "LONG"], ["map", "RUN", "--out", "LONG.csv"],
    ["export", "RUN", "--out", "LONG.onnx"], ["eval", "FOLDER/LONG/last.pt"],
])
def test_a_name_longer_than_a_file_can_have_is_one_line_and_exit_2(argv, tiny_run, synthetic_root, tmp_path, capsys):
    """A path part over 255 bytes gave "OSError: [Errno 36] File name too long" tracebacks, exit 1 (walk38 F2)."""
    from PIL import Image

    Image.new("L", (28, 28)).save(tmp_path / "digit.png")
    names = {"LONG": "n" * 256, "RUN": str(tiny_run), "IMAGE": str(tmp_path / "digit.png"), "FOLDER": str(tmp_path)}
    argv = [part.replace("LONG", names["LONG"]) if "LONG" in part and part != "LONG" else names.get(part, part)
            for part in argv]
    argv = [part.replace("FOLDER", str(tmp_path)) for part in argv]
    data = [] if argv[0] == "predict" else ["--data-dir", str(synthetic_root)]
    code = main([*argv, "--checkpoints", str(tiny_run.parent), *data])
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1 and "Traceback" not in err, err
    assert "nnnn" in err and ("too long" in err or "no such" in err), err


@pytest.mark.parametrize("command", ["eval", "predict", "explain", "map"])
def test_a_checkpoint_whose_weights_are_not_numbers_is_refused(command, tiny_run, synthetic_root, tmp_path, capsys):
    """NaN weights made every prediction NaN: --json wrote bare NaN (not JSON), exit 0, and text said "nan%"
    (walk38 F4)."""
    import torch
    from PIL import Image

    checkpoint = torch.load(tiny_run / "last.pt", weights_only=True)
    weight = next(key for key, value in checkpoint["model_state"].items() if value.dim() == 2)
    checkpoint["model_state"][weight][0, 0] = float("nan")
    torch.save(checkpoint, tmp_path / "nan.pt")
    Image.new("L", (28, 28)).save(tmp_path / "digit.png")
    extra = {"eval": [], "predict": [str(tmp_path / "digit.png")], "explain": ["--index", "1"], "map": []}[command]
    data = [] if command == "predict" else ["--data-dir", str(synthetic_root)]
    assert main([command, str(tmp_path / "nan.pt"), *extra, "--json", *data]) == 2
    out, err = capsys.readouterr()
    assert out == "" and err.count("\n") == 1 and "weights are not all numbers" in err, err


def test_names_are_printed_as_they_are(tiny_run, synthetic_root, tmp_path, capsys):
    """A run folder "[red]secret" was listed as "secret" (Rich markup), a name no command then found; a picture
    named with ESC in it sent escape sequences to the terminal (walk38 F10)."""
    import shutil

    from PIL import Image

    shutil.copytree(tiny_run, tmp_path / "[red]secret")
    assert main(["runs", "--checkpoints", str(tmp_path)]) == 0
    assert "[red]secret" in capsys.readouterr().out
    assert main(["eval", "[red]secret", "--checkpoints", str(tmp_path), "--data-dir", str(synthetic_root)]) == 0
    assert capsys.readouterr().out.startswith("[red]secret · last")
    image = tmp_path / "e\x1b[31mred.png"
    Image.new("L", (28, 28)).save(image, format="PNG")  # no ink: the error names it
    seven = tmp_path / "s\x1b[31m7.png"
    Image.fromarray(__import__("numpy").eye(28, dtype="uint8") * 255).save(seven, format="PNG")
    assert main(["predict", str(tiny_run), str(image), str(seven)]) == 2
    out, err = capsys.readouterr()
    assert "\x1b" not in out + err and "e\\x1b[31mred.png" in err and "s\\x1b[31m7.png: " in out, (out, err)
