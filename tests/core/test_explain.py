import json

import pytest
import torch
from torch import nn

from mnist_tui.cli import main
from mnist_tui.core.checkpoints import load_checkpoint, model_from_checkpoint
from mnist_tui.core.explain import attribution_maps, class_probabilities, explain_digit, integrated_gradients
from tests.core.tiny_runs import train_tiny_run


class TopLeftOnly(nn.Module):
    """A real (untrained) linear classifier that reads only the top-left 10x10 pixels."""

    def __init__(self):
        super().__init__()
        torch.manual_seed(0)
        self.linear = nn.Linear(100, 10)

    def forward(self, x):
        return self.linear(x[:, 0, :10, :10].flatten(1))


@pytest.fixture(scope="module")
def tiny_run(synthetic_data, tmp_path_factory):
    return train_tiny_run(synthetic_data, tmp_path_factory.mktemp("runs"), "tiny")


@pytest.fixture(scope="module")
def tiny_model(tiny_run):
    return model_from_checkpoint(load_checkpoint(tiny_run / "best.pt"))[0]


def _inked_image():
    torch.manual_seed(1)
    return (torch.rand(28, 28) * 255).to(torch.uint8)


@pytest.mark.parametrize("method", ["ig", "occlusion"])
def test_maps_have_the_input_shape_and_are_finite(tiny_model, synthetic_data, method):
    image, label = synthetic_data.test_images[0], int(synthetic_data.test_labels[0])
    explanation = explain_digit(tiny_model, image, label, method)
    assert explanation.maps.shape == (2, 28, 28)
    assert torch.isfinite(explanation.maps).all() and explanation.maps.abs().sum() > 0
    assert explanation.classes[0] == explanation.prediction
    assert abs(sum(explanation.probabilities) - 1) < 1e-4


@pytest.mark.parametrize("method,margin", [("ig", 0), ("occlusion", 3)])
def test_a_model_that_reads_one_corner_gets_a_map_there(method, margin):
    model = TopLeftOnly().eval()
    maps = attribution_maps(model, _inked_image(), [3, 7], method)
    inside = maps[:, :10 + margin, :10 + margin].abs().sum()  # an occluding patch reaches 3 pixels past the corner
    assert inside > 0.999 * maps.abs().sum()


def test_integrated_gradients_add_up_to_the_logit_change(tiny_model, synthetic_data):
    image = synthetic_data.test_images[5]
    ig = integrated_gradients(tiny_model, image, [0, 4], steps=128)
    from mnist_tui.core.data import normalize

    with torch.no_grad():
        logits = tiny_model(normalize(torch.stack([image, torch.zeros_like(image)])))
    expected = logits[0, [0, 4]] - logits[1, [0, 4]]
    assert torch.allclose(ig.sum(dim=(1, 2)), expected, rtol=0.05, atol=0.05)


def test_a_right_prediction_is_shown_beside_the_runner_up(tiny_model, synthetic_data):
    image = synthetic_data.test_images[0]
    probs = class_probabilities(tiny_model, image)
    explanation = explain_digit(tiny_model, image, int(probs.argmax()))
    assert explanation.classes == probs.argsort(descending=True)[:2].tolist()


