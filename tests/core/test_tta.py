"""A config's own test-time augmentation (``tta``, on in the best preset): its test figure averages each digit's
1-pixel shifts, and everything that shows that figure says so."""

import json

from mnist_tui.cli import main
from mnist_tui.core.analysis import evaluate
from mnist_tui.core.checkpoints import load_checkpoint, model_from_checkpoint
from mnist_tui.core.config import preset
from mnist_tui.core.evaluation import evaluate_checkpoint, saved_run_evaluation
from tests.core.test_cli import train


def test_the_best_preset_tests_with_tta():
    assert preset("best").tta and not preset("fast").tta and not preset("seed-mlp").tta


def test_a_tta_run_is_tested_on_shifted_copies_and_says_so(tmp_path, synthetic_root, synthetic_data, capsys):
    assert train(tmp_path, synthetic_root, "--epochs", "2", "--run-name", "shifted", "--tta", "--json") == 0
    finished = json.loads(capsys.readouterr().out.splitlines()[-1])
    assert train(tmp_path, synthetic_root, "--epochs", "2", "--run-name", "plain") == 0
    plain_out = capsys.readouterr().out
    result = json.loads((tmp_path / "shifted" / "result.json").read_text())
    model = model_from_checkpoint(load_checkpoint(tmp_path / "shifted" / "last.pt"))[0]
    with_shifts = evaluate(model, synthetic_data.test_images, synthetic_data.test_labels, tta=True)
    without = evaluate(model, synthetic_data.test_images, synthetic_data.test_labels)
    shifted, unshifted = with_shifts.loss, without.loss  # the losses tell them apart (both may get 199 of 200)
    assert shifted != unshifted
    assert finished["tta"] is True and finished["test_loss"] == result["test_loss"] == shifted
    assert finished["test_accuracy"] == with_shifts.accuracy
    assert result["tta"] is True
    assert json.loads((tmp_path / "plain" / "result.json").read_text())["tta"] is False
    assert "Test accuracy" in plain_out and "TTA" not in plain_out

    assert train(tmp_path, synthetic_root, "--epochs", "1", "--run-name", "said", "--tta") == 0
    assert "with TTA (last, epoch 1" in capsys.readouterr().out

    # eval tests as the run did unless told otherwise
    args = ["--checkpoints", str(tmp_path), "--data-dir", str(synthetic_root), "--json"]
    assert main(["eval", "shifted", *args]) == 0
    again = json.loads(capsys.readouterr().out)
    assert again["tta"] is True and again["test_loss"] == shifted
    assert main(["eval", "shifted", "--no-tta", *args]) == 0
    assert json.loads(capsys.readouterr().out)["test_loss"] == unshifted
    assert main(["eval", "plain", *args]) == 0
    assert json.loads(capsys.readouterr().out)["tta"] is False
    assert main(["eval", "shifted", "--checkpoints", str(tmp_path), "--data-dir", str(synthetic_root)]) == 0
    assert "last (epoch 2) with TTA" in capsys.readouterr().out

    # runs: the table and the JSON
    assert main(["runs", "--checkpoints", str(tmp_path), "--json"]) == 0
    listed = {r["name"]: r["test_tta"] for r in json.loads(capsys.readouterr().out)}
    assert listed == {"shifted": True, "plain": False, "said": True}
    assert main(["runs", "--checkpoints", str(tmp_path)]) == 0
    rows = {line.split()[0]: line for line in capsys.readouterr().out.splitlines() if line.split()[:1]
            in (["shifted"], ["plain"])}
    assert f"{with_shifts.accuracy:.2%} TTA" in rows["shifted"] and "TTA" not in rows["plain"], rows

    # Results: the saved figures, and the checkpoint tested again, name it
    saved = saved_run_evaluation(tmp_path / "shifted")
    assert "with TTA" in saved.source and saved.evaluation.loss == shifted
    tested = evaluate_checkpoint(tmp_path / "shifted" / "last.pt", lambda dataset: synthetic_data)
    assert tested.source.endswith("with TTA") and abs(tested.evaluation.loss - shifted) < 1e-6  # in chunks
    assert "TTA" not in evaluate_checkpoint(tmp_path / "plain" / "last.pt", lambda dataset: synthetic_data).source


def test_explain_predicts_a_tta_runs_digit_as_its_test_did(tmp_path, synthetic_root, synthetic_data, capsys):
    import torch

    from mnist_tui.core.analysis import predict_probabilities

    assert train(tmp_path, synthetic_root, "--epochs", "1", "--run-name", "shifted", "--tta") == 0
    capsys.readouterr()
    model = model_from_checkpoint(load_checkpoint(tmp_path / "shifted" / "last.pt"))[0]
    digit = synthetic_data.test_images[7:8]
    base = ["explain", "shifted", "--index", "7", "--checkpoints", str(tmp_path), "--data-dir", str(synthetic_root)]
    for flags, tta in (([], True), (["--no-tta"], False)):
        assert main([*base, *flags, "--json"]) == 0
        out = json.loads(capsys.readouterr().out)
        expected = predict_probabilities(model, digit, tta=tta)[0]
        assert out["tta"] is tta and torch.allclose(torch.tensor(out["probabilities"]), expected, atol=1e-5)
    assert main(base) == 0
    assert capsys.readouterr().out.splitlines()[0].endswith("% with TTA)")  # the method on its own line