def test_explain_json_and_art(tiny_run, synthetic_root, capsys):
    base = ["explain", str(tiny_run), "--index", "3", "--data-dir", str(synthetic_root)]
    assert main([*base, "--json", "--method", "occlusion"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["method"] == "occlusion" and out["index"] == 3 and 0 <= out["label"] <= 9
    assert out["maps"][0]["class"] == out["predicted"]
    assert len(out["maps"][0]["map"]) == 28 and all(len(row) == 28 for row in out["maps"][0]["map"])
    assert main([*base, "--method", "ig"]) == 0
    art = capsys.readouterr().out.splitlines()
    assert "predicted" in art[0] and "integrated gradients" in art[0]
    assert "towards the class" in art[-1]  # the legend
    assert art[0].startswith("#3 · label")
    assert main([*base, "--split", "train"]) == 0  # its header read "#3 · label ..." too (walk24 2)
    assert capsys.readouterr().out.startswith("train #3 · label")


def test_explain_opens_on_the_method_the_apps_views_open_on(tiny_run, synthetic_root, capsys):
    """`explain` gave IG's speckled map where the app showed occlusion's, for the same digit."""
    from mnist_tui.tui.panes.misclassified import MisclassifiedPane

    assert main(["explain", str(tiny_run), "--index", "3", "--data-dir", str(synthetic_root), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["method"] == MisclassifiedPane().method == "occlusion"


def test_explain_an_image_file(tiny_run, tmp_path, capsys):
    from PIL import Image

    path = tmp_path / "bar.png"
    pixels = torch.zeros(28, 28, dtype=torch.uint8)
    pixels[6:22, 12:15] = 255
    Image.fromarray(pixels.numpy()).save(path)
    assert main(["explain", str(tiny_run), str(path), "--json", "--method", "ig", "--split", "train"]) == 0
    text, err = capsys.readouterr()
    # --split counts --index in a set: beside a picture it did nothing, without a word (walk39 F10)
    assert err == ("mnist-tui: note: --split ignored: it names the set --index counts in, and a picture is read as "
                   "it is\n")
    out = json.loads(text)
    assert out["label"] is None and len(out["maps"]) == 2
    # integrated gradients leave tiny negative values on the blank border: rounded, they read 0.0, not -0.0
    values = [v for m in out["maps"] for row in m["map"] for v in row]
    assert 0.0 in values and "-0.0," not in text and "-0.0]" not in text


def test_explain_refuses_a_picture_without_a_digit_as_predict_does(tiny_run, tmp_path, capsys):
    """A blank page was explained ("predicted 1 (52.0%)", empty maps, exit 0) where predict said no digit."""
    from PIL import Image

    path = tmp_path / "blank.png"
    Image.new("L", (64, 64), 255).save(path)
    assert main(["explain", str(tiny_run), str(path)]) == 2
    assert capsys.readouterr() == ("", f"mnist-tui: no digit found in {path}\n")
    assert main(["predict", str(tiny_run), str(path)]) == 2
    assert capsys.readouterr().err == f"mnist-tui: no digit found in {path}\n"


@pytest.mark.parametrize("extra,message", [
    ([], "exactly one digit"),
    (["some.png", "--index", "1"], "exactly one digit"),
    (["--index", "200"], "--index must be between 0 and 199"),
])
def test_explain_bad_input_exits_2(tiny_run, synthetic_root, capsys, extra, message):
    assert main(["explain", str(tiny_run), *extra, "--data-dir", str(synthetic_root)]) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err and len(err.strip().splitlines()) == 1


def test_explain_without_the_dataset_says_so_in_one_line(tiny_run, tmp_path, capsys):
    assert main(["explain", str(tiny_run), "--index", "1", "--data-dir", str(tmp_path / "none")]) == 2
    err = capsys.readouterr().err
    assert "needs the mnist test set" in err and len(err.strip().splitlines()) == 1


def test_an_image_explained_at_80_columns_folds_its_header_between_parts(tiny_run, synthetic_root, tmp_path,
                                                                         capsys, monkeypatch):
    """"... · occlusion (4x4 blank patch, stride" then "2)" on a line of its own (walk24 1)."""
    from PIL import Image

    image, picture = tmp_path / "a-digit-with-a-long-name.png", Image.new("L", (28, 28))
    pixels = picture.load()
    for y in range(5, 23):  # a bold 1
        for x in range(12, 16):
            pixels[x, y] = 255
    picture.save(image)
    monkeypatch.setenv("COLUMNS", "80")
    monkeypatch.chdir(tmp_path)
    assert main(["explain", str(tiny_run), image.name, "--method", "occlusion"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert all(len(line.rstrip()) <= 80 for line in lines), lines
    assert lines[1].startswith("occlusion (") and lines[1].endswith(")"), lines[:2]


class CentreSpot(nn.Module):
    """A real linear classifier: class 3 when the centre pixel is inked, else class 5 (by its bias)."""

    def __init__(self):
        super().__init__()
        self.linear = nn.Linear(784, 10)
        with torch.no_grad():
            self.linear.weight.zero_()
            self.linear.bias.zero_()
            self.linear.weight[3, 14 * 28 + 14] = 10.0
            self.linear.bias[5] = 3.0

    def forward(self, x):
        return self.linear(x.flatten(1))


def test_a_tta_run_is_explained_as_it_was_tested():
    """Misclassified lists a TTA run's digits as its shifted copies, averaged, predicted them: Explain
    predicts them the same way, so its maps are for the class the list shows."""
    from mnist_tui.core.analysis import predict_probabilities

    model = CentreSpot().eval()
    image = torch.zeros(28, 28, dtype=torch.uint8)
    image[14, 14] = 255  # one inked pixel: every 1-pixel shift moves it off the centre
    tested = predict_probabilities(model, image.unsqueeze(0), tta=True)[0]
    assert tested.argmax() == 5 and explain_digit(model, image).prediction == 3
    explanation = explain_digit(model, image, label=3, tta=True)
    assert explanation.tta and explanation.prediction == 5 and explanation.classes == [5, 3]
    assert torch.allclose(torch.tensor(explanation.probabilities), tested, atol=1e-6)
